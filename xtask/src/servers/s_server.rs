//! `openssl s_server` for the resumption firmware, optionally restarted (with new ticket keys)
//! after every connection.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use encore_testkit::{ChildProcess, Output};

use super::{spawn, START_TIMEOUT};
use crate::pki::Pki;
use crate::util::{free_port, Result};

/// `openssl s_server` on 127.0.0.1 at a free port, TLS 1.3 only, psk_ke allowed. With
/// `restart`, each process serves one connection (`-naccept 1`) and a new one, with new
/// ticket keys, takes its place. Killed on drop.
pub(crate) struct Server {
    pub(crate) port: u16,
    pub(crate) output: Output,
    current: Arc<Mutex<Option<ChildProcess>>>,
    stop: Arc<AtomicBool>,
    started: Arc<Mutex<usize>>,
    restarter: Option<JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start(pki: &Pki, restart: bool) -> Result<Server> {
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
            let output = Output::default();
            let first = spawn(Command::new("openssl").args(&args), &output)?;
            let mut server = Server {
                port,
                output: output.clone(),
                current: Arc::new(Mutex::new(Some(first))),
                stop: Arc::new(AtomicBool::new(false)),
                started: Arc::new(Mutex::new(1)),
                restarter: None,
            };
            // No TCP probe: s_server would count it as a connection (and with -naccept 1, exit).
            if output.wait_count("ACCEPT", 1, START_TIMEOUT) < 1 {
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

    pub(crate) fn processes(&self) -> usize {
        *self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts a new server process whenever the current one has exited, until `stop`.
fn restart_loop(
    args: &[String],
    output: &Output,
    current: &Mutex<Option<ChildProcess>>,
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
            Some(p) => p.exited(),
            None => true,
        };
        if exited {
            *slot = None;
            if let Ok(p) = spawn(Command::new("openssl").args(args), output) {
                *slot = Some(p);
                *started.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            }
        }
    }
}

impl Server {
    /// Stops the server process running now, if any.
    fn stop_current(&self) {
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

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop_current();
        if let Some(t) = self.restarter.take() {
            let _ = t.join();
        }
        // The restarter may have started one more before it saw `stop`.
        self.stop_current();
    }
}
