//! `resume-check` against real servers on 127.0.0.1: openssl s_server and the rustls server of
//! the shared harness. The servers' own evidence confirms each resumption the tool reports.

use encore_testkit as common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{OpenSslServer, RustlsOptions, RustlsServer, TestPki};

const NAME: &str = "server.encore.test";
const WAIT: Duration = Duration::from_secs(5);

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_resume-check"))
        .args(args)
        .output()
        .expect("run resume-check")
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
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

/// Three connections to s_server -www: a full handshake, then two resumptions through the
/// tool's cache (C26, C36), each confirmed by the page the server serves ("Reused") and by its
/// log; the response is the page.
#[test]
fn openssl_www_full_then_two_resumptions() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-www"]);
    let addr = format!("127.0.0.1:{}", server.port());
    let ca = pki.path("ca.pem");
    let out = run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--ca",
        ca.to_str().unwrap(),
        "--connections",
        "3",
        "--send",
        "GET / HTTP/1.0\r\n\r\n",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(l.len(), 3);
    let reused: Vec<&str> = l.iter().map(|x| field(x, "reused")).collect();
    assert_eq!(reused, ["false", "true", "true"]);
    let kex: Vec<&str> = l.iter().map(|x| field(x, "kex")).collect();
    assert_eq!(kex, ["\"full\"", "\"psk_dhe\"", "\"psk_dhe\""]);
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
    let addr = format!("127.0.0.1:{}", server.port());
    let ca = pki.path("ca.pem");
    let sess = pki.path("session.bin");
    let common = [
        "--connect",
        addr.as_str(),
        "--ca",
        ca.to_str().unwrap(),
        "--connections",
        "1",
    ];
    let mut first = common.to_vec();
    first.extend(["--server-name", NAME, "--sess-out", sess.to_str().unwrap()]);
    let out = run(&first);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(field(&lines(&out)[0], "reused"), "false");

    let mut second = common.to_vec();
    second.extend(["--server-name", NAME, "--sess-in", sess.to_str().unwrap()]);
    let out = run(&second);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(field(&lines(&out)[0], "reused"), "true");
    assert_eq!(server.wait_resumed(1, WAIT), 1);

    let mut other = common.to_vec();
    other.extend([
        "--server-name",
        "other.encore.test",
        "--sess-in",
        sess.to_str().unwrap(),
    ]);
    let out = run(&other);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("made for another peer"), "{err}");
    assert!(out.stdout.is_empty());
}

/// --kex psk against s_server -allow_no_dhe_kex: the resumption runs without (EC)DHE.
#[test]
fn openssl_psk_ke() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-allow_no_dhe_kex"]);
    let addr = format!("127.0.0.1:{}", server.port());
    let ca = pki.path("ca.pem");
    let out = run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--ca",
        ca.to_str().unwrap(),
        "--kex",
        "psk",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(field(&l[1], "kex"), "\"psk\"");
    assert_eq!(field(&l[1], "reused"), "true");
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// Mutual TLS with --cert/--key, then a resumption that needs no certificate.
#[test]
fn openssl_mutual_tls() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start_mutual(&pki, &[]);
    let addr = format!("127.0.0.1:{}", server.port());
    let path = |f: &str| pki.path(f).to_str().unwrap().to_string();
    let out = run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--ca",
        &path("ca.pem"),
        "--cert",
        &path("client.pem"),
        "--key",
        &path("client.key"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(field(&l[0], "reused"), "false");
    assert_eq!(field(&l[1], "reused"), "true");
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// The rustls server reports the second connection as resumed, as the tool does.
#[test]
fn rustls_full_then_resumed() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let addr = format!("127.0.0.1:{}", server.port());
    let ca = pki.path("ca.pem");
    let out = run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    assert_eq!(field(&l[0], "reused"), "false");
    assert_eq!(field(&l[0], "tickets_received"), "2");
    assert_eq!(field(&l[1], "reused"), "true");
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
    let addr = format!("127.0.0.1:{}", server.port());
    let wrong = pki.path("client-ca.pem");
    let out = run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--ca",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1);
    assert!(
        err.starts_with("resume-check: connection 1: certificate verification failed"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
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
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "resume-check: --insecure-no-verify: this resume-check was built without the \
         insecure-no-verify feature (cargo build -p encore-examples --features \
         insecure-no-verify)\n"
    );
    assert!(out.stdout.is_empty());
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
    let out = run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--insecure-no-verify",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    assert_eq!(field(&l[0], "reused"), "false");
    assert_eq!(field(&l[1], "reused"), "true");
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// R1: servers that answer with a HelloRetryRequest. `-groups P-256` wants another key share
/// (the resumption's ClientHello2 re-offers the ticket), `-stateless` sends a cookie, and a
/// psk_ke offer to a server that requires (EC)DHE is asked for a key share and declined (C6):
/// each run completes, with the kex each connection really had, and the server's log agrees.
#[test]
fn hello_retry_request_servers_complete() {
    let pki = TestPki::generate(&[NAME]);
    let ca = pki.path("ca.pem");
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
        let addr = format!("127.0.0.1:{}", server.port());
        let out = run(&[
            "--connect",
            &addr,
            "--server-name",
            NAME,
            "--ca",
            ca.to_str().unwrap(),
            "--connections",
            "3",
            "--kex",
            kex_arg,
        ]);
        assert!(
            out.status.success(),
            "{server_args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let l = lines(&out);
        let kex: Vec<String> = l.iter().map(|x| field(x, "kex").replace('"', "")).collect();
        assert_eq!(kex, expect, "{server_args:?}");
        let resumed = expect.iter().filter(|k| **k != "full").count();
        assert_eq!(server.wait_reported(3, WAIT), 3);
        assert_eq!(server.resumed_count(), resumed, "{server_args:?}");
    }
}

/// An openssl-made PKI in a scratch directory: a root with `root_key`, a leaf for [`NAME`]
/// with `leaf_key` (the `-newkey` argument and its options) signed with SHA-256.
fn rsa_pki(tag: &str, root_key: &str, leaf_key: &[&str]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("encore-rc-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ext"),
        format!("subjectAltName=DNS:{NAME}\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        root_key,
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=Encore RSA root",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    let mut leaf = vec!["req", "-newkey"];
    leaf.extend_from_slice(leaf_key);
    leaf.extend([
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=server.encore.test",
    ]);
    openssl(&leaf);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "ext",
        "-sha256",
        "-out",
        "leaf.pem",
    ]);
    dir
}

/// resume-check (built with encore-tls's heap-free `rsa`) against s_server with the leaf of
/// `dir`: a full handshake, then a resumption that needs no RSA.
fn full_then_resumed_against(dir: &std::path::Path) {
    let pki = TestPki::generate(&[NAME]);
    let (leaf, key, ca) = (
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
        dir.join("ca.pem"),
    );
    let server = OpenSslServer::start(
        &pki,
        &[
            "-cert",
            leaf.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-cert_chain",
            ca.to_str().unwrap(),
        ],
    );
    let addr = format!("127.0.0.1:{}", server.port());
    let out = run(&[
        "--connect",
        &addr,
        "--server-name",
        NAME,
        "--ca",
        ca.to_str().unwrap(),
        "--connections",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    let reused: Vec<&str> = l.iter().map(|x| field(x, "reused")).collect();
    assert_eq!(reused, ["false", "true"]);
    let kex: Vec<&str> = l.iter().map(|x| field(x, "kex")).collect();
    assert_eq!(kex, ["\"full\"", "\"psk_dhe\""]);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// An RSA-2048 leaf and root (RSA-PSS CertificateVerify): full, then resumed.
#[test]
fn openssl_rsa2048_full_then_resumed() {
    full_then_resumed_against(&rsa_pki("rsa2048", "rsa:2048", &["rsa:2048"]));
}

/// An ECDSA P-256 leaf under an RSA-4096 root: full, then resumed.
#[test]
fn openssl_ecdsa_leaf_under_rsa4096_root_full_then_resumed() {
    full_then_resumed_against(&rsa_pki(
        "mixed",
        "rsa:4096",
        &["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    ));
}
