//! Shared interop-test harness: test certificates, real TLS servers on 127.0.0.1, and a host RNG.
//!
//! Include it from any crate's integration tests with
//! `#[path = "../../tls/tests/common/mod.rs"] mod common;` (adjust the relative path). It needs
//! these dev-dependencies in the including crate: `rcgen` and `rustls` (workspace versions; DER
//! types come through `rustls::pki_types`) and `rand_core` 0.10 (for [`OsRandom`]). The
//! `openssl` and `gnutls-serv` binaries are installed on first use when running as root.
//!
//! - [`TestPki`]: root CA → intermediate → leaves (P-256, P-384, Ed25519, expired) plus a
//!   separate client CA and client certificate, as DER in memory and as PEM files in a
//!   private temporary directory.
//! - [`OpenSslServer`], [`GnutlsServer`]: `openssl s_server` / `gnutls-serv` child processes
//!   on a free loopback port, with their output captured so a test can count the resumptions
//!   the server itself reports. Killed on drop.
//! - [`RustlsServer`]: an in-process rustls 0.23 server with stateless or stateful tickets,
//!   optional client authentication and ticket-key rotation; it records, per connection,
//!   whether the handshake resumed.
//! - [`ensure_tool`]: installs a missing server binary with apt when running as root.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Host randomness
// ---------------------------------------------------------------------------------------------

/// The operating system's generator (`/dev/urandom`) behind rand_core 0.10's fallible traits,
/// so that host tests use real randomness without another dependency.
pub struct OsRandom;

impl rand_core::TryRng for OsRandom {
    type Error = std::io::Error;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        std::fs::File::open("/dev/urandom")?.read_exact(dst)
    }
}

impl rand_core::TryCryptoRng for OsRandom {}

/// Current wall-clock time in Unix seconds.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Make sure the binary `name` exists; if it does not and we are root, install
/// `debian_package` with apt. Panics with the command to run otherwise.
pub fn ensure_tool(name: &str, debian_package: &str) {
    static APT_LOCK: Mutex<()> = Mutex::new(());
    let _guard = APT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if on_path(name) {
        return;
    }
    if !is_root() {
        panic!("`{name}` is missing; install it with: sudo apt-get install -y {debian_package}");
    }
    let update = Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    let install = Command::new("apt-get")
        .args(["install", "-y", "-qq", debian_package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    assert!(
        on_path(name),
        "`{name}` is still missing after `apt-get install -y {debian_package}` (update: {update:?}, install: {install:?})"
    );
}

/// A loopback port that was free a moment ago.
/// A loopback port that was free a moment ago and that this test process has not handed out
/// before: parallel tests never start two servers on one port (gnutls-serv binds every
/// interface, so it would share a port with a server bound to 127.0.0.1).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{}-{}", std::process::id(), n, nanos)
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/// One certificate with its private key (PKCS#8 DER).
#[derive(Clone)]
pub struct CertAndKey {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

/// A complete test PKI, generated fresh.
///
/// Files in [`dir`](TestPki::dir): `ca.pem`, `int.pem`, `leaf.pem`, `leaf.key`, `chain.pem`
/// (leaf + intermediate), `p384.pem`/`.key`/`-chain.pem`, `ed25519.pem`/`.key`/`-chain.pem`,
/// `expired.pem`/`.key`/`-chain.pem`, `client-ca.pem`, `client.pem`, `client.key`,
/// `client-chain.pem`. The directory is removed on drop.
pub struct TestPki {
    pub dir: PathBuf,
    /// Names in every leaf's subjectAltName (the requested names plus `127.0.0.1`); the first
    /// one is also the subject CN.
    pub names: Vec<String>,
    pub ca_der: Vec<u8>,
    pub int_der: Vec<u8>,
    /// P-256 leaf.
    pub leaf: CertAndKey,
    pub p384_leaf: CertAndKey,
    pub ed25519_leaf: CertAndKey,
    /// P-256 leaf valid only in the year 2000.
    pub expired_leaf: CertAndKey,
    /// Root of the client certificates (a different CA from the server's).
    pub client_ca_der: Vec<u8>,
    /// P-256 client certificate for mutual TLS (EKU clientAuth), issued by the client CA.
    pub client: CertAndKey,
}

fn dn(params: &mut CertificateParams, cn: &str) {
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Encore test");
}

fn leaf_params(names: &[String], eku: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut p = CertificateParams::new(names.to_vec()).expect("leaf names");
    dn(
        &mut p,
        names.first().map(String::as_str).unwrap_or("localhost"),
    );
    p.is_ca = IsCa::NoCa;
    p.extended_key_usages = vec![eku];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    dn(&mut p, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    p
}

fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl TestPki {
    /// Generate the PKI for the server names `names` (DNS names; `127.0.0.1` is always added).
    pub fn generate(names: &[&str]) -> TestPki {
        let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        if !all.iter().any(|n| n == "127.0.0.1") {
            all.push("127.0.0.1".to_string());
        }
        let p256 = &rcgen::PKCS_ECDSA_P256_SHA256;

        let root = CertifiedIssuer::self_signed(
            ca_params("Encore Test Root CA"),
            KeyPair::generate_for(p256).expect("root key"),
        )
        .expect("root");
        let int = CertifiedIssuer::signed_by(
            ca_params("Encore Test Intermediate CA"),
            KeyPair::generate_for(p256).expect("int key"),
            &root,
        )
        .expect("intermediate");

        let issue = |alg: &'static rcgen::SignatureAlgorithm, params: CertificateParams| {
            let key = KeyPair::generate_for(alg).expect("leaf key");
            let cert = params.signed_by(&key, &int).expect("leaf");
            CertAndKey {
                cert_der: cert.der().to_vec(),
                key_der: key.serialize_der(),
            }
        };
        let server_auth = || leaf_params(&all, ExtendedKeyUsagePurpose::ServerAuth);
        let leaf = issue(p256, server_auth());
        let p384_leaf = issue(&rcgen::PKCS_ECDSA_P384_SHA384, server_auth());
        let ed25519_leaf = issue(&rcgen::PKCS_ED25519, server_auth());
        let mut expired = server_auth();
        expired.not_before = rcgen::date_time_ymd(2000, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let expired_leaf = issue(p256, expired);

        let client_root = CertifiedIssuer::self_signed(
            ca_params("Encore Test Client CA"),
            KeyPair::generate_for(p256).expect("client ca key"),
        )
        .expect("client ca");
        let client_key = KeyPair::generate_for(p256).expect("client key");
        let client_cert = leaf_params(
            &["encore-device".to_string()],
            ExtendedKeyUsagePurpose::ClientAuth,
        )
        .signed_by(&client_key, &client_root)
        .expect("client cert");
        let client = CertAndKey {
            cert_der: client_cert.der().to_vec(),
            key_der: client_key.serialize_der(),
        };

        let dir = std::env::temp_dir().join(format!("encore-pki-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).expect("create pki dir");
        let pki = TestPki {
            dir,
            names: all,
            ca_der: root.der().to_vec(),
            int_der: int.der().to_vec(),
            leaf,
            p384_leaf,
            ed25519_leaf,
            expired_leaf,
            client_ca_der: client_root.der().to_vec(),
            client,
        };
        pki.write_files();
        pki
    }

    fn write_files(&self) {
        let cert = |d: &[u8]| pem("CERTIFICATE", d);
        let key = |d: &[u8]| pem("PRIVATE KEY", d);
        let int = cert(&self.int_der);
        let mut files: Vec<(String, String)> = vec![
            ("ca.pem".into(), cert(&self.ca_der)),
            ("int.pem".into(), int.clone()),
            ("client-ca.pem".into(), cert(&self.client_ca_der)),
            ("client.pem".into(), cert(&self.client.cert_der)),
            ("client.key".into(), key(&self.client.key_der)),
            ("client-chain.pem".into(), cert(&self.client.cert_der)),
        ];
        for (stem, ck) in [
            ("leaf", &self.leaf),
            ("p384", &self.p384_leaf),
            ("ed25519", &self.ed25519_leaf),
            ("expired", &self.expired_leaf),
        ] {
            files.push((format!("{stem}.pem"), cert(&ck.cert_der)));
            files.push((format!("{stem}.key"), key(&ck.key_der)));
            let chain_name = if stem == "leaf" {
                "chain.pem".to_string()
            } else {
                format!("{stem}-chain.pem")
            };
            files.push((chain_name, format!("{}{}", cert(&ck.cert_der), int)));
        }
        for (name, text) in files {
            std::fs::write(self.dir.join(name), text).expect("write pem");
        }
    }

    /// Path of one of the PEM files.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The leaf of the given kind.
    pub fn leaf_of(&self, kind: LeafKind) -> &CertAndKey {
        match kind {
            LeafKind::P256 => &self.leaf,
            LeafKind::P384 => &self.p384_leaf,
            LeafKind::Ed25519 => &self.ed25519_leaf,
            LeafKind::Expired => &self.expired_leaf,
        }
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Which server leaf a server presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    P256,
    P384,
    Ed25519,
    Expired,
}

impl LeafKind {
    /// File stem of the leaf's PEM files (`<stem>.pem`, `<stem>.key`).
    pub fn stem(self) -> &'static str {
        match self {
            LeafKind::P256 => "leaf",
            LeafKind::P384 => "p384",
            LeafKind::Ed25519 => "ed25519",
            LeafKind::Expired => "expired",
        }
    }

    /// File of the leaf followed by the intermediate.
    pub fn chain_file(self) -> String {
        match self {
            LeafKind::P256 => "chain.pem".to_string(),
            other => format!("{}-chain.pem", other.stem()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Child-process servers
// ---------------------------------------------------------------------------------------------

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

/// A server child process on a loopback port. Killed on drop.
pub struct ServerProcess {
    child: Child,
    /// Kept open: `s_server` reads stdin and would act on end-of-file.
    _stdin: Option<ChildStdin>,
    port: u16,
    output: Output,
}

impl ServerProcess {
    /// Start `program args` (where `{port}` in an argument is replaced by a free port), and wait
    /// until a line containing `ready` appears; retries on another port if the process exits
    /// first (a port taken in between).
    fn start(program: &str, args: &[String], ready: &str) -> ServerProcess {
        let mut last = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{port}", &port.to_string()))
                .collect();
            let mut child = Command::new(program)
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
            let output = Output::default();
            if let Some(out) = child.stdout.take() {
                output.capture(out);
            }
            if let Some(err) = child.stderr.take() {
                output.capture(err);
            }
            let stdin = child.stdin.take();
            let end = Instant::now() + START_TIMEOUT;
            loop {
                // No TCP probe: s_server would report the aborted handshake as a connection.
                if output.count(ready) > 0 {
                    return ServerProcess {
                        child,
                        _stdin: stdin,
                        port,
                        output,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("{program} exited with {status}: {}", output.text());
                    break;
                }
                if Instant::now() >= end {
                    let _ = child.kill();
                    let _ = child.wait();
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

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn output(&self) -> &Output {
        &self.output
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server` with the test PKI, TLS 1.3 only, on 127.0.0.1.
///
/// Without `-www` it serves one connection at a time and goes back to accepting; it prints
/// `Reused session-id` for each resumed connection, which [`resumed_count`](Self::resumed_count)
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
            path_str(&pki.path("int.pem")),
            "-tls1_3".into(),
        ];
        args.extend(extra_args.iter().map(|s| s.to_string()));
        OpenSslServer {
            process: ServerProcess::start("openssl", &args, "ACCEPT"),
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

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// Resumed connections reported so far.
    pub fn resumed_count(&self) -> usize {
        self.process.output().count(Self::RESUMED)
    }

    /// Wait until `n` resumptions are reported or `timeout` passes; returns the count.
    pub fn wait_resumed(&self, n: usize, timeout: Duration) -> usize {
        self.process.output().wait_count(Self::RESUMED, n, timeout)
    }

    /// Waits until `n` handshakes are fully reported or `timeout` passes; returns the count.
    /// s_server prints `Secure Renegotiation IS ...` after the `Reused session-id` line of
    /// the same handshake, so once `n` are reported, [`OpenSslServer::resumed_count`] is
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

    pub fn output(&self) -> &Output {
        self.process.output()
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
        ensure_tool("gnutls-serv", "gnutls-bin");
        let mut args: Vec<String> = vec![
            "-p".into(),
            "{port}".into(),
            "--echo".into(),
            "--x509certfile".into(),
            path_str(&pki.path("chain.pem")),
            "--x509keyfile".into(),
            path_str(&pki.path("leaf.key")),
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
            process: ServerProcess::start("gnutls-serv", &args, "listening"),
        }
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub fn resumed_count(&self) -> usize {
        self.process.output().count(Self::RESUMED)
    }

    pub fn wait_resumed(&self, n: usize, timeout: Duration) -> usize {
        self.process.output().wait_count(Self::RESUMED, n, timeout)
    }

    pub fn output(&self) -> &Output {
        self.process.output()
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

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// In-process rustls server
// ---------------------------------------------------------------------------------------------

/// How the rustls server keeps sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketMode {
    /// Stateless tickets (`rustls::crypto::ring::Ticketer`): reusable until the keys rotate.
    Stateless,
    /// rustls' default in-memory session cache: each ticket resumes once.
    Stateful,
}

/// What the rustls server does with application data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Write back every byte received.
    Echo,
    /// After the first application data, send these bytes and close_notify.
    Fixed(Vec<u8>),
    /// Read and discard.
    Nothing,
}

/// Options of [`RustlsServer::start`].
#[derive(Clone, Debug)]
pub struct RustlsOptions {
    pub tickets: TicketMode,
    /// NewSessionTicket messages after each handshake (rustls' `send_tls13_tickets`).
    pub send_tls13_tickets: usize,
    /// Require a client certificate from the test client CA.
    pub client_auth: bool,
    pub leaf: LeafKind,
    pub alpn: Vec<Vec<u8>>,
    pub reply: Reply,
    /// Restrict the suites (IANA code points); empty = rustls' defaults.
    pub suites: Vec<u16>,
    /// Offer only secp256r1 for key exchange (forces a HelloRetryRequest on a client whose
    /// first key share is X25519).
    pub p256_only: bool,
}

impl Default for RustlsOptions {
    fn default() -> Self {
        RustlsOptions {
            tickets: TicketMode::Stateless,
            send_tls13_tickets: 2,
            client_auth: false,
            leaf: LeafKind::P256,
            alpn: Vec::new(),
            reply: Reply::Echo,
            suites: Vec::new(),
            p256_only: false,
        }
    }
}

/// What the rustls server saw on one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnRecord {
    /// `handshake_kind() == Some(HandshakeKind::Resumed)`.
    pub resumed: bool,
    /// The handshake went through a HelloRetryRequest.
    pub hello_retry: bool,
    pub completed: bool,
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    pub suite: Option<u16>,
    pub client_cert: bool,
    /// Application data received.
    pub received: Vec<u8>,
    /// Why the connection ended abnormally, if it did.
    pub error: Option<String>,
}

struct RustlsShared {
    config: Mutex<Arc<rustls::ServerConfig>>,
    records: Mutex<Vec<ConnRecord>>,
    stop: AtomicBool,
}

/// A rustls 0.23 server (ring provider, TLS 1.3 only) on 127.0.0.1, each connection in its own
/// thread. Stops on drop.
pub struct RustlsServer {
    port: u16,
    shared: Arc<RustlsShared>,
    pki_parts: PkiParts,
    options: RustlsOptions,
    accept_thread: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct PkiParts {
    chain: Vec<Vec<u8>>,
    key: Vec<u8>,
    client_ca: Vec<u8>,
}

fn rustls_config(parts: &PkiParts, options: &RustlsOptions) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut provider = rustls::crypto::ring::default_provider();
    if !options.suites.is_empty() {
        provider
            .cipher_suites
            .retain(|s| options.suites.contains(&u16::from(s.suite())));
    }
    if options.p256_only {
        provider.kx_groups = vec![rustls::crypto::ring::kx_group::SECP256R1];
    }
    let provider = Arc::new(provider);
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3");
    let builder = if options.client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(parts.client_ca.clone()))
            .expect("client ca");
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain = parts
        .chain
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(parts.key.clone()));
    let mut cfg = builder.with_single_cert(chain, key).expect("server cert");
    cfg.send_tls13_tickets = options.send_tls13_tickets;
    cfg.alpn_protocols = options.alpn.clone();
    if options.tickets == TicketMode::Stateless {
        cfg.ticketer = rustls::crypto::ring::Ticketer::new().expect("ticketer");
    }
    Arc::new(cfg)
}

fn serve(
    mut sock: TcpStream,
    config: Arc<rustls::ServerConfig>,
    reply: Reply,
    shared: &RustlsShared,
) {
    let mut rec = ConnRecord::default();
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = sock.set_nodelay(true);
    let result = (|| -> Result<(), String> {
        let mut conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .map_err(|e| format!("handshake: {e}"))?;
        }
        rec.completed = true;
        rec.resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        rec.hello_retry =
            conn.handshake_kind() == Some(rustls::HandshakeKind::FullWithHelloRetryRequest);
        rec.sni = conn.server_name().map(str::to_string);
        rec.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        rec.suite = conn.negotiated_cipher_suite().map(|s| u16::from(s.suite()));
        rec.client_cert = conn.peer_certificates().is_some_and(|c| !c.is_empty());
        // Flush the tickets.
        while conn.wants_write() {
            conn.write_tls(&mut sock)
                .map_err(|e| format!("write: {e}"))?;
        }
        let mut buf = [0u8; 4096];
        loop {
            // Drain plaintext first: application data that arrived in the same flight as the
            // client Finished is already decrypted, and waiting for more I/O would miss it.
            loop {
                match conn.reader().read(&mut buf) {
                    Ok(0) => {
                        // close_notify from the client: answer with ours.
                        conn.send_close_notify();
                        let _ = conn.complete_io(&mut sock);
                        return Ok(());
                    }
                    Ok(n) => {
                        rec.received.extend_from_slice(&buf[..n]);
                        match &reply {
                            Reply::Echo => {
                                conn.writer()
                                    .write_all(&buf[..n])
                                    .map_err(|e| e.to_string())?;
                            }
                            Reply::Fixed(bytes) => {
                                conn.writer().write_all(bytes).map_err(|e| e.to_string())?;
                                conn.send_close_notify();
                                while conn.wants_write() {
                                    conn.write_tls(&mut sock).map_err(|e| e.to_string())?;
                                }
                                return Ok(());
                            }
                            Reply::Nothing => {}
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
            while conn.wants_write() {
                conn.write_tls(&mut sock).map_err(|e| e.to_string())?;
            }
            match conn.complete_io(&mut sock) {
                Ok((0, 0)) if !conn.wants_read() => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(format!("io: {e}")),
            }
        }
    })();
    if let Err(e) = result {
        rec.error = Some(e);
    }
    shared
        .records
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(rec);
}

impl RustlsServer {
    pub fn start(pki: &TestPki, options: RustlsOptions) -> RustlsServer {
        let leaf = pki.leaf_of(options.leaf);
        let parts = PkiParts {
            chain: vec![leaf.cert_der.clone(), pki.int_der.clone()],
            key: leaf.key_der.clone(),
            client_ca: pki.client_ca_der.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(RustlsShared {
            config: Mutex::new(rustls_config(&parts, &options)),
            records: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let reply = options.reply.clone();
        let thread_shared = Arc::clone(&shared);
        let accept_thread = std::thread::spawn(move || {
            while !thread_shared.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let _ = sock.set_nonblocking(false);
                        let config = Arc::clone(
                            &thread_shared
                                .config
                                .lock()
                                .unwrap_or_else(|e| e.into_inner()),
                        );
                        let s = Arc::clone(&thread_shared);
                        let reply = reply.clone();
                        std::thread::spawn(move || serve(sock, config, reply, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        RustlsServer {
            port,
            shared,
            pki_parts: parts,
            options,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Later connections use a fresh configuration: new ticket keys and an empty session cache,
    /// as if the server had restarted. Tickets issued before no longer resume (C34).
    pub fn rotate_ticket_keys(&self) {
        let cfg = rustls_config(&self.pki_parts, &self.options);
        *self.shared.config.lock().unwrap_or_else(|e| e.into_inner()) = cfg;
    }

    /// Finished connections, in the order they ended.
    pub fn connections(&self) -> Vec<ConnRecord> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resumed connections so far.
    pub fn resumed_count(&self) -> usize {
        self.connections().iter().filter(|c| c.resumed).count()
    }

    /// Wait until `n` connections have finished or `timeout` passes; returns them.
    pub fn wait_connections(&self, n: usize, timeout: Duration) -> Vec<ConnRecord> {
        let end = Instant::now() + timeout;
        loop {
            let c = self.connections();
            if c.len() >= n || Instant::now() >= end {
                return c;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RustlsServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}
