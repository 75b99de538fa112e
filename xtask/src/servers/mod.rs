//! The servers devices talk to, started on 127.0.0.1 for the MQTT and HTTPS firmware runs:
//! Mosquitto with a subscriber ([`mosquitto`]) and nginx ([`nginx`]). Each runs from a
//! configuration this module writes under the run's work directory, with the run's
//! throwaway PKI, and is stopped when its guard is dropped.

pub(crate) mod echo;
pub(crate) mod mosquitto;
pub(crate) mod nginx;
pub(crate) mod s_server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use encore_testkit::{ChildProcess, Output};

use crate::util::{free_port, is_root, output, Result};

/// How long a server may take to start listening.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `cmd` with its stdout and stderr captured into `output` and its stdin held open.
pub(crate) fn spawn(cmd: &mut Command, output: &Output) -> Result<ChildProcess> {
    ChildProcess::spawn(cmd, output)
        .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))
}

/// Prints `cmd` as a shell line (`$ VAR=value program args..`, the program by its file name)
/// and starts it with its stdout and stderr captured into a new [`Output`], its stdin held
/// open.
pub(crate) fn spawn_shown(cmd: &mut Command) -> Result<(ChildProcess, Output)> {
    let mut line = String::from("$");
    for (name, value) in cmd.get_envs() {
        if let Some(value) = value {
            line += &format!(" {}={}", name.to_string_lossy(), value.to_string_lossy());
        }
    }
    let program = Path::new(cmd.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    line += &format!(" {}", name.to_string_lossy());
    for arg in cmd.get_args() {
        line += &format!(" {}", arg.to_string_lossy());
    }
    println!("{line}");
    let output = Output::default();
    Ok((spawn(cmd, &output)?, output))
}

/// A server program from Debian, which installs daemons in /usr/sbin: outside a non-root
/// user's `PATH`.
fn program(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from(name)
    }
}

/// The user a server started as root should stay (servers drop root for an unprivileged
/// account of their own, which cannot read this run's files); `None` when not root.
fn run_as() -> Option<String> {
    if !is_root() {
        return None;
    }
    output(Command::new("id").arg("-un"))
        .ok()
        .map(|u| u.trim().to_string())
}

/// Starts a server with `spawn(port)` at a free port on 127.0.0.1 and waits until it
/// accepts TCP connections; another port is tried when it does not (the port was taken
/// in between). A connection that sends nothing is harmless to the servers here.
pub(crate) fn start_listening(
    what: &str,
    mut spawn: impl FnMut(u16) -> Result<(ChildProcess, Output)>,
) -> Result<(u16, ChildProcess, Output)> {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        let (mut process, output) = spawn(port)?;
        let end = Instant::now() + START_TIMEOUT;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok((port, process, output));
            }
            if Instant::now() >= end || process.exited() {
                process.stop();
                last = output.text();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Err(format!("{what} did not start: {last}"))
}

/// Creates `dir` and writes `files` (name, contents) into it.
fn write_files(dir: &Path, files: &[(&str, &str)]) -> Result {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
