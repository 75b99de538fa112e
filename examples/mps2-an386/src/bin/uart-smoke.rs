//! UART smoke test: a byte stream to the host over UART 0.
//!
//! Run with `ENCORE_UART_PORT` set, so that UART 0 connects to an echo
//! server on `127.0.0.1:$ENCORE_UART_PORT`. Writes a block of bytes, reads
//! until the same bytes are back, prints the count and exits 0; any failure
//! exits 1. Markers 1 and 2 bracket the exchange.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embassy_time::{Duration, WithTimeout};
use embedded_io_async::{Read, Write};
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::marker::{self, marker};
use encore_board_mps2::{executor, println, stack, Board};

/// Fits in the receive ring; a longer exchange also exercises flow control.
const LEN: usize = 3000;
const TIMEOUT: Duration = Duration::from_secs(10);

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(|_, board| app(board))
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

#[embassy_executor::task]
async fn app(board: Board) {
    let mut uart = board.uart;
    marker(marker::id::BEGIN);
    let result = exchange(&mut uart).with_timeout(TIMEOUT).await;
    marker(marker::id::END);
    match result {
        Ok(Ok(())) => {
            println!("uart echo: {} bytes", LEN);
            println!("stack peak: {} bytes", stack::peak().peak_bytes);
            exit(exit_code::SUCCESS)
        }
        Ok(Err(what)) => {
            println!("uart-smoke failed: {}", what);
            exit(exit_code::FAILURE)
        }
        Err(_) => {
            println!("uart-smoke failed: timed out");
            exit(exit_code::FAILURE)
        }
    }
}

async fn exchange(uart: &mut encore_board_mps2::uart::Uart0) -> Result<(), &'static str> {
    let mut block = [0u8; LEN];
    for (i, b) in block.iter_mut().enumerate() {
        *b = pattern(i);
    }
    uart.write_all(&block).await.map_err(|_| "write failed")?;
    uart.flush().await.map_err(|_| "flush failed")?;
    // Read as a TLS client reads records: a 5-byte header, then bodies.
    let mut got = 0;
    let mut buf = [0u8; 512];
    while got < LEN {
        let want = if got == 0 {
            5
        } else {
            (LEN - got).min(buf.len())
        };
        let chunk = buf.get_mut(..want).ok_or("bad chunk")?;
        uart.read_exact(chunk).await.map_err(|_| "read failed")?;
        for (k, b) in chunk.iter().enumerate() {
            if *b != pattern(got + k) {
                return Err("echo differs from what was sent");
            }
        }
        got += want;
    }
    Ok(())
}
