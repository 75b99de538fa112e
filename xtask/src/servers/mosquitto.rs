//! Mosquitto (Debian 12: 2.0.11) as the broker of the `mqtt-sensor` wake-ups, and
//! `mosquitto_sub` as the subscriber whose output proves that each reading arrived.
//!
//! The broker has one listener: TLS 1.3 on 127.0.0.1 with the run's server certificate
//! and intermediate, anonymous clients allowed. It resumes TLS 1.3 tickets (two after a
//! full handshake, one after a resumption) but, like every OpenSSL server, only with
//! psk_dhe_ke unless OpenSSL's `AllowNoDHEKEX` option is set. Mosquitto has no setting
//! for it, so the broker gets an OpenSSL configuration file of its own (`OPENSSL_CONF`)
//! whose system default turns it on: the sensors then resume with psk_ke.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{program, run_as, start_listening, write_files};
use encore_testkit::{ChildProcess, Output};

use crate::pki::Pki;
use crate::util::Result;

/// OpenSSL configuration read by the broker's libssl: psk_ke allowed on every context.
const OPENSSL_CONF: &str = "\
openssl_conf = encore_init
[encore_init]
ssl_conf = encore_ssl
[encore_ssl]
system_default = encore_system_default
[encore_system_default]
Options = AllowNoDHEKEX
";

/// A running broker; stopped on drop.
pub(crate) struct Broker {
    pub(crate) port: u16,
    /// What the broker logged (`log_type all`: every connection and every packet).
    pub(crate) log: Output,
    /// Held for its `Drop`, which stops the process.
    _process: ChildProcess,
}

impl Broker {
    /// Writes the broker's configuration under `dir` and starts it at a free port.
    pub(crate) fn start(pki: &Pki, dir: &Path) -> Result<Broker> {
        let conf = dir.join("mosquitto.conf");
        let ssl_conf = dir.join("openssl.cnf");
        let (port, process, log) = start_listening("mosquitto", |port| {
            let mut text = format!(
                "listener {port} 127.0.0.1\n\
                 certfile {}\n\
                 keyfile {}\n\
                 tls_version tlsv1.3\n\
                 allow_anonymous true\n\
                 persistence false\n\
                 log_dest stderr\n\
                 log_type all\n",
                pki.path("chain.pem"),
                pki.path("leaf.key"),
            );
            if let Some(user) = run_as() {
                text.push_str(&format!("user {user}\n"));
            }
            write_files(
                dir,
                &[("mosquitto.conf", &text), ("openssl.cnf", OPENSSL_CONF)],
            )?;
            let mut cmd = Command::new(program("mosquitto"));
            cmd.arg("-c").arg(&conf).env("OPENSSL_CONF", &ssl_conf);
            super::spawn_shown(&mut cmd)
        })?;
        Ok(Broker {
            port,
            log,
            _process: process,
        })
    }
}

/// `mosquitto_sub` subscribed to a topic filter on the broker; stopped on drop.
pub(crate) struct Subscriber {
    lines: Output,
    /// Held for its `Drop`, which stops the process.
    _process: ChildProcess,
}

impl Subscriber {
    /// Subscribes to `filter` over TLS 1.3, verifying the broker's chain against the run's
    /// CA (`--insecure` only skips the host name check: the certificate names
    /// `encore.test`, the broker is reached as 127.0.0.1), and waits for the SUBACK.
    pub(crate) fn start(broker: &Broker, pki: &Pki, filter: &str) -> Result<Subscriber> {
        let port = broker.port.to_string();
        let ca = pki.path("root.pem");
        let args = [
            "-d",
            "-v",
            "-q",
            "1",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--cafile",
            &ca,
            "--insecure",
            "--tls-version",
            "tlsv1.3",
            "-i",
            "encore-subscriber",
            "-t",
            filter,
        ];
        println!("$ mosquitto_sub {}", args.join(" "));
        // Its standard output is a pipe here, which stdio buffers in blocks: line buffering
        // (stdbuf) lets each line arrive as it is printed.
        let lines = Output::default();
        let mut process = super::spawn(
            Command::new("stdbuf")
                .args(["-oL", "mosquitto_sub"])
                .args(args),
            &lines,
        )?;
        if lines.wait_count("SUBACK", 1, Duration::from_secs(10)) < 1 {
            process.stop();
            return Err(format!("mosquitto_sub did not subscribe: {}", lines.text()));
        }
        Ok(Subscriber {
            lines,
            _process: process,
        })
    }

    /// Waits at most `timeout` until the subscriber printed `payload` on `topic`.
    pub(crate) fn received(&self, topic: &str, payload: &str, timeout: Duration) -> bool {
        self.lines
            .wait_count(&format!("{topic} {payload}"), 1, timeout)
            >= 1
    }
}
