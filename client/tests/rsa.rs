//! RSA through the public `Connection`/`Context` API, with encore-tls's heap-free `rsa`
//! feature (R12), against `openssl s_server`, `gnutls-serv` and an in-process rustls server on
//! 127.0.0.1: an RSA-2048 leaf (RSA-PSS CertificateVerify, RFC 8446 §4.2.3) full then resumed
//! (a resumption does no RSA at all), an ECDSA P-256 leaf under an RSA-4096 root full then
//! resumed, a 1024-bit RSA key (leaf or root) and a SHA-1-signed certificate refused with an
//! error that names the cause (openssl runs at SECLEVEL=0 for them, or it would refuse them
//! itself), and a server with no certificate for the schemes offered, whose handshake_failure
//! the error explains.

use encore_testkit as common;
mod support;

use common::{
    GnutlsServer, LeafKind, OpenSslServer, OpensslCerts, RustlsOptions, RustlsServer, ServerCert,
    TestPki,
};
use encore_cache::CacheConfig;
use encore_client::{block_on, Context, Error, OsRng, StdClock};
use encore_tls::crypto::CertError;
use encore_tls::wire::AlertDescription;
use encore_tls::KeyExchangeMode;
use support::{resumed_flags, round_trip, transport, NAME, WAIT};

const P: usize = 8;

type Ctx = Context<'static, StdClock, OsRng, 8, P>;

fn context(root_der: &[u8]) -> Ctx {
    support::context(
        root_der,
        CacheConfig::DEFAULT,
        StdClock::new(),
        OsRng,
        |_| {},
    )
}

/// A line that gnutls-serv `--echo` and rustls' [`common::Reply::Echo`] send back.
const LINE: &[u8] = b"encore rsa\n";

/// Connects to `port`; `Ok((reused, key exchange))` after a completed handshake whose
/// `session_reused` agrees, [`LINE`] echoed when `echo`, at least one ticket, and a clean
/// close.
fn session(ctx: &Ctx, port: u16, echo: bool) -> Result<(bool, KeyExchangeMode), Error> {
    let mut c = support::connection(ctx, NAME, transport(port));
    let hs = block_on(c.connect())?;
    assert_eq!(c.session_reused(), hs.resumed);
    if echo {
        assert_eq!(round_trip(&mut c, LINE), LINE);
    }
    assert!(block_on(c.await_tickets_within(1, 1000)).unwrap() >= 1);
    block_on(c.shutdown()).unwrap();
    Ok((hs.resumed, hs.kex))
}

/// The servers that present the chains of `TestPki::generate_with_rsa`.
#[derive(Clone, Copy)]
enum Server {
    OpenSsl,
    Gnutls,
    Rustls,
}

/// `server` presenting the leaf `kind` of `TestPki::generate_with_rsa`: the full handshake
/// verifies the chain (PKCS#1 v1.5 signatures, sha384WithRSAEncryption from the RSA-4096 root)
/// and the CertificateVerify; the second connection resumes with psk_dhe_ke, which needs no
/// RSA operation; data flows both times where the server echoes; and the server itself
/// reports exactly the second connection resumed.
fn full_then_resumed(kind: LeafKind, server: Server) {
    let pki = TestPki::generate_with_rsa(&[NAME]);
    let ctx = context(pki.root_of(kind));
    let both = |port: u16, echo: bool| {
        assert_eq!(
            session(&ctx, port, echo),
            Ok((false, KeyExchangeMode::Full))
        );
        assert_eq!(
            session(&ctx, port, echo),
            Ok((true, KeyExchangeMode::PskDhe))
        );
    };
    match server {
        Server::OpenSsl => {
            let s = OpenSslServer::start_with_leaf(&pki, kind, &[]);
            both(s.port(), false);
            assert_eq!(s.wait_resumed(1, WAIT), 1);
        }
        Server::Gnutls => {
            let s = GnutlsServer::start_with_leaf(&pki, kind, &[]);
            both(s.port(), true);
            assert_eq!(s.wait_resumed(1, WAIT), 1);
        }
        Server::Rustls => {
            let options = RustlsOptions {
                leaf: kind,
                ..RustlsOptions::default()
            };
            let s = RustlsServer::start(&pki, options);
            both(s.port(), true);
            assert_eq!(resumed_flags(&s, 2), [false, true]);
            let conns = s.connections();
            assert!(conns.iter().all(|c| c.completed && c.error.is_none()));
        }
    }
}

/// R12: an RSA-2048 leaf under an RSA-2048 intermediate and an RSA-4096 root: the full
/// handshake verifies a PKCS#1 v1.5 chain and an RSA-PSS CertificateVerify; the resumption
/// does no RSA operation, and openssl reports it reused.
#[test]
fn rsa2048_leaf_full_then_resumed_openssl() {
    full_then_resumed(LeafKind::Rsa2048, Server::OpenSsl);
}

/// R12: the same RSA-2048 chain served by gnutls-serv, data flowing both times.
#[test]
fn rsa2048_leaf_full_then_resumed_gnutls() {
    full_then_resumed(LeafKind::Rsa2048, Server::Gnutls);
}

/// R12: the same RSA-2048 chain served by rustls, which records the first connection as full
/// and the second as resumed.
#[test]
fn rsa2048_leaf_full_then_resumed_rustls() {
    full_then_resumed(LeafKind::Rsa2048, Server::Rustls);
}

/// R12: an ECDSA P-256 leaf whose P-256 intermediate the RSA-4096 root signed
/// (sha384WithRSAEncryption), the mixed chain of the common public CAs, served by openssl.
#[test]
fn ecdsa_leaf_under_rsa4096_root_full_then_resumed_openssl() {
    full_then_resumed(LeafKind::P256UnderRsa4096, Server::OpenSsl);
}

/// R12: the mixed chain served by gnutls-serv.
#[test]
fn ecdsa_leaf_under_rsa4096_root_full_then_resumed_gnutls() {
    full_then_resumed(LeafKind::P256UnderRsa4096, Server::Gnutls);
}

/// R12: the mixed chain served by rustls.
#[test]
fn ecdsa_leaf_under_rsa4096_root_full_then_resumed_rustls() {
    full_then_resumed(LeafKind::P256UnderRsa4096, Server::Rustls);
}

/// A chain made with the openssl command line, for keys and signatures that rcgen cannot
/// make: a root and a leaf for [`NAME`] (`root` and `leaf` in the directory of `certs`).
struct CliChain {
    certs: OpensslCerts,
    root_der: Vec<u8>,
}

/// A root with key `root_key` (an `openssl req -newkey` argument), a leaf for [`NAME`] with
/// `leaf_key`, the leaf signed with `digest`.
fn cli_chain(root_key: &str, leaf_key: &str, digest: &str) -> CliChain {
    let certs = OpensslCerts::new(NAME);
    let root_der = certs.root("root", root_key, "-sha256", false);
    certs.issue("leaf", leaf_key, "root", digest, "leaf.ext", false);
    CliChain { certs, root_der }
}

impl CliChain {
    /// `openssl s_server` presenting this chain's leaf; `extra` appended.
    fn openssl(&self, extra: &[&str]) -> OpenSslServer {
        let (leaf, key, root) = (
            self.certs.path("leaf.pem"),
            self.certs.path("leaf.key"),
            self.certs.path("root.pem"),
        );
        let mut args = vec!["-cert", &leaf, "-key", &key, "-cert_chain", &root];
        args.extend_from_slice(extra);
        OpenSslServer::start(&self.certs.pki, &args)
    }

    /// A connection that trusts this chain's root to the server at `port`: its error, with
    /// nothing cached.
    fn refused(&self, port: u16) -> Error {
        let ctx = context(&self.root_der);
        let e = session(&ctx, port, false).unwrap_err();
        assert_eq!(ctx.cache().len(), 0);
        e
    }
}

/// R12: a 1024-bit RSA leaf (under an RSA-2048 root, so every signature of the chain
/// verifies) is refused when the chain is checked, before its CertificateVerify, with an error
/// that names the key and its size. openssl is told to allow the small key (security level 0).
#[test]
fn rsa1024_leaf_is_refused_openssl() {
    let chain = cli_chain("rsa:2048", "rsa:1024", "-sha256");
    let s = chain.openssl(&["-cipher", "DEFAULT:@SECLEVEL=0"]);
    let e = chain.refused(s.port());
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::Certificate(CertError::RsaKeyTooSmall {
            bits: 1024
        }))
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
}

/// R12: a 1024-bit RSA root (the trust anchor itself) that signed an RSA-2048 leaf: the
/// signature made with the weak key is refused, and the error names the key's size.
#[test]
fn rsa1024_root_is_refused_openssl() {
    let chain = cli_chain("rsa:1024", "rsa:2048", "-sha256");
    let s = chain.openssl(&["-cipher", "DEFAULT:@SECLEVEL=0"]);
    assert_eq!(
        chain.refused(s.port()),
        Error::Tls(encore_tls::Error::Certificate(CertError::RsaKeyTooSmall {
            bits: 1024
        }))
    );
}

/// R12: rustls presents whatever chain it is given, so a leaf signed with
/// sha1WithRSAEncryption reaches the client, which refuses it by name and tells the server
/// with unsupported_certificate.
#[test]
fn sha1_signed_leaf_is_refused_rustls() {
    let chain = cli_chain("rsa:2048", "rsa:2048", "-sha1");
    let cert = ServerCert::from_pem_files(
        &chain.certs.pki.path("leaf.pem"),
        &chain.certs.pki.path("leaf.key"),
    );
    let s = RustlsServer::start_with_cert(&chain.certs.pki, cert, RustlsOptions::default());
    let e = chain.refused(s.port());
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::Certificate(
            CertError::WeakSignatureAlgorithm
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
}

/// A leaf certificate signed with sha1WithRSAEncryption: SHA-1 is in neither
/// signature_algorithms nor signature_algorithms_cert, so openssl finds no certificate it may
/// present and answers handshake_failure (RFC 8446 §4.2.3), which the error explains. (A SHA-1
/// chain that a server sends anyway is refused by the chain check: `tls/tests/crypto_rsa.rs`.)
#[test]
fn sha1_signed_certificate_is_refused_openssl() {
    let chain = cli_chain("rsa:2048", "rsa:2048", "-sha1");
    let s = chain.openssl(&["-cipher", "DEFAULT:@SECLEVEL=0"]);
    let e = chain.refused(s.port());
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
}

/// A server whose only certificate is Ed448, which no scheme offered can check, answers
/// handshake_failure; the error names the schemes offered.
#[test]
fn handshake_failure_for_schemes_explains_itself_openssl() {
    let chain = cli_chain("rsa:2048", "ed448", "-sha256");
    let s = chain.openssl(&[]);
    let e = chain.refused(s.port());
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
