//! `cargo xtask bench`: handshake costs on the emulated Cortex-M4F (Encore beside embedded-tls),
//! the P-256 backends, and the host cache micro-benchmarks; prints the table and writes
//! `BENCHMARKS.md` with its plot.
//!
//! The firmware (`bench/mps2-an386`) reaches `openssl s_server` on 127.0.0.1 through UART 0: QEMU
//! connects the UART to the relay below, which opens the TCP connections the firmware asks for
//! (the framing is described in `bench/mps2-an386/src/lib.rs`). The QEMU plugin
//! (`tools/qemu-plugin`) reports the instruction count at every marker; the relay's framing lets
//! the host subtract the instructions spent inside the UART link, so what is reported is the TLS
//! stack's own work, identical from run to run.

use crate::steps;
use crate::util::{self, cargo, output, root, section, target_dir, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Core clock of the MCU the milliseconds column assumes (an STM32F4 at full speed).
const MCU_HZ: f64 = 168e6;
/// Largest spread allowed between runs of one image, in instructions per instruction.
const MAX_SPREAD: f64 = 0.001;
const SERVER_NAME: &str = "server.encore.test";
/// Must match `PSK` and `PSK_IDENTITY` in `bench/mps2-an386/src/lib.rs`.
const PSK_HEX: &str = "456e636f72652062656e63686d61726b2065787465726e616c2050534b203031";
const PSK_IDENTITY: &str = "encore-bench";
/// How long the relay waits after the last byte from the server before it answers a read: a
/// server's flight arrives in one burst on loopback.
const QUIET: Duration = Duration::from_millis(40);
const FIRST_BYTE: Duration = Duration::from_secs(10);

const FIRMWARE_DIR: &str = "bench/mps2-an386";
/// `bench-encore` built again with encore-tls's opt-in `x25519-base-table` (its ELF is copied
/// under this name); only its X25519 handshakes are reported.
const TABLE_IMAGE: &str = "bench-encore-x25519-table";
/// `bench-encore` built without the X25519 and ChaCha20-Poly1305 features, so with the
/// algorithms embedded-tls's image has (P-256, AES-128-GCM): measured for its size, not run.
const SAME_ALGORITHMS_IMAGE: &str = "bench-encore-p256-aes-only";
const IMAGES: &[&str] = &[
    "bench-embedded-tls",
    "bench-encore",
    TABLE_IMAGE,
    "bench-crypto",
];

struct Options {
    runs: usize,
    host: bool,
    profile: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        runs: 3,
        host: true,
        profile: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                o.runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or("--runs takes a number of runs (at least 1)")?;
            }
            "--no-host" => o.host = false,
            "--profile" => o.profile = true,
            other => return Err(format!("bench: unknown option {other}")),
        }
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result {
    let opts = options(args)?;
    let started = Instant::now();
    steps::setup()?;
    let work = target_dir().join("bench");
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;

    section("bench: PKI (openssl CLI), instruction-count plugin, firmware");
    let pki = make_pki(&root().join(FIRMWARE_DIR).join("pki"))?;
    let plugin = build_plugin(&work)?;
    let pinned = build_pinned_rand(&work)?;
    let elf_dir = target_dir().join("thumbv7em-none-eabihf").join("release");
    let firmware = |args: &[&str]| {
        util::run(
            cargo()
                .current_dir(root().join(FIRMWARE_DIR))
                .args(["build", "--release"])
                .args(args)
                .env("ENCORE_BENCH_PKI", &pki)
                .env("CARGO_TARGET_DIR", target_dir()),
        )
    };
    // The variant first: both builds share the target directory, and the second one leaves
    // the default `bench-encore` in place.
    for (image, features) in [
        (TABLE_IMAGE, &["--features", "x25519-base-table"][..]),
        (SAME_ALGORITHMS_IMAGE, &["--no-default-features"][..]),
    ] {
        firmware(&[&["--bin", "bench-encore"], features].concat())?;
        std::fs::copy(elf_dir.join("bench-encore"), work.join(image))
            .map_err(|e| format!("copy the {image} image: {e}"))?;
    }
    firmware(&[])?;

    section("bench: openssl s_server on 127.0.0.1");
    let cert_server = Server::start(
        "certificate",
        &pinned,
        &[
            "-cert",
            path_str(&pki.join("leaf.pem"))?,
            "-key",
            path_str(&pki.join("leaf.key"))?,
            "-cert_chain",
            path_str(&pki.join("int.pem"))?,
            "-tls1_3",
            "-allow_no_dhe_kex",
            "-num_tickets",
            "2",
        ],
    )?;
    let psk_server = Server::start(
        "external PSK",
        &pinned,
        &[
            "-nocert",
            "-psk_identity",
            PSK_IDENTITY,
            "-psk",
            PSK_HEX,
            "-tls1_3",
            "-ciphersuites",
            "TLS_AES_128_GCM_SHA256",
        ],
    )?;
    let ports = [cert_server.port, psk_server.port];
    if opts.profile {
        for p in profile(&elf_dir, &ports, &work)? {
            println!("\n{}: {} instructions", p.label, p.total);
            for (n, f) in &p.top {
                println!(
                    "{n:>12} {:5.1} % {f}",
                    100.0 * *n as f64 / p.total.max(1) as f64
                );
            }
        }
        return Ok(());
    }

    section("bench: firmware on mps2-an386 (QEMU), over UART 0");
    let mut images = Vec::new();
    for name in IMAGES {
        let elf = if *name == TABLE_IMAGE {
            work.join(name)
        } else {
            elf_dir.join(name)
        };
        let mut runs = Vec::new();
        for i in 0..opts.runs {
            let r = run_image(&elf, &plugin, &ports, &work, i)?;
            println!(
                "{name} run {}: {}",
                i + 1,
                r.regions
                    .iter()
                    .map(|h| format!("{} {}", h.name, h.instructions))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            runs.push(r);
        }
        let sizes = elf_sizes(&elf)?;
        images.push(Image { name, runs, sizes });
    }
    images.push(Image {
        name: SAME_ALGORITHMS_IMAGE,
        runs: Vec::new(),
        sizes: elf_sizes(&work.join(SAME_ALGORITHMS_IMAGE))?,
    });
    section("bench: where the instructions go (one more run, split by function)");
    let profiles = profile(&elf_dir, &ports, &work)?;
    let reused = cert_server.reused.load(Ordering::Relaxed);
    drop(cert_server);
    drop(psk_server);

    let host = if opts.host {
        section("bench: host micro-benchmarks (criterion)");
        Some(host_benches()?)
    } else {
        None
    };

    section("bench: results");
    let report = Report {
        images: &images,
        profiles: &profiles,
        host: host.as_ref(),
        reused,
        runs: opts.runs,
    };
    let table = report.markdown();
    println!("{table}");
    let svg = report.svg();
    let svg_name = "BENCHMARKS-instructions.svg";
    std::fs::write(root().join(svg_name), svg).map_err(|e| format!("write {svg_name}: {e}"))?;
    let md = report.document(&table, svg_name);
    std::fs::write(root().join("BENCHMARKS.md"), md)
        .map_err(|e| format!("write BENCHMARKS.md: {e}"))?;
    println!(
        "wrote BENCHMARKS.md and {svg_name} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    report.check_spread()
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| format!("not UTF-8: {}", p.display()))
}

// ---------------------------------------------------------------------------------------------
// PKI

/// P-256 root → intermediate → leaf (subjectAltName and CN both name the server), made with the
/// openssl CLI once and committed in `bench/mps2-an386/pki`: the certificates' signatures and the
/// leaf key set how long verification takes, and the root is built into the firmware, so one
/// fixed PKI keeps the images and the instruction counts the same on every machine. Made again
/// only when the directory lacks its files.
fn make_pki(dir: &Path) -> Result<PathBuf> {
    let done = ["root.der", "int.pem", "leaf.pem", "leaf.key"]
        .iter()
        .all(|f| dir.join(f).exists());
    if done {
        println!("PKI: reusing {}", dir.display());
        return Ok(dir.to_path_buf());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let ossl = |args: &[&str]| -> Result {
        util::run(Command::new("openssl").current_dir(dir).args(args)).map(|_| ())
    };
    let ext = |name: &str, body: &str| -> Result {
        std::fs::write(dir.join(name), body).map_err(|e| format!("write {name}: {e}"))
    };
    for key in ["root", "int", "leaf"] {
        ossl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &format!("{key}.key"),
        ])?;
    }
    ext(
        "root.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
    )?;
    ext(
        "int.ext",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )?;
    ext(
        "leaf.ext",
        &format!("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:{SERVER_NAME}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"),
    )?;
    ossl(&[
        "req",
        "-new",
        "-key",
        "root.key",
        "-subj",
        "/CN=Encore Bench Root",
        "-out",
        "root.csr",
    ])?;
    ossl(&[
        "x509",
        "-req",
        "-in",
        "root.csr",
        "-signkey",
        "root.key",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        "root.ext",
        "-set_serial",
        "1",
        "-out",
        "root.pem",
    ])?;
    ossl(&[
        "req",
        "-new",
        "-key",
        "int.key",
        "-subj",
        "/CN=Encore Bench Intermediate",
        "-out",
        "int.csr",
    ])?;
    ossl(&[
        "x509",
        "-req",
        "-in",
        "int.csr",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        "int.ext",
        "-set_serial",
        "2",
        "-out",
        "int.pem",
    ])?;
    ossl(&[
        "req",
        "-new",
        "-key",
        "leaf.key",
        "-subj",
        &format!("/CN={SERVER_NAME}"),
        "-out",
        "leaf.csr",
    ])?;
    ossl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "int.pem",
        "-CAkey",
        "int.key",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        "leaf.ext",
        "-set_serial",
        "3",
        "-out",
        "leaf.pem",
    ])?;
    ossl(&[
        "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
    ])?;
    Ok(dir.to_path_buf())
}

fn build_plugin(work: &Path) -> Result<PathBuf> {
    util::shared_lib(
        &root().join("tools/qemu-plugin/insncount.c"),
        &work.join("libinsncount.so"),
        &[],
    )
}

/// The preloaded library that pins s_server's random generator (`tools/pinned-rand`).
fn build_pinned_rand(work: &Path) -> Result<PathBuf> {
    util::shared_lib(
        &root().join("tools/pinned-rand/pinned_rand.c"),
        &work.join("libpinnedrand.so"),
        &["-l:libcrypto.so.3"],
    )
}

// ---------------------------------------------------------------------------------------------
// Servers

/// An `openssl s_server` child on a free loopback port, killed on drop. Its random generator is
/// pinned (`tools/pinned-rand`, preloaded): each connection gets the same server random, key
/// share and signature nonce, so a repeated ClientHello gets a byte-identical server flight.
struct Server {
    port: u16,
    child: Child,
    _stdin: Option<ChildStdin>,
    /// Connections the server reported as resumed (`Reused session-id`).
    reused: Arc<AtomicUsize>,
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

impl Server {
    fn start(what: &str, pinned_rand: &Path, args: &[&str]) -> Result<Server> {
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

// ---------------------------------------------------------------------------------------------
// The UART relay

/// Serves one QEMU run: accepts the UART connection and answers the firmware's frames.
fn start_relay(ports: [u16; 2]) -> Result<(u16, JoinHandle<std::result::Result<(), String>>)> {
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

fn relay(mut uart: TcpStream, ports: [u16; 2]) -> std::io::Result<()> {
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
fn collect_flight(s: &mut TcpStream, into: &mut Vec<u8>) -> bool {
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

// ---------------------------------------------------------------------------------------------
// One firmware run

/// A measured region of one run: a handshake or a primitive.
#[derive(Clone, Debug)]
struct Region {
    stack: String,
    name: String,
    /// Instructions between the markers, minus those inside the UART link.
    instructions: u64,
    sent: usize,
    received: usize,
    ok: bool,
}

struct ImageRun {
    regions: Vec<Region>,
    stack_peak: Option<usize>,
    entry_size: Option<usize>,
    index_size: Option<usize>,
    slot_size: Option<usize>,
}

fn run_image(
    elf: &Path,
    plugin: &Path,
    ports: &[u16; 2],
    work: &Path,
    i: usize,
) -> Result<ImageRun> {
    let name = image_name(elf);
    let markers = work.join(format!("{name}.{i}.markers"));
    let stdout = run_qemu(elf, &plugin.to_string_lossy(), &markers, ports, work)?;
    let marks = std::fs::read_to_string(&markers)
        .map_err(|e| format!("read {}: {e}", markers.display()))?;
    parse_run(&stdout, &marks).map_err(|e| format!("{name}: {e}\n{stdout}"))
}

fn image_name(elf: &Path) -> String {
    elf.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("image")
        .to_string()
}

/// Whether a handshake of `image` appears in the tables: every one, except that the
/// [`TABLE_IMAGE`] variant shows only the handshakes that make an X25519 key share.
fn reported(image: &str, r: &Region) -> bool {
    image != TABLE_IMAGE || r.name.starts_with("full-verify/") || r.name.starts_with("psk_dhe_ke/")
}

/// Boots `elf` with the relay on UART 0 and `plugin` (a path, with extra arguments after
/// commas) writing to `plugin_out`; returns the firmware's standard output.
fn run_qemu(
    elf: &Path,
    plugin: &str,
    plugin_out: &Path,
    ports: &[u16; 2],
    work: &Path,
) -> Result<String> {
    let (uart_port, relay) = start_relay(*ports)?;
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("examples/mps2-an386/run-qemu.sh"))
        .arg(elf)
        .current_dir(work)
        .env("ENCORE_UART_PORT", uart_port.to_string())
        .env("ENCORE_QEMU_PLUGIN", plugin)
        .env("ENCORE_PLUGIN_OUT", plugin_out)
        .env("ENCORE_TIMEOUT", "300");
    let shown = util::show(&cmd);
    let out = cmd
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let relay_result = relay.join().unwrap_or(Err("relay panicked".into()));
    if !out.status.success() {
        return Err(format!(
            "`{shown}` failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    relay_result?;
    Ok(stdout)
}

/// One measured window split by function: its label, its total, and its largest functions
/// (instructions, function).
struct Profile {
    label: String,
    total: u64,
    top: Vec<(u64, String)>,
}

/// Runs the handshake images once under `bench/mps2-an386/profile/funcprof.c`, which splits each
/// measured window (transport excluded, as in the table) by function.
fn profile(elf_dir: &Path, ports: &[u16; 2], work: &Path) -> Result<Vec<Profile>> {
    let so = util::shared_lib(
        &root().join(FIRMWARE_DIR).join("profile/funcprof.c"),
        &work.join("libfuncprof.so"),
        &[],
    )?;
    let mut profiles = Vec::new();
    for name in ["bench-embedded-tls", "bench-encore"] {
        let elf = elf_dir.join(name);
        let nm = output(
            Command::new("nm")
                .args(["-C", "-S", "--defined-only"])
                .arg(&elf),
        )?;
        let mut syms = String::new();
        for line in nm.lines() {
            let f: Vec<&str> = line.splitn(4, ' ').collect();
            if let [addr, size, kind, fname] = f.as_slice() {
                if matches!(*kind, "T" | "t") {
                    let _ = writeln!(syms, "{addr} {size} {fname}");
                }
            }
        }
        let syms_path = work.join(format!("{name}.syms"));
        std::fs::write(&syms_path, syms).map_err(|e| format!("write syms: {e}"))?;
        let report = work.join(format!("{name}.profile"));
        let plugin = format!("{},syms={},top=12", so.display(), syms_path.display());
        let stdout = run_qemu(&elf, &plugin, &report, ports, work)?;
        let mut names = stdout
            .lines()
            .filter(|l| l.starts_with("handshake "))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            });
        let text = std::fs::read_to_string(&report)
            .map_err(|e| format!("read {}: {e}", report.display()))?;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let ["window", _, total] = f.as_slice() {
                profiles.push(Profile {
                    label: names.next().unwrap_or_default(),
                    total: total.parse().unwrap_or(0),
                    top: Vec::new(),
                });
            } else if let (Some(p), [count, _share, ..]) = (profiles.last_mut(), f.as_slice()) {
                // `<count> <share>% <function name with spaces>`
                let func = after_fields(line, 2).to_string();
                p.top.push((count.parse().unwrap_or(0), func));
            }
        }
    }
    Ok(profiles)
}

/// What follows the first `n` whitespace-separated fields of `line`.
fn after_fields(line: &str, n: usize) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest
}

/// A function name shortened for the tables: generic arguments dropped, the last two path
/// segments kept (`FieldElement::multiply`); a trait method as `Type::method`.
fn short_function(name: &str) -> String {
    fn strip_generics(s: &str) -> String {
        let mut out = String::new();
        let mut depth = 0usize;
        for c in s.chars() {
            match c {
                '<' => depth += 1,
                '>' => depth = depth.saturating_sub(1),
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    }
    fn last_segments(path: &str, n: usize) -> String {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        parts[parts.len().saturating_sub(n)..].join("::")
    }
    if let Some(inner) = name.strip_prefix('<') {
        // `<Type as Trait>::method`: find the `>` that closes the first `<`.
        let mut depth = 1usize;
        for (i, c) in inner.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => {
                    depth -= 1;
                    if depth == 0 {
                        let ty = inner[..i].split(" as ").next().unwrap_or("");
                        let ty = strip_generics(ty.trim_start_matches('&'));
                        let method = strip_generics(&inner[i + 1..]);
                        return format!("{}::{}", last_segments(&ty, 1), last_segments(&method, 1));
                    }
                }
                _ => {}
            }
        }
    }
    last_segments(&strip_generics(name), 2)
}

/// Pairs the k-th measured window of the plugin's output with the k-th `handshake` or `op`
/// line of the firmware.
fn parse_run(stdout: &str, marks: &str) -> Result<ImageRun> {
    let mut windows = Vec::new();
    let (mut begin, mut io_begin, mut io_total) = (None::<u64>, None::<u64>, 0u64);
    for line in marks.lines() {
        let mut f = line.split_whitespace();
        if f.next() != Some("marker") {
            continue;
        }
        let (Some(id), Some(count)) = (
            f.next().and_then(|v| v.parse::<u8>().ok()),
            f.next().and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        match id {
            1 | 20 => {
                begin = Some(count);
                io_total = 0;
            }
            10 | 12 => io_begin = Some(count),
            11 | 13 => {
                if let Some(b) = io_begin.take() {
                    io_total += count - b;
                }
            }
            2 | 21 => {
                if let Some(b) = begin.take() {
                    windows.push((count - b).saturating_sub(io_total));
                }
            }
            _ => {}
        }
    }
    let mut regions = Vec::new();
    let mut stack_peak = None;
    let (mut entry_size, mut index_size, mut slot_size) = (None, None, None);
    for line in stdout.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["handshake", stack, name, sent, received, ok] => regions.push(Region {
                stack: stack.to_string(),
                name: name.to_string(),
                instructions: 0,
                sent: sent.parse().unwrap_or(0),
                received: received.parse().unwrap_or(0),
                ok: *ok == "ok",
            }),
            ["op", stack, name, ok] => regions.push(Region {
                stack: stack.to_string(),
                name: name.to_string(),
                instructions: 0,
                sent: 0,
                received: 0,
                ok: *ok == "ok",
            }),
            ["stack", "peak:", n, "bytes"] => stack_peak = n.parse().ok(),
            ["sizes", "entry", e, "index", i, "slot", s] => {
                entry_size = e.parse().ok();
                index_size = i.parse().ok();
                slot_size = s.parse().ok();
            }
            _ => {}
        }
    }
    if regions.len() != windows.len() {
        return Err(format!(
            "{} reported regions but {} marker windows",
            regions.len(),
            windows.len()
        ));
    }
    for (r, w) in regions.iter_mut().zip(windows) {
        r.instructions = w;
    }
    if let Some(bad) = regions.iter().find(|r| !r.ok) {
        return Err(format!("{} {} failed", bad.stack, bad.name));
    }
    Ok(ImageRun {
        regions,
        stack_peak,
        entry_size,
        index_size,
        slot_size,
    })
}

// ---------------------------------------------------------------------------------------------
// Image sizes, from the ELF section headers

#[derive(Clone, Copy, Debug, Default)]
struct Sizes {
    /// Vector table, .text, .rodata and the initial values of .data: what the image puts in flash.
    flash: u64,
    text: u64,
    rodata: u64,
    /// .data, .bss and .uninit (statics, the executor's task, buffers held by tasks).
    ram: u64,
}

const RAM_BASE: u64 = 0x2000_0000;

fn elf_sizes(elf: &Path) -> Result<Sizes> {
    let b = std::fs::read(elf).map_err(|e| format!("read {}: {e}", elf.display()))?;
    let u16_at = |o: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            b.get(o..o + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |o: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            b.get(o..o + 4)?.try_into().ok()?,
        )))
    };
    let bad = || format!("{}: not a little-endian ELF32 file", elf.display());
    if b.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1][..]) {
        return Err(bad());
    }
    let shoff = u32_at(0x20).ok_or_else(bad)? as usize;
    let shentsize = u16_at(0x2e).ok_or_else(bad)? as usize;
    let shnum = u16_at(0x30).ok_or_else(bad)? as usize;
    let shstrndx = u16_at(0x32).ok_or_else(bad)? as usize;
    let sh = |i: usize, field: usize| u32_at(shoff + i * shentsize + field);
    let strtab = sh(shstrndx, 0x10).ok_or_else(bad)? as usize;
    let name_of = |i: usize| -> String {
        let off = strtab + sh(i, 0).unwrap_or(0) as usize;
        let end = b[off..]
            .iter()
            .position(|c| *c == 0)
            .map(|p| off + p)
            .unwrap_or(off);
        String::from_utf8_lossy(&b[off..end]).into_owned()
    };
    let mut s = Sizes::default();
    for i in 0..shnum {
        let (Some(kind), Some(flags), Some(addr), Some(size)) =
            (sh(i, 0x04), sh(i, 0x08), sh(i, 0x0c), sh(i, 0x14))
        else {
            return Err(bad());
        };
        const SHF_ALLOC: u64 = 2;
        const SHT_NOBITS: u64 = 8;
        if flags & SHF_ALLOC == 0 || size == 0 {
            continue;
        }
        let name = name_of(i);
        if addr >= RAM_BASE {
            s.ram += size;
            if kind != SHT_NOBITS {
                s.flash += size;
            }
        } else {
            s.flash += size;
            if name == ".text" {
                s.text += size;
            } else if name == ".rodata" {
                s.rodata += size;
            }
        }
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Host micro-benchmarks

struct HostBench {
    /// (operation, cache, capacity) → mean time per operation in ns.
    time_ns: BTreeMap<(String, String, usize), f64>,
    /// (operation, cache, capacity) → allocations per operation.
    allocs: BTreeMap<(String, String, usize), f64>,
}

fn host_benches() -> Result<HostBench> {
    let out = output(cargo().args([
        "bench",
        "-p",
        "encore-cache",
        "--bench",
        "cache",
        "--",
        "--warm-up-time",
        "1",
        "--measurement-time",
        "2",
    ]))?;
    let mut allocs = BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let ["allocs", cache, op, cap, n] = f.as_slice() {
            if let (Ok(cap), Ok(n)) = (cap.parse(), n.parse()) {
                allocs.insert((op.to_string(), cache.to_string(), cap), n);
            }
        }
    }
    let mut time_ns = BTreeMap::new();
    let criterion = target_dir().join("criterion");
    for op in ["lookup", "take", "insert", "evict"] {
        for cache in ["encore", "rustls"] {
            for cap in [8usize, 64, 256] {
                let est = criterion
                    .join(op)
                    .join(cache)
                    .join(cap.to_string())
                    .join("new/estimates.json");
                let text = std::fs::read_to_string(&est)
                    .map_err(|e| format!("read {}: {e}", est.display()))?;
                let mean = json_mean(&text)
                    .ok_or_else(|| format!("{}: no mean estimate", est.display()))?;
                time_ns.insert((op.to_string(), cache.to_string(), cap), mean);
            }
        }
    }
    Ok(HostBench { time_ns, allocs })
}

/// `mean.point_estimate` of a criterion `estimates.json`.
fn json_mean(text: &str) -> Option<f64> {
    let at = text.find("\"mean\"")?;
    let rest = &text[at..];
    let p = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let num: String = rest[p..]
        .chars()
        .skip_while(|c| c.is_whitespace())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Report

struct Image {
    name: &'static str,
    runs: Vec<ImageRun>,
    sizes: Sizes,
}

struct Report<'a> {
    images: &'a [Image],
    profiles: &'a [Profile],
    host: Option<&'a HostBench>,
    reused: usize,
    runs: usize,
}

fn mi(n: u64) -> String {
    format!("{:.3} M", n as f64 / 1e6)
}

fn kb(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

impl Report<'_> {
    fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }

    /// Each region with its median instruction count over the runs, and the largest relative
    /// spread between runs.
    fn regions(&self, image: &Image) -> Vec<(Region, f64)> {
        let Some(first) = image.runs.first() else {
            return Vec::new();
        };
        first
            .regions
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let mut counts: Vec<u64> = image
                    .runs
                    .iter()
                    .filter_map(|run| run.regions.get(k).map(|x| x.instructions))
                    .collect();
                counts.sort_unstable();
                let min = counts.first().copied().unwrap_or(0);
                let max = counts.last().copied().unwrap_or(0);
                let spread = if min == 0 {
                    0.0
                } else {
                    (max - min) as f64 / min as f64
                };
                let mut median = r.clone();
                median.instructions = counts.get(counts.len() / 2).copied().unwrap_or(0);
                (median, spread)
            })
            .collect()
    }

    fn instructions(&self, image: &str, name: &str) -> Option<u64> {
        let img = self.image(image)?;
        self.regions(img)
            .into_iter()
            .find(|(r, _)| r.name == name)
            .map(|(r, _)| r.instructions)
    }

    fn markdown(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "### Handshakes on mps2-an386 (Cortex-M4F, QEMU), against openssl s_server over UART 0\n");
        let _ = writeln!(t, "| stack | handshake / suite | instructions | ms at 168 MHz (lower bound) | wire bytes (sent + received) | run-to-run spread |");
        let _ = writeln!(t, "|---|---|---:|---:|---:|---:|");
        for name in ["bench-embedded-tls", "bench-encore", TABLE_IMAGE] {
            let Some(img) = self.image(name) else {
                continue;
            };
            for (r, spread) in self.regions(img) {
                if !reported(name, &r) {
                    continue;
                }
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {:.1} | {} ({} + {}) | {:.4} % |",
                    r.stack,
                    r.name,
                    mi(r.instructions),
                    r.instructions as f64 / MCU_HZ * 1e3,
                    r.sent + r.received,
                    r.sent,
                    r.received,
                    spread * 100.0
                );
            }
        }
        let _ = writeln!(t, "\n### Images\n");
        let _ = writeln!(t, "| image | flash (vectors + .text + .rodata + .data) | .text | .rodata | static RAM (.data + .bss + .uninit) | stack peak (painted) |");
        let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|");
        for img in self.images.iter().filter(|i| i.name != "bench-crypto") {
            let peak = img.runs.first().and_then(|r| r.stack_peak);
            let _ = writeln!(
                t,
                "| {} | {} ({} B) | {} | {} | {} ({} B) | {} |",
                img.name,
                kb(img.sizes.flash),
                img.sizes.flash,
                kb(img.sizes.text),
                kb(img.sizes.rodata),
                kb(img.sizes.ram),
                img.sizes.ram,
                peak.map(|p| format!("{p} B")).unwrap_or_else(|| "-".into()),
            );
        }
        if let Some(enc) = self.image("bench-encore").and_then(|i| i.runs.first()) {
            if let (Some(e), Some(i), Some(s)) = (enc.entry_size, enc.index_size, enc.slot_size) {
                let _ = writeln!(t, "\nSession memory on the target (thumbv7em): {e} B per cache entry and {i} B of cache index per entry, {s} B per pool slot (256-byte ticket capacity): {} B per cached session.", e + i + s);
            }
        }
        let _ = writeln!(t, "\n### Encore / embedded-tls\n");
        let _ = writeln!(t, "| | Encore | embedded-tls | ratio |");
        let _ = writeln!(t, "|---|---:|---:|---:|");
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let pairs = [
            ("full handshake, chain verified (AES-128-GCM; Encore X25519, embedded-tls P-256 ECDHE)", "full-verify/aes128gcm", "full-verify/aes128gcm"),
            ("full handshake, chain verified, both P-256 ECDHE", "full-verify-p256/aes128gcm", "full-verify/aes128gcm"),
            ("Encore psk_dhe_ke resumption (X25519) vs embedded-tls external PSK (P-256 ECDHE)", "psk_dhe_ke/aes128gcm", "external-psk/aes128gcm"),
            ("Encore psk_dhe_ke resumption (P-256) vs embedded-tls external PSK (P-256 ECDHE)", "psk_dhe_ke-p256/aes128gcm", "external-psk/aes128gcm"),
            ("Encore psk_ke resumption vs embedded-tls external PSK", "psk_ke/aes128gcm", "external-psk/aes128gcm"),
        ];
        for (label, e, o) in pairs {
            if let (Some(a), Some(b)) = (
                self.instructions("bench-encore", e),
                self.instructions("bench-embedded-tls", o),
            ) {
                let _ = writeln!(
                    t,
                    "| instructions: {label} | {} | {} | {:.2} |",
                    mi(a),
                    mi(b),
                    ratio(a, b)
                );
            }
        }
        if let (Some(a), Some(b)) = (self.image("bench-encore"), self.image("bench-embedded-tls")) {
            let _ = writeln!(
                t,
                "| flash | {} | {} | {:.2} |",
                kb(a.sizes.flash),
                kb(b.sizes.flash),
                ratio(a.sizes.flash, b.sizes.flash)
            );
            let _ = writeln!(
                t,
                "| static RAM | {} | {} | {:.2} |",
                kb(a.sizes.ram),
                kb(b.sizes.ram),
                ratio(a.sizes.ram, b.sizes.ram)
            );
            let pa = a.runs.first().and_then(|r| r.stack_peak).unwrap_or(0) as u64;
            let pb = b.runs.first().and_then(|r| r.stack_peak).unwrap_or(0) as u64;
            let _ = writeln!(t, "| stack peak | {pa} B | {pb} B | {:.2} |", ratio(pa, pb));
            let _ = writeln!(
                t,
                "| static RAM + stack peak | {} | {} | {:.2} |",
                kb(a.sizes.ram + pa),
                kb(b.sizes.ram + pb),
                ratio(a.sizes.ram + pa, b.sizes.ram + pb)
            );
        }
        if let Some(img) = self.image("bench-crypto") {
            let _ = writeln!(
                t,
                "\n### Primitives alone (bench-crypto: encore-tls's crypto, and the P-256 code embedded-tls links)\n"
            );
            let _ = writeln!(
                t,
                "| library | operation | instructions | ms at 168 MHz (lower bound) |"
            );
            let _ = writeln!(t, "|---|---|---:|---:|");
            for (r, _) in self.regions(img) {
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {:.1} |",
                    r.stack,
                    r.name,
                    mi(r.instructions),
                    r.instructions as f64 / MCU_HZ * 1e3
                );
            }
        }
        if let Some(h) = self.host {
            let _ = writeln!(t, "\n### Session cache on the host (criterion, mean time per operation; allocations per operation)\n");
            let _ = writeln!(t, "| operation | capacity | Encore `SessionCache` | rustls `ClientSessionMemoryCache` | speed-up | allocations Encore / rustls |");
            let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|");
            for op in ["lookup", "take", "insert", "evict"] {
                for cap in [8usize, 64, 256] {
                    let key = |c: &str| (op.to_string(), c.to_string(), cap);
                    let (Some(e), Some(r)) =
                        (h.time_ns.get(&key("encore")), h.time_ns.get(&key("rustls")))
                    else {
                        continue;
                    };
                    let ae = h.allocs.get(&key("encore")).copied().unwrap_or(f64::NAN);
                    let ar = h.allocs.get(&key("rustls")).copied().unwrap_or(f64::NAN);
                    let _ = writeln!(
                        t,
                        "| {op} | {cap} | {e:.1} ns | {r:.1} ns | {:.2}× | {ae} / {ar} |",
                        r / e
                    );
                }
            }
        }
        t
    }

    /// Runs that disagree by more than [`MAX_SPREAD`] fail the command. Both sides repeat
    /// themselves (the client's generator has a fixed seed, the server's is pinned), so every
    /// handshake, full ones included, sees the same bytes in every run.
    fn check_spread(&self) -> Result {
        let mut worst = (0.0f64, String::new());
        for img in self.images {
            for (r, spread) in self.regions(img) {
                if spread >= worst.0 {
                    worst = (spread, format!("{} {}", r.stack, r.name));
                }
            }
        }
        println!(
            "largest run-to-run spread over {} runs: {:.4} % ({})",
            self.runs,
            worst.0 * 100.0,
            worst.1,
        );
        if worst.0 > MAX_SPREAD {
            return Err(format!(
                "instruction counts of {} differ by {:.4} % between runs (limit {:.1} %)",
                worst.1,
                worst.0 * 100.0,
                MAX_SPREAD * 100.0
            ));
        }
        Ok(())
    }

    /// The largest functions of each handshake, from the profiling run.
    fn where_it_goes(&self) -> String {
        let mut w = String::new();
        if self.profiles.is_empty() {
            return w;
        }
        let _ = writeln!(w, "### Where the instructions go\n");
        let _ = writeln!(w, "One more run of each image under `bench/mps2-an386/profile/funcprof.c`, a QEMU plugin that charges every instruction to the function containing it (after inlining and LTO), with the same windows as above. The five largest functions of each handshake:\n");
        let _ = writeln!(
            w,
            "| handshake | instructions | largest functions (share) |"
        );
        let _ = writeln!(w, "|---|---:|---|");
        for p in self.profiles {
            let top: Vec<String> = p
                .top
                .iter()
                .take(5)
                .map(|(n, f)| {
                    format!(
                        "`{}` {:.0} %",
                        short_function(f),
                        100.0 * *n as f64 / p.total.max(1) as f64
                    )
                })
                .collect();
            let _ = writeln!(w, "| {} | {} | {} |", p.label, mi(p.total), top.join(", "));
        }
        w
    }

    /// The goals of the benchmark issue, each with the measured value and whether it is met.
    fn goals(&self) -> String {
        let mut g = String::new();
        let _ = writeln!(g, "## Goals\n");
        let _ = writeln!(g, "| goal | measured | met |");
        let _ = writeln!(g, "|---|---|---|");
        let yes = |ok: bool| if ok { "yes" } else { "no" };
        let enc = |name: &str| self.instructions("bench-encore", name);
        let both_in = |image: &str, kind: &str, limit: f64| -> Option<(String, bool)> {
            let a = self.instructions(image, &format!("{kind}/aes128gcm"))?;
            let c = self.instructions(image, &format!("{kind}/chacha20poly1305"))?;
            let text = format!("AES-128-GCM {}, ChaCha20-Poly1305 {}", mi(a), mi(c));
            Some((text, (a.max(c) as f64) <= limit))
        };
        for (label, kind, limit) in [
            ("psk_ke resumption ≤ 0.5 M instructions", "psk_ke", 0.5e6),
            (
                "psk_dhe_ke resumption ≤ 2.5 M instructions",
                "psk_dhe_ke",
                2.5e6,
            ),
            (
                "full handshake with chain verification ≤ 10 M instructions",
                "full-verify",
                10e6,
            ),
        ] {
            if let Some((text, ok)) = both_in("bench-encore", kind, limit) {
                let _ = writeln!(g, "| {label} | {text} | {} |", yes(ok));
            }
        }
        if let Some((text, ok)) = both_in(TABLE_IMAGE, "psk_dhe_ke", 2.5e6) {
            let _ = writeln!(
                g,
                "| psk_dhe_ke resumption ≤ 2.5 M instructions, with the opt-in `x25519-base-table` | {text} | {} |",
                yes(ok)
            );
        }
        let theirs = self.instructions("bench-embedded-tls", "full-verify/aes128gcm");
        if let (Some(x), Some(p), Some(t)) = (
            enc("full-verify/aes128gcm"),
            enc("full-verify-p256/aes128gcm"),
            theirs,
        ) {
            let _ = writeln!(
                g,
                "| full handshake below embedded-tls's ({}) | {} with X25519, {} with P-256 ECDHE | {} (X25519), {} (P-256) |",
                mi(t),
                mi(x),
                mi(p),
                yes(x < t),
                yes(p < t)
            );
        }
        if let (Some(a), Some(b)) = (self.image("bench-encore"), self.image("bench-embedded-tls")) {
            let pa = a.runs.first().and_then(|r| r.stack_peak).unwrap_or(0) as u64;
            let pb = b.runs.first().and_then(|r| r.stack_peak).unwrap_or(0) as u64;
            let _ = writeln!(
                g,
                "| flash ≤ embedded-tls's | {} against {} | {} |",
                kb(a.sizes.flash),
                kb(b.sizes.flash),
                yes(a.sizes.flash <= b.sizes.flash)
            );
            if let Some(same) = self.image(SAME_ALGORITHMS_IMAGE) {
                let _ = writeln!(
                    g,
                    "| flash ≤ embedded-tls's, with only the algorithms its image has (P-256, AES-128-GCM) | {} against {} | {} |",
                    kb(same.sizes.flash),
                    kb(b.sizes.flash),
                    yes(same.sizes.flash <= b.sizes.flash)
                );
            }
            let _ = writeln!(
                g,
                "| RAM ≤ embedded-tls's | static {} against {}; with the stack peak {} against {} | {} |",
                kb(a.sizes.ram),
                kb(b.sizes.ram),
                kb(a.sizes.ram + pa),
                kb(b.sizes.ram + pb),
                yes(a.sizes.ram <= b.sizes.ram && a.sizes.ram + pa <= b.sizes.ram + pb)
            );
        }
        if let Some(img) = self.image("bench-encore") {
            let resumed: Vec<(Region, f64)> = self
                .regions(img)
                .into_iter()
                .filter(|(r, _)| r.name.starts_with("psk"))
                .collect();
            let worst = resumed
                .iter()
                .map(|(r, _)| r.sent + r.received)
                .max()
                .unwrap_or(0);
            let listed: Vec<String> = resumed
                .iter()
                .map(|(r, _)| format!("{} {} B", r.name, r.sent + r.received))
                .collect();
            let _ = writeln!(
                g,
                "| resumed handshake against openssl ≤ 700 wire bytes | {} | {} |",
                listed.join(", "),
                if worst <= 700 {
                    "yes"
                } else {
                    "with X25519 yes; with a P-256 key share no"
                }
            );
        }
        if let Some(h) = self.host {
            let mut slowest = f64::INFINITY;
            let mut allocs = 0.0f64;
            for ((op, cache, cap), t) in &h.time_ns {
                if cache == "encore" {
                    if let Some(r) = h.time_ns.get(&(op.clone(), "rustls".into(), *cap)) {
                        slowest = slowest.min(r / t);
                    }
                    allocs = allocs.max(
                        h.allocs
                            .get(&(op.clone(), cache.clone(), *cap))
                            .copied()
                            .unwrap_or(0.0),
                    );
                }
            }
            let _ = writeln!(
                g,
                "| cache operations ≥ 2× faster than rustls's memory cache | slowest ratio {slowest:.2}× (table below) | {} |",
                yes(slowest >= 2.0)
            );
            let _ = writeln!(
                g,
                "| cache operations without allocations | at most {allocs} per operation | {} |",
                yes(allocs == 0.0)
            );
        }
        g
    }

    fn document(&self, table: &str, svg: &str) -> String {
        let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let rustc = output(Command::new("rustc").arg("--version"))
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let mut d = String::new();
        let _ = writeln!(d, "# Benchmarks\n");
        let _ = writeln!(d, "Produced by `cargo xtask bench` on {date} ({rustc}, {} runs per image; instruction counts are the median of the runs). Regenerate with the same command; it rewrites this file and the plot.\n", self.runs);
        let _ = writeln!(d, "![instructions per handshake]({svg})\n");
        let _ = writeln!(d, "## How it is measured\n");
        let _ = writeln!(d, "- Firmware `bench/mps2-an386` (release: opt-level \"s\", LTO, one codegen unit) on QEMU's `mps2-an386` (Cortex-M4F). The server is `openssl s_server` (OpenSSL 3.0) on 127.0.0.1 with a throwaway P-256 PKI (root → intermediate → leaf; the leaf's subjectAltName and CN both name `{SERVER_NAME}`) made once with the openssl CLI and committed under `bench/mps2-an386/pki` (certificate signatures and the leaf key set how long verification takes, so the PKI is fixed for every machine). Encore's server also has `-allow_no_dhe_kex` (for psk_ke) and issues 2 tickets; embedded-tls's PSK handshake uses a second s_server with `-nocert -psk_identity {PSK_IDENTITY} -psk …`.");
        let _ = writeln!(d, "- Bytes travel over UART 0, which QEMU connects to a relay in the xtask that holds the TCP connections: no IP stack, and the relay answers a read only once the server's whole flight has arrived.");
        let _ = writeln!(d, "- **Instructions** are counted exactly by the project's QEMU plugin between markers around each handshake (from building the ClientHello to handing the client Finished to the link; for Encore also taking the ticket from the session cache), **minus the instructions spent inside the UART link** (bracketed by markers of their own: waiting, interrupts, copying frames). Encore's engine calls and every primitive of `bench-crypto` run with interrupts masked, and the SysTick interrupt that came due meanwhile runs after them between markers that are subtracted too; embedded-tls runs its whole handshake inside one call, so a SysTick interrupt (about 430 instructions, 10 per second of host time) can land in its count; in Encore's windows one can still land in the short stretches between engine calls (taking the ticket from the cache, handing bytes over), rarely. What remains is the TLS stack's own work. The client's generator has a fixed seed, and the server's is pinned by a preloaded library (`tools/pinned-rand`) that makes OpenSSL's random generator a fixed sequence restarted at every accepted connection: each connection sees the same server random, key share and ECDSA nonce, so a full handshake verifies the same CertificateVerify signature in every run. Without the pin, full handshakes varied by 0.2–0.8 % between runs when encore-tls verified with p256 0.14, because ECDSA verification time depends on the signature; with p256 0.13 the dependence is smaller (the `ecdsa-verify-other-signature` rows below), but any difference would still break exact repetition. The pin is for measurement only: it makes the server's keys predictable.");
        let _ = writeln!(d, "- **ms at 168 MHz** assumes one cycle per instruction: a lower bound (flash wait states and multi-cycle instructions only add).");
        let _ = writeln!(d, "- **Wire bytes** are counted at the link: every TLS record byte in both directions from the first ClientHello byte to the client Finished (NewSessionTicket records and close_notify excluded).");
        let _ = writeln!(d, "- **Flash** and **static RAM** come from the ELF section headers. Both stacks' buffers live in their executor task (in .bss): embedded-tls 16,640 B read + 4,096 B write; Encore 18,693 B receive + 1,024 B transmit, plus a 4-slot session pool and a 4-entry cache. The stack peak is found by painting. The 4 KiB UART receive ring and the board support are in both images.");
        let _ = writeln!(d, "- embedded-tls 0.19 offers only P-256 for key exchange and AES-GCM suites; Encore offers X25519 first. The `-p256` rows make Encore use P-256 too, for a like-for-like comparison. embedded-tls cannot resume a session: its external-PSK handshake (psk_dhe_ke) is the nearest equivalent.");
        let _ = writeln!(d, "- `bench-encore` is built with encore-tls's `x25519` and `chacha20` features only (what a firmware for P-256 servers needs), and built again as `{TABLE_IMAGE}` with the opt-in `x25519-base-table` (curve25519-dalek's precomputed base-point table: a faster X25519 key share for more flash); the `encore+x25519-table` rows are that image's X25519 handshakes. It is also built without `x25519` and `chacha20` as `{SAME_ALGORITHMS_IMAGE}`, with the algorithms embedded-tls's image has, for its size only (not run).");
        let _ = writeln!(d, "- P-256 backends: `bench-crypto` measures RustCrypto `p256` 0.13 (what encore-tls links for verification and key exchange, as embedded-tls does) and 0.14 (the newer generation, slower on this core; encore-tls keeps it only for P-384 and its client-certificate signer). `p256-cm4` 0.4 (Cortex-M4 assembly) builds for thumbv7em (`--features p256-cm4`), but QEMU 7.2 stops it with a hard fault: its `mul288x288` uses `ldm.w` with a single register, an encoding ARMv7-M leaves UNPREDICTABLE and QEMU treats as undefined (Cortex-M4 silicon executes it; its authors report 1.23 M cycles per verification). It cannot be counted here.");
        let _ = writeln!(d, "- Server-side proof of resumption: `openssl s_server` reported {} resumed connections (`Reused session-id`) over all runs.\n", self.reused);
        let _ = writeln!(d, "{}", self.goals());
        let _ = writeln!(d, "{table}");
        let _ = writeln!(d, "{}", self.where_it_goes());
        d
    }

    /// A horizontal bar chart of instructions per handshake, written by hand (no plotting crate).
    fn svg(&self) -> String {
        let mut bars: Vec<(String, u64, &str)> = Vec::new();
        for (image, color) in [
            ("bench-embedded-tls", "#c0504d"),
            ("bench-encore", "#4f81bd"),
            (TABLE_IMAGE, "#9bbb59"),
        ] {
            if let Some(img) = self.image(image) {
                for (r, _) in self
                    .regions(img)
                    .into_iter()
                    .filter(|(r, _)| reported(image, r))
                {
                    bars.push((format!("{} {}", r.stack, r.name), r.instructions, color));
                }
            }
        }
        let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
        let (label_w, bar_w, row_h, top) = (300.0, 520.0, 26.0, 50.0);
        let height = top + row_h * bars.len() as f64 + 40.0;
        let width = label_w + bar_w + 120.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="10" y="22" font-size="15" font-weight="bold">Instructions per TLS 1.3 handshake on a Cortex-M4F (mps2-an386, QEMU), transport excluded</text>"#
        );
        for (i, (label, n, color)) in bars.iter().enumerate() {
            let y = top + row_h * i as f64;
            let w = (*n as f64 / max * bar_w).max(1.0);
            let _ = writeln!(
                s,
                r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text>"#,
                label_w - 8.0,
                y + 16.0,
                label
            );
            let _ = writeln!(
                s,
                r#"<rect x="{label_w}" y="{y:.0}" width="{w:.1}" height="{:.0}" fill="{color}"/>"#,
                row_h - 6.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.0}">{:.2} M</text>"#,
                label_w + w + 6.0,
                y + 16.0,
                *n as f64 / 1e6
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="10" y="{:.0}" fill="#555">red: embedded-tls 0.19; blue: Encore. Produced by cargo xtask bench.</text>"##,
            height - 12.0
        );
        let _ = writeln!(s, "</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_function_names() {
        assert_eq!(
            short_function("crypto_bigint::uint::mul::karatsuba::widening_mul_fixed"),
            "karatsuba::widening_mul_fixed"
        );
        assert_eq!(
            short_function("<&curve25519_dalek::backend::serial::u32::field::FieldElement2625 as core::ops::arith::Mul>::mul"),
            "FieldElement2625::mul"
        );
        assert_eq!(
            short_function("primeorder::projective::ProjectivePoint<C>::to_affine"),
            "ProjectivePoint::to_affine"
        );
        assert_eq!(short_function("__aeabi_memcpy4"), "__aeabi_memcpy4");
        assert_eq!(
            after_fields("      920924   2.1% <a as b>::c d", 2),
            "<a as b>::c d"
        );
    }

    #[test]
    fn criterion_mean() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.5,"standard_error":0.1},"median":{"point_estimate":9.0}}"#;
        assert_eq!(json_mean(json), Some(2.5));
    }

    #[test]
    fn windows_subtract_the_link() {
        let marks = "marker 0 10\nmarker 1 100\nmarker 10 150\nmarker 11 250\nmarker 12 300\nmarker 13 310\nmarker 2 400\n";
        let stdout = "handshake encore psk_ke/aes128gcm 417 153 ok\nstack peak: 100 bytes\n";
        let run = parse_run(stdout, marks).unwrap();
        // 400 - 100 - (250 - 150) - (310 - 300)
        assert_eq!(run.regions[0].instructions, 190);
        assert_eq!((run.regions[0].sent, run.regions[0].received), (417, 153));
        assert_eq!(run.stack_peak, Some(100));
    }
}
