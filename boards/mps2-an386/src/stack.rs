//! Stack high-water mark by painting.
//!
//! [`paint`] fills the unused part of the stack window with a pattern at boot;
//! [`peak`] later finds the lowest word that no longer holds it. The deepest
//! the stack went is the distance from the top of RAM to that word.

use crate::hw;

const PATTERN: u32 = 0xC0DE_57AC;

/// Default window painted by [`crate::Board::init`]: far more than a TLS
/// handshake needs, and cheap to paint.
pub const DEFAULT_WINDOW: usize = 128 * 1024;

/// Stack use measured by [`peak`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StackUse {
    /// Deepest stack use seen, in bytes from the top of the stack.
    pub peak_bytes: usize,
    /// Size of the painted window; a peak equal to it means "at least".
    pub window_bytes: usize,
}

impl StackUse {
    /// The stack reached the bottom of the painted window, so `peak_bytes`
    /// is only a lower bound.
    pub fn window_exhausted(&self) -> bool {
        self.peak_bytes >= self.window_bytes
    }
}

fn window_bottom(window: usize) -> usize {
    let (low, high, _) = hw::stack_region();
    high.saturating_sub(window).max(low)
}

static WINDOW: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Paints the stack window of `window` bytes below the top of RAM (clamped to
/// the space left by the statics), except the part in use right now.
pub fn paint(window: usize) {
    let (_, high, _) = hw::stack_region();
    let bottom = window_bottom(window);
    WINDOW.store(high - bottom, core::sync::atomic::Ordering::Relaxed);
    hw::paint_stack(bottom, PATTERN);
}

/// The deepest stack use since [`paint`].
pub fn peak() -> StackUse {
    let (_, high, sp) = hw::stack_region();
    let window = WINDOW.load(core::sync::atomic::Ordering::Relaxed);
    let bottom = high - window;
    let mut addr = bottom;
    while addr < sp {
        match hw::read_stack_word(addr) {
            Some(PATTERN) => addr += 4,
            _ => break,
        }
    }
    StackUse {
        peak_bytes: high - addr.min(sp),
        window_bytes: window,
    }
}
