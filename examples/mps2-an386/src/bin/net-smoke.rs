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

use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Timer, WithTimeout};
use embedded_io_async::Write;
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::marker::{self, marker};
use encore_board_mps2::{executor, net, println, stack, time, Board, Spawner};
use rand_core::Rng;

const LINE: &[u8] = b"encore net-smoke\n";
const TIMEOUT: Duration = Duration::from_secs(10);

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
    let result = echo(stack).await;
    marker(marker::id::END);

    let used = stack::peak();
    match result {
        Ok(n) => {
            let text = core::str::from_utf8(&LINE[..n]).unwrap_or("<not utf-8>");
            println!("echo: {}", text.trim_end());
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

/// Sends [`LINE`] and waits for the same bytes back; returns their length.
async fn echo(stack: embassy_net::Stack<'static>) -> Result<usize, &'static str> {
    let mut rx = [0u8; 256];
    let mut tx = [0u8; 256];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    socket.set_timeout(Some(TIMEOUT));
    socket
        .connect(net::SERVER)
        .with_timeout(TIMEOUT)
        .await
        .map_err(|_| "connect timed out")?
        .map_err(|_| "connect refused")?;
    socket.write_all(LINE).await.map_err(|_| "write failed")?;
    socket.flush().await.map_err(|_| "flush failed")?;
    let mut got = [0u8; 64];
    let mut n = 0;
    while n < LINE.len() {
        let read = socket
            .read(&mut got[n..])
            .await
            .map_err(|_| "read failed")?;
        if read == 0 {
            return Err("closed before the echo came back");
        }
        n += read;
    }
    if got.get(..LINE.len()) != Some(LINE) {
        return Err("echo differs from what was sent");
    }
    socket.close();
    Ok(LINE.len())
}
