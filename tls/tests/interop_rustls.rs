//! Interop with a rustls 0.23 server in-process on 127.0.0.1: full handshake, then a
//! resumption the server itself reports (`handshake_kind() == Some(Resumed)`).

use encore_testkit as common;
mod driver;

use common::{Reply, RustlsOptions, RustlsServer, TicketMode};
use driver::{
    client_signer, connect, full_handshake, pki, plan, resume, trust, Plan, SERVER_NAME, WAIT,
};
use encore_tls::client::{ClientConfig, Error, KeyExchangeMode};
use encore_tls::crypto::CipherSuite;

/// C5/C8: stateless tickets; the resumption is psk_dhe_ke and the server says Resumed.
#[test]
fn rustls_stateless_full_then_resumed() {
    let pki = pki();
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = full_handshake(server.port(), &config, &plan(2));
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert_eq!(full.tickets.len(), 2);
    let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
    assert!(r.summary.resumed);
    assert_eq!(r.summary.kex, KeyExchangeMode::PskDhe);
    let conns = server.wait_connections(2, WAIT);
    assert_eq!(conns.len(), 2);
    assert!(!conns[0].resumed);
    assert!(conns[1].resumed);
    assert_eq!(conns[1].sni.as_deref(), Some(SERVER_NAME));
    // PEERS.md: a rustls client needs 1564 B (full) and 730 B (resumed) with this server.
    assert!(full.handshake_bytes() < 1564, "{}", full.handshake_bytes());
    assert!(r.handshake_bytes() < 730, "{}", r.handshake_bytes());
    eprintln!(
        "wire bytes rustls: full {} B (sent {} / received {}), resumed {} B (sent {} / received {}), ticket {} B",
        full.handshake_bytes(),
        full.handshake_sent,
        full.handshake_received,
        r.handshake_bytes(),
        r.handshake_sent,
        r.handshake_received,
        full.tickets[0].ticket.len()
    );
}

/// C28/C34: the default session cache makes tickets single-use; reusing one is declined
/// and the engine completes a full handshake.
#[test]
fn rustls_stateful_ticket_is_single_use() {
    let pki = pki();
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            tickets: TicketMode::Stateful,
            ..RustlsOptions::default()
        },
    );
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = full_handshake(server.port(), &config, &plan(2));
    let t = &full.tickets[0];
    let first = resume(server.port(), &config, t, &plan(1));
    assert!(first.summary.resumed);
    let again = resume(server.port(), &config, t, &plan(1));
    assert!(!again.summary.resumed);
    assert!(again.summary.offer_declined);
    let conns = server.wait_connections(3, WAIT);
    assert_eq!(
        conns.iter().map(|c| c.resumed).collect::<Vec<_>>(),
        vec![false, true, false]
    );
}

/// HelloRetryRequest from a server that only takes secp256r1, full and resumed.
#[test]
fn rustls_hello_retry_request_full_and_resumed() {
    let pki = pki();
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            p256_only: true,
            ..RustlsOptions::default()
        },
    );
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = full_handshake(server.port(), &config, &plan(1));
    assert!(full.summary.retried);
    let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
    assert!(r.summary.retried);
    assert!(r.summary.resumed);
    let conns = server.wait_connections(2, WAIT);
    assert!(conns[0].hello_retry);
    assert!(conns[1].resumed);
}

/// Mutual TLS with the software P-256 signer.
#[test]
fn rustls_mutual_tls_full_then_resumed() {
    let pki = pki();
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            client_auth: true,
            ..RustlsOptions::default()
        },
    );
    let signer = client_signer(&pki);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.client_auth = Some(&signer);
    let full = full_handshake(server.port(), &config, &plan(1));
    let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
    assert!(r.summary.resumed);
    let conns = server.wait_connections(2, WAIT);
    assert!(conns[0].client_cert);
    assert!(conns[1].resumed);
}

/// ALPN: the selected protocol is reported, and application data round-trips.
#[test]
fn rustls_alpn_and_echo() {
    let pki = pki();
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            alpn: vec![b"mqtt".to_vec()],
            reply: Reply::Echo,
            ..RustlsOptions::default()
        },
    );
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    let protocols: [&[u8]; 2] = [b"h2", b"mqtt"];
    config.alpn = &protocols;
    let p = Plan {
        send: Some(b"ping 1234".to_vec()),
        want_tickets: 2,
        want_response: true,
        send_after_tickets: true,
        ..Plan::default()
    };
    let out = full_handshake(server.port(), &config, &p);
    assert_eq!(out.alpn.as_deref(), Some(&b"mqtt"[..]));
    assert_eq!(out.response, b"ping 1234");
    let conns = server.wait_connections(1, WAIT);
    assert_eq!(conns[0].alpn.as_deref(), Some(&b"mqtt"[..]));
    assert_eq!(conns[0].received, b"ping 1234");
}

/// C34: after the server's ticket keys rotate, the old ticket is declined; full handshake.
#[test]
fn rustls_rotated_ticket_keys_decline_offer() {
    let pki = pki();
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = full_handshake(server.port(), &config, &plan(1));
    server.rotate_ticket_keys();
    let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
    assert!(!r.summary.resumed);
    assert!(r.summary.offer_declined);
    assert!(!r.tickets.is_empty());
}

/// SHA-384 suite: the ticket's PSK is 48 bytes and the resumption offers only SHA-384
/// suites (C31).
#[test]
fn rustls_sha384_suite_resumes() {
    let pki = pki();
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            suites: vec![0x1302],
            ..RustlsOptions::default()
        },
    );
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = full_handshake(server.port(), &config, &plan(1));
    assert_eq!(full.summary.suite, CipherSuite::Aes256GcmSha384);
    assert_eq!(full.tickets[0].psk.len(), 48);
    let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
    assert!(r.summary.resumed);
    assert_eq!(r.summary.suite, CipherSuite::Aes256GcmSha384);
}

/// An IP literal is verified against the certificate's IP SAN and sends no SNI.
#[test]
fn rustls_ip_literal_without_sni() {
    let pki = pki();
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = connect(server.port(), &config, "127.0.0.1", None, &plan(1)).unwrap();
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    let conns = server.wait_connections(1, WAIT);
    assert_eq!(conns[0].sni, None);
}

/// E6: without a wall clock the full handshake fails closed; with a lower bound (a build
/// date, here the current time) it verifies. The resumption needs no clock at all.
#[test]
fn rustls_no_wall_clock_fails_closed_unless_a_lower_bound_is_set_e6() {
    let pki = pki();
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    let p = Plan {
        no_clock: true,
        ..plan(1)
    };
    let err = connect(server.port(), &config, SERVER_NAME, None, &p).unwrap_err();
    assert!(
        matches!(err, driver::DriveError::Tls(Error::NoWallClock)),
        "{err:?}"
    );
    config.time_lower_bound = Some(common::now_unix());
    let full = full_handshake(server.port(), &config, &p);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    config.time_lower_bound = None;
    let r = resume(server.port(), &config, &full.tickets[0], &p);
    assert!(r.summary.resumed);
}

/// KeyUpdate both ways (RFC 8446 §4.6.3): the client updates its keys and requests an
/// update; rustls answers with its own KeyUpdate, and the echo arrives under the server's
/// new keys.
#[test]
fn rustls_key_update_requested_by_client() {
    let pki = pki();
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let config = ClientConfig::new(trust(&pki.ca_der));
    let p = Plan {
        send: Some(b"after key update".to_vec()),
        want_tickets: 2,
        want_response: true,
        send_after_tickets: true,
        key_update_before_send: true,
        ..Plan::default()
    };
    let out = full_handshake(server.port(), &config, &p);
    assert_eq!(out.response, b"after key update");
    let conns = server.wait_connections(1, WAIT);
    assert_eq!(conns[0].received, b"after key update");
    assert_eq!(conns[0].error, None);
}
