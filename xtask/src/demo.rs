//! `cargo xtask demo`: the resumption firmware on the emulated Cortex-M4 against a real
//! TLS server on host loopback, with the cost of every handshake; and the QEMU runs that
//! `cargo xtask test` makes ([`firmware_runs`]).
//!
//! Every run makes a throwaway PKI with the `openssl` CLI (a P-256 root CA, an intermediate
//! and a server certificate for `encore.test`, in `target/demo/pki`; nothing is committed),
//! starts `openssl s_server` on `127.0.0.1` at a free port and boots the firmware under
//! QEMU (`examples/mps2-an386/run-qemu.sh`: user networking restricted to one forward to
//! that port) with the project's instruction-count plugin. The firmware reads the CA
//! certificate through semihosting (`-append ca=PATH`). Servers are killed when their guard
//! is dropped, on every path.
//!
//! The `reboot` step boots the `reboot` firmware twice against one server process, on one
//! flash file (`target/demo/sessions.flash`, the emulator's host-file NOR flash) and one
//! device key (`target/demo/device.key`, 32 random bytes made per run): the first boot stores
//! its tickets and exits, the second resumes with psk_ke right after boot.
//!
//! Last, `mqtt-sensor` wakes three times against Mosquitto and `https-get` fetches a
//! document from nginx ([`crate::apps`], servers in [`crate::servers`]).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::elf::image_size;
use crate::pki::{make_chain, ChainSpec, KeyKind};
use crate::util::{self, cargo, free_port, root, run, section, target_dir, Result};

/// The firmware workspace.
const FIRMWARE_DIR: &str = "examples/mps2-an386";
/// The firmware's target.
const FIRMWARE_TARGET: &str = "thumbv7em-none-eabihf";
/// The name the server certificate is issued for (the firmware's `SERVER_NAME`).
pub(crate) const SERVER_NAME: &str = "encore.test";
/// Core clock of the emulated MPS2 AN386.
pub(crate) const CORE_CLOCK_MHZ: f64 = 25.0;
/// Seconds before QEMU is stopped.
const QEMU_TIMEOUT_S: u32 = 180;
/// s_server's line for a resumed connection, and the one for every completed handshake.
const SERVER_RESUMED: &str = "Reused session-id";
const SERVER_HANDSHAKE: &str = "CIPHER is";
/// How long a server may take to start listening.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The main job: build, make the PKI, run `resume` and print its table, then `decline`, then
/// the two boots of `reboot` (a session stored on the emulator's flash file, resumed with
/// psk_ke right after QEMU starts again), then the MQTT and HTTPS firmware against Mosquitto
/// and nginx ([`crate::apps::demo`]).
/// Exits the process with the firmware's status when a firmware run fails.
pub fn run_demo() -> Result {
    let kit = Kit::prepare()?;

    section("demo: resume (full handshake, then psk_dhe_ke and psk_ke resumptions)");
    let resume = run_resume(&kit)?;
    print_table(&resume.run);
    println!(
        "server evidence: {} \"{SERVER_RESUMED}\" lines from openssl s_server (expected 2), {} handshakes",
        resume.resumed, resume.handshakes
    );
    match image_size(&kit.elf_dir.join("resume")) {
        Ok(size) => println!(
            "resume image: flash {} B (.text {} + .rodata {}, plus {} B of vector table and .data), \
             static RAM {} B (.data {} + .bss {})",
            size.text + size.rodata,
            size.text,
            size.rodata,
            size.vectors + size.data,
            size.data + size.bss,
            size.data,
            size.bss
        ),
        Err(e) => println!("resume image: size unknown ({e})"),
    }
    if resume.run.status != 0 {
        return exit_with(resume.run.status, "resume");
    }

    section("demo: decline (the server restarts with new ticket keys between connections)");
    let decline = run_decline(&kit)?;
    print_table(&decline.run);
    println!(
        "server evidence: {} \"{SERVER_RESUMED}\" lines (expected 0), {} handshakes over {} server processes",
        decline.resumed, decline.handshakes, decline.processes
    );
    if decline.run.status != 0 {
        return exit_with(decline.run.status, "decline");
    }

    section("demo: reboot (tickets stored on flash, QEMU restarted, psk_ke resumption right after boot)");
    let reboot = run_reboot(&kit)?;
    print_reboot_table(&reboot);
    println!(
        "server evidence: {} \"{SERVER_RESUMED}\" lines from openssl s_server (expected 1), {} handshakes",
        reboot.resumed, reboot.handshakes
    );
    match image_size(&kit.elf_dir.join("reboot")) {
        Ok(size) => println!(
            "reboot image: flash {} B (.text {} + .rodata {}), static RAM {} B (.data {} + .bss {})",
            size.text + size.rodata,
            size.text,
            size.rodata,
            size.data + size.bss,
            size.data,
            size.bss
        ),
        Err(e) => println!("reboot image: size unknown ({e})"),
    }
    for (boot, run) in [
        ("reboot boot 1", &reboot.first),
        ("reboot boot 2", &reboot.second),
    ] {
        if run.status != 0 {
            return exit_with(run.status, boot);
        }
    }
    if reboot.resumed != 1 {
        return Err(format!(
            "reboot: openssl s_server reported {} resumed connections, expected 1",
            reboot.resumed
        ));
    }
    crate::apps::demo(&kit)
}

/// The QEMU runs of `cargo xtask test`: `net-smoke` against a socat echo server, the two boots
/// of `host-flash-check` (NOR rules of the emulator's flash, contents across a restart), `resume`,
/// `decline` and the two boots of `reboot` against `openssl s_server`; each must exit 0, and
/// the server must confirm the resumptions (two `Reused session-id` lines for `resume`, none
/// for `decline`, one for the second boot of `reboot`, which must also report a psk_ke
/// resumption); `mqtt-sensor` and `https-get` against Mosquitto and nginx
/// ([`crate::apps::test`]). Then `resume` with no server, which must fail with a transport
/// error.
pub fn firmware_runs() -> Result {
    let kit = Kit::prepare()?;

    section("QEMU: net-smoke (TCP echo through user networking)");
    let echo = Echo::start()?;
    let smoke = kit.boot("net-smoke", echo.port)?;
    drop(echo);
    smoke.check("net-smoke")?;

    section("QEMU: resume");
    let resume = run_resume(&kit)?;
    print_table(&resume.run);
    resume.run.check("resume")?;
    if resume.resumed != 2 {
        return Err(format!(
            "resume: openssl s_server reported {} resumed connections, expected 2",
            resume.resumed
        ));
    }

    section("QEMU: decline");
    let decline = run_decline(&kit)?;
    decline.run.check("decline")?;
    if decline.resumed != 0 || decline.handshakes < 2 {
        return Err(format!(
            "decline: openssl s_server reported {} resumptions and {} handshakes, expected 0 and 2",
            decline.resumed, decline.handshakes
        ));
    }

    section("QEMU: host-flash-check (the emulator's flash keeps NOR rules and outlives a restart)");
    let flash = kit.work.join("check.flash");
    remove_if_present(&flash)?;
    for phase in [1, 2] {
        let args = [
            format!("flash={}", flash.display()),
            format!("phase={phase}"),
        ];
        let run = format!("host-flash-check-{phase}");
        kit.boot_with("host-flash-check", &run, free_port()?, &args)?
            .check(&run)?;
    }

    section("QEMU: reboot (store tickets, restart QEMU, resume with psk_ke after boot)");
    let reboot = run_reboot(&kit)?;
    print_reboot_table(&reboot);
    reboot.first.check("reboot (boot 1)")?;
    reboot.second.check("reboot (boot 2)")?;
    let second = reboot.second.conn_lines();
    let resumed_psk = second
        .first()
        .is_some_and(|l| field(l, "reused") == Some("true") && field(l, "kex") == Some("psk"));
    if !resumed_psk || reboot.resumed != 1 {
        return Err(format!(
            "reboot: boot 2 resumed with psk_ke: {resumed_psk}; openssl s_server reported {} \
             resumed connections, expected 1",
            reboot.resumed
        ));
    }

    crate::apps::test(&kit)?;

    section("QEMU: resume with no server (the forwarded connection closes at once)");
    let none = kit.boot("resume", free_port()?)?;
    check_no_server(&none)?;
    println!(
        "firmware runs: net-smoke, host-flash-check, resume, decline, reboot, mqtt-sensor, https-get \
         and resume without a server passed"
    );
    Ok(())
}

/// With nothing listening, the guestfwd's socat exits and the connection ends: the firmware
/// must fail with the transport's own error (end of stream or reset), never with a TLS error
/// made from text that was not the server's (socat's log goes to /dev/null, run-qemu.sh).
fn check_no_server(run: &FirmwareRun) -> Result {
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("resume: FAILED: conn=1"))
        .unwrap_or("(no failure line)");
    let transport = ["Client(TransportClosed)", "Client(Io(ConnectionReset))"]
        .iter()
        .any(|e| line.ends_with(e));
    if run.status == 1 && transport {
        Ok(())
    } else {
        Err(format!(
            "resume without a server: expected exit status 1 and a transport error, got status {} and {line:?}",
            run.status
        ))
    }
}

pub(crate) fn exit_with(status: i32, what: &str) -> Result {
    eprintln!("xtask: {what} firmware exited with status {status}");
    // Every server guard has been dropped by now.
    std::process::exit(if status == 0 { 1 } else { status })
}

struct ServerRun {
    run: FirmwareRun,
    resumed: usize,
    handshakes: usize,
    processes: usize,
}

fn run_resume(kit: &Kit) -> Result<ServerRun> {
    run_against_s_server(kit, "resume", false)
}

fn run_decline(kit: &Kit) -> Result<ServerRun> {
    run_against_s_server(kit, "decline", true)
}

/// Boots `bin` against a fresh `openssl s_server` (restarted after each connection when
/// `restart`, so that it cannot resume) and collects the server's own account.
fn run_against_s_server(kit: &Kit, bin: &str, restart: bool) -> Result<ServerRun> {
    let server = Server::start(&kit.pki, restart)?;
    let run = kit.boot(bin, server.port)?;
    // s_server prints its last lines as the connection ends; give it a moment.
    server.output.wait_for(
        SERVER_HANDSHAKE,
        run.conn_lines().len(),
        Duration::from_secs(2),
    );
    Ok(ServerRun {
        resumed: server.output.count(SERVER_RESUMED),
        handshakes: server.output.count(SERVER_HANDSHAKE),
        processes: server.processes(),
        run,
    })
}

/// The two boots of the `reboot` firmware against one server process (its ticket keys live
/// in memory), on one flash file, with one device key.
struct RebootRun {
    first: FirmwareRun,
    second: FirmwareRun,
    resumed: usize,
    handshakes: usize,
}

/// Marker ids of the `reboot` firmware (`encore-markers`).
const MARK_LOAD: (u32, u32) = pair(encore_markers::LOAD);
const MARK_CONSUME: (u32, u32) = pair(encore_markers::CONSUME);
const MARK_STORE: (u32, u32) = pair(encore_markers::STORE);
const MARK_HANDSHAKE: (u32, u32) = pair(encore_markers::handshake(1));

/// A pair of the firmware's marker ids as the plugin's output numbers them.
pub(crate) const fn pair((a, b): (u8, u8)) -> (u32, u32) {
    (a as u32, b as u32)
}

/// Boots `reboot` twice: on a blank flash file (phase 1: full handshake, tickets stored), then
/// again on the same file (phase 2: the first connection after boot resumes with psk_ke).
/// The device key is 32 fresh random bytes per run, in a file only this run uses: the
/// firmware has no key of its own.
fn run_reboot(kit: &Kit) -> Result<RebootRun> {
    let device = kit.new_device("")?;
    let args = |phase: u32| {
        let mut args = device.clone();
        args.push(format!("phase={phase}"));
        args
    };
    let server = Server::start(&kit.pki, false)?;
    let first = kit.boot_with("reboot", "reboot-1", server.port, &args(1))?;
    server
        .output
        .wait_for(SERVER_HANDSHAKE, 1, Duration::from_secs(2));
    let second = if first.status == 0 {
        println!("  (QEMU starts again on the same flash file)");
        kit.boot_with("reboot", "reboot-2", server.port, &args(2))?
    } else {
        FirmwareRun {
            status: -1,
            stdout: "(not run: boot 1 failed)".to_string(),
            markers: BTreeMap::new(),
            total: None,
        }
    };
    server
        .output
        .wait_for(SERVER_HANDSHAKE, 2, Duration::from_secs(2));
    Ok(RebootRun {
        resumed: server.output.count(SERVER_RESUMED),
        handshakes: server.output.count(SERVER_HANDSHAKE),
        first,
        second,
    })
}

/// Instructions between two markers of a run.
pub(crate) fn between(run: &FirmwareRun, (a, b): (u32, u32)) -> Option<u64> {
    match (run.markers.get(&a), run.markers.get(&b)) {
        (Some(a), Some(b)) if b >= a => Some(b - a),
        _ => None,
    }
}

/// `wear step=NAME` line of a run: (writes, bytes, erases).
fn wear(run: &FirmwareRun, step: &str) -> Option<(String, String, String)> {
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("wear ") && field(l, "step") == Some(step))?;
    Some((
        field(line, "writes")?.to_string(),
        field(line, "bytes")?.to_string(),
        field(line, "erases")?.to_string(),
    ))
}

fn print_reboot_table(reboot: &RebootRun) {
    let count = |i: Option<u64>| i.map(group_digits).unwrap_or_else(|| "-".to_string());
    let ms = |i: Option<u64>| {
        i.map(|i| format!("{:.1}", i as f64 / (CORE_CLOCK_MHZ * 1000.0)))
            .unwrap_or_else(|| "-".to_string())
    };
    println!();
    println!(
        "  {:<22} {:<7} {:<8} {:>10} {:>14} {:>12} {:>13}",
        "handshake", "reused", "kex", "wire bytes", "instructions", "ms @ 25 MHz", "handshake ms"
    );
    let boots = [
        ("boot 1 (blank flash)", &reboot.first),
        ("boot 2 (after reboot)", &reboot.second),
    ];
    for (name, run) in boots {
        let line = run.conn_lines().first().copied().unwrap_or("");
        let i = between(run, MARK_HANDSHAKE);
        println!(
            "  {:<22} {:<7} {:<8} {:>10} {:>14} {:>12} {:>13}",
            name,
            field(line, "reused").unwrap_or("?"),
            field(line, "kex").unwrap_or("?"),
            field(line, "wire_bytes").unwrap_or("?"),
            count(i),
            ms(i),
            field(line, "handshake_ms").unwrap_or("-")
        );
    }
    if let (Some(full), Some(psk)) = (
        between(&reboot.first, MARK_HANDSHAKE),
        between(&reboot.second, MARK_HANDSHAKE),
    ) {
        if psk > 0 {
            println!(
                "  the psk_ke resumption right after boot costs {:.1} % of the full handshake's instructions ({:.0}x fewer)",
                psk as f64 * 100.0 / full as f64,
                full as f64 / psk as f64
            );
        }
    }
    println!();
    println!(
        "  {:<7} {:<26} {:>12} {:>12} {:>7} {:>14}",
        "boot", "session store step", "flash writes", "bytes", "erases", "instructions"
    );
    let steps = [
        ("load", "load_all (at boot)", Some(MARK_LOAD)),
        ("prune", "prune (at boot)", None),
        ("consume", "consume (before the hello)", Some(MARK_CONSUME)),
        ("store", "store new tickets", Some(MARK_STORE)),
    ];
    for (boot, run) in [("1", &reboot.first), ("2", &reboot.second)] {
        for (step, name, marks) in steps {
            let Some((writes, bytes, erases)) = wear(run, step) else {
                continue;
            };
            println!(
                "  {:<7} {:<26} {:>12} {:>12} {:>7} {:>14}",
                boot,
                name,
                writes,
                bytes,
                erases,
                count(marks.and_then(|m| between(run, m)))
            );
        }
    }
    println!(
        "  (flash: the emulator's host-file NOR flash, 4 x 4 KiB sectors, 4-byte words; writes are\n   NorFlash::write calls. Instructions as above, the emulated flash's semihosting calls included)"
    );
    for (boot, run) in [("1", &reboot.first), ("2", &reboot.second)] {
        for line in run.stdout.lines().filter(|l| l.starts_with("load:")) {
            println!("  boot {boot} {line}");
        }
    }
    println!();
}

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
        0 => "success",
        1 => "check failed",
        2 => "panic",
        3 => "hard fault",
        4 => "board bring-up failed",
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

fn print_table(run: &FirmwareRun) {
    println!();
    println!(
        "  {:<10} {:<7} {:<8} {:>10} {:>14} {:>12} {:>13} {:>9}",
        "connection",
        "reused",
        "kex",
        "wire bytes",
        "instructions",
        "ms @ 25 MHz",
        "handshake ms",
        "total ms"
    );
    for line in run.conn_lines() {
        let n: u8 = field(line, "conn")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (begin, end) = pair(encore_markers::handshake(n));
        let instructions = match (run.markers.get(&begin), run.markers.get(&end)) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        };
        let (count, ms) = match instructions {
            Some(i) => (
                group_digits(i),
                format!("{:.1}", i as f64 / (CORE_CLOCK_MHZ * 1000.0)),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "  {:<10} {:<7} {:<8} {:>10} {:>14} {:>12} {:>13} {:>9}",
            n,
            field(line, "reused").unwrap_or("?"),
            field(line, "kex").unwrap_or("?"),
            field(line, "wire_bytes").unwrap_or("?"),
            count,
            ms,
            field(line, "handshake_ms").unwrap_or("-"),
            field(line, "total_ms").unwrap_or("-")
        );
    }
    println!(
        "  (instructions between the handshake's markers, counted by the QEMU plugin, interrupts and the\n   network stack included; ms assume one instruction per cycle at 25 MHz: a lower bound;\n   handshake ms and total ms are emulated wall time, from the firmware's clock: connect() alone,\n   and TCP connect to TCP close)"
    );
    for line in run.stdout.lines().filter(|l| l.starts_with("stack peak")) {
        println!("  {line}");
    }
    println!();
}

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

/// The throwaway PKI of one run: root CA → intermediate → server certificate, all P-256;
/// `chain.pem` is the server certificate followed by the intermediate (the one file the
/// servers that take a chain file want).
pub(crate) struct Pki {
    dir: PathBuf,
    ca_der: PathBuf,
}

impl Pki {
    fn make(dir: &Path) -> Result<Pki> {
        section("PKI: throwaway P-256 root, intermediate and server certificate");
        // A fresh chain for every run: nothing of an earlier one is reused.
        let _ = std::fs::remove_dir_all(dir);
        let chain = ChainSpec {
            dir: "",
            name: "Encore demo",
            keys: [KeyKind::P256, KeyKind::P256, KeyKind::P256],
            days: 2,
        };
        make_chain(dir, &chain, SERVER_NAME)?;
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"))
        };
        // Leaf and intermediate, for the servers that take the chain in one file.
        std::fs::write(dir.join("chain.pem"), read("leaf.pem")? + &read("int.pem")?)
            .map_err(|e| format!("chain.pem: {e}"))?;
        run(Command::new("openssl").current_dir(dir).args([
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "int.pem",
            "leaf.pem",
        ]))?;
        println!(
            "made {} (root, intermediate, server certificate for {SERVER_NAME})",
            dir.display()
        );
        Ok(Pki {
            dir: dir.to_path_buf(),
            ca_der: dir.join("root.der"),
        })
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
/// Lines a child process printed (stdout and stderr), collected by reader threads.
#[derive(Clone, Default)]
pub(crate) struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect<R: Read + Send + 'static>(&self, from: R) {
        let lines = Arc::clone(&self.0);
        std::thread::spawn(move || {
            for line in BufReader::new(from)
                .lines()
                .map_while(std::result::Result::ok)
            {
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
    }

    pub(crate) fn count(&self, needle: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    pub(crate) fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// Waits until `n` lines contain `needle`, at most `timeout`.
    pub(crate) fn wait_for(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while self.count(needle) < n {
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// A running server process and the pipe that keeps its stdin open (`s_server` treats
/// end-of-file on stdin as "quit").
pub(crate) struct Process {
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl Process {
    pub(crate) fn spawn(cmd: &mut Command, output: &Lines) -> Result<Process> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
        if let Some(out) = child.stdout.take() {
            output.collect(out);
        }
        if let Some(err) = child.stderr.take() {
            output.collect(err);
        }
        let stdin = child.stdin.take();
        Ok(Process {
            child,
            _stdin: stdin,
        })
    }

    /// The process has ended.
    pub(crate) fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server` on 127.0.0.1 at a free port, TLS 1.3 only, psk_ke allowed. With
/// `restart`, each process serves one connection (`-naccept 1`) and a new one, with new
/// ticket keys, takes its place. Killed on drop.
struct Server {
    port: u16,
    output: Lines,
    current: Arc<Mutex<Option<Process>>>,
    stop: Arc<AtomicBool>,
    started: Arc<Mutex<usize>>,
    restarter: Option<JoinHandle<()>>,
}

impl Server {
    fn start(pki: &Pki, restart: bool) -> Result<Server> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let mut args: Vec<String> = [
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &pki.path("leaf.pem"),
                "-key",
                &pki.path("leaf.key"),
                "-cert_chain",
                &pki.path("int.pem"),
                "-tls1_3",
                "-allow_no_dhe_kex",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if restart {
                args.extend(["-naccept".to_string(), "1".to_string()]);
            }
            println!("$ openssl {}", args.join(" "));
            let output = Lines::default();
            let first = Process::spawn(Command::new("openssl").args(&args), &output)?;
            let mut server = Server {
                port,
                output: output.clone(),
                current: Arc::new(Mutex::new(Some(first))),
                stop: Arc::new(AtomicBool::new(false)),
                started: Arc::new(Mutex::new(1)),
                restarter: None,
            };
            // No TCP probe: s_server would count it as a connection (and with -naccept 1, exit).
            if !output.wait_for("ACCEPT", 1, START_TIMEOUT) {
                last = output.text();
                continue;
            }
            if restart {
                let (current, stop, started) = (
                    Arc::clone(&server.current),
                    Arc::clone(&server.stop),
                    Arc::clone(&server.started),
                );
                server.restarter = Some(std::thread::spawn(move || {
                    restart_loop(&args, &output, &current, &stop, &started)
                }));
            }
            return Ok(server);
        }
        Err(format!("openssl s_server did not start: {last}"))
    }

    fn processes(&self) -> usize {
        *self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts a new server process whenever the current one has exited, until `stop`.
fn restart_loop(
    args: &[String],
    output: &Lines,
    current: &Mutex<Option<Process>>,
    stop: &AtomicBool,
    started: &Mutex<usize>,
) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
        let mut slot = current.lock().unwrap_or_else(|e| e.into_inner());
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let exited = match slot.as_mut() {
            Some(p) => !matches!(p.child.try_wait(), Ok(None)),
            None => true,
        };
        if exited {
            *slot = None;
            if let Ok(p) = Process::spawn(Command::new("openssl").args(args), output) {
                *slot = Some(p);
                *started.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(p) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            p.stop();
        }
        if let Some(t) = self.restarter.take() {
            let _ = t.join();
        }
        if let Some(p) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            p.stop();
        }
    }
}

/// `socat` echoing every TCP connection on 127.0.0.1 at a free port. Killed on drop.
struct Echo {
    port: u16,
    process: Process,
}

impl Echo {
    fn start() -> Result<Echo> {
        // A probe is harmless here: the echo server serves every connection.
        let (port, process, _) = crate::servers::start_listening("socat echo server", |port| {
            let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
            println!("$ socat {listen} PIPE");
            let output = Lines::default();
            let process = Process::spawn(
                Command::new("socat").args([listen.as_str(), "PIPE"]),
                &output,
            )?;
            Ok((process, output))
        })?;
        Ok(Echo { port, process })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.process.stop();
    }
}
