//! Every handshake path through the public `Connection`/`Context` API: HelloRetryRequest in its
//! forms, cookies, psk_ke refused, middlebox compatibility, record limits with small buffers,
//! KeyUpdate both ways, ALPN, IP literals, every suite, wrong names, the clock rule (E6), GnuTLS,
//! single-use tickets and random input (E4), against real servers on 127.0.0.1. What no real
//! server does on demand (C31, C32 and the R rules of docs/CONTRACT.md) runs against the
//! scripted TLS 1.3 server of `encore_testkit::scripted` over a real TCP socket.

use encore_testkit as common;
use encore_testkit::scripted;
mod support;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{GnutlsServer, OpenSslServer, Reply, RustlsOptions, RustlsServer, TestPki};
use embedded_io_async::ErrorKind;
use encore_cache::CacheConfig;
use encore_client::{
    block_on, Clock, Connection, Context, Error, OsRng, Phase, StdClock, StdTransport,
    DEFAULT_HANDSHAKE_TIMEOUT_MS,
};
use encore_session::{MonotonicClock, NewSession, Session, WallClock, TLS13};
use encore_tls::client::{MaxFragmentLength, Violation};
use encore_tls::crypto::{CertError, CipherSuite, RecordProtection};
use encore_tls::wire::AlertDescription;
use encore_tls::{ClientConfig, KeyExchangeMode, PskMode};
use rand_core::TryCryptoRng;
use scripted::tcp::{alerts_in, complete, drain, full_flight, read_record, script};
use scripted::{Scripted, ServerHelloSpec};
use support::{
    buffers, identity, leak, psk_of, round_trip, ticket_of, transport, SwitchedRng, FULL_HELLO,
    NAME, RX, TX, WAIT,
};

const P: usize = 16;

type Ctx<G = OsRng, C = StdClock> = Context<'static, C, G, 8, P>;
type Conn<'c, G = OsRng, C = StdClock> = Connection<'c, 'static, StdTransport, C, G, 8, P>;

/// A context over a pool of its own that trusts the root `ca_der`, on `clock` and `rng`, with
/// `tweak` applied to its TLS configuration.
fn context_with<G: TryCryptoRng, C: Clock>(
    ca_der: &[u8],
    clock: C,
    rng: G,
    tweak: impl FnOnce(&mut ClientConfig<'static>),
) -> Ctx<G, C> {
    support::context(ca_der, CacheConfig::DEFAULT, clock, rng, tweak)
}

fn context(pki: &TestPki, tweak: impl FnOnce(&mut ClientConfig<'static>)) -> Ctx {
    context_with(&pki.ca_der, StdClock::new(), OsRng, tweak)
}

fn conn_named<'c, G: TryCryptoRng, C: Clock>(
    ctx: &'c Ctx<G, C>,
    name: &'c str,
    port: u16,
) -> Conn<'c, G, C> {
    support::connection(ctx, name, transport(port))
}

fn conn<'c, G: TryCryptoRng, C: Clock>(ctx: &'c Ctx<G, C>, port: u16) -> Conn<'c, G, C> {
    conn_named(ctx, NAME, port)
}

/// Waits up to 1 s for `n` tickets (servers send them after the handshake).
fn tickets<G: TryCryptoRng, C: Clock>(c: &mut Conn<'_, G, C>, n: usize) -> usize {
    block_on(c.await_tickets_within(n, 1000)).unwrap()
}

/// A full handshake that leaves `want` tickets in the context's cache and closes cleanly.
fn full<G: TryCryptoRng, C: Clock>(ctx: &Ctx<G, C>, name: &str, port: u16, want: usize) {
    let mut c = conn_named(ctx, name, port);
    let hs = block_on(c.connect()).unwrap();
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    assert!(!c.session_reused());
    assert_eq!(tickets(&mut c, want), want);
    block_on(c.shutdown()).unwrap();
}

/// The next connection takes a ticket from the cache and must resume.
fn resumed<G: TryCryptoRng, C: Clock>(ctx: &Ctx<G, C>, name: &str, port: u16) -> KeyExchangeMode {
    let mut c = conn_named(ctx, name, port);
    let hs = block_on(c.connect()).unwrap();
    assert!(hs.resumed, "{hs:?}");
    assert!(c.session_reused());
    tickets(&mut c, 1);
    block_on(c.shutdown()).unwrap();
    hs.kex
}

/// A full handshake, then a resumption, each on a new connection to `port` through buffers of
/// `rx` and `tx` bytes: `each` runs on each connection once it is connected (told whether it
/// resumed), before the connection waits for a ticket and closes cleanly.
fn full_then_resumed<G: TryCryptoRng, C: Clock>(
    ctx: &Ctx<G, C>,
    port: u16,
    (rx, tx): (usize, usize),
    mut each: impl FnMut(&mut Conn<'_, G, C>, bool),
) {
    for resume in [false, true] {
        let (rx, tx) = buffers(rx, tx);
        let mut c = Connection::new(ctx, NAME, transport(port), rx, tx);
        let hs = block_on(c.connect()).unwrap();
        assert_eq!(hs.resumed, resume, "{hs:?}");
        each(&mut c, resume);
        tickets(&mut c, 1);
        block_on(c.shutdown()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Real servers
// ---------------------------------------------------------------------------------------------

/// R1: a server that wants a P-256 key share answers the X25519 ClientHello with a
/// HelloRetryRequest; ClientHello2 leaves at once (no wait for a read timeout), the full
/// handshake completes, and the resumption's ClientHello2 re-offers the ticket (C28), which
/// openssl accepts.
#[test]
fn r1_hello_retry_request_group_full_then_resumed_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-groups", "P-256"]);
    let ctx = context(&pki, |_| {});
    let start = Instant::now();
    full(&ctx, NAME, server.port(), 2);
    assert_eq!(resumed(&ctx, NAME, server.port()), KeyExchangeMode::PskDhe);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    // Far below one read timeout (5 s): nothing waited for one.
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

/// R1: a stateless server's HelloRetryRequest carries a cookie; ClientHello2 echoes it, for
/// the full handshake and for the resumption.
#[test]
fn r1_stateless_cookie_retry_full_then_resumed_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-stateless"]);
    let ctx = context(&pki, |_| {});
    full(&ctx, NAME, server.port(), 2);
    assert_eq!(resumed(&ctx, NAME, server.port()), KeyExchangeMode::PskDhe);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// R1, C6: psk_ke offered to a server that requires (EC)DHE: it asks for a key share with a
/// HelloRetryRequest, declines the PSK, and the handshake is a full one with fresh tickets.
#[test]
fn r1_c6_psk_ke_refused_falls_back_to_full_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let ctx = context(&pki, |_| {});
    full(&ctx, NAME, server.port(), 2);
    let mut c = conn(&ctx, server.port());
    c.set_psk_mode(PskMode::AllowPskOnly);
    let hs = block_on(c.connect()).unwrap();
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    assert!(!c.session_reused());
    assert!(c.session().is_none()); // C6: the declined record is released
    assert_eq!(tickets(&mut c, 2), 2);
    block_on(c.shutdown()).unwrap();
    assert_eq!(server.wait_reported(2, WAIT), 2);
    assert_eq!(server.resumed_count(), 0);
    // With -allow_no_dhe_kex the same offer resumes without any key share.
    let server = OpenSslServer::start(&pki, &["-allow_no_dhe_kex"]);
    let ctx = context(&pki, |_| {});
    full(&ctx, NAME, server.port(), 2);
    let mut c = conn(&ctx, server.port());
    c.set_psk_mode(PskMode::AllowPskOnly);
    assert_eq!(block_on(c.connect()).unwrap().kex, KeyExchangeMode::Psk);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// Middlebox compatibility (RFC 8446 Appendix D.4): a session id and change_cipher_spec,
/// full and resumed.
#[test]
fn middlebox_compat_full_then_resumed_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let ctx = context(&pki, |c| c.middlebox_compat = true);
    full(&ctx, NAME, server.port(), 2);
    resumed(&ctx, NAME, server.port());
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// max_fragment_length with buffers a quarter of the default: full and resumed, every
/// record within the limit.
#[test]
fn max_fragment_length_small_buffers_full_then_resumed_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let ctx = context(&pki, |c| {
        c.max_fragment_length = Some(MaxFragmentLength::Bytes1024);
    });
    let openssl = OpenSslServer::start(&pki, &[]);
    full_then_resumed(&ctx, openssl.port(), (4096, 2048), |c, resumed| {
        // The certificate flight is larger than one 1 KiB fragment.
        assert_eq!(c.stats().handshake_received > 1024, !resumed);
    });
    assert_eq!(openssl.wait_resumed(1, WAIT), 1);
}

/// record_size_limit (RFC 8449) with small buffers against GnuTLS, which implements it:
/// full, then resumed.
#[test]
fn record_size_limit_small_buffers_gnutls() {
    let pki = TestPki::generate(&[NAME]);
    let server = GnutlsServer::start(&pki, &[]);
    let ctx = context(&pki, |c| c.record_size_limit = Some(1024));
    // gnutls-serv echoes whole lines.
    let mut line = vec![b'x'; 3000];
    line.push(b'\n');
    full_then_resumed(&ctx, server.port(), (4096, 2048), |c, _| {
        assert_eq!(round_trip(c, &line), line);
    });
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// KeyUpdate from the client (`request_key_update`, answered by the server's own
/// KeyUpdate) and data in both directions under the new keys; then the server's KeyUpdate
/// (rustls answers our update_requested with one) is followed transparently.
#[test]
fn key_update_both_ways_rustls() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let ctx = context(&pki, |_| {});
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    tickets(&mut c, 2);
    for round in 0..3u8 {
        block_on(c.request_key_update()).unwrap();
        let msg = [b'k', round];
        assert_eq!(round_trip(&mut c, &msg), msg);
    }
    block_on(c.shutdown()).unwrap();
    let rec = server.wait_connections(1, WAIT);
    assert_eq!(rec[0].received, b"k\x00k\x01k\x02");
    assert!(rec[0].error.is_none(), "{:?}", rec[0].error);
}

/// ALPN: the server's choice is reported; a server that does not answer leaves none.
#[test]
fn alpn_negotiated_and_reported_rustls() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            alpn: vec![b"mqtt".to_vec()],
            ..RustlsOptions::default()
        },
    );
    static ALPN: [&[u8]; 2] = [b"h2", b"mqtt"];
    let ctx = context(&pki, |c| c.alpn = &ALPN);
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    assert_eq!(c.alpn_protocol(), Some(&b"mqtt"[..]));
    tickets(&mut c, 2);
    block_on(c.shutdown()).unwrap();
    drop(c);
    let mut r = conn(&ctx, server.port());
    assert!(block_on(r.connect()).unwrap().resumed);
    assert_eq!(r.alpn_protocol(), Some(&b"mqtt"[..]));
    block_on(r.shutdown()).unwrap();
    drop(r);
    let recs = server.wait_connections(2, WAIT);
    assert_eq!(recs[0].alpn.as_deref(), Some(&b"mqtt"[..]));
    assert!(recs[1].resumed);
}

/// An IP literal is verified against the certificate's IP subjectAltName and sends no SNI;
/// its sessions resume.
#[test]
fn ip_literal_without_sni_full_then_resumed_rustls() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let ctx = context(&pki, |_| {});
    let mut c = conn_named(&ctx, "127.0.0.1", server.port());
    block_on(c.connect()).unwrap();
    tickets(&mut c, 2);
    block_on(c.shutdown()).unwrap();
    drop(c);
    assert_eq!(
        resumed(&ctx, "127.0.0.1", server.port()),
        KeyExchangeMode::PskDhe
    );
    let recs = server.wait_connections(2, WAIT);
    assert_eq!(recs[0].sni, None);
    assert_eq!(recs[1].sni, None);
    assert!(recs[1].resumed);
}

/// Every suite: full, then resumed, with the suite the server chose both times.
#[test]
fn every_suite_full_then_resumed_openssl() {
    let pki = TestPki::generate(&[NAME]);
    for (name, suite) in [
        ("TLS_AES_128_GCM_SHA256", CipherSuite::Aes128GcmSha256),
        ("TLS_AES_256_GCM_SHA384", CipherSuite::Aes256GcmSha384),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            CipherSuite::Chacha20Poly1305Sha256,
        ),
    ] {
        let server = OpenSslServer::start(&pki, &["-ciphersuites", name]);
        let ctx = context(&pki, |_| {});
        let mut c = conn(&ctx, server.port());
        assert_eq!(block_on(c.connect()).unwrap().suite, suite, "{name}");
        tickets(&mut c, 2);
        block_on(c.shutdown()).unwrap();
        drop(c);
        let mut r = conn(&ctx, server.port());
        let hs = block_on(r.connect()).unwrap();
        assert!(hs.resumed, "{name}");
        assert_eq!(hs.suite, suite);
        assert_eq!(server.wait_resumed(1, WAIT), 1, "{name}");
    }
}

/// A certificate for another name is a certificate error with bad_certificate sent; nothing
/// is cached.
#[test]
fn wrong_server_name_is_refused_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let ctx = context(&pki, |_| {});
    let mut c = conn_named(&ctx, "other.encore.test", server.port());
    let e = block_on(c.connect()).unwrap_err();
    assert_eq!(
        e,
        Error::Tls(encore_tls::Error::Certificate(CertError::NameMismatch))
    );
    assert_eq!(c.phase(), Phase::Failed);
    assert_eq!(ctx.cache().len(), 0);
}

/// A clock that reports a fixed wall time (or none) and real monotonic time.
#[derive(Clone, Copy)]
struct FixedWall {
    mono: StdClock,
    unix: Option<u64>,
}

impl MonotonicClock for FixedWall {
    fn now_ms(&self) -> u64 {
        self.mono.now_ms()
    }
}

impl WallClock for FixedWall {
    fn now_unix(&self) -> Option<u64> {
        self.unix
    }
}

/// E6 through `Connection`: without a wall clock and without a lower bound the full handshake
/// fails closed; a lower bound (a build date) lets it verify; a wall clock past the
/// certificates' notAfter is certificate_expired.
#[test]
fn e6_wall_clock_rules_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let no_clock = FixedWall {
        mono: StdClock::new(),
        unix: None,
    };
    let ctx = context_with(&pki.ca_der, no_clock, OsRng, |_| {});
    let mut c = conn(&ctx, server.port());
    assert_eq!(
        block_on(c.connect()).unwrap_err(),
        Error::Tls(encore_tls::Error::NoWallClock)
    );
    // 2026-01-01 as the firmware's build date.
    let ctx = context_with(&pki.ca_der, no_clock, OsRng, |c| {
        c.time_lower_bound = Some(1_767_225_600)
    });
    let mut c = conn(&ctx, server.port());
    assert_eq!(block_on(c.connect()).unwrap().kex, KeyExchangeMode::Full);
    block_on(c.shutdown()).unwrap();
    drop(c);
    let late = FixedWall {
        mono: StdClock::new(),
        unix: Some(2_524_608_000), // 2050
    };
    let ctx = context_with(&pki.ca_der, late, OsRng, |_| {});
    let mut c = conn(&ctx, server.port());
    match block_on(c.connect()).unwrap_err() {
        Error::Tls(encore_tls::Error::Certificate(CertError::Expired { now, .. })) => {
            assert_eq!(now, 2_524_608_000)
        }
        other => panic!("{other:?}"),
    }
}

/// GnuTLS: full, resumed, data both ways, across the three suites' default choice.
#[test]
fn gnutls_full_then_resumed_with_data() {
    let pki = TestPki::generate(&[NAME]);
    let server = GnutlsServer::start(&pki, &[]);
    let ctx = context(&pki, |_| {});
    full_then_resumed(&ctx, server.port(), (RX, TX), |c, _| {
        // gnutls-serv echoes whole lines.
        assert_eq!(round_trip(c, b"gnutls\n"), b"gnutls\n");
    });
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// C6, C34: a single-use ticket (openssl's stateful tickets with early data allowed) restored
/// from a copy after it was used is declined: a full handshake, the copy released, no error.
#[test]
fn c6_single_use_ticket_declined_on_reuse_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-max_early_data", "16384"]);
    let ctx = context(&pki, |_| {});
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    tickets(&mut c, 2);
    let original = c.get1_session().unwrap().unwrap();
    block_on(c.shutdown()).unwrap();
    drop(c);
    // A backup of the record, as an application that copied it to storage would restore it.
    let copy = copy_of(&ctx, &original);
    let mut r = conn(&ctx, server.port());
    r.set_session(Some(&original)).unwrap();
    assert!(block_on(r.connect()).unwrap().resumed);
    block_on(r.shutdown()).unwrap();
    drop(r);
    let mut again = conn(&ctx, server.port());
    again.set_session(Some(&copy)).unwrap();
    let hs = block_on(again.connect()).unwrap();
    assert!(!hs.resumed);
    assert!(!again.session_reused());
    assert!(again.session().is_none());
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// A new record with the same ticket, PSK and lifetime as `s` (a restored backup).
fn copy_of<G: TryCryptoRng, C: Clock>(
    ctx: &Ctx<G, C>,
    s: &Session<'static, P, 256>,
) -> Session<'static, P, 256> {
    let info = s.info().unwrap();
    record_in(
        ctx,
        info.cipher_suite,
        &ticket_of(s),
        &psk_of(s),
        info.lifetime_s,
        info.age_add,
    )
}

/// A record made by hand for [`NAME`] in `ctx`, received now from a freshly authenticated
/// server.
fn record_in<G: TryCryptoRng, C: Clock>(
    ctx: &Ctx<G, C>,
    cipher_suite: u16,
    ticket: &[u8],
    psk: &[u8],
    lifetime_s: u32,
    age_add: u32,
) -> Session<'static, P, 256> {
    let new = NewSession {
        version: TLS13,
        cipher_suite,
        psk,
        ticket,
        lifetime_s,
        age_add,
        max_early_data: 0,
        received_ms: ctx.now_ms(),
        received_unix: ctx.now_unix(),
        auth_age_ms: 0,
        peer: ctx.peer_id(NAME),
        owner: ctx.id(),
    };
    ctx.pool().create(&new).unwrap()
}

/// E4: a "server" that answers the ClientHello with random bytes: every connect ends in an
/// error value, never a panic or a hang.
#[test]
fn e4_random_bytes_from_the_server_are_errors() {
    let pki = TestPki::generate(&[NAME]);
    let ctx = context(&pki, |_| {});
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..40usize {
        let mut junk = vec![0u8; 1 + round * 37 % 700];
        for b in junk.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        // Half the rounds look like a handshake record for a while.
        if round % 2 == 0 && junk.len() > 5 {
            junk[..3].copy_from_slice(&[22, 3, 3]);
        }
        let (port, server) = script(move |s, _hello| {
            s.write_all(&junk).unwrap();
            let _ = s.shutdown(std::net::Shutdown::Write);
            drain(s)
        });
        let mut c = conn(&ctx, port);
        let e = block_on(c.connect()).unwrap_err();
        assert_eq!(c.phase(), Phase::Failed, "{e:?}");
        drop(c);
        server.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The scripted server over TCP
// ---------------------------------------------------------------------------------------------

/// R3: a CertificateEntry extension the client never asked for (status_request here) is
/// unsupported_extension (RFC 8446 §4.4.2); the server receives that alert.
#[test]
fn r3_unsolicited_certificate_entry_extension_is_unsupported_extension() {
    let pki = TestPki::generate(&[NAME]);
    let (leaf, int, key) = identity(&pki);
    let (port, server) = script(move |s, hello| {
        let mut flight = full_flight(
            &hello,
            &[],
            |sv| {
                // Certificate with a status_request (5) extension in the first entry.
                let mut list = Vec::new();
                for (i, c) in [&leaf, &int].iter().enumerate() {
                    list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
                    list.extend_from_slice(c);
                    let exts: &[u8] = if i == 0 { &[0, 5, 0, 1, 0xaa] } else { &[] };
                    list.extend_from_slice(&(exts.len() as u16).to_be_bytes());
                    list.extend_from_slice(exts);
                }
                let mut body = vec![0];
                body.extend_from_slice(&(list.len() as u32).to_be_bytes()[1..]);
                body.extend(list);
                sv.message(11, &body)
            },
            &key,
        );
        s.write_all(&flight.bytes).unwrap();
        alerts_in(&drain(s), flight.server.client_read.as_mut())
    });
    let ctx = context(&pki, |_| {});
    let mut c = conn(&ctx, port);
    assert_eq!(
        block_on(c.connect()).unwrap_err(),
        Error::Tls(encore_tls::Error::Illegal(
            Violation::CertificateExtensionNotOffered
        ))
    );
    drop(c);
    assert_eq!(server.join().unwrap(), vec![110]);
}

/// R3: an ALPN answer to a ClientHello without ALPN is unsupported_extension (RFC 8446 §4.2);
/// one that names a protocol not offered stays illegal_parameter.
#[test]
fn r3_alpn_answer_without_alpn_offered_is_unsupported_extension() {
    let pki = TestPki::generate(&[NAME]);
    for (offer, expect, alert) in [
        (false, Violation::AlpnNotSent, 110u8),
        (true, Violation::AlpnNotOffered, 47),
    ] {
        let p = identity(&pki);
        let (port, server) = script(move |s, hello| {
            // ALPN extension (16) selecting "h2".
            let alpn = [0, 16, 0, 5, 0, 3, 2, b'h', b'2'];
            let mut flight = full_flight(&hello, &alpn, |sv| sv.certificate(&[&p.0, &p.1]), &p.2);
            s.write_all(&flight.bytes).unwrap();
            alerts_in(&drain(s), flight.server.client_read.as_mut())
        });
        static MQTT: [&[u8]; 1] = [b"mqtt"];
        let ctx = context(&pki, |c| {
            if offer {
                c.alpn = &MQTT;
            }
        });
        let mut c = conn(&ctx, port);
        assert_eq!(
            block_on(c.connect()).unwrap_err(),
            Error::Tls(encore_tls::Error::Illegal(expect))
        );
        drop(c);
        assert_eq!(server.join().unwrap(), vec![alert], "{expect:?}");
    }
}

/// R6: a leaf whose keyUsage lacks digitalSignature may not sign the CertificateVerify
/// (RFC 5280 §4.2.1.3): bad_certificate. The same chain with digitalSignature verifies.
#[test]
fn r6_leaf_key_usage_without_digital_signature_is_refused() {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa,
        KeyPair, KeyUsagePurpose,
    };
    let p256 = &rcgen::PKCS_ECDSA_P256_SHA256;
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root =
        CertifiedIssuer::self_signed(root_params, KeyPair::generate_for(p256).unwrap()).unwrap();
    for (usages, ok) in [
        (vec![KeyUsagePurpose::KeyEncipherment], false),
        (
            vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
            true,
        ),
    ] {
        let mut leaf_params = CertificateParams::new(vec![NAME.to_string()]).unwrap();
        leaf_params.key_usages = usages;
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate_for(p256).unwrap();
        let leaf = leaf_params.signed_by(&key, &root).unwrap().der().to_vec();
        let key_der = key.serialize_der();
        let (port, server) = script(move |s, hello| {
            let mut flight = full_flight(&hello, &[], |sv| sv.certificate(&[&leaf]), &key_der);
            s.write_all(&flight.bytes).unwrap();
            alerts_in(&drain(s), flight.server.client_read.as_mut())
        });
        let ctx = context_with(root.der(), StdClock::new(), OsRng, |_| {});
        let mut c = conn(&ctx, port);
        let got = block_on(c.connect());
        drop(c);
        let alerts = server.join().unwrap();
        if ok {
            assert!(got.is_ok(), "{got:?}");
            assert!(alerts.is_empty());
        } else {
            assert_eq!(
                got.unwrap_err(),
                Error::Tls(encore_tls::Error::Certificate(
                    CertError::KeyUsageForbidsSigning
                ))
            );
            assert_eq!(alerts, vec![42]);
        }
    }
}

/// R4: a NewSessionTicket larger than the receive buffer can hold (tickets may be 65,535
/// bytes) costs that ticket only: it is skipped and counted, the next ticket is kept, and the
/// application data after it arrives. R5: a ticket whose lifetime exceeds seven days is
/// dropped and counted the same way.
#[test]
fn r4_r5_oversized_and_overlong_tickets_are_skipped_and_the_connection_goes_on() {
    let pki = TestPki::generate(&[NAME]);
    let id = identity(&pki);
    let (port, server) = script(move |s, hello| {
        let (mut sv, mut keys, fin) = complete(s, id, &hello);
        let big = scripted::new_session_ticket(7200, &[1], &vec![0x42; 20_000]);
        let long = scripted::new_session_ticket(604_801, &[2], b"too-long-lived");
        let good = scripted::new_session_ticket(7200, &[3], b"good-ticket");
        // The large ticket spans two records, the second of which also carries the next one.
        let mut out = scripted::seal(&mut keys.s_write, 22, &big[..12_000]);
        let mut rest = big[12_000..].to_vec();
        rest.extend_from_slice(&long);
        out.extend(scripted::seal(&mut keys.s_write, 22, &rest));
        out.extend(scripted::seal(&mut keys.s_write, 22, &good));
        out.extend(scripted::seal(&mut keys.s_write, 23, b"after the tickets"));
        s.write_all(&out).unwrap();
        let psk = sv.ticket_psk(&fin, &[3]);
        let _ = drain(s);
        psk.as_bytes().to_vec()
    });
    let ctx = context(&pki, |_| {});
    let (rx, tx) = buffers(16 * 1024 + 400, 4096);
    let mut c = Connection::new(&ctx, NAME, transport(port), rx, tx);
    block_on(c.connect()).unwrap();
    let mut buf = [0u8; 64];
    let n = block_on(c.read(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"after the tickets");
    let stats = c.stats();
    assert_eq!(stats.tickets_skipped, 2);
    assert_eq!(stats.tickets_received, 1);
    assert_eq!(c.phase(), Phase::Connected);
    let kept = c.get1_session().unwrap().unwrap();
    assert_eq!(ticket_of(&kept), b"good-ticket");
    block_on(c.shutdown()).unwrap();
    drop(c);
    assert_eq!(psk_of(&kept), server.join().unwrap());
}

/// R2: a server that trickles its ServerHello a byte every 150 ms cannot hold a handshake
/// open past the connection's limit, although no single read ever times out.
#[test]
fn r2_trickling_server_hits_the_handshake_deadline() {
    let pki = TestPki::generate(&[NAME]);
    let stop: &'static AtomicBool = leak(AtomicBool::new(false));
    let (port, server) = script(move |s, hello| {
        let mut sv = Scripted::new();
        let sh = sv.server_hello(&hello, &FULL_HELLO);
        for b in sh.iter().cycle().take(200) {
            if stop.load(Ordering::SeqCst) || s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    });
    let ctx = context(&pki, |_| {});
    let mut c = conn(&ctx, port);
    assert_eq!(c.handshake_timeout(), Some(DEFAULT_HANDSHAKE_TIMEOUT_MS));
    c.set_handshake_timeout(Some(1_000));
    let start = Instant::now();
    assert_eq!(block_on(c.connect()).unwrap_err(), Error::HandshakeTimeout);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(1_000), "{took:?}");
    assert!(took < Duration::from_millis(2_500), "{took:?}");
    assert_eq!(c.phase(), Phase::Failed);
    stop.store(true, Ordering::SeqCst);
    drop(c);
    server.join().unwrap();
}

/// R1, RFC 8446 §6.1: a close_notify in the middle of the handshake is answered at once with
/// the client's own, and `connect` ends; a fatal alert ends it at once too, with the alert
/// named in the error's text.
#[test]
fn r1_alerts_mid_handshake_end_connect_at_once() {
    let pki = TestPki::generate(&[NAME]);
    for description in [0u8, 40] {
        let (port, server) = script(move |s, hello| {
            let mut sv = Scripted::new();
            let mut out = sv.server_hello(&hello, &FULL_HELLO);
            let level = if description == 0 { 1 } else { 2 };
            out.extend(sv.seal(21, &[level, description]));
            s.write_all(&out).unwrap();
            let start = Instant::now();
            let got = drain(s);
            (start.elapsed(), alerts_in(&got, sv.client_read.as_mut()))
        });
        let ctx = context(&pki, |_| {});
        let mut c = conn(&ctx, port);
        let start = Instant::now();
        let e = block_on(c.connect()).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        drop(c);
        let (waited, alerts) = server.join().unwrap();
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        if description == 0 {
            assert_eq!(e, Error::Tls(encore_tls::Error::ClosedDuringHandshake));
            assert_eq!(alerts, vec![0]); // our close_notify, under the handshake key
        } else {
            assert_eq!(
                e,
                Error::Tls(encore_tls::Error::AlertReceived(
                    AlertDescription::HANDSHAKE_FAILURE
                ))
            );
            assert!(alerts.is_empty());
            assert_eq!(
                e.to_string(),
                "server sent fatal alert handshake_failure (40)"
            );
        }
    }
}

/// A record of the scripted server's ticket, PSK [`scripted::PSK`].
fn scripted_session<G: TryCryptoRng, C: Clock>(
    ctx: &Ctx<G, C>,
    suite: CipherSuite,
) -> Session<'static, P, 256> {
    record_in(
        ctx,
        suite.to_u16(),
        b"scripted-ticket",
        &scripted::PSK,
        7200,
        7,
    )
}

/// C31, C32 through `Connection`: a ServerHello that selects an identity never offered, or
/// accepts the PSK with a suite of another hash, is illegal_parameter; a resumption whose
/// server sends a Certificate, or a full handshake without one, is unexpected_message. Each
/// alert reaches the server, and the offered session is invalidated (C15).
#[test]
fn c31_c32_scripted_aborts_through_connection() {
    let pki = TestPki::generate(&[NAME]);
    type Case = (Option<u16>, u16, bool, encore_tls::Error, u8);
    let cases: [Case; 4] = [
        (
            Some(1),
            0x1301,
            false,
            encore_tls::Error::Illegal(Violation::PskIdentityNotOffered),
            47,
        ),
        (
            Some(0),
            0x1302,
            false,
            encore_tls::Error::Illegal(Violation::PskSuiteHashMismatch),
            47,
        ),
        (
            Some(0),
            0x1301,
            true,
            encore_tls::Error::CertificateWithPsk,
            10,
        ),
        (
            None,
            0x1301,
            false,
            encore_tls::Error::ServerNotAuthenticated,
            10,
        ),
    ];
    for (psk_identity, suite, send_cert, expect, alert) in cases {
        let id = identity(&pki);
        let (port, server) = script(move |s, hello| {
            assert!(hello.psk.is_some(), "the session must be offered");
            let mut sv = Scripted::new();
            let mut out = sv.server_hello(
                &hello,
                &ServerHelloSpec {
                    suite,
                    key_share: true,
                    psk_identity,
                },
            );
            if suite == 0x1301 && psk_identity != Some(1) {
                let mut hs = sv.encrypted_extensions();
                if send_cert {
                    hs.extend(sv.certificate(&[&id.0, &id.1]));
                }
                hs.extend(sv.finished());
                out.extend(sv.seal(22, &hs));
            }
            s.write_all(&out).unwrap();
            alerts_in(&drain(s), sv.client_read.as_mut())
        });
        let ctx = context(&pki, |_| {});
        let session = scripted_session(&ctx, CipherSuite::Aes128GcmSha256);
        let mut c = conn(&ctx, port);
        c.set_session(Some(&session)).unwrap();
        assert_eq!(block_on(c.connect()).unwrap_err(), Error::Tls(expect));
        drop(c);
        assert_eq!(server.join().unwrap(), vec![alert], "{expect:?}");
        // C15: the alert invalidated the offered session; C28: it was used.
        let info = session.info().unwrap();
        assert!(info.not_resumable && info.used, "{expect:?}");
    }
}

/// R10: the generator fails while a psk_ke offer is answered with a HelloRetryRequest and an
/// alert in the same segment. ClientHello2 (a key share from a failed generator) is built, but
/// nothing of it reaches the wire, and `connect` reports the generator.
#[test]
fn r10_rng_failure_puts_nothing_on_the_wire_even_when_an_alert_follows() {
    let pki = TestPki::generate(&[NAME]);
    let broken: &'static AtomicBool = leak(AtomicBool::new(false));
    let (port, server) = script(move |s, hello| {
        assert_eq!(hello.key_share_entries, 0); // psk_ke: no key share in ClientHello1
        broken.store(true, Ordering::SeqCst);
        let (mut out, _) = scripted::hello_retry_request(Some(0x001d), None);
        out.extend(scripted::plain_record(21, &[2, 40]));
        s.write_all(&out).unwrap();
        drain(s)
    });
    let ctx = context_with(&pki.ca_der, StdClock::new(), SwitchedRng(broken), |c| {
        c.psk_mode = PskMode::AllowPskOnly
    });
    let session = scripted_session(&ctx, CipherSuite::Aes128GcmSha256);
    let mut c = conn(&ctx, port);
    c.set_session(Some(&session)).unwrap();
    assert_eq!(block_on(c.connect()).unwrap_err(), Error::Rng);
    drop(c);
    assert_eq!(server.join().unwrap(), Vec::<u8>::new());
}

/// `Error` is a `core::error::Error` whose source is the engine's or the session layer's
/// error; transport errors keep their kind.
#[test]
fn errors_keep_their_cause() {
    let e = Error::Tls(encore_tls::Error::AlertReceived(
        AlertDescription::UNKNOWN_CA,
    ));
    let dynamic: &dyn std::error::Error = &e;
    assert_eq!(
        dynamic.source().map(|s| s.to_string()),
        Some("server sent fatal alert unknown_ca (48)".to_string())
    );
    let s = Error::Session(encore_session::Error::WrongOwner);
    assert!((&s as &dyn std::error::Error).source().is_some());
    assert!((&Error::Io(ErrorKind::TimedOut) as &dyn std::error::Error)
        .source()
        .is_none());
    assert_eq!(
        Error::HandshakeTimeout.to_string(),
        "handshake did not complete in time"
    );
}

/// `send_fatal_alert`: the server receives the alert, the connection fails and its session
/// is invalidated (C15).
#[test]
fn c15_send_fatal_alert_reaches_the_server_rustls() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            reply: Reply::Nothing,
            ..RustlsOptions::default()
        },
    );
    let ctx = context(&pki, |_| {});
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    tickets(&mut c, 2);
    let s = c.get1_session().unwrap().unwrap();
    block_on(c.send_fatal_alert(AlertDescription::NO_APPLICATION_PROTOCOL)).unwrap();
    assert_eq!(c.phase(), Phase::Failed);
    assert!(s.info().unwrap().not_resumable);
    assert_eq!(block_on(c.write(b"x")).unwrap_err(), Error::Failed);
    drop(c);
    let rec = server.wait_connections(1, WAIT);
    let err = rec[0].error.clone().unwrap_or_default();
    assert!(err.contains("NoApplicationProtocol"), "{err}");
}

/// A clock the test moves by hand: monotonic milliseconds from zero, and the wall clock that
/// many milliseconds after the real time at its creation.
#[derive(Clone, Copy)]
struct ManualClock {
    ms: &'static std::sync::atomic::AtomicU64,
    unix0: u64,
}

impl ManualClock {
    fn new() -> Self {
        ManualClock {
            ms: leak(std::sync::atomic::AtomicU64::new(0)),
            unix0: common::now_unix(),
        }
    }
    fn advance(&self, ms: u64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl MonotonicClock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.ms.load(Ordering::SeqCst)
    }
}

impl WallClock for ManualClock {
    fn now_unix(&self) -> Option<u64> {
        Some(self.unix0 + self.now_ms() / 1000)
    }
}

/// C29 through `Connection`: tickets received on a resumed connection keep the time of the
/// full handshake that authenticated the server, so a chain of resumptions ends once the
/// configured authentication age has passed, although each ticket is young.
#[test]
fn c29_resumption_chain_ends_at_the_authentication_age_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-num_tickets", "2"]);
    let clock = ManualClock::new();
    let cache = CacheConfig {
        limits: encore_session::Limits {
            timeout_s: 7200,
            max_auth_age_s: 7200,
        },
        ..CacheConfig::DEFAULT
    };
    let ctx: Ctx<OsRng, ManualClock> = support::context(&pki.ca_der, cache, clock, OsRng, |_| {});
    full(&ctx, NAME, server.port(), 2);
    // 1.5 h later: the ticket is 1.5 h old and the authentication too; it resumes.
    clock.advance(5_400_000);
    let mut c = conn(&ctx, server.port());
    assert!(block_on(c.connect()).unwrap().resumed);
    assert_eq!(tickets(&mut c, 1), 1);
    // The new ticket's record carries the original authentication, 5400 s before its receipt.
    let chained = c.get1_session().unwrap().unwrap();
    assert_eq!(chained.info().unwrap().auth_age_s, 5_400);
    block_on(c.shutdown()).unwrap();
    drop(c);
    // One more hour: the chained ticket is 1 h old, but the server was authenticated 2.5 h ago.
    clock.advance(3_600_000);
    let mut c = conn(&ctx, server.port());
    let hs = block_on(c.connect()).unwrap();
    assert!(!hs.resumed);
    assert!(!hs.offer_declined); // nothing was offered
    assert!(!chained.info().unwrap().used);
    block_on(c.shutdown()).unwrap();
    drop(c);
    assert_eq!(server.wait_reported(3, WAIT), 3);
    assert_eq!(server.resumed_count(), 1);
}

/// C30 on the wire, through `Connection`: the obfuscated_ticket_age the server receives is the
/// ticket's age in milliseconds since its receipt plus its ticket_age_add, modulo 2^32.
#[test]
fn c30_obfuscated_ticket_age_on_the_wire() {
    let pki = TestPki::generate(&[NAME]);
    let clock = ManualClock::new();
    clock.advance(1_000);
    let ctx: Ctx<OsRng, ManualClock> = context_with(&pki.ca_der, clock, OsRng, |_| {});
    let p = identity(&pki);
    let (port, server) = script(move |s, hello| {
        let (_, mut keys, _) = complete(s, p, &hello);
        let nst = scripted::new_session_ticket(7200, &[9], b"age-ticket");
        s.write_all(&scripted::seal(&mut keys.s_write, 22, &nst))
            .unwrap();
        drain(s);
    });
    let mut c = conn(&ctx, port);
    block_on(c.connect()).unwrap();
    assert_eq!(tickets(&mut c, 1), 1);
    block_on(c.shutdown()).unwrap();
    drop(c);
    server.join().unwrap();
    clock.advance(123_456);
    let (port, server) = script(|_, hello| hello.psk.map(|(id, age, _, _)| (id, age)));
    let mut c = conn(&ctx, port);
    let _ = block_on(c.connect());
    drop(c);
    let (id, age) = server.join().unwrap().expect("the ticket is offered");
    assert_eq!(id, b"age-ticket");
    // new_session_ticket's ticket_age_add is 0x01020304.
    assert_eq!(age, 123_456u32.wrapping_add(0x0102_0304));
}

/// KeyUpdate from the server with update_requested (RFC 8446 §4.6.3): the client switches its
/// read key, answers with its own KeyUpdate before its next data, and that data arrives under
/// its next traffic key.
#[test]
fn key_update_requested_by_the_server_is_answered() {
    let pki = TestPki::generate(&[NAME]);
    let p = identity(&pki);
    let (port, server) = script(move |s, hello| {
        let (_, mut keys, _) = complete(s, p, &hello);
        let hash = CipherSuite::Aes128GcmSha256.hash();
        let mut out = scripted::seal(&mut keys.s_write, 22, &[24, 0, 0, 1, 1]);
        let s_next = encore_tls::crypto::next_traffic_secret(hash, keys.s_ap.as_bytes());
        let mut s_write =
            RecordProtection::new(CipherSuite::Aes128GcmSha256, s_next.as_bytes()).unwrap();
        out.extend(scripted::seal(&mut s_write, 23, b"under new keys"));
        s.write_all(&out).unwrap();
        // The client's KeyUpdate under its old key, then its data under the next one.
        let update = scripted::open_all(&mut keys.c_read, &read_record(s).unwrap());
        let c_next = encore_tls::crypto::next_traffic_secret(hash, keys.c_ap.as_bytes());
        let mut c_read =
            RecordProtection::new(CipherSuite::Aes128GcmSha256, c_next.as_bytes()).unwrap();
        let data = scripted::open_all(&mut c_read, &read_record(s).unwrap());
        (update, data)
    });
    let ctx = context(&pki, |_| {});
    let mut c = conn(&ctx, port);
    block_on(c.connect()).unwrap();
    let mut buf = [0u8; 32];
    let n = block_on(c.read(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"under new keys");
    block_on(c.write(b"reply")).unwrap();
    let (update, data) = server.join().unwrap();
    // KeyUpdate(update_not_requested), inner type handshake; then the data, inner type 23.
    assert_eq!(update, [(22, vec![24, 0, 0, 1, 0])]);
    assert_eq!(data, [(23, b"reply".to_vec())]);
}

/// What a firmware library sees: any `embedded_io_async` stream.
async fn request_over_stream<S: embedded_io_async::Read + embedded_io_async::Write>(
    stream: &mut S,
    request: &[u8],
) -> Result<Vec<u8>, embedded_io_async::ReadExactError<S::Error>> {
    stream
        .write_all(request)
        .await
        .map_err(embedded_io_async::ReadExactError::Other)?;
    stream
        .flush()
        .await
        .map_err(embedded_io_async::ReadExactError::Other)?;
    let mut answer = vec![0u8; request.len()];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

/// `Connection` is an `embedded_io_async::{Read, Write}` stream: a library written against the
/// traits (here `write_all`, `flush`, `read_exact` over several records) runs over a resumed
/// connection, and the error's kind says what a stream user needs.
#[test]
fn connection_is_an_embedded_io_stream_rustls() {
    use embedded_io_async::Error as _;
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let ctx = context(&pki, |_| {});
    full(&ctx, NAME, server.port(), 2);
    let mut c = conn(&ctx, server.port());
    assert!(block_on(c.connect()).unwrap().resumed);
    tickets(&mut c, 1);
    let request: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    assert_eq!(
        block_on(request_over_stream(&mut c, &request)).unwrap(),
        request
    );
    block_on(c.shutdown()).unwrap();
    assert_eq!(
        block_on(embedded_io_async::Write::write(&mut c, b"late"))
            .unwrap_err()
            .kind(),
        ErrorKind::BrokenPipe
    );
    let mut idle = conn(&ctx, server.port());
    let mut buf = [0u8; 4];
    let e = block_on(embedded_io_async::Read::read(&mut idle, &mut buf)).unwrap_err();
    assert_eq!(
        (e, e.kind()),
        (Error::NotConnected, ErrorKind::NotConnected)
    );
    assert_eq!(Error::HandshakeTimeout.kind(), ErrorKind::TimedOut);
    assert_eq!(
        Error::Tls(encore_tls::Error::AlertReceived(
            AlertDescription::UNKNOWN_CA
        ))
        .kind(),
        ErrorKind::ConnectionAborted
    );
}

/// One offer path: the engine holds any ticket the context's pool can hold, so a ticket far
/// above the engine's default capacity (3,000 bytes in a pool of 4,096-byte tickets) is cached
/// and then offered whole, straight from the record; nothing is burned.
#[test]
fn pool_sized_tickets_are_cached_and_offered_whole() {
    let pki = TestPki::generate(&[NAME]);
    let ctx: Context<'static, StdClock, OsRng, 4, 4, 4096> = support::context(
        &pki.ca_der,
        CacheConfig::DEFAULT,
        StdClock::new(),
        OsRng,
        |_| {},
    );
    let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let sent = big.clone();
    let p = identity(&pki);
    let (port, server) = script(move |s, hello| {
        let (_, mut keys, _) = complete(s, p, &hello);
        let nst = scripted::new_session_ticket(7200, &[1], &sent);
        s.write_all(&scripted::seal(&mut keys.s_write, 22, &nst))
            .unwrap();
        drain(s);
    });
    let mut c = support::connection(&ctx, NAME, transport(port));
    block_on(c.connect()).unwrap();
    assert!(block_on(c.await_tickets(1)).unwrap() >= 1);
    assert_eq!(c.stats().tickets_dropped, 0);
    block_on(c.shutdown()).unwrap();
    drop(c);
    server.join().unwrap();
    assert_eq!(ctx.cache().len(), 1);

    let (port, server) = script(|_, hello| hello.psk.map(|(id, ..)| id));
    let mut c = support::connection(&ctx, NAME, transport(port));
    let _ = block_on(c.connect());
    drop(c);
    let offered = server.join().unwrap().expect("the ticket is offered");
    assert_eq!(offered, big);
    // Taken from the cache to be offered (C36), and used (C28).
    assert_eq!(ctx.cache().len(), 0);
}

/// `ClientConfig::buffer_sizes` through `Connection`: buffers of exactly the sizes it gives
/// (for the server's Certificate message and the pool's ticket capacity) carry a full
/// handshake and a resumption against OpenSSL, with 16 KiB records and with 1 KiB ones.
#[test]
fn buffer_sizes_are_enough_for_full_and_resumed_openssl() {
    let pki = TestPki::generate(&[NAME]);
    // The server's Certificate message: header, empty context, the list of leaf and
    // intermediate, each with a 3-byte length and an empty extensions block.
    let certificate = 4 + 1 + 3 + (3 + pki.leaf.cert_der.len() + 2) + (3 + pki.int_der.len() + 2);
    for mfl in [None, Some(MaxFragmentLength::Bytes1024)] {
        let ctx = context(&pki, |c| c.max_fragment_length = mfl);
        let sizes = ctx
            .tls_config()
            .buffer_sizes(NAME, 256, certificate)
            .unwrap();
        let openssl = OpenSslServer::start(&pki, &[]);
        full_then_resumed(&ctx, openssl.port(), (sizes.rx, sizes.tx), |c, _| {
            block_on(c.write(b"ping")).unwrap();
        });
        assert_eq!(openssl.wait_resumed(1, WAIT), 1);
    }
}
