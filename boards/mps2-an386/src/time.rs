//! Monotonic time (embassy-time over SysTick) and the wall clock from the host.

use core::cell::RefCell;
use core::task::Waker;

use cortex_m::peripheral::SYST;
use critical_section::Mutex;
use systick_timer::Timer;

/// Core clock of the MPS2 AN386 as QEMU models it.
pub const CORE_CLOCK_HZ: u64 = 25_000_000;

/// SysTick interrupts per second. Timers wake at this granularity (100 ms);
/// `now()` is interpolated from the SysTick counter in between.
///
/// The rate is low on purpose: each SysTick interrupt scans the wake slots,
/// and how many interrupts land inside a measured region depends on host
/// wall time. At 100 Hz the TCP exchange of `net-smoke` varied by up to 2,300
/// instructions between runs; at 10 Hz 8 runs out of 10 give the same count.
pub const SYSTICK_HZ: u64 = 10;

/// Wake slots: one per task that waits on a timer (the application and the
/// network runner here), with room to spare.
pub const WAKE_SLOTS: usize = 8;

/// The embassy-time driver: SysTick for `now()`, and one wake-up per task.
///
/// A task needs only its earliest deadline: when it is woken, every timer it
/// still waits on is polled and asks again for its own deadline. So a task
/// that arms a timeout per read (and drops it early) keeps one slot, moved to
/// the earliest time asked, instead of one slot per timeout until each expires.
/// If the slots ever run out, the task is woken at once (a spurious wake-up,
/// which embassy-time allows) rather than the firmware stopping.
struct BoardTimeDriver {
    timer: Timer,
    wakeups: Mutex<RefCell<[Wakeup; WAKE_SLOTS]>>,
}

/// A task's earliest deadline (in ticks) and its waker; `None` for a free slot.
type Wakeup = Option<(u64, Waker)>;

impl BoardTimeDriver {
    fn on_systick(&self) {
        self.timer.systick_handler();
        let now = self.timer.now();
        critical_section::with(|cs| {
            for slot in self.wakeups.borrow_ref_mut(cs).iter_mut() {
                if matches!(slot, Some((at, _)) if *at <= now) {
                    if let Some((_, waker)) = slot.take() {
                        waker.wake();
                    }
                }
            }
        });
    }
}

impl embassy_time_driver::Driver for BoardTimeDriver {
    fn now(&self) -> u64 {
        self.timer.now()
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        let scheduled = critical_section::with(|cs| {
            let mut slots = self.wakeups.borrow_ref_mut(cs);
            if let Some((due, _)) = slots.iter_mut().flatten().find(|(_, w)| w.will_wake(waker)) {
                *due = (*due).min(at);
                return true;
            }
            match slots.iter_mut().find(|s| s.is_none()) {
                Some(free) => {
                    *free = Some((at, waker.clone()));
                    true
                }
                None => false,
            }
        });
        if !scheduled {
            waker.wake_by_ref();
        }
    }
}

embassy_time_driver::time_driver_impl!(
    static DRIVER: BoardTimeDriver = BoardTimeDriver {
        timer: Timer::new(
            embassy_time_driver::TICK_HZ,
            (CORE_CLOCK_HZ / SYSTICK_HZ - 1) as u32,
            CORE_CLOCK_HZ,
        ),
        wakeups: Mutex::new(RefCell::new([const { None }; WAKE_SLOTS])),
    }
);

#[cortex_m_rt::exception]
fn SysTick() {
    DRIVER.on_systick();
}

pub(crate) fn start(syst: &mut SYST) {
    DRIVER.timer.start(syst);
}

/// The wall clock could not be read from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WallClockUnavailable;

/// Wall-clock time in Unix seconds, read from the host with semihosting
/// `SYS_TIME` (the emulator's wall clock; contract rule E6).
///
/// Each call is a semihosting trap, so read it when needed (certificate
/// validity, ticket ages), not in a loop.
pub fn unix_time() -> Result<u64, WallClockUnavailable> {
    match semihosting::sys::arm_compat::sys_time() {
        Ok(seconds) => Ok(seconds as u64),
        Err(_) => Err(WallClockUnavailable),
    }
}

/// The board's clocks for the TLS client (contract rule E6): embassy-time's
/// monotonic milliseconds, and the host's wall clock read once through
/// semihosting and advanced by the monotonic clock afterwards.
///
/// One `SYS_TIME` call at construction instead of one per reading: the
/// wall clock is read for every certificate check and ticket age, and a
/// semihosting trap in the middle of a measured handshake would be counted.
#[derive(Debug, Clone, Copy)]
pub struct BoardClock {
    /// Unix seconds and monotonic milliseconds at the moment of reading.
    base: Option<(u64, u64)>,
}

impl BoardClock {
    /// Reads the host's wall clock now; without one, [`encore_session::WallClock::now_unix`]
    /// reports `None` and certificate checks fail closed.
    pub fn new() -> Self {
        let now_ms = embassy_time::Instant::now().as_millis();
        BoardClock {
            base: unix_time().ok().map(|unix| (unix, now_ms)),
        }
    }
}

impl Default for BoardClock {
    fn default() -> Self {
        Self::new()
    }
}

impl encore_session::MonotonicClock for BoardClock {
    fn now_ms(&self) -> u64 {
        embassy_time::Instant::now().as_millis()
    }
}

impl encore_session::WallClock for BoardClock {
    fn now_unix(&self) -> Option<u64> {
        let (unix, at_ms) = self.base?;
        let elapsed_ms = embassy_time::Instant::now()
            .as_millis()
            .saturating_sub(at_ms);
        Some(unix.saturating_add(elapsed_ms / 1000))
    }
}
