//! Small process helpers shared by the steps.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the parent of the xtask crate), found when the xtask runs, so that a
/// copied or moved checkout acts on itself even when its xtask binary was built elsewhere.
pub fn root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(find_root).clone()
}

/// `cargo xtask` (`cargo run`) sets `CARGO_MANIFEST_DIR` to the xtask crate of the workspace it
/// runs in; without it (the binary started by hand) the current directory and its parents are
/// searched. The directory the binary was compiled in is the last resort.
fn find_root() -> PathBuf {
    let is_root =
        |dir: &Path| dir.join("Cargo.toml").is_file() && dir.join("xtask/Cargo.toml").is_file();
    let from_cargo = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|m| m.parent().map(Path::to_path_buf))
        .filter(|d| is_root(d));
    if let Some(dir) = from_cargo {
        return dir;
    }
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(dir) = cwd.ancestors().find(|d| is_root(d)) {
            return dir.to_path_buf();
        }
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    built.parent().map(Path::to_path_buf).unwrap_or(built)
}

/// The one target directory every build shares, firmware included.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Cargo, run in the workspace root, with the embedded targets' source paths remapped (see
/// [`remap_paths`]).
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root());
    for config in remap_paths() {
        cmd.arg("--config").arg(config);
    }
    cmd
}

/// `--config` values that rewrite the checkout's and Cargo's home paths in the embedded
/// targets' builds (`--remap-path-prefix`): panic locations put source paths in `.rodata`, so
/// without this an image's flash size would depend on where the checkout lies. Cargo appends
/// these to the rustflags of each firmware's `.cargo/config.toml` (arrays merge), and host
/// builds are left alone.
fn remap_paths() -> Vec<String> {
    let mut prefixes = vec![(root(), "encore")];
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        prefixes.push((home, "cargo-home"));
    }
    let flags: Vec<String> = prefixes
        .iter()
        .map(|(from, to)| format!("\"--remap-path-prefix={}={to}\"", from.display()))
        .collect();
    ["thumbv6m-none-eabi", "thumbv7em-none-eabihf"]
        .iter()
        .map(|t| format!("target.{t}.rustflags=[{}]", flags.join(", ")))
        .collect()
}

/// Runs a command to completion, echoing it first, and fails with its name when it fails.
pub fn run(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    println!("$ {shown}");
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        println!("  ({:.1} s)", start.elapsed().as_secs_f64());
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs a command and returns its standard output.
pub fn output(cmd: &mut Command) -> Result<String> {
    let shown = show(cmd);
    let out = cmd
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn section(title: &str) {
    println!("\n=== {title}");
}

/// Builds `source` (C) into the shared library `out` with gcc, unless `out` is newer than
/// `source` and than every file in the directories its headers come from: the source's own
/// and each `-I<dir>` of `args`. `args` are extra gcc arguments: those include directories
/// and linker arguments (`-l:libcrypto.so.3`).
pub fn shared_lib(source: &Path, out: &Path, args: &[&str]) -> Result<PathBuf> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let include_dirs = args
        .iter()
        .filter_map(|a| a.strip_prefix("-I"))
        .map(Path::new);
    let mut inputs = vec![source.to_path_buf()];
    for dir in source.parent().into_iter().chain(include_dirs) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            inputs.extend(entries.flatten().map(|e| e.path()));
        }
    }
    let built = modified(out);
    let fresh = inputs
        .iter()
        .all(|i| matches!((modified(i), built), (Some(m), Some(o)) if m <= o));
    if !fresh {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        run(Command::new("gcc")
            .args(["-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-o"])
            .arg(out)
            .arg(source)
            .args(args))?;
    }
    Ok(out.to_path_buf())
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// The instruction-counting QEMU plugin (`tools/qemu-plugin/insncount.c`, with the plugin API
/// header `qemu-plugin-api.h` beside it), built into `out_dir`.
pub fn build_plugin(out_dir: &Path) -> Result<PathBuf> {
    shared_lib(
        &root().join("tools/qemu-plugin/insncount.c"),
        &out_dir.join("libinsncount.so"),
        &[],
    )
}

/// `n` with a comma between groups of three digits (`3,791,727`).
pub(crate) fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
