//! Clocks are passed in, never read from globals (E6).
//!
//! Two clocks with two jobs:
//! - [`MonotonicClock`]: milliseconds that never go back, for ticket ages (C30), offerability (C29)
//!   and cache timeouts. It usually restarts at zero on reset.
//! - [`WallClock`]: Unix seconds, possibly unknown (no RTC, no network time yet), for certificate
//!   validity and for ticket ages across reboots (serialised records store wall-clock times).
//!
//! [`Clock`] names a value that is both.
//!
//! # Certificate time with a lower bound (E6)
//!
//! [`verification_time`] and [`LowerBound`] state the rule for the time at which a certificate chain
//! is checked: `max(wall clock, floor)` when both are known, whichever one is known otherwise, and
//! fail closed with neither. A wall clock that reads earlier than the application's floor is wrong
//! (an RTC reset to its epoch, for example), and trusting it would accept certificates that expired
//! long ago. Every verifier in the project applies exactly this rule; the TLS engine, which does not
//! depend on this crate, implements it for its own `time_lower_bound` setting, and the tests here are
//! the reference for it.

/// A clock in milliseconds since an arbitrary start (usually boot) that never goes back.
pub trait MonotonicClock {
    /// Milliseconds since the clock's start.
    fn now_ms(&self) -> u64;
}

/// A wall clock in Unix seconds.
pub trait WallClock {
    /// Seconds since 1970-01-01T00:00:00Z, or `None` while the time is unknown.
    fn now_unix(&self) -> Option<u64>;
}

/// Both clocks in one value, as a client context takes them: one bound for the two.
/// Implemented for every type that implements [`MonotonicClock`] and [`WallClock`].
pub trait Clock: MonotonicClock + WallClock {}

impl<C: MonotonicClock + WallClock + ?Sized> Clock for C {}

impl<C: MonotonicClock + ?Sized> MonotonicClock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

impl<C: WallClock + ?Sized> WallClock for &C {
    fn now_unix(&self) -> Option<u64> {
        (**self).now_unix()
    }
}

/// A wall clock with an application-set lower bound, such as the firmware build date (E6).
///
/// Certificate verification needs a time. Without a wall clock it fails closed, unless the application
/// states the earliest time that can possibly be "now". This type gives that time to verification
/// only ([`LowerBound::verification_time`]); it deliberately does not implement [`WallClock`], because
/// a lower bound on "now" says nothing about how old a stored ticket is, so ticket ages across reboots
/// still need a real wall clock and fail closed without one.
#[derive(Debug, Clone, Copy)]
pub struct LowerBound<C> {
    clock: C,
    floor_unix: u64,
}

impl<C: WallClock> LowerBound<C> {
    /// `floor_unix`: a time known to be in the past, in Unix seconds.
    pub const fn new(clock: C, floor_unix: u64) -> Self {
        LowerBound { clock, floor_unix }
    }

    /// The configured floor.
    pub const fn floor_unix(&self) -> u64 {
        self.floor_unix
    }

    /// Time to use for certificate validity: the wall clock if it is known and not earlier than the
    /// floor, otherwise the floor (a clock reading before the floor is wrong).
    pub fn verification_time(&self) -> u64 {
        match self.clock.now_unix() {
            Some(t) if t >= self.floor_unix => t,
            _ => self.floor_unix,
        }
    }
}

/// Time for certificate validity checks (E6): the wall clock, else the application's lower bound,
/// else [`crate::Error::WallClockUnknown`] (fail closed).
pub fn verification_time<C: WallClock>(
    clock: &C,
    lower_bound_unix: Option<u64>,
) -> Result<u64, crate::Error> {
    match (clock.now_unix(), lower_bound_unix) {
        (Some(t), Some(floor)) => Ok(t.max(floor)),
        (Some(t), None) => Ok(t),
        (None, Some(floor)) => Ok(floor),
        (None, None) => Err(crate::Error::WallClockUnknown),
    }
}
