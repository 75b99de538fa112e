//! The steps behind `cargo xtask test`, `demo` and `setup`.

use crate::util::{cargo, have, is_root, output, root, run, section, target_dir, Result};
use std::process::Command;
use std::time::Instant;

/// Cross targets: thumbv6m has no compare-and-swap (proves critical sections, no CAS atomics),
/// thumbv7em is the Cortex-M4F of the emulated board and the Nucleo.
const EMBEDDED_TARGETS: &[&str] = &["thumbv6m-none-eabi", "thumbv7em-none-eabihf"];

/// Library crates that must build for every embedded target without a heap (E1).
const NO_STD_CRATES: &[&str] = &[
    "encore-session",
    "encore-cache",
    "encore-tls",
    "encore-client",
    "encore-store",
];

/// Debian packages the tests and the demo run, keyed by the program they provide.
const PACKAGES: &[(&str, &str)] = &[
    ("openssl", "openssl"),
    ("gnutls-serv", "gnutls-bin"),
    ("socat", "socat"),
    ("gcc", "gcc"),
    // The MQTT and HTTPS firmware's servers (Debian installs daemons in /usr/sbin).
    ("/usr/sbin/mosquitto", "mosquitto"),
    ("mosquitto_sub", "mosquitto-clients"),
    ("/usr/sbin/nginx", "nginx"),
];

/// Firmware workspaces, each built by its own cargo invocation (its own target, runner and
/// embassy features) into the shared target directory.
const FIRMWARE: &[&str] = &[
    "examples/common",
    "examples/mps2-an386",
    "examples/nucleo-f429zi",
    "bench/mps2-an386",
];

/// A firmware workspace also linted and built with its `defmt` feature (defmt records of
/// the examples' errors, summaries, statistics and store reports). The Nucleo's binaries have
/// names of their own, so this build replaces no image the emulator runs.
const FIRMWARE_DEFMT: &str = "examples/nucleo-f429zi";

pub fn setup() -> Result {
    section("setup: rustup targets and Debian packages");
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    let missing: Vec<&str> = EMBEDDED_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        run(Command::new("rustup")
            .args(["target", "add"])
            .args(&missing))?;
    }
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        let list = missing.join(" ");
        if !is_root() {
            return Err(format!(
                "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y {list}"
            ));
        }
        run(Command::new("apt-get").args(["update", "-q"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    qemu()?;
    println!("setup: everything needed is installed");
    Ok(())
}

/// The oldest QEMU the firmware runs on. QEMU 7.2 (Debian 12's own) treats a one-register
/// `LDM.W`, which Cortex-M4 silicon executes, as undefined and takes the HardFault: the
/// Cortex-M4 assembly of the `p256-cm4` backend uses it. The instruction-count plugin loads on
/// both (`tools/qemu-plugin`).
const QEMU_MIN_MAJOR: u32 = 8;

/// `qemu-system-arm` at least [`QEMU_MIN_MAJOR`]: installed from Debian when missing, and from
/// the release's backports suite (Debian 12: bookworm-backports, QEMU 10.0) when the release's
/// own candidate is older.
fn qemu() -> Result {
    if let Some(version) = qemu_version() {
        if version.0 >= QEMU_MIN_MAJOR {
            println!("setup: qemu-system-arm {}.{}", version.0, version.1);
            return Ok(());
        }
    }
    let found = qemu_version().map_or("missing".to_string(), |(major, minor)| {
        format!("{major}.{minor}, older than {QEMU_MIN_MAJOR}")
    });
    let codename = os_codename().unwrap_or_else(|| "bookworm".into());
    let backports = format!("{codename}-backports");
    let candidate = candidate_major("qemu-system-arm");
    let use_backports = candidate.is_none_or(|major| major < QEMU_MIN_MAJOR);
    if !is_root() {
        let how = if use_backports {
            let (uris, key) = main_mirror(&codename);
            format!(
                "add {backports} to apt's sources ({}), then run: sudo apt-get update && sudo \
                 apt-get install -y -t {backports} qemu-system-arm",
                backports_stanza(&backports, &uris, &key).replace('\n', "; ")
            )
        } else {
            "run: sudo apt-get update && sudo apt-get install -y qemu-system-arm".to_string()
        };
        return Err(format!(
            "qemu-system-arm is {found}; QEMU {QEMU_MIN_MAJOR} or newer is needed: {how}"
        ));
    }
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    if use_backports {
        let (uris, key) = main_mirror(&codename);
        let file = std::path::Path::new(BACKPORTS_SOURCES);
        println!(
            "setup: qemu-system-arm is {found} and Debian {codename}'s own is older than \
             {QEMU_MIN_MAJOR}: adding {backports} on the main suite's mirror ({uris}) to \
             {BACKPORTS_SOURCES} and installing qemu-system-arm from it"
        );
        if !backports_configured(&backports) {
            std::fs::write(file, backports_stanza(&backports, &uris, &key) + "\n")
                .map_err(|e| format!("write {BACKPORTS_SOURCES}: {e}"))?;
        }
        run(Command::new("apt-get").args(["update", "-q"]))?;
        install.args(["-t", &backports]);
    } else {
        println!("setup: qemu-system-arm is {found}; installing Debian {codename}'s");
        run(Command::new("apt-get").args(["update", "-q"]))?;
    }
    run(install.arg("qemu-system-arm"))?;
    match qemu_version() {
        Some((major, minor)) if major >= QEMU_MIN_MAJOR => {
            println!("setup: qemu-system-arm {major}.{minor} installed");
            Ok(())
        }
        other => Err(format!(
            "qemu-system-arm is still {} after the install; QEMU {QEMU_MIN_MAJOR} or newer is \
             needed",
            other.map_or("missing".to_string(), |(a, b)| format!("{a}.{b}"))
        )),
    }
}

/// Where the xtask adds the backports suite (deb822, as Debian 12 keeps its own sources).
const BACKPORTS_SOURCES: &str = "/etc/apt/sources.list.d/encore-backports.sources";

/// `(major, minor)` of the `qemu-system-arm` on the PATH.
fn qemu_version() -> Option<(u32, u32)> {
    let text = output(Command::new("qemu-system-arm").arg("--version")).ok()?;
    let rest = text.split("version ").nth(1)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The major version apt would install for `package`.
fn candidate_major(package: &str) -> Option<u32> {
    let text = output(Command::new("apt-cache").arg("policy").arg(package)).ok()?;
    let candidate = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))?
        .trim();
    // `1:7.2+dfsg-7+deb12u18+b3`: an optional epoch, then the upstream version.
    let upstream = candidate.rsplit_once(':').map_or(candidate, |(_, v)| v);
    upstream.split('.').next()?.parse().ok()
}

fn os_codename() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The mirror URIs and signing key of the release's main suite, from
/// `/etc/apt/sources.list.d/debian.sources` (deb822) or else `/etc/apt/sources.list`.
fn main_mirror(codename: &str) -> (String, String) {
    let default_key = "/usr/share/keyrings/debian-archive-keyring.gpg".to_string();
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources") {
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza.lines().find_map(|l| {
                    l.strip_prefix(name)
                        .and_then(|v| v.strip_prefix(':'))
                        .map(|v| v.trim().to_string())
                })
            };
            let main_suite = field("Suites")
                .is_some_and(|s| s.split_whitespace().any(|suite| suite == codename));
            if let (true, Some(uris)) = (main_suite, field("URIs")) {
                return (uris, field("Signed-By").unwrap_or(default_key));
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["deb", uri, suite, ..] = words.as_slice() {
                if *suite == codename {
                    return (uri.to_string(), default_key);
                }
            }
        }
    }
    ("http://deb.debian.org/debian".to_string(), default_key)
}

fn backports_stanza(suite: &str, uris: &str, key: &str) -> String {
    format!("Types: deb\nURIs: {uris}\nSuites: {suite}\nComponents: main\nSigned-By: {key}")
}

/// Whether some apt source already names `suite`.
fn backports_configured(suite: &str) -> bool {
    let mut files = vec![std::path::PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources")),
        );
    }
    files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| {
            t.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .any(|l| l.split_whitespace().any(|w| w == suite))
        })
    })
}

pub fn test(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    let start = Instant::now();
    setup()?;

    section("format and lints");
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    section("host tests: unit, contract, property and interop");
    run(cargo().args(["test", "--workspace", "--no-fail-fast"]))?;

    section("the non-default insecure-no-verify feature, separately (C33)");
    run(cargo().args([
        "clippy",
        "-p",
        "encore-examples",
        "--features",
        "insecure-no-verify",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "test",
        "-p",
        "encore-tls",
        "--features",
        "insecure-no-verify",
        "--test",
        "insecure_no_verify",
    ]))?;
    run(cargo().args([
        "test",
        "-p",
        "encore-examples",
        "--features",
        "insecure-no-verify",
        "--test",
        "resume_check",
    ]))?;

    section("docs build without warnings");
    run(cargo()
        .args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;

    section("no_std crates build for every embedded target (E1)");
    for target in EMBEDDED_TARGETS {
        let mut cmd = cargo();
        cmd.args(["build", "--target", target]);
        for c in NO_STD_CRATES {
            cmd.args(["-p", c]);
        }
        run(&mut cmd)?;
    }
    // encore-tls with only the algorithms RFC 8446 makes mandatory (every optional one off),
    // the smallest configuration a firmware can ask for; then X25519 with its base-point table.
    for features in ["", "x25519-base-table"] {
        run(cargo().args([
            "build",
            "-p",
            "encore-tls",
            "--no-default-features",
            "--features",
            features,
            "--target",
            "thumbv7em-none-eabihf",
        ]))?;
    }
    // Every library crate's `defmt` feature (`defmt::Format` for what a firmware logs), with
    // the client's flash store, for the Cortex-M4.
    run(cargo().args([
        "build",
        "--target",
        "thumbv7em-none-eabihf",
        "-p",
        "encore-client",
        "--features",
        "encore-client/defmt,encore-client/store",
    ]))?;
    no_alloc_features()?;
    no_heap_link()?;

    if !quick {
        section("firmware: format, lints and release builds");
        for dir in FIRMWARE {
            let firmware = || {
                let mut cmd = cargo();
                cmd.current_dir(root().join(dir))
                    .env("CARGO_TARGET_DIR", target_dir());
                cmd
            };
            run(firmware().args(["fmt", "--", "--check"]))?;
            run(firmware().args(["clippy", "--release", "--", "-D", "warnings"]))?;
            run(firmware().args(["build", "--release"]))?;
            if *dir == FIRMWARE_DEFMT {
                let defmt = ["--features", "defmt"];
                run(firmware()
                    .args(["clippy", "--release"])
                    .args(defmt)
                    .args(["--", "-D", "warnings"]))?;
                run(firmware().args(["build", "--release"]).args(defmt))?;
            }
        }
        section("firmware runs on the emulated board");
        crate::demo::firmware_runs()?;
        p256_differential()?;
        rsa_wycheproof()?;
    }

    println!(
        "\nxtask test: every step passed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The Cortex-M4 P-256 backend against RustCrypto's on the emulated board (built with the
/// bench firmware above): Wycheproof's ECDSA and ECDH P-256 vectors and invalid signatures,
/// keys and points through both; any disagreement fails the firmware.
fn p256_differential() -> Result {
    section("P-256 backends agree on the emulated Cortex-M4 (p256-cm4 against RustCrypto)");
    run_check_image("p256-differential")
}

/// encore-tls's RSA verification (the `rsa` feature, no heap) on the emulated board over the
/// Wycheproof RSA vectors the host test runs (PKCS#1 v1.5 and PSS, 2048–4096 bits, R12): the
/// image is built here, as `cargo build --release` above leaves out the `rsa` feature, and
/// fails unless every case meets its expected result.
fn rsa_wycheproof() -> Result {
    section("RSA verification passes Wycheproof on the emulated Cortex-M4 (rsa-wycheproof)");
    let dir = root().join("bench/mps2-an386");
    // The firmware lint step builds the bench images without `rsa`: lint the RSA ones here.
    let with_rsa = |subcommand: &str| {
        let mut cmd = cargo();
        cmd.current_dir(&dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .args([subcommand, "--release", "--features", "rsa"]);
        cmd
    };
    run(with_rsa("clippy").args(["--bins", "--", "-D", "warnings"]))?;
    run(with_rsa("build").args(["--bin", "rsa-wycheproof"]))?;
    run_check_image("rsa-wycheproof")
}

/// Boots a release image of the bench firmware that checks itself (no server, no counting)
/// and fails unless it exits 0.
fn run_check_image(bin: &str) -> Result {
    let elf = target_dir().join("thumbv7em-none-eabihf/release").join(bin);
    run(Command::new(root().join("examples/mps2-an386/run-qemu.sh"))
        .arg(&elf)
        .env("ENCORE_TIMEOUT", "300")
        .env_remove("ENCORE_QEMU_PLUGIN")
        .env_remove("ENCORE_UART_PORT"))
}

/// No dependency of the no_std crates may turn on an `alloc` feature (E1). `cargo tree -e
/// features` lists every enabled feature edge; `zeroize` in particular enables `alloc` by default.
fn no_alloc_features() -> Result {
    for target in EMBEDDED_TARGETS {
        let mut cmd = cargo();
        cmd.args([
            "tree",
            "-e",
            "normal,features",
            "--target",
            target,
            "--prefix",
            "none",
        ]);
        for c in NO_STD_CRATES {
            cmd.args(["-p", c]);
        }
        let tree = output(&mut cmd)?;
        let offending: Vec<&str> = tree
            .lines()
            .filter(|l| l.contains("feature \"alloc\"") || l.contains("feature \"std\""))
            .collect();
        if !offending.is_empty() {
            return Err(format!(
                "an alloc or std feature is enabled for {target}:\n  {}",
                offending.join("\n  ")
            ));
        }
        println!("no alloc or std feature enabled for {target}");
    }
    Ok(())
}

/// Links a tiny no_std binary that uses the pool and the cache with no global allocator: if
/// anything needed a heap, the link would fail.
fn no_heap_link() -> Result {
    let dir = root().join("no-heap-check");
    if !dir.join("Cargo.toml").exists() {
        return Err("no-heap-check/ is missing".into());
    }
    for target in EMBEDDED_TARGETS {
        run(cargo()
            .current_dir(&dir)
            .args(["build", "--release", "--target", target])
            .env("CARGO_TARGET_DIR", target_dir()))?;
    }
    Ok(())
}

pub fn demo(_args: &[String]) -> Result {
    setup()?;
    crate::demo::run_demo()
}
