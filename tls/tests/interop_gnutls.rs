//! Interop with `gnutls-serv` (TLS 1.3 only) on 127.0.0.1: full handshake, then a
//! resumption the server itself reports ("*** This is a resumed session").

use encore_testkit as common;
mod driver;

use std::time::Duration;

use common::{GnutlsServer, TestPki};
use driver::{anchor, connect, Plan, SERVER_NAME};
use encore_tls::client::{ClientConfig, KeyExchangeMode};

const WAIT: Duration = Duration::from_secs(5);

/// C5/C8: two tickets after the full handshake, psk_dhe_ke resumption, echo of application
/// data on both connections.
#[test]
fn gnutls_full_then_resumed_with_echo() {
    let pki = TestPki::generate(&[SERVER_NAME]);
    let server = GnutlsServer::start(&pki, &[]);
    let anchors = [anchor(&pki.ca_der)];
    let config = ClientConfig::new(&anchors);
    let plan = Plan {
        send: Some(b"hello gnutls\n".to_vec()),
        want_tickets: 2,
        want_response: true,
        ..Plan::default()
    };
    let full = connect(server.port(), &config, SERVER_NAME, None, &plan).unwrap();
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert_eq!(full.tickets.len(), 2);
    assert_eq!(full.response, b"hello gnutls\n");
    let plan = Plan {
        want_tickets: 0,
        ..plan
    };
    let r = connect(
        server.port(),
        &config,
        SERVER_NAME,
        Some(full.tickets[0].offer()),
        &plan,
    )
    .unwrap();
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
    let pki = TestPki::generate(&[SERVER_NAME]);
    let server = GnutlsServer::start(&pki, &[]);
    let anchors = [anchor(&pki.ca_der)];
    let mut config = ClientConfig::new(&anchors);
    config.record_size_limit = Some(513);
    let plan = Plan {
        want_tickets: 1,
        rx_size: 2048,
        ..Plan::default()
    };
    let full = connect(server.port(), &config, SERVER_NAME, None, &plan).unwrap();
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert!(
        full.max_record_received <= 513 + 16,
        "{}",
        full.max_record_received
    );
    assert!(full.handshake_received > 1024);
    let r = connect(
        server.port(),
        &config,
        SERVER_NAME,
        Some(full.tickets[0].offer()),
        &plan,
    )
    .unwrap();
    assert!(r.summary.resumed);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// HelloRetryRequest from GnuTLS restricted to secp256r1, full and resumed.
#[test]
fn gnutls_hello_retry_request_full_and_resumed() {
    let pki = TestPki::generate(&[SERVER_NAME]);
    let server = GnutlsServer::start(
        &pki,
        &[
            "--priority",
            "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP256R1",
        ],
    );
    let anchors = [anchor(&pki.ca_der)];
    let config = ClientConfig::new(&anchors);
    let plan = Plan::default();
    let full = connect(server.port(), &config, SERVER_NAME, None, &plan).unwrap();
    assert!(full.summary.retried);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    let r = connect(
        server.port(),
        &config,
        SERVER_NAME,
        Some(full.tickets[0].offer()),
        &plan,
    )
    .unwrap();
    assert!(r.summary.retried);
    assert!(r.summary.resumed);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}
