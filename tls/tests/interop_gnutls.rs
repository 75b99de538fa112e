//! Interop with `gnutls-serv` (TLS 1.3 only) on 127.0.0.1: full handshake, then a
//! resumption the server itself reports ("*** This is a resumed session").

use encore_testkit as common;
mod driver;

use common::GnutlsServer;
use driver::{full_handshake, full_then_resumed, pki, resume, trust, Plan, WAIT};
use encore_tls::client::{ClientConfig, KeyExchangeMode};

/// C5/C8: two tickets after the full handshake, psk_dhe_ke resumption, echo of application
/// data on both connections.
#[test]
fn gnutls_full_then_resumed_with_echo() {
    let pki = pki();
    let server = GnutlsServer::start(&pki, &[]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let plan = Plan {
        send: Some(b"hello gnutls\n".to_vec()),
        want_tickets: 2,
        want_response: true,
        ..Plan::default()
    };
    let full = full_handshake(server.port(), &config, &plan);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert_eq!(full.tickets.len(), 2);
    assert_eq!(full.response, b"hello gnutls\n");
    let plan = Plan {
        want_tickets: 0,
        ..plan
    };
    let r = resume(server.port(), &config, &full.tickets[0], &plan);
    assert!(r.summary.resumed);
    assert_eq!(r.summary.kex, KeyExchangeMode::PskDhe);
    assert_eq!(r.response, b"hello gnutls\n");
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    eprintln!(
        "wire bytes gnutls: full {} B, resumed {} B, ticket {} B",
        full.handshake_bytes(),
        r.handshake_bytes(),
        full.tickets[0].ticket.len()
    );
}

/// record_size_limit (RFC 8449): GnuTLS honours it, so a 2 KiB receive buffer is enough
/// and no protected record exceeds 513 bytes (512 of content plus the inner type) plus the
/// 16-byte tag.
#[test]
fn gnutls_record_size_limit_small_receive_buffer() {
    let pki = pki();
    let server = GnutlsServer::start(&pki, &[]);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.record_size_limit = Some(513);
    let plan = Plan {
        want_tickets: 1,
        rx_size: 2048,
        ..Plan::default()
    };
    let (full, _) = full_then_resumed(&server, &config, &plan);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert!(
        full.max_record_received <= 513 + 16,
        "{}",
        full.max_record_received
    );
    assert!(full.handshake_received > 1024);
}

/// HelloRetryRequest from GnuTLS restricted to secp256r1, full and resumed.
#[test]
fn gnutls_hello_retry_request_full_and_resumed() {
    let pki = pki();
    let server = GnutlsServer::start(
        &pki,
        &[
            "--priority",
            "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP256R1",
        ],
    );
    let config = ClientConfig::new(trust(&pki.ca_der));
    let (full, r) = full_then_resumed(&server, &config, &Plan::default());
    assert!(full.summary.retried);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert!(r.summary.retried);
}
