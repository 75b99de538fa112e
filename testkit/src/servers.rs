//! `openssl s_server` and `gnutls-serv` as child processes on free loopback ports.

use super::*;

/// Captured output lines of a child process (stdout and stderr interleaved).
#[derive(Clone, Default)]
pub struct Output(Arc<Mutex<Vec<String>>>);

impl Output {
    fn capture<R: Read + Send + 'static>(&self, r: R) {
        let lines = Arc::clone(&self.0);
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                match line {
                    Ok(l) => lines.lock().unwrap_or_else(|e| e.into_inner()).push(l),
                    Err(_) => break,
                }
            }
        });
    }

    /// Append text (split into lines) from another source.
    pub fn push_text(&self, text: &str) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.extend(text.lines().map(str::to_string));
    }

    /// Capture every line `r` produces, in a background thread.
    pub fn capture_from<R: Read + Send + 'static>(&self, r: R) {
        self.capture(r);
    }

    /// Every line so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// Number of lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Wait until at least `n` lines contain `needle` or `timeout` passes; returns the count.
    pub fn wait_count(&self, needle: &str, n: usize, timeout: Duration) -> usize {
        let end = Instant::now() + timeout;
        loop {
            let c = self.count(needle);
            if c >= n || Instant::now() >= end {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A child process whose stdout and stderr are captured into an [`Output`], and whose stdin
/// stays open as long as it runs (`s_server` reads stdin and quits on end-of-file). Killed on
/// drop.
pub struct ChildProcess {
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl ChildProcess {
    /// Starts `cmd` with piped standard streams, its output going to `output`.
    pub fn spawn(cmd: &mut Command, output: &Output) -> std::io::Result<ChildProcess> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(out) = child.stdout.take() {
            output.capture(out);
        }
        if let Some(err) = child.stderr.take() {
            output.capture(err);
        }
        let stdin = child.stdin.take();
        Ok(ChildProcess {
            child,
            _stdin: stdin,
        })
    }

    /// The exit status, once the process has ended.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Whether the process has ended (or can no longer be waited for).
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server child process on a loopback port, and the line it prints for each resumed
/// connection. Killed on drop. [`OpenSslServer`] and [`GnutlsServer`] dereference to it.
pub struct ServerProcess {
    /// Held for its `Drop`, which stops the server.
    _process: ChildProcess,
    port: u16,
    output: Output,
    resumed: &'static str,
}

impl ServerProcess {
    /// Start `program args` (where `{port}` in an argument is replaced by a free port), and wait
    /// until a line containing `ready` appears; retries on another port if the process exits
    /// first (a port taken in between).
    fn start(program: &str, args: &[String], ready: &str, resumed: &'static str) -> ServerProcess {
        let mut last = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{port}", &port.to_string()))
                .collect();
            let output = Output::default();
            let mut process = ChildProcess::spawn(Command::new(program).args(&args), &output)
                .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
            let end = Instant::now() + START_TIMEOUT;
            loop {
                // No TCP probe: s_server would report the aborted handshake as a connection.
                if output.count(ready) > 0 {
                    return ServerProcess {
                        _process: process,
                        port,
                        output,
                        resumed,
                    };
                }
                if let Some(status) = process.exit_status() {
                    last = format!("{program} exited with {status}: {}", output.text());
                    break;
                }
                if Instant::now() >= end {
                    process.stop();
                    last = format!(
                        "{program} not ready after {START_TIMEOUT:?}: {}",
                        output.text()
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start {program}: {last}");
    }

    /// The port it listens on, at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What it printed so far.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// Resumed connections reported so far.
    pub fn resumed_count(&self) -> usize {
        self.output.count(self.resumed)
    }

    /// Wait until `n` resumptions are reported or `timeout` passes; returns the count.
    pub fn wait_resumed(&self, n: usize, timeout: Duration) -> usize {
        self.output.wait_count(self.resumed, n, timeout)
    }
}

/// `openssl s_server` with the test PKI, TLS 1.3 only, on 127.0.0.1.
///
/// Without `-www` it serves one connection at a time and goes back to accepting; it prints
/// `Reused session-id` for each resumed connection, which [`resumed_count`](ServerProcess::resumed_count)
/// counts. With `-www` the proof is in the served page instead (`Reused, TLSv1.3`).
pub struct OpenSslServer {
    process: ServerProcess,
}

impl OpenSslServer {
    /// The line s_server prints for a resumed connection.
    pub const RESUMED: &'static str = "Reused session-id";

    /// Start with the P-256 leaf; `extra_args` are appended (e.g. `-num_tickets 0`,
    /// `-no_ticket`, `-groups P-256`, `-allow_no_dhe_kex`, `-ciphersuites ...`).
    pub fn start(pki: &TestPki, extra_args: &[&str]) -> OpenSslServer {
        Self::start_with_leaf(pki, LeafKind::P256, extra_args)
    }

    /// Start presenting the given leaf.
    pub fn start_with_leaf(pki: &TestPki, leaf: LeafKind, extra_args: &[&str]) -> OpenSslServer {
        ensure_tool("openssl", "openssl");
        let mut args: Vec<String> = vec![
            "s_server".into(),
            "-accept".into(),
            "127.0.0.1:{port}".into(),
            "-cert".into(),
            path_str(&pki.path(&format!("{}.pem", leaf.stem()))),
            "-key".into(),
            path_str(&pki.path(&format!("{}.key", leaf.stem()))),
            "-cert_chain".into(),
            path_str(&pki.path(leaf.intermediate_file())),
            "-tls1_3".into(),
        ];
        args.extend(extra_args.iter().map(|s| s.to_string()));
        OpenSslServer {
            process: ServerProcess::start("openssl", &args, "ACCEPT", Self::RESUMED),
        }
    }

    /// Start requiring a client certificate from the test client CA (mutual TLS).
    pub fn start_mutual(pki: &TestPki, extra_args: &[&str]) -> OpenSslServer {
        let ca = path_str(&pki.path("client-ca.pem"));
        let mut args = vec![
            "-Verify",
            "2",
            "-verify_return_error",
            "-CAfile",
            ca.as_str(),
        ];
        args.extend_from_slice(extra_args);
        Self::start(pki, &args)
    }

    /// Waits until `n` handshakes are fully reported or `timeout` passes; returns the count.
    /// s_server prints `Secure Renegotiation IS ...` after the `Reused session-id` line of
    /// the same handshake, so once `n` are reported, [`ServerProcess::resumed_count`] is
    /// final for those `n` handshakes.
    pub fn wait_reported(&self, n: usize, timeout: Duration) -> usize {
        self.process
            .output()
            .wait_count("Secure Renegotiation IS", n, timeout)
    }

    /// Completed handshakes so far (s_server prints `CIPHER is ...` once per handshake; it
    /// serves sequential connections one after the other, printing `ACCEPT` only at start).
    pub fn handshakes(&self) -> usize {
        self.process.output().count("CIPHER is")
    }
}

/// `gnutls-serv` with the test PKI, TLS 1.3 only, bound to 127.0.0.1 when the installed version
/// supports it. It answers each connection in echo mode and prints
/// `*** This is a resumed session` for each resumption.
pub struct GnutlsServer {
    process: ServerProcess,
}

impl GnutlsServer {
    /// The line gnutls-serv prints for a resumed connection.
    pub const RESUMED: &'static str = "This is a resumed session";

    /// Start with the P-256 leaf and chain; `extra_args` are appended.
    pub fn start(pki: &TestPki, extra_args: &[&str]) -> GnutlsServer {
        Self::start_with_leaf(pki, LeafKind::P256, extra_args)
    }

    /// Start presenting the given leaf and its intermediate.
    pub fn start_with_leaf(pki: &TestPki, leaf: LeafKind, extra_args: &[&str]) -> GnutlsServer {
        Self::start_with_files(
            &pki.path(&leaf.chain_file()),
            &pki.path(&format!("{}.key", leaf.stem())),
            extra_args,
        )
    }

    /// Start presenting the PEM chain `chain` (leaf first) with the PEM private key `key`.
    pub fn start_with_files(chain: &Path, key: &Path, extra_args: &[&str]) -> GnutlsServer {
        ensure_tool("gnutls-serv", "gnutls-bin");
        let mut args: Vec<String> = vec![
            "-p".into(),
            "{port}".into(),
            "--echo".into(),
            "--x509certfile".into(),
            path_str(chain),
            "--x509keyfile".into(),
            path_str(key),
            "--disable-client-cert".into(),
            "--priority".into(),
            "NORMAL:-VERS-ALL:+VERS-TLS1.3".into(),
        ];
        if gnutls_supports_listen_address() {
            args.push("--listen".into());
            args.push("127.0.0.1".into());
        }
        args.extend(extra_args.iter().map(|s| s.to_string()));
        GnutlsServer {
            process: ServerProcess::start("gnutls-serv", &args, "listening", Self::RESUMED),
        }
    }
}

impl core::ops::Deref for OpenSslServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl core::ops::Deref for GnutlsServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

fn gnutls_supports_listen_address() -> bool {
    Command::new("gnutls-serv")
        .arg("--help")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.contains("--listen")
        })
        .unwrap_or(false)
}

pub(crate) fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
