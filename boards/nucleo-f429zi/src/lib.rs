//! Board support for the ST Nucleo-F429ZI (STM32F429ZI, Cortex-M4F).
//!
//! - [`Board::init`]: 168 MHz system clock from the ST-LINK's 8 MHz clock,
//!   the Ethernet MAC on the board's RMII PHY (LAN8742A), the hardware RNG;
//! - [`HardwareRng`]: the RNG peripheral as a rand_core 0.10 `CryptoRng`;
//! - [`StoreFlash`]: the last four 16 KiB sectors of the internal flash (bank 2,
//!   sectors 12 to 15) through embassy-stm32's async flash driver, for the session store;
//! - [`time::BoardClock`]: the client's clock (monotonic time, and the RTC on the 32.768 kHz
//!   LSE crystal as wall clock, set to the firmware's build time when it reads earlier);
//! - [`net::start`]: embassy-net with DHCP over the Ethernet driver.
//!
//! Logging is defmt over RTT; `probe-rs run --chip STM32F429ZITx` flashes,
//! runs and decodes it. The RTC keeps counting across a reset; until the application sets
//! the real time ([`time::set_unix`], from SNTP for example), it is a lower bound (E6).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::convert::Infallible;

use defmt_rtt as _;
use embassy_stm32::eth::{self, Ethernet, GenericPhy, Sma};
use embassy_stm32::flash::{self, Async, Flash};
use embassy_stm32::peripherals::{ETH, ETH_SMA, RNG};
use embassy_stm32::rng::{self, Rng};
use embassy_stm32::rtc::{Rtc, RtcConfig};
use embassy_stm32::time::Hertz;
use embassy_stm32::{bind_interrupts, Config};
use panic_probe as _;
use rand_core::{TryCryptoRng, TryRng};
use static_cell::StaticCell;

pub mod net;
pub mod time;

pub use embassy_executor::Spawner;

bind_interrupts!(
    /// Interrupts the board's drivers use.
    pub struct Irqs {
        ETH => eth::InterruptHandler;
        HASH_RNG => rng::InterruptHandler<RNG>;
        FLASH => flash::InterruptHandler;
    }
);

/// The Ethernet driver type, with the board's PHY behind the MAC's SMI.
pub type BoardEthernet = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

/// DMA descriptors and buffers for the Ethernet MAC: 4 TX and 4 RX frames.
pub type BoardPacketQueue = eth::PacketQueue<4, 4>;

static PACKETS: StaticCell<BoardPacketQueue> = StaticCell::new();

/// Clock tree: HSE 8 MHz (bypass, from the ST-LINK MCO) → PLL: 168 MHz
/// system clock, 48 MHz on PLLQ for the RNG. APB1 42 MHz, APB2 84 MHz. The RTC runs on the
/// LSE, the board's 32.768 kHz crystal; embassy-stm32 leaves the backup domain (and the
/// calendar in it) alone when it is already configured so, and resets it otherwise.
pub fn clock_config() -> Config {
    use embassy_stm32::rcc::{
        AHBPrescaler, APBPrescaler, Hse, HseMode, LsConfig, Pll, PllMul, PllPDiv, PllPreDiv,
        PllQDiv, PllSource, Sysclk,
    };
    let mut config = Config::default();
    config.rcc.hse = Some(Hse {
        freq: Hertz(8_000_000),
        mode: HseMode::Bypass,
    });
    config.rcc.pll_src = PllSource::HSE;
    config.rcc.pll = Some(Pll {
        prediv: PllPreDiv::DIV4,
        mul: PllMul::MUL168,
        divp: Some(PllPDiv::DIV2),
        divq: Some(PllQDiv::DIV7),
        divr: None,
    });
    config.rcc.ahb_pre = AHBPrescaler::DIV1;
    config.rcc.apb1_pre = APBPrescaler::DIV4;
    config.rcc.apb2_pre = APBPrescaler::DIV2;
    config.rcc.sys = Sysclk::PLL1_P;
    config.rcc.ls = LsConfig::default_lse();
    config
}

/// A locally administered MAC address derived from the chip's unique ID, so
/// that two boards on one network differ.
pub fn mac_address() -> [u8; 6] {
    let uid = embassy_stm32::uid::uid();
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, byte) in uid.iter().enumerate() {
        if let Some(slot) = mac.get_mut(1 + i % 5) {
            *slot ^= *byte;
        }
    }
    mac
}

/// The flash the session store lives on: bank 2's first region, four 16 KiB sectors
/// (0x0810_0000 to 0x0810_FFFF), far above the firmware at the start of bank 1.
pub type StoreFlash = flash::Bank2Region1<'static, Async>;

/// What [`StoreFlash`] reports.
pub type StoreFlashError = flash::Error;

/// The board's peripherals, ready to use.
pub struct Board {
    /// The Ethernet MAC + PHY; hand it to [`net::start`].
    pub ethernet: BoardEthernet,
    /// The hardware random number generator.
    pub rng: HardwareRng,
    /// The internal flash region for the session store (offsets from the region's start).
    pub store_flash: StoreFlash,
    /// The RTC, the wall clock of every [`time::BoardClock`]; set the real time with
    /// [`time::set_unix`].
    pub rtc: Rtc,
}

impl Board {
    /// Configures the clocks and brings up Ethernet, the RNG, the flash and the RTC (set to
    /// the build time when it reads earlier, see [`time`]). Call once, first thing in
    /// `main`; a second call panics (the peripherals are taken).
    pub fn init() -> Self {
        let p = embassy_stm32::init(clock_config());
        // RMII on the Nucleo-144: REF_CLK PA1, CRS_DV PA7, RXD0 PC4, RXD1 PC5,
        // TXD0 PG13, TXD1 PB13, TX_EN PG11; MDIO PA2, MDC PC1.
        let ethernet = Ethernet::new(
            PACKETS.init(BoardPacketQueue::new()),
            p.ETH,
            Irqs,
            p.PA1,
            p.PA7,
            p.PC4,
            p.PC5,
            p.PG13,
            p.PB13,
            p.PG11,
            mac_address(),
            p.ETH_SMA,
            p.PA2,
            p.PC1,
        );
        let rng = HardwareRng {
            inner: Rng::new(p.RNG, Irqs),
        };
        let store_flash = Flash::new(p.FLASH, Irqs).into_regions().bank2_region1;
        let (mut rtc, rtc_time) = Rtc::new(p.RTC, RtcConfig::default());
        if let Err(e) = time::start_rtc(&mut rtc, rtc_time) {
            // The clock still reads the RTC, whose calendar starts at 2000-01-01 when unset:
            // a build time it cannot hold is earlier than that, or beyond its range.
            defmt::warn!("RTC not set to the build time: {}", e);
        }
        Self {
            ethernet,
            rng,
            store_flash,
            rtc,
        }
    }
}

/// The STM32 RNG peripheral as a rand_core 0.10 `CryptoRng`.
///
/// Reads block until the peripheral has a word; seed and clock errors are
/// handled by resetting the peripheral, so reads never fail.
pub struct HardwareRng {
    inner: Rng<'static, RNG>,
}

impl TryRng for HardwareRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.inner.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.inner.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        Ok(())
    }
}

impl TryCryptoRng for HardwareRng {}
