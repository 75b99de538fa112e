//! The TLS client's clock on this board.
//!
//! Monotonic time is embassy-time's (the STM32 timer driver). The board has no wall clock
//! of its own until the application sets one (the RTC, SNTP): [`BoardClock`] starts at the
//! firmware's build time ([`BUILD_UNIX`]) and advances with the monotonic clock, a lower
//! bound of the real time. Certificate checks accept it (a certificate valid at the build
//! time); ticket ages across a reboot need the real time: a record stored later than the
//! next boot's clock is held back until the clock catches up (C29).

/// Unix seconds at build time: `SOURCE_DATE_EPOCH` when set, otherwise the build's clock.
pub const BUILD_UNIX: u64 = parse_u64(env!("ENCORE_BUILD_UNIX"));

const fn parse_u64(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut value = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u64;
        i += 1;
    }
    value
}

/// Monotonic milliseconds since boot, and a wall clock that starts at `base_unix`.
#[derive(Debug, Clone, Copy)]
pub struct BoardClock {
    base_unix: u64,
    at_ms: u64,
}

impl BoardClock {
    /// A clock whose wall time is the build time now.
    pub fn from_build_time() -> Self {
        Self::starting_at(BUILD_UNIX)
    }

    /// A clock whose wall time is `unix` now (from the RTC or SNTP).
    pub fn starting_at(unix: u64) -> Self {
        BoardClock {
            base_unix: unix,
            at_ms: embassy_time::Instant::now().as_millis(),
        }
    }
}

impl encore_session::MonotonicClock for BoardClock {
    fn now_ms(&self) -> u64 {
        embassy_time::Instant::now().as_millis()
    }
}

impl encore_session::WallClock for BoardClock {
    fn now_unix(&self) -> Option<u64> {
        let elapsed_ms = embassy_time::Instant::now()
            .as_millis()
            .saturating_sub(self.at_ms);
        Some(self.base_unix.saturating_add(elapsed_ms / 1000))
    }
}
