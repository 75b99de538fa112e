//! SMSC LAN9118 Ethernet controller as an [`embassy_net_driver::Driver`].
//!
//! The controller sits on the system bus at 0x4020_0000, interrupt 13, in
//! 32-bit mode. Frames move through its FIFOs by programmed I/O: a received
//! frame is announced by a word in the RX status FIFO and read word by word
//! from the RX data FIFO; a frame is sent by writing two command words and its
//! data to the TX data FIFO. Written for the controller as QEMU models it;
//! the register usage follows the data sheet, so it is not QEMU-specific.

use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;
use static_cell::ConstStaticCell;

use crate::hw::{self, lan9118 as reg, Irq};

/// Largest Ethernet frame without the FCS.
const MAX_FRAME: usize = 1514;
/// Frame buffers, rounded up to whole FIFO words with room for the FCS.
const BUF_LEN: usize = 1536;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const CHIP_ID_LAN9118: u32 = 0x0118;

fields! {
    hw_cfg { SRST = 0 }
    irq_cfg { TYPE_PUSH_PULL = 0, POL_HIGH = 4, EN = 8 }
    pmt_ctrl { READY = 0 }
    /// INT_STS and INT_EN. RSFL: at least one received frame is waiting in the RX status FIFO.
    int { RSFL = 3 }
    mac_csr_cmd { BUSY = 31, READ = 30 }
    tx_cfg { TX_ON = 1 }
    /// MAC_CR, reached through the MAC CSR interface.
    mac_cr { RXEN = 2, TXEN = 3, FDPX = 20 }
    /// MII_ACC, the MAC's window onto the PHY's management bus.
    mii_acc { BUSY = 0, WRITE = 1 }
    /// The PHY's basic control register.
    phy_bcr { AUTONEG = 12 }
    /// The PHY's basic status register.
    phy_bsr { LINK = 2 }
    /// First command word of a transmitted buffer.
    tx_cmd_a { FIRST = 13, LAST = 12 }
    /// A word of the RX status FIFO.
    rx_sts { ERROR = 15 }
}

/// MAC control and status registers, read and written through MAC_CSR_CMD and MAC_CSR_DATA.
#[derive(Clone, Copy)]
enum MacReg {
    Cr = 1,
    AddrH = 2,
    AddrL = 3,
    MiiAcc = 6,
    MiiData = 7,
}

/// Registers of the internal PHY, reached over the MII management bus.
#[derive(Clone, Copy)]
enum PhyReg {
    Bcr = 0,
    Bsr = 1,
}

/// Address of the internal PHY on the MII management bus.
const PHY_ADDR: u32 = 1;

/// Polls of a busy bit before giving up; the emulated controller is never busy.
const BUSY_POLLS: u32 = 100_000;

static RX_WAKER: AtomicWaker = AtomicWaker::new();

// Frame buffers live in statics, so the driver is small to move around.
static RX_BUF: ConstStaticCell<[u8; BUF_LEN]> = ConstStaticCell::new([0; BUF_LEN]);
static TX_BUF: ConstStaticCell<[u8; BUF_LEN]> = ConstStaticCell::new([0; BUF_LEN]);

/// Why the controller could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Lan9118Error {
    /// BYTE_TEST did not read 0x87654321: no controller, or wrong bus mode.
    NotPresent {
        /// The value read.
        byte_test: u32,
    },
    /// ID_REV names another chip.
    UnexpectedChip {
        /// The value read.
        id_rev: u32,
    },
    /// The soft reset did not complete.
    ResetTimeout,
    /// A MAC CSR or MII access stayed busy.
    BusTimeout,
    /// The driver was already created: there is one controller.
    AlreadyTaken,
}

/// Interrupt routine: acknowledges the controller and wakes the receiver.
pub(crate) fn on_interrupt() {
    let pending = reg::INT_STS.read() & reg::INT_EN.read();
    reg::INT_STS.write(pending);
    RX_WAKER.wake();
}

/// The LAN9118 driver. There is one controller; it is brought up by
/// [`crate::Board::init`].
pub struct Lan9118 {
    mac: [u8; 6],
    link: LinkState,
    tx_tag: u16,
    rx_buf: &'static mut [u8; BUF_LEN],
    tx_buf: &'static mut [u8; BUF_LEN],
}

impl Lan9118 {
    /// Resets the controller, reads its MAC address, enables RX and TX and
    /// its interrupt.
    pub(crate) fn new() -> Result<Self, Lan9118Error> {
        let (Some(rx_buf), Some(tx_buf)) = (RX_BUF.try_take(), TX_BUF.try_take()) else {
            return Err(Lan9118Error::AlreadyTaken);
        };
        let byte_test = reg::BYTE_TEST.read();
        if byte_test != BYTE_TEST_VALUE {
            return Err(Lan9118Error::NotPresent { byte_test });
        }
        let id_rev = reg::ID_REV.read();
        if id_rev >> 16 != CHIP_ID_LAN9118 {
            return Err(Lan9118Error::UnexpectedChip { id_rev });
        }

        reg::HW_CFG.write(hw_cfg::SRST);
        wait_until(|| {
            reg::HW_CFG.read() & hw_cfg::SRST == 0 && reg::PMT_CTRL.read() & pmt_ctrl::READY != 0
        })
        .map_err(|_| Lan9118Error::ResetTimeout)?;

        // Active-high push-pull: the line is asserted only while an enabled
        // interrupt is pending (the reset default is active-low).
        reg::IRQ_CFG.write(irq_cfg::EN | irq_cfg::POL_HIGH | irq_cfg::TYPE_PUSH_PULL);
        reg::INT_EN.write(0);
        reg::INT_STS.write(u32::MAX);

        let low = mac_read(MacReg::AddrL)?;
        let high = mac_read(MacReg::AddrH)?;
        let [a0, a1, a2, a3] = low.to_le_bytes();
        let [a4, a5, _, _] = high.to_le_bytes();
        let mac = [a0, a1, a2, a3, a4, a5];

        mii_write(PhyReg::Bcr, phy_bcr::AUTONEG)?;
        let link = if mii_read(PhyReg::Bsr)? & phy_bsr::LINK != 0 {
            LinkState::Up
        } else {
            LinkState::Down
        };

        // RX data starts word-aligned with no padding; frames addressed to
        // this MAC and broadcasts are accepted (promiscuous mode off).
        reg::RX_CFG.write(0);
        mac_write(MacReg::Cr, mac_cr::RXEN | mac_cr::TXEN | mac_cr::FDPX)?;
        reg::TX_CFG.write(tx_cfg::TX_ON);

        reg::INT_EN.write(int::RSFL);
        hw::enable_irq(Irq::Ethernet);

        Ok(Self {
            mac,
            link,
            tx_tag: 0,
            rx_buf,
            tx_buf,
        })
    }

    /// The controller's MAC address.
    pub fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    /// Pops the next good frame into `rx_buf`, returning its length without
    /// the FCS. Frames with errors or longer than the buffer are dropped.
    fn pop_frame(&mut self) -> Option<usize> {
        while rx_frames_waiting() {
            let status = reg::RX_STATUS_FIFO.read();
            let wire_len = ((status >> 16) & 0x3FFF) as usize;
            let words = wire_len.div_ceil(4);
            let frame_len = wire_len.saturating_sub(4);
            let keep = status & rx_sts::ERROR == 0 && (14..=MAX_FRAME).contains(&frame_len);
            for i in 0..words {
                let word = reg::RX_DATA_FIFO.read().to_le_bytes();
                if keep {
                    let at = i * 4;
                    if let Some(dst) = self.rx_buf.get_mut(at..at + 4) {
                        dst.copy_from_slice(&word);
                    }
                }
            }
            if keep {
                return Some(frame_len);
            }
        }
        None
    }
}

fn rx_frames_waiting() -> bool {
    (reg::RX_FIFO_INF.read() >> 16) & 0xFF != 0
}

/// Free bytes in the TX data FIFO.
fn tx_fifo_free() -> usize {
    (reg::TX_FIFO_INF.read() & 0xFFFF) as usize
}

/// Discards TX status words: the driver does not use per-frame status, and a
/// full status FIFO would stop the transmitter.
fn drain_tx_status() {
    while (reg::TX_FIFO_INF.read() >> 16) & 0xFF != 0 {
        let _ = reg::TX_STATUS_FIFO.read();
    }
}

struct Timeout;

fn wait_until(mut done: impl FnMut() -> bool) -> Result<(), Timeout> {
    for _ in 0..BUSY_POLLS {
        if done() {
            return Ok(());
        }
    }
    Err(Timeout)
}

fn mac_idle() -> Result<(), Lan9118Error> {
    wait_until(|| reg::MAC_CSR_CMD.read() & mac_csr_cmd::BUSY == 0)
        .map_err(|_| Lan9118Error::BusTimeout)
}

fn mac_read(index: MacReg) -> Result<u32, Lan9118Error> {
    mac_idle()?;
    reg::MAC_CSR_CMD.write(mac_csr_cmd::BUSY | mac_csr_cmd::READ | index as u32);
    mac_idle()?;
    Ok(reg::MAC_CSR_DATA.read())
}

fn mac_write(index: MacReg, value: u32) -> Result<(), Lan9118Error> {
    mac_idle()?;
    reg::MAC_CSR_DATA.write(value);
    reg::MAC_CSR_CMD.write(mac_csr_cmd::BUSY | index as u32);
    mac_idle()
}

fn mii_idle() -> Result<(), Lan9118Error> {
    for _ in 0..BUSY_POLLS {
        if mac_read(MacReg::MiiAcc)? & mii_acc::BUSY == 0 {
            return Ok(());
        }
    }
    Err(Lan9118Error::BusTimeout)
}

fn mii_read(phy_reg: PhyReg) -> Result<u32, Lan9118Error> {
    mii_idle()?;
    mac_write(
        MacReg::MiiAcc,
        (PHY_ADDR << 11) | ((phy_reg as u32) << 6) | mii_acc::BUSY,
    )?;
    mii_idle()?;
    Ok(mac_read(MacReg::MiiData)? & 0xFFFF)
}

fn mii_write(phy_reg: PhyReg, value: u32) -> Result<(), Lan9118Error> {
    mii_idle()?;
    mac_write(MacReg::MiiData, value)?;
    mac_write(
        MacReg::MiiAcc,
        (PHY_ADDR << 11) | ((phy_reg as u32) << 6) | mii_acc::WRITE | mii_acc::BUSY,
    )?;
    mii_idle()
}

/// A received frame, already copied out of the RX FIFO.
pub struct RxToken<'a> {
    frame: &'a mut [u8],
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Permission to send one frame.
pub struct TxToken<'a> {
    buf: &'a mut [u8; BUF_LEN],
    tag: &'a mut u16,
}

impl embassy_net_driver::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(MAX_FRAME);
        let (frame, _) = self.buf.split_at_mut(len);
        let result = f(frame);
        *self.tag = self.tag.wrapping_add(1);
        let len_field = len as u32;
        reg::TX_DATA_FIFO.write(tx_cmd_a::FIRST | tx_cmd_a::LAST | len_field);
        reg::TX_DATA_FIFO.write((u32::from(*self.tag) << 16) | len_field);
        for chunk in frame.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            reg::TX_DATA_FIFO.write(u32::from_le_bytes(word));
        }
        drain_tx_status();
        result
    }
}

impl embassy_net_driver::Driver for Lan9118 {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // Register before looking, so a frame that arrives in between wakes us.
        RX_WAKER.register(cx.waker());
        let len = self.pop_frame()?;
        let frame = self.rx_buf.get_mut(..len)?;
        Some((
            RxToken { frame },
            TxToken {
                buf: self.tx_buf,
                tag: &mut self.tx_tag,
            },
        ))
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Self::TxToken<'_>> {
        if tx_fifo_free() < BUF_LEN + 8 {
            // The FIFO drains on its own; the emulated one never fills.
            cx.waker().wake_by_ref();
            return None;
        }
        Some(TxToken {
            buf: self.tx_buf,
            tag: &mut self.tx_tag,
        })
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        self.link
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MAX_FRAME;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
