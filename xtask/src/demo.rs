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
use std::time::Duration;

use encore_markers::exit_code;

use crate::elf::image_size;
use crate::qemu::{between, field, pair, remove_if_present, FirmwareRun, Kit};
use crate::servers::echo::Echo;
use crate::servers::s_server::Server;
use crate::util::{free_port, group_digits, section, Result};

/// Core clock of the emulated MPS2 AN386.
pub(crate) const CORE_CLOCK_MHZ: f64 = 25.0;
/// s_server's line for a resumed connection, and the one for every completed handshake.
const SERVER_RESUMED: &str = "Reused session-id";
const SERVER_HANDSHAKE: &str = "CIPHER is";

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
    if run.status == exit_code::FAILURE && transport {
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
    server.output.wait_count(
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
        .wait_count(SERVER_HANDSHAKE, 1, Duration::from_secs(2));
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
        .wait_count(SERVER_HANDSHAKE, 2, Duration::from_secs(2));
    Ok(RebootRun {
        resumed: server.output.count(SERVER_RESUMED),
        handshakes: server.output.count(SERVER_HANDSHAKE),
        first,
        second,
    })
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
