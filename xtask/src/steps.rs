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
    ("qemu-system-arm", "qemu-system-arm"),
    ("socat", "socat"),
    ("gcc", "gcc"),
];

/// Firmware workspaces, each built by its own cargo invocation (its own target, runner and
/// embassy features) into the shared target directory.
const FIRMWARE: &[&str] = &[
    "examples/mps2-an386",
    "examples/nucleo-f429zi",
    "bench/mps2-an386",
];

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
    println!("setup: everything needed is installed");
    Ok(())
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
        }
        section("firmware runs on the emulated board");
        crate::demo::firmware_runs()?;
    }

    println!(
        "\nxtask test: every step passed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
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
