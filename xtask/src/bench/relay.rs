//! The UART relay: TCP connections opened on the firmware's behalf, framed over UART 0.

use super::*;

/// Serves one QEMU run: accepts the UART connection and answers the firmware's frames.
pub(super) fn start_relay(
    ports: Ports,
) -> Result<(u16, JoinHandle<std::result::Result<(), String>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("relay bind: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("relay addr: {e}"))?
        .port();
    let handle = std::thread::spawn(move || -> std::result::Result<(), String> {
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("relay: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let uart = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(format!("relay: QEMU did not connect: {e}")),
            }
        };
        uart.set_nonblocking(false)
            .map_err(|e| format!("relay: {e}"))?;
        relay(uart, ports).map_err(|e| format!("relay: {e}"))
    });
    Ok((port, handle))
}

pub(super) fn relay(mut uart: TcpStream, ports: Ports) -> std::io::Result<()> {
    uart.set_nodelay(true)?;
    let mut server: Option<TcpStream> = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut eof = false;
    loop {
        let mut head = [0u8; 3];
        match uart.read_exact(&mut head) {
            Ok(()) => {}
            // QEMU exited.
            Err(_) => return Ok(()),
        }
        let len = usize::from(u16::from_be_bytes([head[1], head[2]]));
        let mut payload = vec![0u8; len];
        uart.read_exact(&mut payload)?;
        match head[0] {
            b'C' => {
                pending.clear();
                eof = false;
                let port = payload.first().and_then(|i| ports.get(usize::from(*i)));
                server = port.and_then(|p| TcpStream::connect(("127.0.0.1", *p)).ok());
                if let Some(s) = &server {
                    s.set_nodelay(true)?;
                }
                let status: u16 = if server.is_some() { 0 } else { 0xFFFF };
                uart.write_all(&status.to_be_bytes())?;
            }
            b'W' => {
                if let Some(s) = server.as_mut() {
                    if s.write_all(&payload).is_err() {
                        eof = true;
                    }
                }
            }
            b'R' => {
                let max = payload
                    .get(..2)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                    .unwrap_or(0);
                if pending.is_empty() && !eof {
                    if let Some(s) = server.as_mut() {
                        eof = collect_flight(s, &mut pending);
                    } else {
                        eof = true;
                    }
                }
                let n = pending.len().min(max);
                let mut reply = Vec::with_capacity(2 + n);
                reply.extend_from_slice(&(n as u16).to_be_bytes());
                reply.extend(pending.drain(..n));
                uart.write_all(&reply)?;
            }
            b'D' => {
                if let Some(s) = server.take() {
                    let _ = s.shutdown(Shutdown::Both);
                }
                pending.clear();
                uart.write_all(&0u16.to_be_bytes())?;
            }
            _ => return Err(std::io::Error::new(ErrorKind::InvalidData, "unknown frame")),
        }
    }
}

/// Waits for the server's next bytes, then reads until it has been quiet for [`QUIET`]. Returns
/// true at end of stream.
pub(super) fn collect_flight(s: &mut TcpStream, into: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 16384];
    let _ = s.set_read_timeout(Some(FIRST_BYTE));
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                let _ = s.set_read_timeout(Some(QUIET));
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return into.is_empty();
            }
            Err(_) => return true,
        }
    }
}
