//! nginx (Debian 12: 1.22.1) as the web server of the `https-get` firmware, run unprivileged
//! from a configuration of its own under a temporary prefix.
//!
//! TLS 1.3 only, with the run's server certificate and intermediate; session tickets on
//! (nginx's default, stated), and `ssl_session_timeout` raised from nginx's 5 minutes,
//! which becomes the tickets' lifetime: a device that sleeps longer than that would never
//! resume. `ssl_conf_command Options AllowNoDHEKEX` lets OpenSSL accept psk_ke. The access
//! log has one line per request with `$ssl_session_reused` (`r` when the connection
//! resumed a session, `.` otherwise): the server's own evidence.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{program, run_as, start_listening, write_files};
use encore_testkit::ChildProcess;

use crate::pki::Pki;
use crate::util::Result;

/// The document the firmware fetches, and its path.
pub(crate) const DOCUMENT_PATH: &str = "/config.json";
pub(crate) const DOCUMENT: &str = "{\"device\":\"encore-sensor-1\",\"interval_s\":300}";

/// A running nginx; stopped on drop.
pub(crate) struct WebServer {
    pub(crate) port: u16,
    access_log: PathBuf,
    /// Held for its `Drop`, which stops the process.
    _process: ChildProcess,
}

impl WebServer {
    /// Writes the prefix (configuration, document, log and temporary directories) under
    /// `prefix` and starts nginx in the foreground, as one process.
    pub(crate) fn start(pki: &Pki, prefix: &Path) -> Result<WebServer> {
        let access_log = prefix.join("logs/access.log");
        let (port, process, _) = start_listening("nginx", |port| {
            let p = prefix.display();
            let user = run_as().map(|u| format!("user {u};\n")).unwrap_or_default();
            let conf = format!(
                "daemon off;\n\
                 master_process off;\n\
                 {user}\
                 pid {p}/nginx.pid;\n\
                 error_log {p}/logs/error.log notice;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n\
                 \x20 client_body_temp_path {p}/tmp/body;\n\
                 \x20 proxy_temp_path {p}/tmp/proxy;\n\
                 \x20 fastcgi_temp_path {p}/tmp/fastcgi;\n\
                 \x20 uwsgi_temp_path {p}/tmp/uwsgi;\n\
                 \x20 scgi_temp_path {p}/tmp/scgi;\n\
                 \x20 log_format encore 'method=$request_method uri=$request_uri status=$status \
                 bytes=$body_bytes_sent protocol=$ssl_protocol cipher=$ssl_cipher \
                 reused=$ssl_session_reused';\n\
                 \x20 server {{\n\
                 \x20   listen 127.0.0.1:{port} ssl;\n\
                 \x20   server_name {name};\n\
                 \x20   ssl_certificate {chain};\n\
                 \x20   ssl_certificate_key {key};\n\
                 \x20   ssl_protocols TLSv1.3;\n\
                 \x20   ssl_session_tickets on;\n\
                 \x20   ssl_session_timeout 1d;\n\
                 \x20   ssl_conf_command Options AllowNoDHEKEX;\n\
                 \x20   access_log {p}/logs/access.log encore;\n\
                 \x20   root {p}/html;\n\
                 \x20   default_type application/json;\n\
                 \x20 }}\n\
                 }}\n",
                name = crate::pki::SERVER_NAME,
                chain = pki.path("chain.pem"),
                key = pki.path("leaf.key"),
            );
            write_files(prefix, &[("nginx.conf", &conf)])?;
            write_files(&prefix.join("html"), &[(&DOCUMENT_PATH[1..], DOCUMENT)])?;
            write_files(&prefix.join("logs"), &[("access.log", "")])?;
            write_files(&prefix.join("tmp"), &[])?;
            let conf = prefix.join("nginx.conf");
            let error_log = prefix.join("logs/error.log");
            let mut cmd = Command::new(program("nginx"));
            cmd.arg("-p")
                .arg(prefix)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(&error_log);
            super::spawn_shown(&mut cmd)
        })?;
        Ok(WebServer {
            port,
            access_log,
            _process: process,
        })
    }

    /// The access log's lines (`method=.. uri=.. status=.. reused=..`), one per request.
    pub(crate) fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}
