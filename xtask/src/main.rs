//! Project automation: `cargo xtask test` runs every check, `cargo xtask demo` runs the main job.
//!
//! The xtask installs what a bare machine of the supported kind lacks (rustup targets, Debian
//! packages) before it runs anything, so the two README commands work on a fresh clone.

mod apps;
mod bench;
mod demo;
mod elf;
mod fuzz;
mod pki;
mod qemu;
mod servers;
mod steps;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test      install what is missing, then run every test: host unit, contract and interop
            tests, embedded builds, the no-heap proof, firmware builds and emulator runs
  demo      the main job: full handshake, then resumed ones, with their costs
  bench     handshake costs on the emulated MCU (Encore beside embedded-tls), P-256 backends
            and host cache micro-benchmarks; writes BENCHMARKS.md and its plot
            (options: --runs N, default 3; --no-host skips the criterion benchmarks;
            --profile only prints where each handshake's instructions go, by function)
  fuzz      every fuzz target for its share of SECONDS (default 600; the engine targets get
            more), then executions, coverage and crashes per target; a crash is saved to
            <crate>/fuzz/regressions/<target>/ for the tests and fails the command
            (usage: fuzz [SECONDS] [--only TARGET]...; installs nightly and cargo-fuzz)
  setup     only install what is missing (rustup targets, Debian packages)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => steps::test(&args[1..]),
        Some("demo") => steps::demo(&args[1..]),
        Some("setup") => steps::setup(),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("-h") | Some("--help") | Some("help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
