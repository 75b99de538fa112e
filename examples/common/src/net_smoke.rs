//! The network smoke test of every board: one line over TCP to an echo server at the board's
//! server address ([`Board::server`]), and the same bytes back.

use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_time::{Duration, WithTimeout};
use embedded_io_async::Write;

use crate::Board;

/// How long the connection and each step may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest line [`echo`] can check.
pub const MAX_LINE: usize = 64;

/// Connects to `B::server()`, writes `line` (at most [`MAX_LINE`] bytes), reads until as
/// many bytes are back, checks they are the same and closes. The error says which step
/// failed.
pub async fn echo<B: Board>(stack: Stack<'static>, line: &[u8]) -> Result<(), &'static str> {
    let mut got = [0u8; MAX_LINE];
    let got = got
        .get_mut(..line.len())
        .ok_or("the line is longer than the echo buffer")?;
    let mut rx = [0u8; 256];
    let mut tx = [0u8; 256];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    socket.set_timeout(Some(TIMEOUT));
    socket
        .connect(B::server())
        .with_timeout(TIMEOUT)
        .await
        .map_err(|_| "connect timed out")?
        .map_err(|_| "connect refused")?;
    socket.write_all(line).await.map_err(|_| "write failed")?;
    socket.flush().await.map_err(|_| "flush failed")?;
    let mut n = 0;
    while let Some(rest) = got.get_mut(n..).filter(|rest| !rest.is_empty()) {
        let read = socket.read(rest).await.map_err(|_| "read failed")?;
        if read == 0 {
            return Err("closed before the echo came back");
        }
        n += read;
    }
    if got != line {
        return Err("echo differs from what was sent");
    }
    socket.close();
    Ok(())
}
