//! Self-tests of the interop harness (`encore-testkit`): each server really resumes sessions and
//! the harness counts the resumptions the server itself reports, using reference clients
//! (`openssl s_client`, rustls) rather than this crate's engine.

use encore_testkit as common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const WAIT: Duration = Duration::from_secs(10);

/// Run `openssl s_client` against `port`, keep it open until the session file has been
/// written (TLS 1.3 tickets arrive after the handshake) or the handshake reports reuse, then
/// quit. Returns the client's output.
fn s_client(pki: &TestPki, port: u16, sess_out: Option<&Path>, sess_in: Option<&Path>) -> String {
    let mut args: Vec<String> = vec![
        "s_client".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}"),
        "-servername".into(),
        "localhost".into(),
        "-CAfile".into(),
        pki.path("ca.pem").to_string_lossy().into_owned(),
        "-verify_return_error".into(),
        "-tls1_3".into(),
    ];
    if let Some(p) = sess_out {
        args.push("-sess_out".into());
        args.push(p.to_string_lossy().into_owned());
    }
    if let Some(p) = sess_in {
        args.push("-sess_in".into());
        args.push(p.to_string_lossy().into_owned());
    }
    let mut child: Child = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn s_client");
    let out = Output::default();
    out.capture_from(child.stdout.take().unwrap());
    out.capture_from(child.stderr.take().unwrap());
    let end = Instant::now() + WAIT;
    let mut handshake_done: Option<Instant> = None;
    loop {
        let ticket_saved =
            sess_out.is_some_and(|p| p.metadata().map(|m| m.len() > 0).unwrap_or(false));
        if handshake_done.is_none() && out.count("Verify return code") > 0 {
            handshake_done = Some(Instant::now());
        }
        // Tickets follow the handshake within milliseconds on loopback; a second is ample.
        let waited_for_tickets =
            handshake_done.is_some_and(|t| t.elapsed() > Duration::from_secs(1));
        let done = match sess_out {
            Some(_) => ticket_saved || waited_for_tickets,
            None => handshake_done.is_some(),
        };
        if done || Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Give a second ticket a moment, then quit ("Q" at the start of a line ends s_client).
    std::thread::sleep(Duration::from_millis(100));
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"Q\n");
    drop(stdin);
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(50));
    out.text()
}

/// Two `s_client` connections to `server`: a full handshake that saves its session to a file,
/// then a resumption from that file, which both s_client and the server itself report.
fn s_client_resumes(pki: &TestPki, server: &ServerProcess) {
    let sess = pki.path("s_client.sess");
    let first = s_client(pki, server.port(), Some(&sess), None);
    assert!(first.contains("New, TLSv1.3"), "first connection: {first}");
    assert!(sess.metadata().unwrap().len() > 0);
    assert_eq!(server.resumed_count(), 0);

    let second = s_client(pki, server.port(), None, Some(&sess));
    assert!(
        second.contains("Reused, TLSv1.3"),
        "second connection: {second}"
    );
    assert_eq!(
        server.wait_resumed(1, WAIT),
        1,
        "{}",
        server.output().text()
    );
}

#[test]
fn openssl_server_counts_a_resumption_by_s_client() {
    let pki = TestPki::generate(&["localhost"]);
    let server = OpenSslServer::start(&pki, &[]);
    s_client_resumes(&pki, &server);
    // s_server served both connections one after the other and reported exactly one reuse.
    assert_eq!(server.handshakes(), 2);
}

#[test]
fn openssl_server_without_tickets_does_not_resume() {
    let pki = TestPki::generate(&["localhost"]);
    let server = OpenSslServer::start(&pki, &["-num_tickets", "0"]);
    let sess = pki.path("none.sess");
    let first = s_client(&pki, server.port(), None, None);
    assert!(first.contains("New, TLSv1.3"), "{first}");
    // No ticket was issued, so a -sess_out file never appears.
    let _ = s_client(&pki, server.port(), Some(&sess), None);
    assert!(!sess.exists() || sess.metadata().unwrap().len() == 0);
    assert_eq!(server.resumed_count(), 0);
}

#[test]
fn gnutls_server_counts_a_resumption_by_s_client() {
    let pki = TestPki::generate(&["localhost"]);
    let server = GnutlsServer::start(&pki, &[]);
    s_client_resumes(&pki, &server);
}

/// A rustls client with its own in-memory session store, trusting the test root.
fn rustls_client(pki: &TestPki, with_client_cert: bool) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots);
    let cfg = if with_client_cert {
        builder
            .with_client_auth_cert(
                vec![CertificateDer::from(pki.client.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.client.key_der.clone())),
            )
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(cfg)
}

/// One connection: handshake, send `msg`, read the echo (which also brings the tickets).
fn rustls_exchange(cfg: &Arc<rustls::ClientConfig>, port: u16, msg: &[u8]) -> Vec<u8> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::clone(cfg), name).unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    tls.read_exact(&mut got).unwrap();
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    got
}

#[test]
fn rustls_server_records_resumption_and_rotation() {
    let pki = TestPki::generate(&["localhost"]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let client = rustls_client(&pki, false);

    assert_eq!(
        rustls_exchange(&client, server.port(), b"ping-1"),
        b"ping-1"
    );
    assert_eq!(
        rustls_exchange(&client, server.port(), b"ping-2"),
        b"ping-2"
    );
    let conns = server.wait_connections(2, WAIT);
    assert_eq!(conns.len(), 2);
    assert!(!conns[0].resumed);
    assert!(conns[1].resumed);
    assert_eq!(conns[1].sni.as_deref(), Some("localhost"));
    assert_eq!(conns[1].received, b"ping-2");
    assert!(conns.iter().all(|c| c.error.is_none()), "{conns:?}");

    // "Restarted with new ticket keys": the client's remaining ticket no longer resumes.
    server.rotate_ticket_keys();
    assert_eq!(
        rustls_exchange(&client, server.port(), b"ping-3"),
        b"ping-3"
    );
    let conns = server.wait_connections(3, WAIT);
    assert!(!conns[2].resumed);
    assert_eq!(server.resumed_count(), 1);
}

#[test]
fn rustls_server_stateful_cache_and_client_auth() {
    let pki = TestPki::generate(&["localhost"]);
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            tickets: TicketMode::Stateful,
            client_auth: true,
            send_tls13_tickets: 1,
            ..RustlsOptions::default()
        },
    );
    let client = rustls_client(&pki, true);
    rustls_exchange(&client, server.port(), b"a");
    rustls_exchange(&client, server.port(), b"b");
    let conns = server.wait_connections(2, WAIT);
    assert_eq!(conns.len(), 2);
    assert!(conns.iter().all(|c| c.client_cert), "{conns:?}");
    assert!(!conns[0].resumed);
    assert!(conns[1].resumed);
}

#[test]
fn ensure_tool_finds_installed_binaries() {
    // Both are present on this machine (installed by ensure_tool itself if they were not).
    ensure_tool("openssl", "openssl");
    ensure_tool("gnutls-serv", "gnutls-bin");
    assert!(Command::new("openssl")
        .arg("version")
        .status()
        .unwrap()
        .success());
}
