//! Network smoke test on a Nucleo-F429ZI: DHCP, then TCP to an echo server.
//!
//! The server is `ENCORE_SERVER` at build time (`a.b.c.d:port`, default
//! 192.168.1.2:4433), for example `socat TCP-LISTEN:4433,fork PIPE` on a host
//! of the same network. The firmware writes one line, waits for its echo and
//! logs the result over RTT.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::net::SocketAddrV4;

use embassy_net::tcp::TcpSocket;
use embassy_net::IpEndpoint;
use embassy_time::{Duration, WithTimeout};
use embedded_io_async::Write;
use encore_board_nucleo_f429zi::{net, Board, Spawner};
use rand_core::Rng;

const LINE: &[u8] = b"encore net-smoke\n";
const TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_SERVER: &str = "192.168.1.2:4433";

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut board = Board::init();
    let seed = board.rng.next_u64();
    let stack = match net::start(spawner, board.ethernet, seed) {
        Ok(stack) => stack,
        Err(e) => {
            defmt::error!("network start failed: {}", e);
            return;
        }
    };
    defmt::info!("waiting for DHCP");
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        defmt::info!("address {}", config.address);
    }

    let text = option_env!("ENCORE_SERVER").unwrap_or(DEFAULT_SERVER);
    let server: SocketAddrV4 = match text.parse() {
        Ok(addr) => addr,
        Err(_) => {
            defmt::error!("ENCORE_SERVER is not a.b.c.d:port: {}", text);
            return;
        }
    };
    match echo(stack, IpEndpoint::from(server)).await {
        Ok(()) => defmt::info!("net-smoke: echo received"),
        Err(what) => defmt::error!("net-smoke failed: {}", what),
    }
}

async fn echo(stack: embassy_net::Stack<'static>, server: IpEndpoint) -> Result<(), &'static str> {
    let mut rx = [0u8; 256];
    let mut tx = [0u8; 256];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    socket.set_timeout(Some(TIMEOUT));
    socket
        .connect(server)
        .with_timeout(TIMEOUT)
        .await
        .map_err(|_| "connect timed out")?
        .map_err(|_| "connect refused")?;
    socket.write_all(LINE).await.map_err(|_| "write failed")?;
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
    Ok(())
}
