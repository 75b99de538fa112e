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

use crate::elf::{image_size as elf_sizes, ImageSize as Sizes};
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
    let plugin = util::build_plugin(&work)?;
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

mod emulator;
mod firmware;
mod flash;
mod host;
mod pki;
mod relay;
mod report;
mod servers;
mod tables;
mod targets;

use emulator::*;
use firmware::*;
use flash::*;
use host::*;
use pki::*;
use relay::*;
use report::*;
use servers::*;
