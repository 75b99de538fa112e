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

use embassy_executor::{raw, SpawnError, SpawnToken, Spawner};
use static_cell::StaticCell;

use crate::console::{exit, exit_code};
use crate::{hw, Board};

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

/// What every firmware's `main` does: initialise the board, then run the executor with the
/// one task `app` makes from the spawner and the board. A board that fails to initialise
/// ends the program with [`exit_code::BOARD_INIT`], a task that cannot be spawned with
/// [`exit_code::FAILURE`].
pub fn boot<S>(app: impl FnOnce(Spawner, Board) -> Result<SpawnToken<S>, SpawnError>) -> ! {
    let board = match Board::init() {
        Ok(board) => board,
        Err(e) => {
            crate::println!("board init failed: {:?}", e);
            exit(exit_code::BOARD_INIT)
        }
    };
    run(|spawner| match app(spawner, board) {
        Ok(task) => spawner.spawn(task),
        Err(_) => exit(exit_code::FAILURE),
    })
}
