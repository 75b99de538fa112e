//! A thread-mode executor that sleeps with `wfi`.
//!
//! embassy's own thread executor idles with `wfe`, which QEMU treats as a
//! no-op: the firmware then spins and instruction counts drift between runs.
//! Sleeping with `wfi` makes an idle CPU execute nothing until the next
//! interrupt, so repeated runs execute the same instructions.
//!
//! This module defines the executor's `__pender`: firmware on this board must
//! not enable any `platform-*` feature of embassy-executor (nor should the
//! libraries it uses), or the symbol is defined twice.

use core::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::{raw, Spawner};
use static_cell::StaticCell;

use crate::hw;

/// Set by the pender (a task was woken), cleared before each poll.
/// Starts set so that the tasks spawned by `init` are polled.
static WORK: AtomicBool = AtomicBool::new(true);

static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();

/// Called by the executor, from any context, when a task becomes ready.
pub(crate) fn pend() {
    WORK.store(true, Ordering::SeqCst);
}

/// Runs the executor forever; `init` spawns the first tasks.
///
/// Call it once, from `main`. Calling it a second time panics: it never
/// returns, so a second call can only come from a task, which is a bug.
pub fn run(init: impl FnOnce(Spawner)) -> ! {
    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(core::ptr::null_mut()));
    init(executor.spawner());
    loop {
        // An interrupt that woke no task (a UART byte still short of what
        // the reader waits for) costs only this check, not a poll.
        if WORK.swap(false, Ordering::SeqCst) {
            hw::poll_executor(executor);
        }
        hw::sleep_unless(|| WORK.load(Ordering::SeqCst));
    }
}
