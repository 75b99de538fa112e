//! Monotonic time (embassy-time over SysTick) and the wall clock from the host.

use cortex_m::peripheral::SYST;
use systick_timer::SystickDriver;

/// Core clock of the MPS2 AN386 as QEMU models it.
pub const CORE_CLOCK_HZ: u64 = 25_000_000;

/// SysTick interrupts per second. Timers wake at this granularity (100 ms);
/// `now()` is interpolated from the SysTick counter in between.
///
/// The rate is low on purpose: each SysTick interrupt scans the wake slots
/// (about 600 instructions with embassy-net's timers registered), and how
/// many interrupts land inside a measured region depends on host wall time.
/// At 100 Hz the TCP exchange of `net-smoke` varied by up to 2,300
/// instructions between runs; at 10 Hz 8 runs out of 10 give the same count.
pub const SYSTICK_HZ: u64 = 10;

// 16 wake slots: embassy-net with a few sockets needs more than 4.
embassy_time_driver::time_driver_impl!(
    static DRIVER: SystickDriver<16> =
        SystickDriver::new(CORE_CLOCK_HZ, (CORE_CLOCK_HZ / SYSTICK_HZ - 1) as u32)
);

#[cortex_m_rt::exception]
fn SysTick() {
    DRIVER.systick_interrupt();
}

pub(crate) fn start(syst: &mut SYST) {
    DRIVER.start(syst);
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
