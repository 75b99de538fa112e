//! RSA through the public `Connection`/`Context` API, with encore-tls's heap-free `rsa`
//! feature (R12), against `openssl s_server`, `gnutls-serv` and an in-process rustls server on
//! 127.0.0.1: an RSA-2048 leaf (RSA-PSS CertificateVerify, RFC 8446 §4.2.3) full then resumed
//! (a resumption does no RSA at all), an ECDSA P-256 leaf under an RSA-4096 root full then
//! resumed, a 1024-bit RSA key (leaf or root) and a SHA-1-signed certificate refused with an
//! error that names the cause (openssl runs at SECLEVEL=0 for them, or it would refuse them
//! itself), and a server with no certificate for the schemes offered, whose handshake_failure
//! the error explains.

use encore_testkit as common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{
    GnutlsServer, LeafKind, OpenSslServer, RustlsOptions, RustlsServer, ServerCert, TestPki,
};
use encore_cache::CacheConfig;
use encore_client::{block_on, Connection, Context, Error, OsRng, StdClock, StdTransport};
use encore_session::{ContextId, SessionPool};
use encore_tls::wire::AlertDescription;
use encore_tls::{ClientConfig, KeyExchangeMode};
use rustls_pki_types::{CertificateDer, TrustAnchor};

const NAME: &str = "server.encore.test";
const WAIT: Duration = Duration::from_secs(5);
const P: usize = 8;

type Ctx = Context<'static, StdClock, OsRng, 8, P>;

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

fn context(root_der: &[u8]) -> Ctx {
    let der: &'static CertificateDer<'static> = leak(CertificateDer::from(root_der.to_vec()));
    let anchor = encore_tls::crypto::anchor_from_der(der).unwrap();
    let anchors: &'static [TrustAnchor<'static>] = Box::leak(vec![anchor].into_boxed_slice());
    let pool: &'static SessionPool<P> = leak(SessionPool::new());
    Context::new(
        ContextId(7),
        ClientConfig::new(anchors),
        pool,
        CacheConfig::DEFAULT,
        StdClock::new(),
        OsRng,
    )
}

/// Connects to `port`; `Ok((reused, key exchange))` after a completed handshake that received
/// a ticket and closed cleanly.
fn connect(ctx: &Ctx, port: u16) -> Result<(bool, KeyExchangeMode), Error> {
    session(ctx, port, false)
}

/// [`connect`], and before closing writes a line that the server (gnutls-serv `--echo`, rustls
/// [`common::Reply::Echo`]) must send back.
fn connect_echo(ctx: &Ctx, port: u16) -> Result<(bool, KeyExchangeMode), Error> {
    session(ctx, port, true)
}

fn session(ctx: &Ctx, port: u16, echo: bool) -> Result<(bool, KeyExchangeMode), Error> {
    let t = StdTransport::connect(("127.0.0.1", port)).unwrap();
    t.0.set_read_timeout(Some(WAIT)).unwrap();
    let rx = Box::leak(vec![0u8; 17 * 1024].into_boxed_slice());
    let tx = Box::leak(vec![0u8; 8 * 1024].into_boxed_slice());
    let mut c = Connection::new(ctx, NAME, t, rx, tx);
    let hs = block_on(c.connect())?;
    assert_eq!(c.session_reused(), hs.resumed);
    if echo {
        block_on(c.write(b"encore rsa\n")).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < 11 {
            let n = block_on(c.read(&mut buf)).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"encore rsa\n");
    }
    assert!(block_on(c.await_tickets_within(1, 1000)).unwrap() >= 1);
    block_on(c.shutdown()).unwrap();
    Ok((hs.resumed, hs.kex))
}

/// A scratch directory with a root and a leaf for [`NAME`] made with the openssl CLI.
struct Pki {
    dir: PathBuf,
    root_der: Vec<u8>,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// Root with key `root_key` (an `openssl req -newkey` argument), leaf with `leaf_key` (the
/// `-newkey` argument and options), the leaf signed with `digest`.
fn pki(tag: &str, root_key: &str, leaf_key: &[&str], digest: &str) -> Pki {
    common::ensure_tool("openssl", "openssl");
    let dir = std::env::temp_dir().join(format!("encore-rsa-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ext"),
        format!("subjectAltName=DNS:{NAME}\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    openssl(
        &dir,
        &[
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
            "/CN=Encore RSA test root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    let mut leaf_args = vec!["req", "-newkey"];
    leaf_args.extend_from_slice(leaf_key);
    leaf_args.extend([
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=server.encore.test",
    ]);
    openssl(&dir, &leaf_args);
    openssl(
        &dir,
        &[
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
            digest,
            "-out",
            "leaf.pem",
        ],
    );
    openssl(
        &dir,
        &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    );
    let root_der = std::fs::read(dir.join("ca.der")).unwrap();
    Pki { dir, root_der }
}

/// `openssl s_server` presenting the leaf of `p`; `extra` appended.
fn server(scratch: &TestPki, p: &Pki, extra: &[&str]) -> OpenSslServer {
    let (leaf, key, chain) = (
        p.dir.join("leaf.pem"),
        p.dir.join("leaf.key"),
        p.dir.join("ca.pem"),
    );
    let mut args = vec![
        "-cert",
        leaf.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-cert_chain",
        chain.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    OpenSslServer::start(scratch, &args)
}

/// RSA-2048 leaf and root: the full handshake verifies a PKCS#1 v1.5 chain and an RSA-PSS
/// CertificateVerify; the resumption (psk_dhe_ke) does no RSA operation, and openssl reports it
/// reused.
#[test]
fn rsa2048_leaf_full_then_resumed_openssl() {
    let scratch = TestPki::generate(&[NAME]);
    let p = pki("2048", "rsa:2048", &["rsa:2048"], "-sha256");
    let s = server(&scratch, &p, &[]);
    let ctx = context(&p.root_der);
    assert_eq!(connect(&ctx, s.port()), Ok((false, KeyExchangeMode::Full)));
    assert_eq!(connect(&ctx, s.port()), Ok((true, KeyExchangeMode::PskDhe)));
    assert_eq!(s.wait_resumed(1, WAIT), 1);
}

/// An ECDSA P-256 leaf under an RSA-4096 root (sha384WithRSAEncryption), the mixed chain of
/// the common public CAs: full, then resumed.
#[test]
fn ecdsa_leaf_under_rsa4096_root_full_then_resumed_openssl() {
    let scratch = TestPki::generate(&[NAME]);
    let p = pki(
        "mixed",
        "rsa:4096",
        &["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        "-sha384",
    );
    let s = server(&scratch, &p, &[]);
    let ctx = context(&p.root_der);
    assert_eq!(connect(&ctx, s.port()), Ok((false, KeyExchangeMode::Full)));
    assert_eq!(connect(&ctx, s.port()), Ok((true, KeyExchangeMode::PskDhe)));
    assert_eq!(s.wait_resumed(1, WAIT), 1);
}

/// R12: gnutls-serv with an RSA-2048 leaf under an RSA-2048 intermediate and an RSA-4096 root
/// (`TestPki::generate_with_rsa`): the full handshake verifies the PKCS#1 v1.5 chain and an
/// RSA-PSS CertificateVerify, the second connection resumes (psk_dhe_ke, no RSA), data flows
/// both times, and gnutls-serv reports exactly one resumed session.
#[test]
fn rsa2048_leaf_full_then_resumed_gnutls() {
    let pki = TestPki::generate_with_rsa(&[NAME]);
    let s = GnutlsServer::start_with_leaf(&pki, LeafKind::Rsa2048, &[]);
    let ctx = context(pki.root_of(LeafKind::Rsa2048));
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((false, KeyExchangeMode::Full))
    );
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((true, KeyExchangeMode::PskDhe))
    );
    assert_eq!(s.wait_resumed(1, WAIT), 1);
}

/// R12: the same RSA-2048 chain served by rustls: full, then resumed; rustls records the first
/// connection as full and the second as resumed.
#[test]
fn rsa2048_leaf_full_then_resumed_rustls() {
    let pki = TestPki::generate_with_rsa(&[NAME]);
    let s = RustlsServer::start(
        &pki,
        RustlsOptions {
            leaf: LeafKind::Rsa2048,
            ..RustlsOptions::default()
        },
    );
    let ctx = context(pki.root_of(LeafKind::Rsa2048));
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((false, KeyExchangeMode::Full))
    );
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((true, KeyExchangeMode::PskDhe))
    );
    let conns = s.wait_connections(2, WAIT);
    let resumed: Vec<bool> = conns.iter().map(|c| c.resumed).collect();
    assert_eq!(resumed, [false, true]);
    assert!(conns.iter().all(|c| c.completed && c.error.is_none()));
}

/// R12: an ECDSA P-256 leaf whose P-256 intermediate the RSA-4096 root signed
/// (sha384WithRSAEncryption), served by gnutls-serv: full, then resumed.
#[test]
fn ecdsa_leaf_under_rsa4096_root_full_then_resumed_gnutls() {
    let pki = TestPki::generate_with_rsa(&[NAME]);
    let s = GnutlsServer::start_with_leaf(&pki, LeafKind::P256UnderRsa4096, &[]);
    let ctx = context(pki.root_of(LeafKind::P256UnderRsa4096));
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((false, KeyExchangeMode::Full))
    );
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((true, KeyExchangeMode::PskDhe))
    );
    assert_eq!(s.wait_resumed(1, WAIT), 1);
}

/// R12: the mixed chain served by rustls: full, then resumed, as rustls records it.
#[test]
fn ecdsa_leaf_under_rsa4096_root_full_then_resumed_rustls() {
    let pki = TestPki::generate_with_rsa(&[NAME]);
    let s = RustlsServer::start(
        &pki,
        RustlsOptions {
            leaf: LeafKind::P256UnderRsa4096,
            ..RustlsOptions::default()
        },
    );
    let ctx = context(pki.root_of(LeafKind::P256UnderRsa4096));
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((false, KeyExchangeMode::Full))
    );
    assert_eq!(
        connect_echo(&ctx, s.port()),
        Ok((true, KeyExchangeMode::PskDhe))
    );
    let conns = s.wait_connections(2, WAIT);
    let resumed: Vec<bool> = conns.iter().map(|c| c.resumed).collect();
    assert_eq!(resumed, [false, true]);
    assert!(conns.iter().all(|c| c.completed && c.error.is_none()));
}

/// R12: a 1024-bit RSA leaf (under an RSA-2048 root, so every signature of the chain
/// verifies) is refused when the chain is checked, before its CertificateVerify, with an error
/// that names the key and its size. openssl is told to allow the small key (security level 0).
#[test]
fn rsa1024_leaf_is_refused_openssl() {
    let scratch = TestPki::generate(&[NAME]);
    let p = pki("1024", "rsa:2048", &["rsa:1024"], "-sha256");
    let s = server(&scratch, &p, &["-cipher", "DEFAULT:@SECLEVEL=0"]);
    let ctx = context(&p.root_der);
    let e = connect(&ctx, s.port()).unwrap_err();
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::Certificate(
            encore_tls::crypto::CertError::RsaKeyTooSmall { bits: 1024 }
        ))
    );
    assert_eq!(
        e.to_string(),
        "certificate verification failed: the server's certificate chain has an RSA key of \
         1024 bits; RSA keys below 2048 bits are refused as breakable (the server needs a \
         certificate with a 2048- to 4096-bit RSA key, or an ECDSA key)"
    );
    // The alert the client sent.
    let Error::Tls(tls) = e else { unreachable!() };
    assert_eq!(tls.alert(), Some(AlertDescription::UNSUPPORTED_CERTIFICATE));
    assert_eq!(ctx.cache().len(), 0);
}

/// R12: a 1024-bit RSA root (the trust anchor itself) that signed an RSA-2048 leaf: the
/// signature made with the weak key is refused, and the error names the key's size.
#[test]
fn rsa1024_root_is_refused_openssl() {
    let scratch = TestPki::generate(&[NAME]);
    let p = pki("1024root", "rsa:1024", &["rsa:2048"], "-sha256");
    let s = server(&scratch, &p, &["-cipher", "DEFAULT:@SECLEVEL=0"]);
    let ctx = context(&p.root_der);
    let e = connect(&ctx, s.port()).unwrap_err();
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::Certificate(
            encore_tls::crypto::CertError::RsaKeyTooSmall { bits: 1024 }
        ))
    );
    assert_eq!(ctx.cache().len(), 0);
}

/// R12: rustls presents whatever chain it is given, so a leaf signed with
/// sha1WithRSAEncryption reaches the client, which refuses it by name and tells the server
/// with unsupported_certificate.
#[test]
fn sha1_signed_leaf_is_refused_rustls() {
    let scratch = TestPki::generate(&[NAME]);
    let p = pki("sha1rustls", "rsa:2048", &["rsa:2048"], "-sha1");
    let cert = ServerCert::from_pem_files(&p.dir.join("leaf.pem"), &p.dir.join("leaf.key"));
    let s = RustlsServer::start_with_cert(&scratch, cert, RustlsOptions::default());
    let ctx = context(&p.root_der);
    let e = connect(&ctx, s.port()).unwrap_err();
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::Certificate(
            encore_tls::crypto::CertError::WeakSignatureAlgorithm
        ))
    );
    assert_eq!(
        e.to_string(),
        "certificate verification failed: a certificate of the server's chain is signed with \
         SHA-1 (or MD5), which is refused as forgeable; the server needs certificates signed \
         with SHA-256 or stronger"
    );
    let conns = s.wait_connections(1, WAIT);
    assert_eq!(conns.len(), 1);
    assert!(!conns[0].completed);
    let why = conns[0].error.as_deref().unwrap_or("");
    assert!(why.contains("UnsupportedCertificate"), "{why}");
    assert_eq!(ctx.cache().len(), 0);
}

/// A leaf certificate signed with sha1WithRSAEncryption: SHA-1 is in neither
/// signature_algorithms nor signature_algorithms_cert, so openssl finds no certificate it may
/// present and answers handshake_failure (RFC 8446 §4.2.3), which the error explains. (A SHA-1
/// chain that a server sends anyway is refused by the chain check: `tls/tests/crypto_rsa.rs`.)
#[test]
fn sha1_signed_certificate_is_refused_openssl() {
    let scratch = TestPki::generate(&[NAME]);
    let p = pki("sha1", "rsa:2048", &["rsa:2048"], "-sha1");
    let s = server(&scratch, &p, &["-cipher", "DEFAULT:@SECLEVEL=0"]);
    let ctx = context(&p.root_der);
    let e = connect(&ctx, s.port()).unwrap_err();
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::HelloRefused(
            AlertDescription::HANDSHAKE_FAILURE
        ))
    );
    assert!(
        e.to_string()
            .contains("no certificate for the signature schemes offered"),
        "{e}"
    );
    assert_eq!(ctx.cache().len(), 0);
}

/// A server whose only certificate is Ed448, which no scheme offered can check, answers
/// handshake_failure; the error names the schemes offered.
#[test]
fn handshake_failure_for_schemes_explains_itself_openssl() {
    let scratch = TestPki::generate(&[NAME]);
    let p = pki("ed448", "rsa:2048", &["ed448"], "-sha256");
    let s = server(&scratch, &p, &[]);
    let ctx = context(&p.root_der);
    let e = connect(&ctx, s.port()).unwrap_err();
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::HelloRefused(
            AlertDescription::HANDSHAKE_FAILURE
        ))
    );
    let text = e.to_string();
    assert!(
        text.starts_with("server refused the ClientHello with fatal alert handshake_failure (40): the server accepted none of the parameters offered; most often it has no certificate for the signature schemes offered (ecdsa_secp256r1_sha256, "),
        "{text}"
    );
    assert!(text.contains("rsa_pss_rsae_sha256"), "{text}");
    // This build offers RSA: no advice to enable it.
    assert!(!text.contains("feature"), "{text}");
}
