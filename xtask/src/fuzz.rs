//! `cargo xtask fuzz [SECONDS]`: every cargo-fuzz target of the repository, each for its
//! share of SECONDS (the engine targets get the larger shares), then one table: executions,
//! coverage and crashes per target.
//!
//! Installs what a fresh machine lacks (a minimal nightly toolchain, cargo-fuzz), builds each
//! fuzz crate once (release with debug assertions and overflow checks, so that an overflow
//! panics as in a debug build) and runs the libFuzzer binaries directly with
//! `-max_total_time`, one process each (the equivalent of `-jobs=1`). Corpora grow in
//! `target/fuzz/corpus/` and start from the committed seeds (`<crate>/fuzz/seeds/<target>/`)
//! when there are some. A crash, timeout or out-of-memory input is copied to
//! `<crate>/fuzz/regressions/<target>/`, where the crate's tests replay it
//! (`tls/tests/fuzz_regressions.rs` for encore-tls), and the command fails.
//!
//! Speed is what lets a target that runs real handshakes explore: no sanitizer (every library
//! crate is `#![forbid(unsafe_code)]`, so AddressSanitizer only watched the dependencies, at
//! about a third of the speed), inputs scheduled by execution time as well as by rarity
//! (`-entropic_scale_per_exec_time`), and for encore-tls no comparison tracing: the field
//! arithmetic that X25519, P-256 and ECDSA inline into the engine spent most of each run in
//! the tracing hooks, and without them `engine_keyed` ran twice as many inputs in the same
//! time and reached more coverage (2,835 against 2,805 edges after 150 s).

use crate::util::{self, have, output, root, section, target_dir, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Crates with a cargo-fuzz directory (`<crate>/fuzz`), with their extra build options.
const FUZZ_CRATES: &[(&str, &[&str])] = &[
    ("tls", &["--no-trace-compares"]),
    ("session-core", &[]),
    ("store", &[]),
];

/// Shares of the time; every other target has weight 1. The engine targets get more, the
/// keyed one most: `engine` levels off within a minute (random bytes stop at the
/// ServerHello), `engine_keyed` has every state after it to explore.
const WEIGHTS: &[(&str, u32)] = &[("engine_keyed", 8), ("engine", 2)];

const DEFAULT_SECONDS: u64 = 600;

/// What the final stats of one libFuzzer run said.
#[derive(Debug, Default)]
struct Stats {
    executions: u64,
    exec_per_s: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
}

struct Target {
    krate: &'static str,
    name: String,
    weight: u32,
}

pub fn run(args: &[String]) -> Result {
    let mut seconds = DEFAULT_SECONDS;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--only" => only.push(it.next().ok_or("--only needs a target name")?.clone()),
            s => {
                seconds = s
                    .parse()
                    .map_err(|_| format!("fuzz: `{s}` is not a number of seconds"))?
            }
        }
    }
    let start = Instant::now();
    install()?;

    let mut targets = Vec::new();
    for (krate, _) in FUZZ_CRATES {
        let listed = output(fuzz_command(krate).arg("list"))?;
        for name in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !only.is_empty() && !only.iter().any(|o| o == name) {
                continue;
            }
            let weight = WEIGHTS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(1, |(_, w)| *w);
            targets.push(Target {
                krate,
                name: name.to_string(),
                weight,
            });
        }
    }
    if targets.is_empty() {
        return Err(format!("fuzz: no target matches {only:?}"));
    }
    // Build each crate's targets once, before any time is counted.
    for (krate, options) in FUZZ_CRATES {
        if targets.iter().any(|t| t.krate == *krate) {
            section(&format!("fuzz: build {krate}/fuzz"));
            util::run(
                fuzz_command(krate)
                    .args(["build", "-O", "--debug-assertions", "--sanitizer", "none"])
                    .args(*options),
            )?;
        }
    }
    let host = host_triple()?;
    let total_weight: u32 = targets.iter().map(|t| t.weight).sum();
    let mut rows = Vec::new();
    let mut crashed = Vec::new();
    for t in &targets {
        let share = (seconds * u64::from(t.weight) / u64::from(total_weight)).max(1);
        let label = format!("{}/{}", t.krate, t.name);
        section(&format!("fuzz: {label} for {share} s"));
        let started = Instant::now();
        let (stats, saved) = fuzz_one(t, &host, share)?;
        let ran = started.elapsed().as_secs();
        println!(
            "{label}: {} executions, cov {}, ft {}, {} crash(es)",
            stats.executions,
            stats.cov,
            stats.ft,
            saved.len()
        );
        for path in &saved {
            println!("  saved {}", path.display());
        }
        if !saved.is_empty() {
            crashed.push(label.clone());
        }
        rows.push((label, ran, stats, saved.len()));
    }

    println!(
        "\n{:<22} {:>7} {:>12} {:>8} {:>6} {:>7} {:>7} {:>8}",
        "target", "seconds", "executions", "exec/s", "cov", "ft", "corpus", "crashes"
    );
    // Seconds actually run: a target stops at its first crash.
    for (label, ran, s, crashes) in &rows {
        println!(
            "{label:<22} {ran:>7} {:>12} {:>8} {:>6} {:>7} {:>7} {crashes:>8}",
            s.executions, s.exec_per_s, s.cov, s.ft, s.corpus
        );
    }
    println!(
        "\nxtask fuzz: {seconds} s of fuzzing, {:.0} s wall time in all (builds included)",
        start.elapsed().as_secs_f64()
    );
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz: {} found crashes; the inputs are in <crate>/fuzz/regressions/ and the \
             logs in {}",
            crashed.join(", "),
            work_dir().join("logs").display()
        ))
    }
}

/// Installs a minimal nightly toolchain and cargo-fuzz when they are missing.
fn install() -> Result {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"]))?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        util::run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    if !have("cargo-fuzz") {
        util::run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    Ok(())
}

/// `cargo fuzz` on the nightly toolchain for `<krate>/fuzz`, whatever toolchain runs the
/// xtask: rustup picks nightly, and the stable cargo's variables are dropped.
fn fuzz_command(krate: &str) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz"])
        .current_dir(root().join(krate))
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS");
    cmd
}

fn host_triple() -> Result<String> {
    let v = output(Command::new("rustup").args(["run", "nightly", "rustc", "-vV"]))?;
    v.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "fuzz: no host triple in `rustc -vV`".to_string())
}

fn work_dir() -> PathBuf {
    target_dir().join("fuzz")
}

/// Runs one target for `seconds`; returns its stats and the inputs saved as regressions.
fn fuzz_one(t: &Target, host: &str, seconds: u64) -> Result<(Stats, Vec<PathBuf>)> {
    let fuzz_dir = root().join(t.krate).join("fuzz");
    let binary = fuzz_dir
        .join("target")
        .join(host)
        .join("release")
        .join(&t.name);
    let key = format!("{}-{}", t.krate, t.name);
    // The corpus grows from run to run; the artifacts and the log belong to this process, so
    // that two runs at once do not clobber each other's.
    let corpus = work_dir().join("corpus").join(&key);
    let run_key = format!("{key}-{}", std::process::id());
    let artifacts = work_dir().join("artifacts").join(&run_key);
    let logs = work_dir().join("logs");
    for dir in [&corpus, &logs] {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("create {}: {e}", artifacts.display()))?;
    let log = logs.join(format!("{run_key}.log"));
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;

    let mut cmd = Command::new(&binary);
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg("-entropic_scale_per_exec_time=1")
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus);
    let seeds = fuzz_dir.join("seeds").join(&t.name);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.current_dir(&fuzz_dir)
        .stdout(Stdio::null())
        .stderr(log_file);
    println!("$ {} (log: {})", util::show(&cmd), log.display());
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let stats = parse_stats(&text);

    let mut saved = Vec::new();
    let found =
        std::fs::read_dir(&artifacts).map_err(|e| format!("read {}: {e}", artifacts.display()))?;
    let regressions = fuzz_dir.join("regressions").join(&t.name);
    for entry in found {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path.file_name() else {
            continue;
        };
        std::fs::create_dir_all(&regressions)
            .map_err(|e| format!("create {}: {e}", regressions.display()))?;
        let dest = regressions.join(name);
        std::fs::copy(&path, &dest).map_err(|e| format!("copy {}: {e}", path.display()))?;
        saved.push(dest);
    }
    if !status.success() && saved.is_empty() {
        return Err(format!(
            "fuzz: {key} failed ({status}) without saving an input; see {}",
            log.display()
        ));
    }
    Ok((stats, saved))
}

/// Reads libFuzzer's output: the executions from the final stats (or the last status
/// line), coverage from the last status line (`cov:` edges, `ft:` features).
fn parse_stats(text: &str) -> Stats {
    let mut s = Stats::default();
    let field = |line: &str, name: &str| -> Option<u64> {
        let mut words = line.split_whitespace();
        words.find(|w| *w == name)?;
        let v = words.next()?;
        v.split('/').next()?.parse().ok()
    };
    for line in text.lines() {
        if line.starts_with('#') && line.contains(" cov: ") {
            let runs = line[1..]
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok());
            s.executions = runs.unwrap_or(s.executions);
            s.cov = field(line, "cov:").unwrap_or(s.cov);
            s.ft = field(line, "ft:").unwrap_or(s.ft);
            s.corpus = field(line, "corp:").unwrap_or(s.corpus);
            s.exec_per_s = field(line, "exec/s:").unwrap_or(s.exec_per_s);
        } else if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            s.executions = v.trim().parse().unwrap_or(s.executions);
        } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            s.exec_per_s = v.trim().parse().unwrap_or(s.exec_per_s);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_stats_and_last_status_line_are_read() {
        let log = "\
INFO: Seed: 1
#2\tINITED cov: 101 ft: 102 corp: 1/1b exec/s: 0 rss: 30Mb
#1048576\tpulse  cov: 830 ft: 2100 corp: 300/12Kb lim: 4096 exec/s: 7000 rss: 60Mb
#7000123\tDONE   cov: 831 ft: 2111 corp: 301/12Kb lim: 4096 exec/s: 7777 rss: 61Mb
Done 7000123 runs in 900 second(s)
stat::number_of_executed_units: 7000123
stat::average_exec_per_sec:     7777
";
        let s = parse_stats(log);
        assert_eq!(
            (s.executions, s.exec_per_s, s.cov, s.ft, s.corpus),
            (7_000_123, 7777, 831, 2111, 301)
        );
    }
}
