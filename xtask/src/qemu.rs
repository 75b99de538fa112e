//! Firmware under QEMU: the built images of the emulated-board workspace and the
//! instruction-count plugin ([`Kit`]), one boot of an image against a server on 127.0.0.1
//! (`examples/mps2-an386/run-qemu.sh`), and what a run printed and counted ([`FirmwareRun`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use encore_markers::exit_code;

use crate::pki::Pki;
use crate::util::{self, cargo, root, run, section, target_dir, Result};

/// The firmware workspace.
pub(crate) const FIRMWARE_DIR: &str = "examples/mps2-an386";
/// The firmware's target.
const FIRMWARE_TARGET: &str = "thumbv7em-none-eabihf";
/// Seconds before QEMU is stopped.
const QEMU_TIMEOUT_S: u32 = 180;

/// What every run needs: the built firmware and plugin, and this run's PKI.
pub(crate) struct Kit {
    pub(crate) elf_dir: PathBuf,
    plugin: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) pki: Pki,
}

impl Kit {
    pub(crate) fn prepare() -> Result<Kit> {
        section("build: firmware (release) and the instruction-count plugin");
        run(cargo()
            .current_dir(root().join(FIRMWARE_DIR))
            .args(["build", "--release"])
            .env("CARGO_TARGET_DIR", target_dir()))?;
        let plugin = util::build_plugin(&target_dir())?;
        let work = target_dir().join("demo");
        let pki = Pki::make(&work.join("pki"))?;
        Ok(Kit {
            elf_dir: target_dir().join(FIRMWARE_TARGET).join("release"),
            plugin,
            work,
            pki,
        })
    }

    /// A device with a blank flash and a new key: 32 fresh random bytes in
    /// `<prefix>device.key` (the firmware has no key of its own), and no
    /// `<prefix>sessions.flash` (the firmware creates it erased, 0xFF). Returns the
    /// `-append` arguments that name them (`key=PATH flash=PATH`).
    pub(crate) fn new_device(&self, prefix: &str) -> Result<Vec<String>> {
        let key = self.work.join(format!("{prefix}device.key"));
        let flash = self.work.join(format!("{prefix}sessions.flash"));
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| format!("/dev/urandom: {e}"))?;
        std::fs::write(&key, bytes).map_err(|e| format!("{}: {e}", key.display()))?;
        remove_if_present(&flash)?;
        Ok(vec![
            format!("key={}", key.display()),
            format!("flash={}", flash.display()),
        ])
    }

    /// Boots firmware `bin` under QEMU with the server at 127.0.0.1:`port`.
    pub(crate) fn boot(&self, bin: &str, port: u16) -> Result<FirmwareRun> {
        self.boot_with(bin, bin, port, &[])
    }

    /// [`Kit::boot`] with more `-append` arguments after `ca=PATH`; the plugin's lines go
    /// to `<run>.markers`.
    pub(crate) fn boot_with(
        &self,
        bin: &str,
        run: &str,
        port: u16,
        args: &[String],
    ) -> Result<FirmwareRun> {
        self.boot_echo(bin, run, port, args, true)
    }

    /// [`Kit::boot_with`] that prints the firmware's lines only when `echo` is set or the
    /// firmware failed (for steps that summarise their runs in a table).
    pub(crate) fn boot_echo(
        &self,
        bin: &str,
        run: &str,
        port: u16,
        args: &[String],
        echo: bool,
    ) -> Result<FirmwareRun> {
        let elf = self.elf_dir.join(bin);
        let markers = self.work.join(format!("{run}.markers"));
        let _ = std::fs::remove_file(&markers);
        let runner = root().join(FIRMWARE_DIR).join("run-qemu.sh");
        let mut ca_arg = format!("ca={}", self.pki.ca_der.display());
        for arg in args {
            ca_arg.push(' ');
            ca_arg.push_str(arg);
        }
        let mut cmd = Command::new(&runner);
        cmd.arg(&elf)
            .args(["-append", &ca_arg])
            .current_dir(&self.work)
            .env("ENCORE_SERVER_PORT", port.to_string())
            .env("ENCORE_QEMU_PLUGIN", &self.plugin)
            .env("ENCORE_PLUGIN_OUT", &markers)
            .env("ENCORE_TIMEOUT", QEMU_TIMEOUT_S.to_string())
            .env_remove("ENCORE_UART_PORT")
            .stdin(Stdio::null());
        println!(
            "$ {} {} -append '{ca_arg}'",
            runner.display(),
            elf.display()
        );
        let start = Instant::now();
        let out = cmd
            .output()
            .map_err(|e| format!("could not start {}: {e}", runner.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let status = out.status.code().unwrap_or(-1);
        if echo || status != 0 {
            for line in stdout.lines() {
                println!("  | {line}");
            }
            for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
                println!("  ! {line}");
            }
        }
        println!(
            "  (QEMU exited with {status} after {:.1} s)",
            start.elapsed().as_secs_f64()
        );
        let markers = std::fs::read_to_string(&markers).unwrap_or_default();
        Ok(FirmwareRun {
            status,
            stdout,
            total: parse_total(&markers),
            markers: parse_markers(&markers),
        })
    }
}

/// Removes `path` unless it is already gone.
pub(crate) fn remove_if_present(path: &Path) -> Result {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// One firmware run: exit status, what it printed, and the plugin's marker counts.
pub(crate) struct FirmwareRun {
    pub(crate) status: i32,
    pub(crate) stdout: String,
    /// Marker id → instruction count at that marker (the last one seen).
    pub(crate) markers: BTreeMap<u32, u64>,
    /// Instructions from reset to the end of the run (the plugin's `total` line).
    pub(crate) total: Option<u64>,
}

impl FirmwareRun {
    pub(crate) fn conn_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("conn="))
            .collect()
    }

    pub(crate) fn check(&self, what: &str) -> Result {
        if self.status == 0 {
            return Ok(());
        }
        let last = self
            .stdout
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("(no output)");
        Err(format!(
            "{what} firmware exited with status {} ({})",
            self.status,
            exit_meaning(self.status)
        ) + &format!(": {last}"))
    }
}

fn exit_meaning(status: i32) -> &'static str {
    match status {
        exit_code::SUCCESS => "success",
        exit_code::FAILURE => "check failed",
        exit_code::PANIC => "panic",
        exit_code::HARD_FAULT => "hard fault",
        exit_code::BOARD_INIT => "board bring-up failed",
        124 => "timeout",
        _ => "unexpected status",
    }
}

/// The plugin's `total <instructions>` line, written when QEMU exits.
fn parse_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("total "))
        .and_then(|n| n.trim().parse().ok())
}

fn parse_markers(text: &str) -> BTreeMap<u32, u64> {
    let mut markers = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("marker") {
            continue;
        }
        if let (Some(Ok(id)), Some(Ok(count))) = (
            words.next().map(str::parse::<u32>),
            words.next().map(str::parse::<u64>),
        ) {
            markers.insert(id, count);
        }
    }
    markers
}

/// `key=value` of a firmware line.
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// Instructions between two markers of a run.
pub(crate) fn between(run: &FirmwareRun, (a, b): (u32, u32)) -> Option<u64> {
    match (run.markers.get(&a), run.markers.get(&b)) {
        (Some(a), Some(b)) if b >= a => Some(b - a),
        _ => None,
    }
}

/// A pair of the firmware's marker ids as the plugin's output numbers them.
pub(crate) const fn pair((a, b): (u8, u8)) -> (u32, u32) {
    (a as u32, b as u32)
}
