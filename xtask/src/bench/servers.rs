//! `openssl s_server` processes the firmware reaches through the relay.

use super::*;

/// An `openssl s_server` child on a free loopback port, killed on drop. Its random generator is
/// pinned (`tools/pinned-rand`, preloaded): each connection gets the same server random, key
/// share and signature nonce, so a repeated ClientHello gets a byte-identical server flight.
pub(super) struct Server {
    pub(super) port: u16,
    pub(super) child: Child,
    pub(super) _stdin: Option<ChildStdin>,
    /// Connections the server reported as resumed (`Reused session-id`).
    pub(super) reused: Arc<AtomicUsize>,
}

impl Server {
    pub(super) fn start(what: &str, pinned_rand: &Path, args: &[&str]) -> Result<Server> {
        let port = free_port()?;
        let mut child = Command::new("openssl")
            .env("LD_PRELOAD", pinned_rand)
            .arg("s_server")
            .arg("-accept")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start openssl s_server: {e}"))?;
        // s_server reads its standard input: keep it open so that it never sees end-of-file.
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("s_server has no stdout")?;
        let reused = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let counter = reused.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if line.starts_with("ACCEPT") {
                    let _ = ready_tx.send(());
                }
                if line.contains("Reused session-id") {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let mut server = Server {
            port,
            child,
            _stdin: stdin,
            reused,
        };
        if ready_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            let _ = server.child.kill();
            return Err(format!("openssl s_server ({what}) did not start"));
        }
        println!(
            "openssl s_server ({what}) on 127.0.0.1:{port}: LD_PRELOAD={} openssl s_server {}",
            pinned_rand.display(),
            args.join(" ")
        );
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
