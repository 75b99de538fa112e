//! CMSDK APB UART 0 (0x4000_4000, RX interrupt 0, TX interrupt 1) as an
//! embedded-io-async byte stream.
//!
//! Bridged to a host socket (`-chardev socket,... -serial chardev:c0`), it
//! carries bytes with no IP stack in between, which keeps benchmarks
//! deterministic. The UART holds one received byte; the interrupt routine
//! moves bytes into a ring buffer. When the ring is full the routine leaves
//! the byte in the UART and masks the RX interrupt, so the host side waits
//! instead of losing data; reading unmasks it after draining.
//!
//! The routine wakes the reader only once the ring holds as many bytes as the
//! reader waits for: one for `read`, the whole request for `read_exact` (up to
//! the ring's size). Bytes reach the emulated UART one at a time, so waking on
//! every byte would make the instruction count of a `read_exact` depend on how
//! the host's bytes happened to be spread in time.

use core::cell::RefCell;
use core::convert::Infallible;
use core::future::poll_fn;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll};

use critical_section::Mutex;
use embassy_sync::waitqueue::AtomicWaker;
use embedded_io_async::ReadExactError;

use crate::hw::{self, uart0 as reg, Irq};

fields! {
    state { TX_FULL = 0, RX_FULL = 1 }
    ctrl { TX_EN = 0, RX_EN = 1, TX_INTEN = 2, RX_INTEN = 3 }
    /// INTSTATUS: write a one to clear.
    intstatus { TX = 0, RX = 1 }
}

/// Line rate programmed into BAUDDIV. QEMU ignores it (bytes move as fast as
/// the host socket allows) but a divider below 16 is invalid.
pub const BAUD_RATE: u32 = 115_200;

/// Bytes buffered between the RX interrupt and the reader.
pub const RX_RING_LEN: usize = 4096;

struct Ring {
    buf: [u8; RX_RING_LEN],
    head: usize,
    len: usize,
}

impl Ring {
    const fn new() -> Self {
        Self {
            buf: [0; RX_RING_LEN],
            head: 0,
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == RX_RING_LEN
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut((self.head + self.len) % RX_RING_LEN) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn pop_into(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        for dst in out.iter_mut() {
            if self.len == 0 {
                break;
            }
            *dst = self.buf.get(self.head).copied().unwrap_or(0);
            self.head = (self.head + 1) % RX_RING_LEN;
            self.len -= 1;
            n += 1;
        }
        n
    }
}

static RX_RING: Mutex<RefCell<Ring>> = Mutex::new(RefCell::new(Ring::new()));
static RX_WAKER: AtomicWaker = AtomicWaker::new();
/// Bytes the reader waits for; the RX routine wakes it when the ring holds
/// that many (or is full). [`NO_READER`] while no read is pending, so bytes
/// that arrive while the application is busy wake nothing.
static RX_WANTED: AtomicUsize = AtomicUsize::new(NO_READER);
const NO_READER: usize = usize::MAX;
static TX_WAKER: AtomicWaker = AtomicWaker::new();

/// Moves the byte held by the UART, if any, into the ring; masks the RX
/// interrupt instead when the ring is full.
///
/// One byte per call: when the next byte arrives it raises the interrupt
/// again, so every byte costs the same instructions however the host spaced
/// them in time.
fn take_rx_byte(ring: &mut Ring) {
    if reg::STATE.read() & state::RX_FULL == 0 {
        return;
    }
    if ring.is_full() {
        reg::CTRL.write(reg::CTRL.read() & !ctrl::RX_INTEN);
        return;
    }
    ring.push(reg::DATA.read() as u8);
}

pub(crate) fn on_rx_interrupt() {
    // Acknowledge first: reading DATA lets the next byte in, and its
    // interrupt must not be cleared by a late acknowledge.
    reg::INTSTATUS.write(intstatus::RX);
    let ready = critical_section::with(|cs| {
        let mut ring = RX_RING.borrow_ref_mut(cs);
        take_rx_byte(&mut ring);
        let wanted = RX_WANTED.load(Ordering::Relaxed);
        wanted != NO_READER && (ring.is_full() || ring.len >= wanted)
    });
    if ready {
        RX_WAKER.wake();
    }
}

/// Waits until the ring holds `wanted` bytes (at least 1, at most the ring's
/// size), then moves up to `buf.len()` bytes into `buf`.
async fn read_when(buf: &mut [u8], wanted: usize) -> usize {
    let wanted = wanted.clamp(1, RX_RING_LEN);
    poll_fn(|cx| {
        RX_WAKER.register(cx.waker());
        RX_WANTED.store(wanted, Ordering::Relaxed);
        let n = critical_section::with(|cs| {
            let mut ring = RX_RING.borrow_ref_mut(cs);
            if ring.len < wanted && !ring.is_full() {
                return 0;
            }
            let n = ring.pop_into(buf);
            if reg::CTRL.read() & ctrl::RX_INTEN == 0 {
                // Flow control released (the pop made room). Unmask first,
                // then take the byte left waiting in the UART: the next byte
                // may arrive as soon as DATA is read, and must interrupt.
                reg::CTRL.write(reg::CTRL.read() | ctrl::RX_INTEN);
                take_rx_byte(&mut ring);
            }
            n
        });
        if n == 0 {
            Poll::Pending
        } else {
            RX_WANTED.store(NO_READER, Ordering::Relaxed);
            Poll::Ready(n)
        }
    })
    .await
}

/// Arranges for the task of `cx` to be woken once the TX holding register has room again: by
/// the TX interrupt, unmasked here, or at once if it drained before the interrupt was armed.
fn wake_on_tx_room(cx: &Context<'_>) {
    TX_WAKER.register(cx.waker());
    critical_section::with(|_| reg::CTRL.write(reg::CTRL.read() | ctrl::TX_INTEN));
    if reg::STATE.read() & state::TX_FULL == 0 {
        cx.waker().wake_by_ref();
    }
}

pub(crate) fn on_tx_interrupt() {
    reg::INTSTATUS.write(intstatus::TX);
    critical_section::with(|_| reg::CTRL.write(reg::CTRL.read() & !ctrl::TX_INTEN));
    TX_WAKER.wake();
}

/// UART 0 as an async byte stream. Obtained from [`crate::Board::init`].
pub struct Uart0 {
    _private: (),
}

impl Uart0 {
    pub(crate) fn new() -> Self {
        let divider = (crate::time::CORE_CLOCK_HZ as u32) / BAUD_RATE;
        reg::BAUDDIV.write(divider.max(16));
        reg::INTSTATUS.write(intstatus::TX | intstatus::RX);
        reg::CTRL.write(ctrl::TX_EN | ctrl::RX_EN | ctrl::RX_INTEN);
        hw::enable_irq(Irq::Uart0Rx);
        hw::enable_irq(Irq::Uart0Tx);
        Self { _private: () }
    }
}

impl embedded_io_async::ErrorType for Uart0 {
    /// The emulated UART reports no errors (no parity, framing or overrun).
    type Error = Infallible;
}

impl embedded_io_async::Read for Uart0 {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        Ok(read_when(buf, 1).await)
    }

    /// Fills `buf`, waking once per ring-full rather than once per byte.
    async fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ReadExactError<Infallible>> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            let wanted = rest.len();
            filled += read_when(rest, wanted).await;
        }
        Ok(())
    }
}

impl embedded_io_async::Write for Uart0 {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = poll_fn(|cx| {
            let mut n = 0;
            for &byte in buf {
                if reg::STATE.read() & state::TX_FULL != 0 {
                    break;
                }
                reg::DATA.write(u32::from(byte));
                n += 1;
            }
            if n > 0 {
                return Poll::Ready(n);
            }
            wake_on_tx_room(cx);
            Poll::Pending
        })
        .await;
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        poll_fn(|cx| {
            if reg::STATE.read() & state::TX_FULL == 0 {
                return Poll::Ready(());
            }
            wake_on_tx_room(cx);
            Poll::Pending
        })
        .await;
        Ok(())
    }
}
