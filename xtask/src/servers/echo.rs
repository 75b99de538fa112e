//! `socat` echoing TCP connections, for the network smoke test.

use std::process::Command;

use encore_testkit::{ChildProcess, Output};

use super::spawn;
use crate::util::Result;

/// `socat` echoing every TCP connection on 127.0.0.1 at a free port. Killed on drop.
pub(crate) struct Echo {
    pub(crate) port: u16,
    /// Held for its `Drop`, which stops socat.
    _process: ChildProcess,
}

impl Echo {
    pub(crate) fn start() -> Result<Echo> {
        // A probe is harmless here: the echo server serves every connection.
        let (port, process, _) = super::start_listening("socat echo server", |port| {
            let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
            println!("$ socat {listen} PIPE");
            let output = Output::default();
            let process = spawn(
                Command::new("socat").args([listen.as_str(), "PIPE"]),
                &output,
            )?;
            Ok((process, output))
        })?;
        Ok(Echo {
            port,
            _process: process,
        })
    }
}
