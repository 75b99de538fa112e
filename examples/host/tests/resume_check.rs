//! `resume-check` against real servers on 127.0.0.1: openssl s_server and the rustls server of
//! the shared harness. The servers' own evidence confirms each resumption the tool reports.

use encore_testkit as common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{LeafKind, OpenSslServer, RustlsOptions, RustlsServer, TestPki};

const NAME: &str = "server.encore.test";
const WAIT: Duration = Duration::from_secs(5);

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_resume-check"))
        .args(args)
        .output()
        .expect("run resume-check")
}

/// resume-check against 127.0.0.1:`port` for the server name `name`, trusting the roots in
/// `ca`, with `extra` options after those.
fn run_as(name: &str, port: u16, ca: &Path, extra: &[&str]) -> Output {
    let addr = format!("127.0.0.1:{port}");
    let ca = ca.to_str().unwrap();
    let mut args = vec!["--connect", &addr, "--server-name", name, "--ca", ca];
    args.extend_from_slice(extra);
    run(&args)
}

/// [`run_as`] for [`NAME`].
fn run_against(port: u16, ca: &Path, extra: &[&str]) -> Output {
    run_as(NAME, port, ca, extra)
}

/// The lines of a run that exited with success (its stderr otherwise), one per connection.
fn succeeded(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The one line on stderr of a run that exited with 1 and printed nothing on stdout.
fn failed(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = line.find(&key).expect(name) + key.len();
    let rest = &line[start..];
    let end = match rest.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map(|i| i + 2).expect("closing quote"),
        None => rest.find([',', '}']).expect("end of value"),
    };
    &rest[..end]
}

/// The field `name` of every line.
fn column<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
    lines.iter().map(|l| field(l, name)).collect()
}

/// Three connections to s_server -www: a full handshake, then two resumptions through the
/// tool's cache (C26, C36), each confirmed by the page the server serves ("Reused") and by its
/// log; the response is the page.
#[test]
fn openssl_www_full_then_two_resumptions() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-www"]);
    let l = succeeded(&run_against(
        server.port(),
        &pki.path("ca.pem"),
        &["--connections", "3", "--send", "GET / HTTP/1.0\r\n\r\n"],
    ));
    assert_eq!(l.len(), 3);
    assert_eq!(column(&l, "reused"), ["false", "true", "true"]);
    assert_eq!(
        column(&l, "kex"),
        ["\"full\"", "\"psk_dhe\"", "\"psk_dhe\""]
    );
    assert_eq!(field(&l[0], "conn"), "1");
    assert_eq!(field(&l[0], "version"), "\"TLSv1.3\"");
    assert_eq!(field(&l[0], "tickets_received"), "2");
    assert_eq!(field(&l[1], "tickets_received"), "1");
    assert!(l[0].contains("HTTP/1.0 200 ok"));
    assert!(!l[0].contains("Reused, TLSv1.3"));
    assert!(l[1].contains("Reused, TLSv1.3"));
    assert!(l[2].contains("Reused, TLSv1.3"));
}

/// --sess-out then --sess-in across two runs (s_client -sess_out/-sess_in, but TLS 1.3
/// resumes); a session for another server name is refused with one line on stderr (C35).
#[test]
fn openssl_sess_out_then_sess_in() {
    let pki = TestPki::generate(&[NAME, "other.encore.test"]);
    let server = OpenSslServer::start(&pki, &[]);
    let ca = pki.path("ca.pem");
    let sess = pki.path("session.bin");
    let sess = sess.to_str().unwrap();
    let once = |name: &str, sess_option: &str| {
        run_as(
            name,
            server.port(),
            &ca,
            &["--connections", "1", sess_option, sess],
        )
    };
    let l = succeeded(&once(NAME, "--sess-out"));
    assert_eq!(field(&l[0], "reused"), "false");

    let l = succeeded(&once(NAME, "--sess-in"));
    assert_eq!(field(&l[0], "reused"), "true");
    assert_eq!(server.wait_resumed(1, WAIT), 1);

    let err = failed(&once("other.encore.test", "--sess-in"));
    assert!(err.contains("made for another peer"), "{err}");
}

/// --kex psk against s_server -allow_no_dhe_kex: the resumption runs without (EC)DHE.
#[test]
fn openssl_psk_ke() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-allow_no_dhe_kex"]);
    let l = succeeded(&run_against(
        server.port(),
        &pki.path("ca.pem"),
        &["--kex", "psk"],
    ));
    assert_eq!(field(&l[1], "kex"), "\"psk\"");
    assert_eq!(field(&l[1], "reused"), "true");
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// Mutual TLS with --cert/--key, then a resumption that needs no certificate.
#[test]
fn openssl_mutual_tls() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start_mutual(&pki, &[]);
    let path = |f: &str| pki.path(f).to_str().unwrap().to_string();
    let l = succeeded(&run_against(
        server.port(),
        &pki.path("ca.pem"),
        &["--cert", &path("client.pem"), "--key", &path("client.key")],
    ));
    assert_eq!(column(&l, "reused"), ["false", "true"]);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// The rustls server reports the second connection as resumed, as the tool does.
#[test]
fn rustls_full_then_resumed() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let l = succeeded(&run_against(server.port(), &pki.path("ca.pem"), &[]));
    assert_eq!(column(&l, "reused"), ["false", "true"]);
    assert_eq!(field(&l[0], "tickets_received"), "2");
    let records = server.wait_connections(2, WAIT);
    assert_eq!(
        records.iter().map(|c| c.resumed).collect::<Vec<_>>(),
        [false, true]
    );
}

/// A server whose chain does not lead to the given CA: exit 1, one line naming the cause.
#[test]
fn unknown_issuer_fails_with_one_line() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let err = failed(&run_against(server.port(), &pki.path("client-ca.pem"), &[]));
    assert!(
        err.starts_with("resume-check: connection 1: certificate verification failed"),
        "{err}"
    );
}

/// Built without the `insecure-no-verify` feature, the tool refuses `--insecure-no-verify`
/// before it connects anywhere: exit 1, one line that says why, nothing on stdout.
#[cfg(not(feature = "insecure-no-verify"))]
#[test]
fn insecure_no_verify_refused_without_the_feature() {
    let out = run(&[
        "--connect",
        "127.0.0.1:9",
        "--server-name",
        NAME,
        "--insecure-no-verify",
    ]);
    assert_eq!(
        failed(&out),
        "resume-check: --insecure-no-verify: this resume-check was built without the \
         insecure-no-verify feature (cargo build -p encore-examples --features \
         insecure-no-verify)\n"
    );
}

/// With the `insecure-no-verify` feature and no trust anchor at all, `--insecure-no-verify`
/// connects to a server it cannot authenticate, and the second connection resumes a session
/// made that way (its own trust fingerprint, C33), as s_server confirms.
#[cfg(feature = "insecure-no-verify")]
#[test]
fn insecure_no_verify_full_then_resumed_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let addr = format!("127.0.0.1:{}", server.port());
    let l = succeeded(&run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--insecure-no-verify",
    ]));
    assert_eq!(column(&l, "reused"), ["false", "true"]);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// R1: servers that answer with a HelloRetryRequest. `-groups P-256` wants another key share
/// (the resumption's ClientHello2 re-offers the ticket), `-stateless` sends a cookie, and a
/// psk_ke offer to a server that requires (EC)DHE is asked for a key share and declined (C6):
/// each run completes, with the kex each connection really had, and the server's log agrees.
#[test]
fn hello_retry_request_servers_complete() {
    let pki = TestPki::generate(&[NAME]);
    for (server_args, kex_arg, expect) in [
        (
            &["-groups", "P-256"][..],
            "psk_dhe",
            ["full", "psk_dhe", "psk_dhe"],
        ),
        (
            &["-stateless"][..],
            "psk_dhe",
            ["full", "psk_dhe", "psk_dhe"],
        ),
        (&[][..], "psk", ["full", "full", "full"]),
    ] {
        let server = OpenSslServer::start(&pki, server_args);
        let l = succeeded(&run_against(
            server.port(),
            &pki.path("ca.pem"),
            &["--connections", "3", "--kex", kex_arg],
        ));
        let kex: Vec<String> = column(&l, "kex")
            .iter()
            .map(|k| k.replace('"', ""))
            .collect();
        assert_eq!(kex, expect, "{server_args:?}");
        let resumed = expect.iter().filter(|k| **k != "full").count();
        assert_eq!(server.wait_reported(3, WAIT), 3);
        assert_eq!(server.resumed_count(), resumed, "{server_args:?}");
    }
}

/// resume-check (built with encore-tls's heap-free `rsa`) against s_server presenting the leaf
/// `kind` of `TestPki::generate_with_rsa`, under its RSA-4096 root: a full handshake, then a
/// resumption that needs no RSA.
fn full_then_resumed_under_rsa_root(kind: LeafKind) {
    let pki = TestPki::generate_with_rsa(&[NAME]);
    let server = OpenSslServer::start_with_leaf(&pki, kind, &[]);
    let l = succeeded(&run_against(
        server.port(),
        &pki.path("rsa-ca.pem"),
        &["--connections", "2"],
    ));
    assert_eq!(column(&l, "reused"), ["false", "true"]);
    assert_eq!(column(&l, "kex"), ["\"full\"", "\"psk_dhe\""]);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// An RSA-2048 leaf (RSA-PSS CertificateVerify) under an RSA-2048 intermediate: full, then
/// resumed.
#[test]
fn openssl_rsa2048_full_then_resumed() {
    full_then_resumed_under_rsa_root(LeafKind::Rsa2048);
}

/// An ECDSA P-256 leaf under a P-256 intermediate that the RSA-4096 root signed: full, then
/// resumed.
#[test]
fn openssl_ecdsa_leaf_under_rsa4096_root_full_then_resumed() {
    full_then_resumed_under_rsa_root(LeafKind::P256UnderRsa4096);
}
