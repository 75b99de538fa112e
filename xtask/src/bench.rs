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
use crate::util::{self, cargo, free_port, output, root, section, target_dir, Result};
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
/// The relay's servers, by the index the firmware names (`SERVER_*` in
/// `bench/mps2-an386/src/lib.rs`): the P-256 chain, the external PSK, the RSA-2048 chain, the
/// chain under an RSA-4096 root.
type Ports = [u16; 4];
/// `bench-encore` built again with encore-tls's opt-in `x25519-base-table` (its ELF is copied
/// under this name); only its X25519 handshakes are reported.
const TABLE_IMAGE: &str = "bench-encore-x25519-table";
/// `bench-encore` built without the X25519 and ChaCha20-Poly1305 features, so with the
/// algorithms embedded-tls's image has (P-256, AES-128-GCM): measured for its size, not run.
const SAME_ALGORITHMS_IMAGE: &str = "bench-encore-p256-aes-only";
/// `bench-encore` built without encore-tls's `p256-cm4` backend: P-256 on RustCrypto's `p256`
/// (what encore-tls uses on every other target), for the comparison of the two backends.
const RUSTCRYPTO_IMAGE: &str = "bench-encore-rustcrypto-p256";
/// `bench-encore` built with the package's `rsa` feature (encore-tls's RSA verification): full
/// handshakes and resumptions against the P-256 chain and the two chains with RSA in them.
const RSA_CHAINS_IMAGE: &str = "bench-encore-rsa";
/// RSA-2048 and RSA-4096 verification alone (`bench/mps2-an386/src/bin/bench-rsa.rs`, built
/// with the package's `rsa` feature).
const RSA_IMAGE: &str = "bench-rsa";
/// `bench-crypto` built without `p256-cm4` (RustCrypto's P-256 only), so that it runs on a QEMU
/// older than 8 too: `--old-qemu` runs it on both emulators and compares every window.
const PORTABLE_CRYPTO_IMAGE: &str = "bench-crypto-rustcrypto-p256";
const IMAGES: &[&str] = &[
    "bench-embedded-tls",
    "bench-encore",
    TABLE_IMAGE,
    RUSTCRYPTO_IMAGE,
    RSA_CHAINS_IMAGE,
    "bench-crypto",
    RSA_IMAGE,
];
/// Images that are copied out of the target directory after their build (variants of one bin).
const COPIED: &[&str] = &[
    TABLE_IMAGE,
    SAME_ALGORITHMS_IMAGE,
    RUSTCRYPTO_IMAGE,
    RSA_CHAINS_IMAGE,
    PORTABLE_CRYPTO_IMAGE,
];

struct Options {
    runs: usize,
    host: bool,
    profile: bool,
    /// A `qemu-system-arm` older than 8 (Debian 12's own 7.2): the images that run on it are
    /// run on both emulators, and their counts compared.
    old_qemu: Option<PathBuf>,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        runs: 3,
        host: true,
        profile: false,
        old_qemu: None,
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
            "--old-qemu" => {
                let q = it
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--old-qemu takes the path of a qemu-system-arm older than 8")?;
                if !q.is_file() {
                    return Err(format!("--old-qemu: {} is not a file", q.display()));
                }
                o.old_qemu = Some(q);
            }
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
    for (image, bin, features) in [
        (
            TABLE_IMAGE,
            "bench-encore",
            &["--features", "x25519-base-table"][..],
        ),
        (
            SAME_ALGORITHMS_IMAGE,
            "bench-encore",
            &["--no-default-features", "--features", "p256-cm4"][..],
        ),
        (
            RUSTCRYPTO_IMAGE,
            "bench-encore",
            &["--no-default-features", "--features", "x25519,chacha20"][..],
        ),
        (RSA_CHAINS_IMAGE, "bench-encore", &["--features", "rsa"][..]),
        (
            PORTABLE_CRYPTO_IMAGE,
            "bench-crypto",
            &["--no-default-features", "--features", "x25519,chacha20"][..],
        ),
    ] {
        firmware(&[&["--bin", bin], features].concat())?;
        std::fs::copy(elf_dir.join(bin), work.join(image))
            .map_err(|e| format!("copy the {image} image: {e}"))?;
    }
    firmware(&[])?;
    // `bench-rsa` needs the package's `rsa` feature; building it writes no other image.
    firmware(&["--bin", RSA_IMAGE, "--features", "rsa"])?;
    let qemu = qemu_version(None)?;
    let old_qemu = match &opts.old_qemu {
        Some(q) => Some((q.clone(), qemu_version(Some(q))?)),
        None => None,
    };

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
    let rsa_servers = [RSA2048_CHAIN, RSA4096_ROOT_CHAIN].map(|chain| {
        let dir = pki.join(chain.dir);
        let (leaf, key, int) = (
            dir.join("leaf.pem"),
            dir.join("leaf.key"),
            dir.join("int.pem"),
        );
        Server::start(
            chain.name,
            &pinned,
            &[
                "-cert",
                path_str(&leaf)?,
                "-key",
                path_str(&key)?,
                "-cert_chain",
                path_str(&int)?,
                "-tls1_3",
                "-num_tickets",
                "2",
            ],
        )
    });
    let [rsa2048_server, rsa4096_server] = rsa_servers;
    let (rsa2048_server, rsa4096_server) = (rsa2048_server?, rsa4096_server?);
    let ports = [
        cert_server.port,
        psk_server.port,
        rsa2048_server.port,
        rsa4096_server.port,
    ];
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
        let elf = if COPIED.contains(name) {
            work.join(name)
        } else {
            elf_dir.join(name)
        };
        let mut runs = Vec::new();
        for i in 0..opts.runs {
            let r = run_image(&elf, &plugin, &ports, &work, i, None)?;
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
    let emulators = match &old_qemu {
        Some((path, version)) => {
            section("bench: the same images on the older emulator");
            let mut compared = Vec::new();
            for (name, elf) in [
                (PORTABLE_CRYPTO_IMAGE, work.join(PORTABLE_CRYPTO_IMAGE)),
                (RUSTCRYPTO_IMAGE, work.join(RUSTCRYPTO_IMAGE)),
            ] {
                let new = run_image(&elf, &plugin, &ports, &work, 100, None)?;
                let old = run_image(&elf, &plugin, &ports, &work, 101, Some(path))?;
                if new.regions.len() != old.regions.len() {
                    return Err(format!(
                        "{name}: {} windows on {qemu} but {} on {version}",
                        new.regions.len(),
                        old.regions.len()
                    ));
                }
                for (a, b) in new.regions.iter().zip(&old.regions) {
                    println!(
                        "{name} {} {}: {} on {qemu}, {} on {version}",
                        a.stack, a.name, a.instructions, b.instructions
                    );
                    compared.push(EmulatorRow {
                        image: name,
                        what: format!("{} {}", a.stack, a.name),
                        new: a.instructions,
                        old: b.instructions,
                    });
                }
            }
            Some(EmulatorCheck {
                old: version.clone(),
                rows: compared,
            })
        }
        None => None,
    };
    let flash_split = [
        FlashSplit::of(&work.join(SAME_ALGORITHMS_IMAGE))?,
        FlashSplit::of(&elf_dir.join("bench-embedded-tls"))?,
    ];
    section("bench: where the instructions go (one more run, split by function)");
    let profiles = profile(&elf_dir, &ports, &work)?;
    let reused = [&cert_server, &rsa2048_server, &rsa4096_server]
        .iter()
        .map(|s| s.reused.load(Ordering::Relaxed))
        .sum();
    drop(cert_server);
    drop(psk_server);
    drop(rsa2048_server);
    drop(rsa4096_server);

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
        qemu: &qemu,
        emulators: emulators.as_ref(),
        flash_split: &flash_split,
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

/// The key of one certificate of a benchmark chain, as `openssl genpkey` makes it.
#[derive(Clone, Copy)]
enum KeyKind {
    P256,
    Rsa(u32),
}

impl KeyKind {
    fn genpkey_args(self) -> Vec<String> {
        match self {
            KeyKind::P256 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-256".into(),
            ],
            KeyKind::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
        }
    }
}

/// One certificate chain of the benchmark PKI: the directory under `bench/mps2-an386/pki`
/// (empty for the P-256 chain at its top), the common-name prefix and the keys of root,
/// intermediate and leaf. Each certificate is signed with SHA-256 by its issuer's key
/// (ecdsa-with-SHA256 under a P-256 key, sha256WithRSAEncryption, PKCS#1 v1.5, under an RSA one).
struct ChainSpec {
    dir: &'static str,
    name: &'static str,
    keys: [KeyKind; 3],
}

/// P-256 throughout: the chain of every row but the RSA ones.
const P256_CHAIN: ChainSpec = ChainSpec {
    dir: "",
    name: "Encore Bench",
    keys: [KeyKind::P256, KeyKind::P256, KeyKind::P256],
};
/// RSA-2048 throughout (the leaf signs CertificateVerify with RSA-PSS): a server such as an
/// MQTT broker with an RSA certificate.
const RSA2048_CHAIN: ChainSpec = ChainSpec {
    dir: "rsa2048",
    name: "Encore Bench RSA-2048",
    keys: [KeyKind::Rsa(2048), KeyKind::Rsa(2048), KeyKind::Rsa(2048)],
};
/// An RSA-4096 root that signed a P-256 intermediate, which signed a P-256 leaf: one RSA
/// verification (the intermediate's certificate), the rest ECDSA P-256. The intermediate is
/// P-256 rather than P-384 so that the image needs no P-384 code, and so that the RSA-4096
/// signature is the only RSA in the chain.
const RSA4096_ROOT_CHAIN: ChainSpec = ChainSpec {
    dir: "rsa4096-root",
    name: "Encore Bench RSA-4096",
    keys: [KeyKind::Rsa(4096), KeyKind::P256, KeyKind::P256],
};

/// The benchmark PKI: [`P256_CHAIN`] at the top of `dir`, [`RSA2048_CHAIN`] and
/// [`RSA4096_ROOT_CHAIN`] in subdirectories. Made with the openssl CLI once and committed in
/// `bench/mps2-an386/pki`: the certificates' signatures and the leaf keys set how long
/// verification takes, and the roots are built into the firmware, so one fixed PKI keeps the
/// images and the instruction counts the same on every machine. A chain is made again only
/// when its directory lacks its files.
fn make_pki(dir: &Path) -> Result<PathBuf> {
    for chain in [P256_CHAIN, RSA2048_CHAIN, RSA4096_ROOT_CHAIN] {
        make_chain(&dir.join(chain.dir), &chain)?;
    }
    Ok(dir.to_path_buf())
}

/// Root → intermediate → leaf (the leaf's subjectAltName and CN both name the server) in
/// `dir`: `root.der` (the firmware's trust anchor), `root.pem`, `int.pem`, `leaf.pem` and
/// `leaf.key` (what `openssl s_server` serves and signs with).
fn make_chain(dir: &Path, chain: &ChainSpec) -> Result {
    let done = ["root.der", "int.pem", "leaf.pem", "leaf.key"]
        .iter()
        .all(|f| dir.join(f).exists());
    if done {
        println!("PKI: reusing {}", dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let ossl = |args: &[&str]| -> Result {
        util::run(Command::new("openssl").current_dir(dir).args(args)).map(|_| ())
    };
    let ext = |name: &str, body: &str| -> Result {
        std::fs::write(dir.join(name), body).map_err(|e| format!("write {name}: {e}"))
    };
    for (key, kind) in ["root", "int", "leaf"].iter().zip(chain.keys) {
        let out = format!("{key}.key");
        let mut args = vec!["genpkey".to_string()];
        args.extend(kind.genpkey_args());
        args.extend(["-out".to_string(), out]);
        ossl(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
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
    let root_cn = format!("/CN={} Root", chain.name);
    let int_cn = format!("/CN={} Intermediate", chain.name);
    let leaf_cn = format!("/CN={SERVER_NAME}");
    for (key, subject, issuer) in [
        ("root", &root_cn, None),
        ("int", &int_cn, Some("root")),
        ("leaf", &leaf_cn, Some("int")),
    ] {
        let (csr, ext, pem) = (
            format!("{key}.csr"),
            format!("{key}.ext"),
            format!("{key}.pem"),
        );
        ossl(&[
            "req",
            "-new",
            "-key",
            &format!("{key}.key"),
            "-subj",
            subject,
            "-out",
            &csr,
        ])?;
        let serial = match key {
            "root" => "1",
            "int" => "2",
            _ => "3",
        };
        let (ca, ca_key) = match issuer {
            Some(i) => (format!("{i}.pem"), format!("{i}.key")),
            None => (String::new(), String::new()),
        };
        let mut args = vec!["x509", "-req", "-in", &csr];
        if issuer.is_some() {
            args.extend(["-CA", &ca, "-CAkey", &ca_key]);
        } else {
            args.extend(["-signkey", "root.key"]);
        }
        args.extend([
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            &ext,
            "-set_serial",
            serial,
            "-out",
            &pem,
        ]);
        ossl(&args)?;
    }
    ossl(&[
        "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
    ])
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
fn start_relay(ports: Ports) -> Result<(u16, JoinHandle<std::result::Result<(), String>>)> {
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

fn relay(mut uart: TcpStream, ports: Ports) -> std::io::Result<()> {
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
    /// Stack each `op` needed on its own (`op-stack <operation> <bytes> bytes`), painted just
    /// before it.
    op_stacks: BTreeMap<String, usize>,
    /// The deepest stack of each handshake (`handshake-stack <name> <bytes> bytes`), painted
    /// before its connection: bytes below the top of the stack, like `stack_peak`.
    handshake_stacks: BTreeMap<String, usize>,
    entry_size: Option<usize>,
    index_size: Option<usize>,
    slot_size: Option<usize>,
}

/// Runs `elf` once under the counting plugin, on `qemu` (a `qemu-system-arm` binary) or on the
/// one on the `PATH`.
fn run_image(
    elf: &Path,
    plugin: &Path,
    ports: &Ports,
    work: &Path,
    i: usize,
    qemu: Option<&Path>,
) -> Result<ImageRun> {
    let name = image_name(elf);
    let markers = work.join(format!("{name}.{i}.markers"));
    let stdout = run_qemu(elf, &plugin.to_string_lossy(), &markers, ports, work, qemu)?;
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
/// commas) writing to `plugin_out`; returns the firmware's standard output. `qemu` replaces the
/// `qemu-system-arm` on the `PATH` (its directory goes first on the runner's `PATH`).
fn run_qemu(
    elf: &Path,
    plugin: &str,
    plugin_out: &Path,
    ports: &Ports,
    work: &Path,
    qemu: Option<&Path>,
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
    if let Some(dir) = qemu.and_then(Path::parent) {
        let mut path = std::ffi::OsString::from(dir);
        if let Some(rest) = std::env::var_os("PATH") {
            path.push(":");
            path.push(rest);
        }
        cmd.env("PATH", path);
    }
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
fn profile(elf_dir: &Path, ports: &Ports, work: &Path) -> Result<Vec<Profile>> {
    let so = util::shared_lib(
        &root().join(FIRMWARE_DIR).join("profile/funcprof.c"),
        &work.join("libfuncprof.so"),
        &[],
    )?;
    let mut profiles = Vec::new();
    for (name, elf) in [
        ("bench-embedded-tls", elf_dir.join("bench-embedded-tls")),
        ("bench-encore", elf_dir.join("bench-encore")),
        (RSA_CHAINS_IMAGE, work.join(RSA_CHAINS_IMAGE)),
    ] {
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
        let stdout = run_qemu(&elf, &plugin, &report, ports, work, None)?;
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
    let mut op_stacks = BTreeMap::new();
    let mut handshake_stacks = BTreeMap::new();
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
            ["op-stack", name, n, "bytes"] => {
                if let Ok(n) = n.parse() {
                    op_stacks.insert(name.to_string(), n);
                }
            }
            ["handshake-stack", name, n, "bytes"] => {
                if let Ok(n) = n.parse() {
                    handshake_stacks.insert(name.to_string(), n);
                }
            }
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
        op_stacks,
        handshake_stacks,
        entry_size,
        index_size,
        slot_size,
    })
}

// ---------------------------------------------------------------------------------------------
// Image sizes, from the ELF section headers

use crate::elf::{image_size as elf_sizes, ImageSize as Sizes};

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
// Where the flash goes, from the ELF symbol sizes

/// An image's flash split by the crate that defined each symbol (`nm -C -S`: functions,
/// read-only data and initial values of data), after inlining and LTO.
struct FlashSplit {
    image: String,
    /// The image's flash from the section headers.
    flash: u64,
    /// Bytes that sized symbols cover (alignment padding and unsized labels are the rest).
    named: u64,
    by_crate: BTreeMap<String, u64>,
}

/// What a firmware's async task holds once the executor's `poll` has inlined it.
const TASK: &str = "the firmware's async task (inlined code)";

impl FlashSplit {
    fn of(elf: &Path) -> Result<FlashSplit> {
        let nm = output(
            Command::new("nm")
                .args(["-C", "-S", "--defined-only"])
                .arg(elf),
        )?;
        let mut by_crate = BTreeMap::new();
        let mut named = 0;
        for line in nm.lines() {
            let f: Vec<&str> = line.splitn(4, ' ').collect();
            let [_, size, kind, name] = f.as_slice() else {
                continue;
            };
            if !matches!(*kind, "T" | "t" | "R" | "r" | "D" | "d") {
                continue;
            }
            let Ok(size) = u64::from_str_radix(size, 16) else {
                continue;
            };
            named += size;
            *by_crate.entry(crate_of(name)).or_insert(0) += size;
        }
        Ok(FlashSplit {
            image: image_name(elf),
            flash: elf_sizes(elf)?.flash,
            named,
            by_crate,
        })
    }

    /// The `n` largest crates, largest first.
    fn largest(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .by_crate
            .iter()
            .map(|(c, b)| (c.as_str(), *b))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    fn bytes(&self, krate: &str) -> u64 {
        self.by_crate.get(krate).copied().unwrap_or(0)
    }
}

/// The crate a demangled symbol belongs to: its first path segment; for `<Type as Trait>::f`
/// the type's crate, or the trait's when the type is generic or primitive.
fn crate_of(name: &str) -> String {
    if name.contains("TaskStorage") && name.ends_with("::poll") {
        return TASK.into();
    }
    if name.starts_with(".L") || name.starts_with("anon.") {
        return "unnamed constants".into();
    }
    if name.starts_with("P256_") {
        return "p256_cm4".into();
    }
    if name == "__INTERRUPTS" || name == "__RESET_VECTOR" || name == "__EXCEPTIONS" {
        return "vector table".into();
    }
    let path_crate = |path: &str| -> Option<String> {
        let path = path
            .trim_start_matches(['&', '*', '[', '(', ' '])
            .trim_start_matches("mut ")
            .trim_start_matches("const ")
            .trim_start_matches("dyn ");
        let head = path.split(['<', ' ', ';', ']', ')']).next()?;
        let (krate, _) = head.split_once("::")?;
        Some(krate.to_string())
    };
    if let Some(inner) = name.strip_prefix('<') {
        let mut depth = 1usize;
        for (i, c) in inner.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = &inner[..i];
                        let (ty, tr) = inner.split_once(" as ").unwrap_or((inner, ""));
                        if let Some(k) = path_crate(ty).or_else(|| path_crate(tr)) {
                            return k;
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(k) = path_crate(name) {
        return k;
    }
    if name.starts_with("__") || name.starts_with("mem") {
        return "compiler_builtins".into();
    }
    "other symbols".into()
}

// ---------------------------------------------------------------------------------------------
// The emulator

/// `QEMU 10.0.2`, from `qemu-system-arm --version` (the one on the `PATH`, or `qemu`).
fn qemu_version(qemu: Option<&Path>) -> Result<String> {
    let mut cmd = Command::new(qemu.unwrap_or(Path::new("qemu-system-arm")));
    let text = output(cmd.arg("--version"))?;
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .ok_or_else(|| format!("no version in `qemu-system-arm --version`: {text}"))?;
    Ok(format!("QEMU {version}"))
}

/// One window of an image counted on both emulators.
struct EmulatorRow {
    image: &'static str,
    what: String,
    new: u64,
    old: u64,
}

/// The same ELFs on the emulator the bench uses and on an older one (`--old-qemu`).
struct EmulatorCheck {
    old: String,
    rows: Vec<EmulatorRow>,
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
    /// The emulator every image ran on (`QEMU 10.0.2`).
    qemu: &'a str,
    emulators: Option<&'a EmulatorCheck>,
    /// [`SAME_ALGORITHMS_IMAGE`], then embedded-tls's image.
    flash_split: &'a [FlashSplit; 2],
}

fn mi(n: u64) -> String {
    format!("{:.3} M", n as f64 / 1e6)
}

fn kb(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

fn ms(n: u64) -> String {
    format!("{:.1}", n as f64 / MCU_HZ * 1e3)
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

/// `a - b` in millions of instructions, with its sign.
fn mi_delta(a: u64, b: u64) -> String {
    if a >= b {
        format!("+{}", mi(a - b))
    } else {
        format!("−{}", mi(b - a))
    }
}

/// `a - b` in bytes, with its sign.
fn bytes_delta(a: u64, b: u64) -> String {
    if a >= b {
        format!("+{} B", a - b)
    } else {
        format!("−{} B", b - a)
    }
}

/// Issue targets, in instructions (exact counts on the emulated Cortex-M4) and bytes.
const TARGET_FULL: u64 = 8_000_000;
const TARGET_PSK_DHE: u64 = 2_000_000;
const TARGET_PSK: u64 = 400_000;
const TARGET_FLASH: u64 = 110 * 1024;
const TARGET_CACHE_SPEEDUP: f64 = 2.0;
const TARGET_RSA2048_VERIFY: u64 = 2_000_000;
/// Stack a full handshake with RSA in the chain may use beyond the P-256 one's.
const TARGET_RSA_EXTRA_STACK: u64 = 8 * 1024;

/// The servers of [`RSA_CHAINS_IMAGE`]: the suffix of its handshake names, and the chain as
/// the report describes it.
const RSA_CHAIN_ROWS: [(&str, &str); 3] = [
    (
        "p256-chain",
        "P-256 → P-256 → P-256 (ECDSA throughout)",
    ),
    (
        "rsa2048-chain",
        "RSA-2048 → RSA-2048 → RSA-2048 (PKCS#1 v1.5 certificate signatures, RSA-PSS CertificateVerify)",
    ),
    (
        "rsa4096-root-chain",
        "RSA-4096 → P-256 → P-256 (the intermediate's certificate signed with RSA-4096, PKCS#1 v1.5; ECDSA below it)",
    ),
];
/// The full handshake and the resumption of [`RSA_CHAINS_IMAGE`], and `bench-encore`'s rows
/// they are compared with.
const RSA_CHAIN_HANDSHAKES: [&str; 2] = ["full-verify-p256/aes128gcm", "psk_dhe_ke-p256/aes128gcm"];

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

    /// The median region `name` of `image`.
    fn region(&self, image: &str, name: &str) -> Option<Region> {
        let img = self.image(image)?;
        self.regions(img)
            .into_iter()
            .map(|(r, _)| r)
            .find(|r| r.name == name)
    }

    fn instructions(&self, image: &str, name: &str) -> Option<u64> {
        self.region(image, name).map(|r| r.instructions)
    }

    /// The deepest stack of handshake `name` of `image` (painted before its connection).
    fn handshake_stack(&self, image: &str, name: &str) -> Option<u64> {
        self.image(image)?
            .runs
            .first()?
            .handshake_stacks
            .get(name)
            .map(|b| *b as u64)
    }

    /// Full handshakes (and the resumptions after them) against the chains with RSA in them,
    /// beside the P-256 chain, with what each costs more than `bench-encore` against it.
    fn rsa_handshakes(&self) -> String {
        let mut t = String::new();
        let Some(img) = self.image(RSA_CHAINS_IMAGE) else {
            return t;
        };
        let Some(plain) = self.image("bench-encore") else {
            return t;
        };
        let _ = writeln!(t, "\n### Full handshakes with RSA in the chain\n");
        let _ = writeln!(t, "`{RSA_CHAINS_IMAGE}` is `bench-encore` built with encore-tls's `rsa` feature and three trust anchors, one per server: it meets an `openssl s_server` per chain (root → intermediate → leaf, made with the openssl CLI under `bench/mps2-an386/pki`), with a P-256 key share and TLS_AES_128_GCM_SHA256, for a full handshake that verifies the chain and the CertificateVerify signature, then a psk_dhe_ke resumption with one of its tickets, which verifies no signature and so needs no RSA. Each row is compared with `bench-encore` (no `rsa`) against the P-256 chain. The stack peak is the deepest the stack went during that handshake, painted before its connection (bytes below the top of the stack, so the firmware's own frames are included, as in the image table).\n");
        if let (Some(a), Some(b)) = (
            self.region(
                RSA_CHAINS_IMAGE,
                &format!("{}@p256-chain", RSA_CHAIN_HANDSHAKES[0]),
            ),
            self.region("bench-encore", RSA_CHAIN_HANDSHAKES[0]),
        ) {
            let _ = writeln!(t, "With `rsa` the ClientHello also lists the RSA signature schemes ({} bytes more sent in every handshake), so the P-256 chain is measured again in the RSA image. The full handshake with an RSA chain receives more too: RSA keys and signatures make larger certificates, and an RSA-2048 CertificateVerify signature is 256 bytes against about 72 for ECDSA P-256.\n", a.sent.saturating_sub(b.sent));
        }
        let _ = writeln!(t, "| server's chain: root → intermediate → leaf | image | handshake | instructions | ms at 168 MHz | wire bytes (sent + received) | stack peak | flash of the image | against `bench-encore`, P-256 chain: instructions, wire bytes, stack |");
        let _ = writeln!(t, "|---|---|---|---:|---:|---:|---:|---:|---|");
        let row = |t: &mut String, chain: &str, image: &Image, name: &str, reference: bool| {
            let Some(r) = self.region(image.name, name) else {
                return;
            };
            let stack = self.handshake_stack(image.name, name);
            let base_name = name.split('@').next().unwrap_or(name);
            let versus = match (reference, self.region("bench-encore", base_name)) {
                (true, _) => "the reference".to_string(),
                (false, Some(b)) => format!(
                    "{}, {}, {}",
                    mi_delta(r.instructions, b.instructions),
                    bytes_delta((r.sent + r.received) as u64, (b.sent + b.received) as u64),
                    match (stack, self.handshake_stack("bench-encore", base_name)) {
                        (Some(a), Some(b)) => bytes_delta(a, b),
                        _ => "-".into(),
                    }
                ),
                (false, None) => "-".into(),
            };
            let kind = if base_name.starts_with("full") {
                "full, chain verified"
            } else {
                "psk_dhe_ke resumption"
            };
            let _ = writeln!(
                t,
                "| {chain} | {} | {kind} | {} | {} | {} ({} + {}) | {} | {} | {versus} |",
                image.name,
                mi(r.instructions),
                ms(r.instructions),
                r.sent + r.received,
                r.sent,
                r.received,
                stack
                    .map(|b| format!("{b} B"))
                    .unwrap_or_else(|| "-".into()),
                kb(image.sizes.flash),
            );
        };
        for name in RSA_CHAIN_HANDSHAKES {
            row(&mut t, RSA_CHAIN_ROWS[0].1, plain, name, true);
        }
        for (suffix, chain) in RSA_CHAIN_ROWS {
            for name in RSA_CHAIN_HANDSHAKES {
                row(&mut t, chain, img, &format!("{name}@{suffix}"), false);
            }
        }
        if let Some(verdict) = self.rsa_stack_verdict() {
            let _ = writeln!(t, "\n{verdict}");
        }
        t
    }

    /// The stack target for RSA chains: each full handshake of [`RSA_CHAINS_IMAGE`] against
    /// `bench-encore`'s full handshake against the P-256 chain, plus
    /// [`TARGET_RSA_EXTRA_STACK`]. Returns (met for every chain, the sentence).
    fn rsa_stack_target(&self) -> Option<(bool, String, String)> {
        let full = RSA_CHAIN_HANDSHAKES[0];
        let base = self.handshake_stack("bench-encore", full)?;
        let limit = base + TARGET_RSA_EXTRA_STACK;
        let mut all = true;
        let mut measured = Vec::new();
        let mut margins = Vec::new();
        for (suffix, _) in &RSA_CHAIN_ROWS[1..] {
            let Some(b) = self.handshake_stack(RSA_CHAINS_IMAGE, &format!("{full}@{suffix}"))
            else {
                continue;
            };
            all &= b <= limit;
            let what = match *suffix {
                "rsa2048-chain" => "RSA-2048 chain",
                _ => "RSA-4096 root",
            };
            measured.push(format!("{what} {b} B ({})", bytes_delta(b, base)));
            margins.push(if b <= limit {
                format!("{what}: met, {} B to spare", limit - b)
            } else {
                format!("{what}: missed by {} B", b - limit)
            });
        }
        if measured.is_empty() {
            return None;
        }
        Some((all, measured.join(", "), margins.join("; ")))
    }

    fn rsa_stack_verdict(&self) -> Option<String> {
        let full = RSA_CHAIN_HANDSHAKES[0];
        let base = self.handshake_stack("bench-encore", full)?;
        let limit = base + TARGET_RSA_EXTRA_STACK;
        let (_, _, margins) = self.rsa_stack_target()?;
        let mut v = format!(
            "Stack target (a full handshake with RSA in the chain at most 8 KiB above the P-256 chain's {base} B, so at most {limit} B): {margins}."
        );
        // Where the RSA verification sits: the handshake's peak minus what one verification
        // uses on its own (bench-rsa's stack column).
        let ops = self.image(RSA_IMAGE)?.runs.first()?.op_stacks.clone();
        let parts: Vec<(String, u64, u64)> = [
            ("rsa2048-chain", "rsa2048-pss-sha256-verify", "RSA-2048"),
            (
                "rsa4096-root-chain",
                "rsa4096-pkcs1-sha256-verify",
                "RSA-4096",
            ),
        ]
        .iter()
        .filter_map(|(chain, op, what)| {
            let peak = self.handshake_stack(RSA_CHAINS_IMAGE, &format!("{full}@{chain}"))?;
            let own = *ops.get(*op)? as u64;
            Some((what.to_string(), own, peak.saturating_sub(own)))
        })
        .collect();
        if let [(_, own2048, above2048), (_, own4096, above4096)] = parts.as_slice() {
            let depth = if above2048 == above4096 {
                format!("both leave {above2048} B, the depth at which the handshake verifies a signature")
            } else {
                format!("they leave {above2048} B and {above4096} B, the depths at which the handshake verifies a signature")
            };
            let _ = write!(
                v,
                " Less what one verification uses alone in `bench-rsa` ({own2048} B for RSA-2048, {own4096} B for RSA-4096), {depth}: the RSA arithmetic's own stack is the difference."
            );
            if above4096 + own4096 > limit {
                let _ = write!(
                    v,
                    " For the RSA-4096 root to meet the target, its verification would have to fit in {} B.",
                    limit.saturating_sub(*above4096)
                );
            }
        }
        Some(v)
    }

    fn stack_peak(&self, image: &str) -> Option<u64> {
        self.image(image)?
            .runs
            .first()?
            .stack_peak
            .map(|p| p as u64)
    }

    /// The profiled window `label` (`encore psk_ke/aes128gcm`).
    fn profile(&self, label: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.label == label)
    }

    /// The `n` largest functions of a profiled window: "`f` 0.231 M (52 %), …".
    fn profile_text(&self, label: &str, n: usize) -> Option<String> {
        let p = self.profile(label)?;
        let top: Vec<String> = p
            .top
            .iter()
            .take(n)
            .map(|(k, f)| {
                format!(
                    "`{}` {} ({:.0} %)",
                    short_function(f),
                    mi(*k),
                    100.0 * *k as f64 / p.total.max(1) as f64
                )
            })
            .collect();
        Some(top.join(", "))
    }

    /// Leads the report: the rows where both stacks do the same work (P-256 ECDHE,
    /// TLS_AES_128_GCM_SHA256, the same server and PKI), then Encore's rows that embedded-tls
    /// has no counterpart for, each saying why.
    fn like_for_like(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "## Encore beside embedded-tls, like for like\n");
        let _ = writeln!(t, "Both stacks key-exchange with P-256 (ECDHE), use TLS_AES_128_GCM_SHA256 and meet the same `openssl s_server` with the same certificate chain (3 certificates, P-256, verified). Encore on its Cortex-M4 backend (`p256-cm4`, the default on this core) and on RustCrypto's `p256` 0.13, the P-256 code embedded-tls links:\n");
        let _ = writeln!(t, "| | Encore, `p256-cm4` | Encore, RustCrypto `p256` | embedded-tls 0.19 | Encore (`p256-cm4`) / embedded-tls |");
        let _ = writeln!(t, "|---|---:|---:|---:|---:|");
        let et = "bench-embedded-tls";
        for (label, ours, theirs) in [
            (
                "full handshake, chain verified",
                "full-verify-p256/aes128gcm",
                "full-verify/aes128gcm",
            ),
            (
                "resumption with a P-256 key exchange (Encore: session ticket, psk_dhe_ke; embedded-tls: external PSK, psk_dhe_ke)",
                "psk_dhe_ke-p256/aes128gcm",
                "external-psk/aes128gcm",
            ),
        ] {
            let a = self.region("bench-encore", ours);
            let b = self.region(RUSTCRYPTO_IMAGE, ours);
            let c = self.region(et, theirs);
            let cell = |r: &Option<Region>| {
                r.as_ref()
                    .map(|r| format!("{} ({} ms)", mi(r.instructions), ms(r.instructions)))
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                t,
                "| {label}: instructions (ms at 168 MHz) | {} | {} | {} | {} |",
                cell(&a),
                cell(&b),
                cell(&c),
                match (&a, &c) {
                    (Some(a), Some(c)) => ratio(a.instructions, c.instructions),
                    _ => "-".into(),
                }
            );
            let wire = |r: &Option<Region>| {
                r.as_ref()
                    .map(|r| format!("{} B", r.sent + r.received))
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                t,
                "| {label}: wire bytes | {} | {} | {} | {} |",
                wire(&a),
                wire(&b),
                wire(&c),
                match (&a, &c) {
                    (Some(a), Some(c)) =>
                        ratio((a.sent + a.received) as u64, (c.sent + c.received) as u64),
                    _ => "-".into(),
                }
            );
        }
        if let (Some(same), Some(theirs)) = (self.image(SAME_ALGORITHMS_IMAGE), self.image(et)) {
            let _ = writeln!(
                t,
                "| flash, with the algorithms embedded-tls's image has (P-256, AES-128-GCM) | {} | - | {} | {} |",
                kb(same.sizes.flash),
                kb(theirs.sizes.flash),
                ratio(same.sizes.flash, theirs.sizes.flash)
            );
        }
        if let (Some(a), Some(b), Some(c)) = (
            self.image("bench-encore"),
            self.image(RUSTCRYPTO_IMAGE),
            self.image(et),
        ) {
            let _ = writeln!(
                t,
                "| static RAM | {} | {} | {} | {} |",
                kb(a.sizes.ram),
                kb(b.sizes.ram),
                kb(c.sizes.ram),
                ratio(a.sizes.ram, c.sizes.ram)
            );
            let (pa, pb, pc) = (
                self.stack_peak("bench-encore").unwrap_or(0),
                self.stack_peak(RUSTCRYPTO_IMAGE).unwrap_or(0),
                self.stack_peak(et).unwrap_or(0),
            );
            let _ = writeln!(
                t,
                "| stack peak (painted) | {pa} B | {pb} B | {pc} B | {} |",
                ratio(pa, pc)
            );
            let _ = writeln!(
                t,
                "| static RAM + stack peak | {} | {} | {} | {} |",
                kb(a.sizes.ram + pa),
                kb(b.sizes.ram + pb),
                kb(c.sizes.ram + pc),
                ratio(a.sizes.ram + pa, c.sizes.ram + pc)
            );
        }
        let _ = writeln!(t, "\nembedded-tls cannot resume a session from a ticket. Its PSK row is an external PSK, a key both sides were given beforehand (`-psk` on the server); its handshake does the same work as Encore's ticket resumption with psk_dhe_ke (one P-256 key exchange, a PSK binder, no certificate), which makes it the nearest comparison, not the same feature. On RustCrypto's `p256` the two stacks are within about 1 % of each other; the lead comes from the Cortex-M4 backend, which embedded-tls does not have.\n");

        let _ = writeln!(
            t,
            "### Encore handshakes without an embedded-tls counterpart\n"
        );
        let _ = writeln!(
            t,
            "| Encore handshake / suite | instructions | ms at 168 MHz | wire bytes | why embedded-tls has no row |"
        );
        let _ = writeln!(t, "|---|---:|---:|---:|---|");
        if let Some(img) = self.image("bench-encore") {
            for (r, _) in self.regions(img) {
                if r.name.ends_with("-p256/aes128gcm") {
                    continue;
                }
                let mut why = Vec::new();
                if r.name.starts_with("psk_ke") {
                    why.push("psk_ke: no key exchange at all; embedded-tls resumes no tickets and always does an (EC)DHE");
                } else if !r.name.contains("-p256") {
                    why.push("X25519 key share: embedded-tls offers only P-256");
                    if r.name.starts_with("psk_dhe_ke") {
                        why.push("a ticket resumption, which embedded-tls cannot do");
                    }
                }
                if r.name.ends_with("chacha20poly1305") {
                    why.push("ChaCha20-Poly1305: embedded-tls has only AES-GCM");
                }
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} | {} |",
                    r.name,
                    mi(r.instructions),
                    ms(r.instructions),
                    r.sent + r.received,
                    why.join("; ")
                );
            }
        }
        t
    }

    /// The targets, each with the measured value, whether it is met and, when it is not, by
    /// how much and what the function profile shows is left.
    fn targets(&self) -> String {
        let mut g = String::new();
        let _ = writeln!(g, "## Targets\n");
        let _ = writeln!(g, "| target | measured | met | margin, and what is left |");
        let _ = writeln!(g, "|---|---|---|---|");
        let yes = |ok: bool| if ok { "yes" } else { "no" };
        let over = |v: u64, limit: u64, unit: fn(u64) -> String| {
            if v <= limit {
                format!("{} under", unit(limit - v))
            } else {
                format!(
                    "over by {} ({:.0} %)",
                    unit(v - limit),
                    100.0 * (v - limit) as f64 / limit as f64
                )
            }
        };
        let enc = |name: &str| self.instructions("bench-encore", name);

        // Full handshake: every group and suite of the bench image.
        let fulls: Vec<(String, u64)> = [
            "full-verify-p256/aes128gcm",
            "full-verify/aes128gcm",
            "full-verify/chacha20poly1305",
        ]
        .iter()
        .filter_map(|n| enc(n).map(|v| (n.to_string(), v)))
        .collect();
        if let Some(worst) = fulls.iter().map(|(_, v)| *v).max() {
            let listed: Vec<String> = fulls
                .iter()
                .map(|(n, v)| format!("{n} {}", mi(*v)))
                .collect();
            let _ = writeln!(
                g,
                "| full handshake, chain of 3 verified, ≤ 8 M instructions | {} | {} | slowest row: {} |",
                listed.join(", "),
                yes(worst <= TARGET_FULL),
                over(worst, TARGET_FULL, mi)
            );
        }

        // psk_dhe_ke: P-256 is the default first group on Cortex-M4 with `p256-cm4`.
        if let (Some(p), Some(x)) = (
            enc("psk_dhe_ke-p256/aes128gcm"),
            enc("psk_dhe_ke/aes128gcm"),
        ) {
            let table = self.instructions(TABLE_IMAGE, "psk_dhe_ke/aes128gcm");
            let mut left = format!("P-256: {}.", over(p, TARGET_PSK_DHE, mi));
            if x > TARGET_PSK_DHE {
                let _ = write!(
                    left,
                    " X25519 {}{}; its profile: {}.",
                    over(x, TARGET_PSK_DHE, mi),
                    table
                        .map(|t| format!(" ({} with the opt-in base-point table)", mi(t)))
                        .unwrap_or_default(),
                    self.profile_text("encore psk_dhe_ke/aes128gcm", 4)
                        .unwrap_or_default()
                );
            }
            let _ = writeln!(
                g,
                "| psk_dhe_ke resumption ≤ 2.0 M instructions | P-256 (the first group on Cortex-M4) {}; X25519 {} (AES-128-GCM) | {} | {left} |",
                mi(p),
                mi(x),
                if p <= TARGET_PSK_DHE && x <= TARGET_PSK_DHE {
                    "yes"
                } else if p <= TARGET_PSK_DHE {
                    "yes with P-256, the default on Cortex-M4; no with X25519"
                } else {
                    "no"
                }
            );
        }

        if let Some(a) = enc("psk_ke/aes128gcm") {
            let mut left = over(a, TARGET_PSK, mi);
            if a > TARGET_PSK {
                let _ = write!(
                    left,
                    ". Profile: {}",
                    self.profile_text("encore psk_ke/aes128gcm", 5)
                        .unwrap_or_default()
                );
                if let Some(p) = self.profile("encore psk_ke/aes128gcm") {
                    if let Some((n, _)) = p.top.iter().find(|(_, f)| f.contains("compress256")) {
                        let _ = write!(
                            left,
                            ". SHA-256 (transcript, HKDF key schedule, binder and Finished HMACs) is the bulk: the miss is {:.0} % of its work",
                            100.0 * (a - TARGET_PSK) as f64 / (*n).max(1) as f64
                        );
                    }
                }
            }
            let chacha = enc("psk_ke/chacha20poly1305")
                .map(|c| format!(" (ChaCha20-Poly1305: {})", mi(c)))
                .unwrap_or_default();
            let _ = writeln!(
                g,
                "| psk_ke resumption with AES-128-GCM ≤ 0.40 M instructions | {}{chacha} | {} | {left} |",
                mi(a),
                yes(a <= TARGET_PSK)
            );
        }

        if let (Some(same), Some(theirs)) = (
            self.image(SAME_ALGORITHMS_IMAGE),
            self.image("bench-embedded-tls"),
        ) {
            let f = same.sizes.flash;
            let mut left = over(f, TARGET_FLASH, kb);
            if f > TARGET_FLASH {
                let top: Vec<String> = self.flash_split[0]
                    .largest(6)
                    .into_iter()
                    .map(|(c, b)| format!("{c} {}", kb(b)))
                    .collect();
                let _ = write!(
                    left,
                    ". Largest parts (symbol sizes, see below): {}",
                    top.join(", ")
                );
            }
            let _ = writeln!(
                g,
                "| flash ≤ 110 KiB with the algorithms embedded-tls's image has (P-256, AES-128-GCM) | {} (embedded-tls {}) | {} | {left} |",
                kb(f),
                kb(theirs.sizes.flash),
                yes(f <= TARGET_FLASH)
            );
        }

        if let (Some(p1), Some(pss)) = (
            self.instructions(RSA_IMAGE, "rsa2048-pkcs1-sha256-verify"),
            self.instructions(RSA_IMAGE, "rsa2048-pss-sha256-verify"),
        ) {
            let worst = p1.max(pss);
            let _ = writeln!(
                g,
                "| RSA-2048 verification ≤ 2 M instructions | PKCS#1 v1.5 {}, PSS {} (SHA-256) | {} | slower one: {} |",
                mi(p1),
                mi(pss),
                yes(worst <= TARGET_RSA2048_VERIFY),
                over(worst, TARGET_RSA2048_VERIFY, mi)
            );
        }
        if let (Some(base), Some((met, measured, margins))) = (
            self.handshake_stack("bench-encore", RSA_CHAIN_HANDSHAKES[0]),
            self.rsa_stack_target(),
        ) {
            let _ = writeln!(
                g,
                "| stack of a full handshake with RSA in the chain ≤ 8 KiB more than with the P-256 chain ({base} B) | {measured} | {} | {margins} |",
                yes(met)
            );
        }

        if let Some(h) = self.host {
            let mut ratios: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
            let mut allocs = 0.0f64;
            for ((op, cache, cap), t) in &h.time_ns {
                if cache != "encore" {
                    continue;
                }
                if let Some(r) = h.time_ns.get(&(op.clone(), "rustls".into(), *cap)) {
                    let e = ratios.entry(op.as_str()).or_insert((f64::INFINITY, 0.0f64));
                    e.0 = e.0.min(r / t);
                    e.1 = e.1.max(r / t);
                }
                allocs = allocs.max(
                    h.allocs
                        .get(&(op.clone(), cache.clone(), *cap))
                        .copied()
                        .unwrap_or(0.0),
                );
            }
            let slowest = ratios.values().map(|r| r.0).fold(f64::INFINITY, f64::min);
            let listed: Vec<String> = ratios
                .iter()
                .map(|(op, (lo, hi))| format!("{op} {lo:.2}–{hi:.2}×"))
                .collect();
            let short: Vec<String> = ratios
                .iter()
                .filter(|(_, (lo, _))| *lo < TARGET_CACHE_SPEEDUP)
                .map(|(op, (lo, _))| format!("{op} ({lo:.2}×)"))
                .collect();
            let left = if short.is_empty() {
                "every operation at 2× or more".to_string()
            } else {
                format!("below 2×: {}", short.join(", "))
            };
            let _ = writeln!(
                g,
                "| cache operations ≥ 2× faster than rustls's memory cache, every operation and capacity | {} | {} | {left} |",
                listed.join(", "),
                yes(slowest >= TARGET_CACHE_SPEEDUP)
            );
            let _ = writeln!(
                g,
                "| cache operations without allocations | at most {allocs} per operation | {} | |",
                yes(allocs == 0.0)
            );
        }

        if let (Some(a), Some(b)) = (self.image("bench-encore"), self.image("bench-embedded-tls")) {
            let pa = self.stack_peak("bench-encore").unwrap_or(0);
            let pb = self.stack_peak("bench-embedded-tls").unwrap_or(0);
            let _ = writeln!(
                g,
                "| RAM ≤ embedded-tls's | static {} against {}; with the stack peak {} against {} | {} | |",
                kb(a.sizes.ram),
                kb(b.sizes.ram),
                kb(a.sizes.ram + pa),
                kb(b.sizes.ram + pb),
                yes(a.sizes.ram <= b.sizes.ram && a.sizes.ram + pa <= b.sizes.ram + pb)
            );
        }
        if let Some(img) = self.image("bench-encore") {
            let resumed: Vec<Region> = self
                .regions(img)
                .into_iter()
                .map(|(r, _)| r)
                .filter(|r| r.name.starts_with("psk"))
                .collect();
            let listed: Vec<String> = resumed
                .iter()
                .map(|r| format!("{} {} B", r.name, r.sent + r.received))
                .collect();
            let over: Vec<&str> = resumed
                .iter()
                .filter(|r| r.sent + r.received > 700)
                .map(|r| r.name.as_str())
                .collect();
            let _ = writeln!(
                g,
                "| resumed handshake against openssl ≤ 700 wire bytes | {} | {} | {} |",
                listed.join(", "),
                if over.is_empty() {
                    "yes"
                } else if over.iter().all(|n| n.contains("-p256")) {
                    "with X25519 yes; with a P-256 key share no"
                } else {
                    "no"
                },
                if over.is_empty() {
                    String::new()
                } else {
                    format!(
                        "over: {} (a P-256 key share is 65 bytes each way against 32 for X25519)",
                        over.join(", ")
                    )
                }
            );
        }
        g
    }

    fn markdown(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "### Handshakes on mps2-an386 (Cortex-M4F, {}), against openssl s_server over UART 0\n",
            self.qemu
        );
        let _ = writeln!(t, "| stack | handshake / suite | instructions | ms at 168 MHz (lower bound) | wire bytes (sent + received) | run-to-run spread |");
        let _ = writeln!(t, "|---|---|---:|---:|---:|---:|");
        for name in [
            "bench-embedded-tls",
            "bench-encore",
            TABLE_IMAGE,
            RUSTCRYPTO_IMAGE,
            RSA_CHAINS_IMAGE,
        ] {
            let Some(img) = self.image(name) else {
                continue;
            };
            for (r, spread) in self.regions(img) {
                if !reported(name, &r) {
                    continue;
                }
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} | {} ({} + {}) | {:.4} % |",
                    r.stack,
                    r.name,
                    mi(r.instructions),
                    ms(r.instructions),
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
        for img in self
            .images
            .iter()
            .filter(|i| i.name != "bench-crypto" && i.name != RSA_IMAGE)
        {
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
        t.push_str(&self.rsa());
        t.push_str(&self.rsa_handshakes());
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
                    "| {} | {} | {} | {} |",
                    r.stack,
                    r.name,
                    mi(r.instructions),
                    ms(r.instructions)
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

    /// RSA verification alone (`bench-rsa`), and what the `rsa` feature adds to `bench-encore`.
    fn rsa(&self) -> String {
        let mut t = String::new();
        let Some(img) = self.image(RSA_IMAGE) else {
            return t;
        };
        let stacks = img.runs.first().map(|r| &r.op_stacks);
        let _ = writeln!(
            t,
            "\n### RSA signature verification (bench-rsa: encore-tls's `rsa` feature, no heap)\n"
        );
        let _ = writeln!(t, "One verification of a fixed signature over a 64-byte message (SHA-256), with interrupts masked; the stack column is what the one verification used, painted just before it. The firmware also checks that a flipped bit, the other padding, another message and a short signature are refused. For comparison, ECDSA P-256 verification in the same harness on RustCrypto's `p256` 0.13, and on `p256-cm4` (from bench-crypto).\n");
        let _ = writeln!(
            t,
            "| key | padding / scheme | instructions | ms at 168 MHz (lower bound) | stack for the operation |"
        );
        let _ = writeln!(t, "|---|---|---:|---:|---:|");
        for (r, _) in self.regions(img) {
            let (key, scheme) = match r.name.split('-').collect::<Vec<_>>().as_slice() {
                [k, "pkcs1", "sha256", "verify"] => (
                    k.replace("rsa", "RSA-"),
                    "RSASSA-PKCS1-v1_5, SHA-256".to_string(),
                ),
                [k, "pss", "sha256", "verify"] => {
                    (k.replace("rsa", "RSA-"), "RSASSA-PSS, SHA-256".to_string())
                }
                ["p256", "ecdsa", "verify"] => (
                    "P-256".to_string(),
                    "ECDSA, SHA-256 digest (RustCrypto `p256` 0.13)".to_string(),
                ),
                _ => ("-".to_string(), r.name.clone()),
            };
            let stack = stacks
                .and_then(|s| s.get(&r.name))
                .map(|b| format!("{b} B"))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                t,
                "| {key} | {scheme} | {} | {} | {stack} |",
                mi(r.instructions),
                ms(r.instructions)
            );
        }
        if let Some(img) = self.image("bench-crypto") {
            if let Some((r, _)) = self
                .regions(img)
                .into_iter()
                .find(|(r, _)| r.stack == "p256-cm4" && r.name == "ecdsa-verify")
            {
                let _ = writeln!(
                    t,
                    "| P-256 | ECDSA, SHA-256 digest (`p256-cm4`, bench-crypto) | {} | {} | - |",
                    mi(r.instructions),
                    ms(r.instructions)
                );
            }
        }
        if let (Some(with), Some(without)) =
            (self.image(RSA_CHAINS_IMAGE), self.image("bench-encore"))
        {
            // The RSA image also holds the roots of the two RSA chains, as its trust anchors.
            let pki = root().join(FIRMWARE_DIR).join("pki");
            let roots: u64 = [RSA2048_CHAIN.dir, RSA4096_ROOT_CHAIN.dir]
                .iter()
                .filter_map(|d| std::fs::metadata(pki.join(d).join("root.der")).ok())
                .map(|m| m.len())
                .sum();
            let more = with.sizes.flash.saturating_sub(without.sizes.flash);
            let _ = writeln!(
                t,
                "\nFlash: `{RSA_CHAINS_IMAGE}`, `bench-encore` built with the `rsa` feature (RSA certificate chains and RSA-PSS CertificateVerify accepted, 2048–4096-bit keys), is {} against {}, {} more, of which {roots} B are the two RSA root certificates it trusts besides the P-256 one: RSA verification costs {} of flash, and {} B of static RAM.",
                kb(with.sizes.flash),
                kb(without.sizes.flash),
                kb(more),
                kb(more.saturating_sub(roots)),
                with.sizes.ram as i64 - without.sizes.ram as i64
            );
        }
        t
    }

    /// The crates behind the flash of the same-algorithms image and of embedded-tls's.
    fn where_the_flash_goes(&self) -> String {
        let [ours, theirs] = self.flash_split;
        let mut w = String::new();
        let _ = writeln!(w, "### Where the flash goes\n");
        let _ = writeln!(w, "Symbol sizes (`nm -C -S`: functions, read-only data, initial values of data) of `{}` (P-256 and AES-128-GCM, like embedded-tls's image) and `{}`, summed by the crate that defined each symbol, after inlining and LTO: code inlined into a caller counts for the caller's crate. The firmware's async task is a single `poll` function into which the executor inlines the application (for embedded-tls, most of its handshake). Sized symbols cover {} of {}'s {} and {} of {}'s {}.\n",
            ours.image, theirs.image, kb(ours.named), ours.image, kb(ours.flash), kb(theirs.named), theirs.image, kb(theirs.flash));
        let _ = writeln!(w, "| crate | {} | {} |", ours.image, theirs.image);
        let _ = writeln!(w, "|---|---:|---:|");
        let mut crates: Vec<&str> = ours
            .largest(14)
            .into_iter()
            .chain(theirs.largest(10))
            .map(|(c, _)| c)
            .collect();
        crates.sort_by_key(|c| std::cmp::Reverse(ours.bytes(c).max(theirs.bytes(c))));
        crates.dedup();
        let (mut shown_a, mut shown_b) = (0, 0);
        for c in &crates {
            let (a, b) = (ours.bytes(c), theirs.bytes(c));
            shown_a += a;
            shown_b += b;
            let cell = |n: u64| if n == 0 { "-".to_string() } else { kb(n) };
            let _ = writeln!(w, "| {c} | {} | {} |", cell(a), cell(b));
        }
        let _ = writeln!(
            w,
            "| every other crate | {} | {} |",
            kb(ours.named - shown_a),
            kb(theirs.named - shown_b)
        );
        w
    }

    /// The same ELFs counted on the bench's emulator and on an older one.
    fn emulator_check(&self) -> String {
        let mut w = String::new();
        let _ = writeln!(w, "### The same images on two emulators\n");
        let Some(e) = self.emulators else {
            let _ = writeln!(w, "Not repeated in this run: `cargo xtask bench --old-qemu PATH` runs `{PORTABLE_CRYPTO_IMAGE}` and `{RUSTCRYPTO_IMAGE}` (RustCrypto's P-256 only, which QEMU 7.2 can execute) on a `qemu-system-arm` older than 8 as well, and lists both counts of every window.");
            return w;
        };
        let same = e.rows.iter().filter(|r| r.new == r.old).count();
        let differ: Vec<String> = e
            .rows
            .iter()
            .filter(|r| r.new != r.old)
            .map(|r| format!("{} by {} instructions", r.what, r.new.abs_diff(r.old)))
            .collect();
        let _ = write!(w, "`{PORTABLE_CRYPTO_IMAGE}` (bench-crypto without `p256-cm4`) and `{RUSTCRYPTO_IMAGE}` (the handshakes on RustCrypto's P-256), each ELF run once on {} and once on {} under the same plugin: {same} of {} windows count the same number of instructions.", self.qemu, e.old, e.rows.len());
        if !differ.is_empty() {
            let _ = write!(w, " Different: {}. The handshake images read the emulated clock, which follows host time, between engine calls (the ticket's receipt time and age, then divided and obfuscated); QEMU 7.2's plugin takes a callback per instruction and runs slower, so those values, and the instructions spent on them, can differ by a few.", differ.join(", "));
        }
        let _ = writeln!(w, "\n");
        let _ = writeln!(
            w,
            "| image | window | {} | {} | difference |",
            self.qemu, e.old
        );
        let _ = writeln!(w, "|---|---|---:|---:|---:|");
        for r in &e.rows {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                r.image,
                r.what,
                r.new,
                r.old,
                r.new as i64 - r.old as i64
            );
        }
        w
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
        for p in self
            .profiles
            .iter()
            .filter(|p| !p.label.ends_with("@p256-chain"))
        {
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

    fn document(&self, table: &str, svg: &str) -> String {
        let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let rustc = output(Command::new("rustc").arg("--version"))
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let qemu = self.qemu;
        let mut d = String::new();
        let _ = writeln!(d, "# Benchmarks\n");
        let _ = writeln!(d, "Produced by `cargo xtask bench` on {date} ({rustc}, {qemu}, {} runs per image; instruction counts are the median of the runs). Regenerate with the same command; it rewrites this file and the plot.\n", self.runs);
        let _ = writeln!(d, "![instructions per handshake]({svg})\n");
        d.push_str(&self.like_for_like());
        let _ = writeln!(d);
        d.push_str(&self.targets());
        let _ = writeln!(d, "\n## How it is measured\n");
        let _ = writeln!(d, "- Firmware `bench/mps2-an386` (release: opt-level \"s\", LTO, one codegen unit) on QEMU's `mps2-an386` (Cortex-M4F), {qemu}. The server is `openssl s_server` (OpenSSL 3.0) on 127.0.0.1 with a throwaway P-256 PKI (root → intermediate → leaf; the leaf's subjectAltName and CN both name `{SERVER_NAME}`) made once with the openssl CLI and committed under `bench/mps2-an386/pki` (certificate signatures and the leaf key set how long verification takes, so the PKI is fixed for every machine). Encore's server also has `-allow_no_dhe_kex` (for psk_ke) and issues 2 tickets; embedded-tls's PSK handshake uses a second s_server with `-nocert -psk_identity {PSK_IDENTITY} -psk …`. Two more s_servers (2 tickets each) serve the chains with RSA in them, committed beside it: `pki/{}` (RSA-2048 root, intermediate and leaf) and `pki/{}` (an RSA-4096 root, a P-256 intermediate and a P-256 leaf); every certificate is signed with SHA-256.", RSA2048_CHAIN.dir, RSA4096_ROOT_CHAIN.dir);
        let _ = writeln!(d, "- The emulator: `p256-cm4`'s `mul288x288` uses `ldm.w` with a single register, an encoding ARMv7-M leaves UNPREDICTABLE; Cortex-M4 silicon executes it, QEMU 8 and later execute it, and Debian 12's own QEMU 7.2 takes the HardFault. `cargo xtask` therefore installs `qemu-system-arm` from Debian 12's bookworm-backports (QEMU 10.0) when the candidate is older than 8. {}", match self.emulators {
            Some(e) => {
                let same = e.rows.iter().filter(|r| r.new == r.old).count();
                let most = e.rows.iter().map(|r| r.new.abs_diff(r.old)).max().unwrap_or(0);
                if same == e.rows.len() {
                    format!("The emulator's version does not change the counts: the RustCrypto-only images, run on {} and on {}, count the same instructions in {same} of {} windows (the last table below).", self.qemu, e.old, e.rows.len())
                } else {
                    format!("The emulator's version does not change the work counted: the RustCrypto-only images, run on {} and on {}, count the same instructions in {same} of {} windows, and the others differ by at most {most} instructions, spent on values read from the emulated clock (the last table below).", self.qemu, e.old, e.rows.len())
                }
            }
            None => "`cargo xtask bench --old-qemu PATH` checks that the emulator's version does not change the counts (the last table below).".to_string(),
        });
        let _ = writeln!(d, "- Bytes travel over UART 0, which QEMU connects to a relay in the xtask that holds the TCP connections: no IP stack, and the relay answers a read only once the server's whole flight has arrived.");
        let _ = writeln!(d, "- **Instructions** are counted exactly by the project's QEMU plugin between markers around each handshake (from building the ClientHello to handing the client Finished to the link; for Encore also taking the ticket from the session cache), **minus the instructions spent inside the UART link** (bracketed by markers of their own: waiting, interrupts, copying frames). Encore's engine calls and every primitive of `bench-crypto` and `bench-rsa` run with interrupts masked, and the SysTick interrupt that came due meanwhile runs after them between markers that are subtracted too; embedded-tls runs its whole handshake inside one call, so a SysTick interrupt (about 430 instructions, 10 per second of host time) can land in its count; in Encore's windows one can still land in the short stretches between engine calls (taking the ticket from the cache, handing bytes over), rarely. What remains is the TLS stack's own work. The client's generator has a fixed seed, and the server's is pinned by a preloaded library (`tools/pinned-rand`) that makes OpenSSL's random generator a fixed sequence restarted at every accepted connection: each connection sees the same server random, key share and ECDSA nonce, so a full handshake verifies the same CertificateVerify signature in every run (ECDSA verification time depends on the signature: the `ecdsa-verify-other-signature` rows below). The pin is for measurement only: it makes the server's keys predictable.");
        let _ = writeln!(d, "- **ms at 168 MHz** assumes one cycle per instruction: a lower bound (flash wait states and multi-cycle instructions only add).");
        let _ = writeln!(d, "- **Wire bytes** are counted at the link: every TLS record byte in both directions from the first ClientHello byte to the client Finished (NewSessionTicket records and close_notify excluded).");
        let _ = writeln!(d, "- **Flash** and **static RAM** come from the ELF section headers. Both stacks' buffers live in their executor task (in .bss): embedded-tls 16,640 B read + 4,096 B write; Encore 18,693 B receive + 1,024 B transmit, plus a 4-slot session pool and a 4-entry cache. The stack peak is found by painting. The 4 KiB UART receive ring and the board support are in both images.");
        let _ = writeln!(d, "- P-256: encore-tls's `p256-cm4` feature runs ECDSA verification (the chain and CertificateVerify) and the P-256 key share and agreement on `p256-cm4` 0.4's Cortex-M4 assembly; `bench-encore` has it on (as the Cortex-M4 firmware does by default), and `{RUSTCRYPTO_IMAGE}` is the same firmware without it, on RustCrypto's `p256` 0.13 as on every other target and as embedded-tls (the `encore+rustcrypto-p256` rows). With the feature, encore-tls's default group order on Arm puts P-256 before X25519, because it is the cheaper key exchange there; the bench firmware names its groups itself: X25519 first in the rows without a suffix, P-256 alone in the `-p256` rows. `p256-differential` (`cargo xtask test`) checks the two backends against each other on the emulated core.");
        let _ = writeln!(d, "- embedded-tls 0.19 offers only P-256 for key exchange and AES-GCM suites, and cannot resume a session: its external-PSK handshake (psk_dhe_ke) is the nearest equivalent of a resumption.");
        let _ = writeln!(d, "- `bench-encore` is built with encore-tls's `x25519`, `chacha20` and `p256-cm4` features only (what a firmware for P-256 servers needs), and built again as `{TABLE_IMAGE}` with the opt-in `x25519-base-table` (curve25519-dalek's precomputed base-point table: a faster X25519 key share for more flash); the `encore+x25519-table` rows are that image's X25519 handshakes. It is also built with `p256-cm4` alone as `{SAME_ALGORITHMS_IMAGE}`, with the algorithms embedded-tls's image has, for its size only (not run), and with `rsa` added as `{RSA_CHAINS_IMAGE}`, which trusts one root per server and measures the full handshake and a psk_dhe_ke resumption (P-256 key share, AES-128-GCM) against the P-256 chain and the two chains with RSA in them (the `encore+rsa` rows, named after their chain).");
        let _ = writeln!(d, "- Server-side proof of resumption: `openssl s_server` reported {} resumed connections (`Reused session-id`) over all runs.\n", self.reused);
        let _ = writeln!(d, "## All measurements\n");
        let _ = writeln!(d, "{table}");
        let _ = writeln!(d, "{}", self.where_it_goes());
        let _ = writeln!(d, "{}", self.where_the_flash_goes());
        let _ = writeln!(d, "{}", self.emulator_check());
        d
    }

    /// A horizontal bar chart of instructions per handshake, written by hand (no plotting crate).
    fn svg(&self) -> String {
        let mut bars: Vec<(String, u64, &str)> = Vec::new();
        for (image, color) in [
            ("bench-embedded-tls", "#c0504d"),
            ("bench-encore", "#4f81bd"),
            (TABLE_IMAGE, "#9bbb59"),
            (RUSTCRYPTO_IMAGE, "#8c8c8c"),
            (RSA_CHAINS_IMAGE, "#8064a2"),
        ] {
            if let Some(img) = self.image(image) {
                for (r, _) in self
                    .regions(img)
                    .into_iter()
                    .filter(|(r, _)| reported(image, r))
                    .filter(|(r, _)| image != RSA_CHAINS_IMAGE || r.name.contains("@rsa"))
                {
                    bars.push((format!("{} {}", r.stack, r.name), r.instructions, color));
                }
            }
        }
        let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
        let (label_w, bar_w, row_h, top) = (400.0, 520.0, 26.0, 50.0);
        let height = top + row_h * bars.len() as f64 + 54.0;
        let width = label_w + bar_w + 120.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="10" y="22" font-size="15" font-weight="bold">Instructions per TLS 1.3 handshake on a Cortex-M4F (mps2-an386, {}), transport excluded</text>"#,
            self.qemu
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
            r##"<text x="10" y="{:.0}" fill="#555">red: embedded-tls 0.19; blue: Encore (P-256 on p256-cm4); green: Encore with the X25519 base-point table; grey: Encore with P-256 on RustCrypto p256;</text>"##,
            height - 26.0
        );
        let _ = writeln!(
            s,
            r##"<text x="10" y="{:.0}" fill="#555">purple: Encore with the rsa feature against the chains with RSA in them (P-256 key exchange). Produced by cargo xtask bench.</text>"##,
            height - 10.0
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
    fn crates_of_symbols() {
        assert_eq!(crate_of("sha2::sha256::compress256"), "sha2");
        assert_eq!(
            crate_of("<&curve25519_dalek::backend::serial::u32::field::FieldElement2625 as core::ops::arith::Mul>::mul"),
            "curve25519_dalek"
        );
        assert_eq!(crate_of("<&T as core::fmt::Debug>::fmt"), "core");
        assert_eq!(
            crate_of("encore_tls::client::state::negotiated::<impl encore_tls::client::state::Negotiated>::encrypted_extensions"),
            "encore_tls"
        );
        assert_eq!(
            crate_of("embassy_executor::raw::TaskStorage<F>::poll"),
            TASK
        );
        assert_eq!(crate_of(".Lanon.71f2e9.7"), "unnamed constants");
        assert_eq!(crate_of("P256_mulmod"), "p256_cm4");
        assert_eq!(crate_of("__aeabi_memcpy4"), "compiler_builtins");
    }

    #[test]
    fn criterion_mean() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.5,"standard_error":0.1},"median":{"point_estimate":9.0}}"#;
        assert_eq!(json_mean(json), Some(2.5));
    }

    #[test]
    fn windows_subtract_the_link() {
        let marks = "marker 0 10\nmarker 1 100\nmarker 10 150\nmarker 11 250\nmarker 12 300\nmarker 13 310\nmarker 2 400\n";
        let stdout = "handshake encore psk_ke/aes128gcm 417 153 ok\nhandshake-stack psk_ke/aes128gcm 96 bytes\nstack peak: 100 bytes\n";
        let run = parse_run(stdout, marks).unwrap();
        // 400 - 100 - (250 - 150) - (310 - 300)
        assert_eq!(run.regions[0].instructions, 190);
        assert_eq!((run.regions[0].sent, run.regions[0].received), (417, 153));
        assert_eq!(run.stack_peak, Some(100));
        assert_eq!(run.handshake_stacks.get("psk_ke/aes128gcm"), Some(&96));
    }
}
