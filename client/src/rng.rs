//! The context's random number generator, shared by its connections.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;

use critical_section::Mutex;
use rand_core::{TryCryptoRng, TryRng};

/// A generator behind a critical section, with a failure counter.
///
/// The TLS engine takes an infallible `CryptoRng` by value. Connections of one context share the
/// context's generator, so each engine gets a [`SharedRng`] that borrows it for one call at a time.
/// A fallible generator (a hardware RNG, the operating system) that fails leaves zeros in the
/// output and bumps the counter; the connection checks the counter after every engine call and
/// fails with [`crate::Error::Rng`] before anything produced with those bytes is sent.
pub(crate) struct RngCell<G> {
    rng: Mutex<RefCell<G>>,
    failures: Mutex<Cell<u32>>,
}

impl<G: TryCryptoRng> RngCell<G> {
    pub(crate) const fn new(rng: G) -> Self {
        RngCell {
            rng: Mutex::new(RefCell::new(rng)),
            failures: Mutex::new(Cell::new(0)),
        }
    }

    pub(crate) fn failures(&self) -> u32 {
        critical_section::with(|cs| self.failures.borrow(cs).get())
    }

    /// Fills `dst` from the generator, or with zeros when it fails (or is in use already).
    fn try_fill(&self, dst: &mut [u8]) -> Result<(), RngFailed> {
        let ok = critical_section::with(|cs| match self.rng.borrow(cs).try_borrow_mut() {
            Ok(mut g) => g.try_fill_bytes(dst).is_ok(),
            Err(_) => false,
        });
        if ok {
            Ok(())
        } else {
            dst.fill(0);
            Err(RngFailed)
        }
    }

    /// [`RngCell::try_fill`], counting a failure.
    fn fill(&self, dst: &mut [u8]) {
        if self.try_fill(dst).is_err() {
            critical_section::with(|cs| {
                let c = self.failures.borrow(cs);
                c.set(c.get().saturating_add(1));
            });
        }
    }
}

/// One connection's view of its context's generator: each call borrows the generator inside a
/// critical section. A failure of a fallible generator is reported to the connection, which
/// fails with [`crate::Error::Rng`] before sending anything made with its output.
pub struct SharedRng<'c, G> {
    cell: &'c RngCell<G>,
}

impl<'c, G> SharedRng<'c, G> {
    pub(crate) fn new(cell: &'c RngCell<G>) -> Self {
        SharedRng { cell }
    }
}

impl<G: TryCryptoRng> TryRng for SharedRng<'_, G> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.cell.fill(dst);
        Ok(())
    }
}

impl<G: TryCryptoRng> TryCryptoRng for SharedRng<'_, G> {}

/// A view of the context's generator that reports failure instead of filling zeros: for
/// nonces a session store seals records with, where a made-up nonce must never be written.
/// Failures here are not counted against the connection (nothing was sent with them).
pub(crate) struct FallibleRng<'c, G> {
    cell: &'c RngCell<G>,
}

impl<'c, G> FallibleRng<'c, G> {
    pub(crate) fn new(cell: &'c RngCell<G>) -> Self {
        FallibleRng { cell }
    }
}

/// The context's generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RngFailed;

impl core::fmt::Display for RngFailed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("random number generator failed")
    }
}

impl core::error::Error for RngFailed {}

impl<G: TryCryptoRng> TryRng for FallibleRng<'_, G> {
    type Error = RngFailed;

    fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailed> {
        self.cell.try_fill(dst)
    }
}

impl<G: TryCryptoRng> TryCryptoRng for FallibleRng<'_, G> {}
