//! Network smoke test: TCP to the host through QEMU user networking.
//!
//! Connects to 10.0.2.100:443 (forwarded to `127.0.0.1:$ENCORE_SERVER_PORT`
//! on the host), writes one line, reads until the echo of that line is back,
//! prints it and exits 0. Any failure exits 1. It also prints the host's
//! wall clock as the firmware sees it (semihosting `SYS_TIME`). Markers 1 and 2 bracket the
//! connection, so the instruction-count plugin reports what it cost.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embassy_time::Timer;
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::marker::{self, marker};
use encore_board_mps2::{executor, net, println, stack, time, Board, Spawner};
use encore_example_mps2::Mps2;
use encore_examples_common::net_smoke::echo;
use rand_core::Rng;

const LINE: &str = "encore net-smoke\n";

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

#[embassy_executor::task]
async fn app(spawner: Spawner, mut board: Board) {
    let seed = board.rng.next_u64();
    let stack = match net::start(spawner, board.nic, net::qemu_user_config(), seed) {
        Ok(stack) => stack,
        Err(e) => {
            println!("network start failed: {:?}", e);
            exit(exit_code::FAILURE)
        }
    };
    stack.wait_config_up().await;
    match time::unix_time() {
        Ok(seconds) => println!("wall clock: {} s since 1970", seconds),
        Err(_) => println!("wall clock: unavailable"),
    }

    marker(marker::id::BEGIN);
    let result = echo::<Mps2>(stack, LINE.as_bytes()).await;
    marker(marker::id::END);

    let used = stack::peak();
    match result {
        Ok(()) => {
            println!("echo: {}", LINE.trim_end());
            println!("stack peak: {} bytes", used.peak_bytes);
            // Let the FIN go out before the emulator stops.
            Timer::after_millis(10).await;
            exit(exit_code::SUCCESS)
        }
        Err(what) => {
            println!("net-smoke failed: {}", what);
            exit(exit_code::FAILURE)
        }
    }
}
