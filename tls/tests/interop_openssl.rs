//! Interop with `openssl s_server` (OpenSSL 3.0) on 127.0.0.1: a full handshake, then a
//! resumption with a ticket from it, proven by the server's own "Reused session-id" line.

use encore_testkit as common;
mod driver;

use std::time::Duration;

use common::OpenSslServer;
use driver::{
    client_signer, connect, full_handshake, full_then_resumed, pki, plan, resume, trust, Plan,
    SERVER_NAME, WAIT,
};
use encore_tls::client::{ClientConfig, Error, KeyExchangeMode, MaxFragmentLength, PskMode};
use encore_tls::crypto::{CipherSuite, NamedGroup};

/// C5/C8/C30: full handshake, two tickets, then a psk_dhe_ke resumption the server confirms.
#[test]
fn openssl_stateless_tickets_full_then_resumed() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-num_tickets", "2"]);
    let config = ClientConfig::new(trust(&pki.ca_der));

    let full = full_handshake(server.port(), &config, &plan(2));
    assert!(!full.summary.resumed);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert_eq!(full.summary.suite, CipherSuite::Aes128GcmSha256);
    assert_eq!(full.tickets.len(), 2);
    assert_eq!(full.tickets[0].psk.len(), 32);
    assert_eq!(full.tickets[0].suite, CipherSuite::Aes128GcmSha256);
    assert_eq!(full.tickets[0].lifetime_s, 7200);

    let ticket = &full.tickets[0];
    let resumed = resume(server.port(), &config, ticket, &plan(1));
    assert!(resumed.summary.resumed);
    assert_eq!(resumed.summary.kex, KeyExchangeMode::PskDhe);
    assert!(!resumed.summary.offer_declined);
    assert!(
        resumed.offer_sent,
        "C28: the ClientHello carrying the ticket left"
    );
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    // PEERS.md: an OpenSSL client needs 1624 B (full) and 835 B (resumed) with this server.
    assert!(full.handshake_bytes() < 1624, "{}", full.handshake_bytes());
    assert!(
        resumed.handshake_bytes() < 835,
        "{}",
        resumed.handshake_bytes()
    );
    eprintln!(
        "wire bytes openssl: full {} B (sent {} / received {}), resumed {} B (sent {} / received {}), ticket {} B",
        full.handshake_bytes(),
        full.handshake_sent,
        full.handshake_received,
        resumed.handshake_bytes(),
        resumed.handshake_sent,
        resumed.handshake_received,
        ticket.ticket.len()
    );
}

/// C34: `-no_ticket` gives stateful 32-byte tickets that stay reusable.
#[test]
fn openssl_stateful_no_ticket_resumes_twice() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-no_ticket"]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = full_handshake(server.port(), &config, &plan(2));
    assert_eq!(full.tickets.len(), 2);
    assert_eq!(full.tickets[0].ticket.len(), 32);
    for round in 1..=2 {
        let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
        assert!(r.summary.resumed);
        assert_eq!(server.wait_resumed(round, WAIT), round);
    }
}

/// C28/C34: `-max_early_data` makes tickets single-use on the server; the second offer of
/// the same ticket is declined and the engine completes a full handshake (C6).
#[test]
fn openssl_single_use_ticket_declined_on_reuse_gives_full_handshake() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-max_early_data", "16384"]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let full = full_handshake(server.port(), &config, &plan(2));
    assert_eq!(full.tickets[0].max_early_data, 16384);
    let t = &full.tickets[0];
    let first = resume(server.port(), &config, t, &plan(1));
    assert!(first.summary.resumed);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    let again = resume(server.port(), &config, t, &plan(1));
    assert!(!again.summary.resumed);
    assert!(again.summary.offer_declined);
    assert_eq!(again.summary.kex, KeyExchangeMode::Full);
    assert!(
        !again.tickets.is_empty(),
        "C34: fresh tickets after a declined offer"
    );
    assert_eq!(server.wait_reported(3, WAIT), 3);
    assert_eq!(server.resumed_count(), 1);
}

/// `-num_tickets 0`: the handshake completes and no ticket arrives.
#[test]
fn openssl_num_tickets_zero_gives_no_ticket() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-num_tickets", "0"]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let p = Plan {
        want_tickets: 1,
        idle: Duration::from_millis(400),
        ..Plan::default()
    };
    let full = full_handshake(server.port(), &config, &p);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert_eq!(full.tickets.len(), 0);
}

/// HelloRetryRequest: the server wants secp256r1, the first key share is X25519. Both the
/// full handshake and the resumption (PSK repeated in ClientHello2, binder over the new
/// transcript) go through the retry.
#[test]
fn openssl_hello_retry_request_full_and_resumed() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-groups", "P-256"]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    assert_eq!(config.groups[0], NamedGroup::X25519);
    let (full, r) = full_then_resumed(&server, &config, &plan(1));
    assert!(full.summary.retried);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert!(r.summary.retried);
    assert_eq!(r.summary.kex, KeyExchangeMode::PskDhe);
}

/// Group order is configurable: with secp256r1 first no retry is needed.
#[test]
fn openssl_p256_first_needs_no_retry() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-groups", "P-256"]);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.groups = &[NamedGroup::Secp256r1, NamedGroup::X25519];
    let full = full_handshake(server.port(), &config, &plan(1));
    assert!(!full.summary.retried);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
}

/// psk_ke (opt-in): with `-allow_no_dhe_kex` the resumption uses no (EC)DHE at all.
#[test]
fn openssl_psk_ke_resumption_without_dhe() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-allow_no_dhe_kex"]);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.psk_mode = PskMode::AllowPskOnly;
    let (full, r) = full_then_resumed(&server, &config, &plan(1));
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert!(!r.summary.retried);
    assert_eq!(r.summary.kex, KeyExchangeMode::Psk);
    eprintln!(
        "wire bytes openssl psk_ke resumed: {} B (sent {} / received {})",
        r.handshake_bytes(),
        r.handshake_sent,
        r.handshake_received
    );
}

/// psk_ke offered to a server that insists on (EC)DHE: it asks for a key share with a
/// HelloRetryRequest and the handshake completes in full (C6: offer declined).
#[test]
fn openssl_psk_ke_offer_to_dhe_only_server_falls_back_to_full() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &[]);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.psk_mode = PskMode::AllowPskOnly;
    let full = full_handshake(server.port(), &config, &plan(1));
    let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
    assert!(r.summary.retried);
    assert!(!r.summary.resumed);
    assert!(r.summary.offer_declined);
    assert_eq!(r.summary.kex, KeyExchangeMode::Full);
    assert_eq!(server.wait_reported(2, WAIT), 2);
    assert_eq!(server.resumed_count(), 0);
}

/// Each suite, full then resumed; the ticket's PSK has the suite's hash length (C31).
#[test]
fn openssl_each_suite_full_then_resumed() {
    let pki = pki();
    let anchors = trust(&pki.ca_der);
    for (name, suite, psk_len) in [
        ("TLS_AES_128_GCM_SHA256", CipherSuite::Aes128GcmSha256, 32),
        ("TLS_AES_256_GCM_SHA384", CipherSuite::Aes256GcmSha384, 48),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            CipherSuite::Chacha20Poly1305Sha256,
            32,
        ),
    ] {
        let server = OpenSslServer::start(&pki, &["-ciphersuites", name]);
        let config = ClientConfig::new(anchors);
        let full = full_handshake(server.port(), &config, &plan(1));
        assert_eq!(full.summary.suite, suite, "{name}");
        assert_eq!(full.tickets[0].psk.len(), psk_len, "{name}");
        let r = resume(server.port(), &config, &full.tickets[0], &plan(1));
        assert!(r.summary.resumed, "{name}");
        assert_eq!(r.summary.suite, suite, "{name}");
        assert_eq!(server.wait_resumed(1, WAIT), 1, "{name}");
    }
}

/// Mutual TLS: the client answers CertificateRequest with its chain and a CertificateVerify
/// from the signer; the resumption needs no certificate.
#[test]
fn openssl_mutual_tls_full_then_resumed() {
    let pki = pki();
    let server = OpenSslServer::start_mutual(&pki, &[]);
    let signer = client_signer(&pki);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.client_auth = Some(&signer);
    let (full, _) = full_then_resumed(&server, &config, &plan(1));
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
}

/// Without a client certificate the client sends an empty Certificate and a server that
/// requires one refuses the handshake.
#[test]
fn openssl_mutual_tls_without_certificate_is_refused() {
    let pki = pki();
    let server = OpenSslServer::start_mutual(&pki, &[]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let err = connect(server.port(), &config, SERVER_NAME, None, &plan(1)).unwrap_err();
    match err {
        driver::DriveError::Tls(Error::AlertReceived(a)) => {
            // OpenSSL 3.0 answers certificate_required (116).
            assert_eq!(a.0, 116);
        }
        other => panic!("expected an alert, got {other:?}"),
    }
}

/// The certificate must name the server: another name fails closed.
#[test]
fn openssl_wrong_server_name_fails_verification() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &[]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let err = connect(server.port(), &config, "other.encore.test", None, &plan(1)).unwrap_err();
    assert!(
        matches!(err, driver::DriveError::Tls(Error::Certificate(_))),
        "{err:?}"
    );
}

/// Trust anchors matter: the client CA does not vouch for the server.
#[test]
fn openssl_unknown_issuer_fails_verification() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &[]);
    let config = ClientConfig::new(trust(&pki.client_ca_der));
    let err = connect(server.port(), &config, SERVER_NAME, None, &plan(1)).unwrap_err();
    assert!(
        matches!(
            err,
            driver::DriveError::Tls(Error::Certificate(
                encore_tls::crypto::CertError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
}

/// C34: a ticket from another server instance (its ticket key is gone) is declined; the
/// handshake is a full one with fresh tickets.
#[test]
fn openssl_ticket_from_restarted_server_is_declined() {
    let pki = pki();
    let config = ClientConfig::new(trust(&pki.ca_der));
    let first = OpenSslServer::start(&pki, &[]);
    let full = full_handshake(first.port(), &config, &plan(1));
    drop(first);
    let second = OpenSslServer::start(&pki, &[]);
    let r = resume(second.port(), &config, &full.tickets[0], &plan(1));
    assert!(!r.summary.resumed);
    assert!(r.summary.offer_declined);
    assert_eq!(r.summary.kex, KeyExchangeMode::Full);
    assert!(!r.tickets.is_empty());
    assert_eq!(second.resumed_count(), 0);
}

/// HelloRetryRequest with a cookie (`-stateless`): X25519 is acceptable to the server, so
/// the retry exists only for the cookie, which must come back in ClientHello2. The
/// resumption that follows needs no retry with OpenSSL 3.0.
#[test]
fn openssl_stateless_cookie_retry_full_and_resumed() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &["-stateless"]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let (full, _) = full_then_resumed(&server, &config, &plan(1));
    assert!(full.summary.retried);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
}

/// Middlebox compatibility mode (RFC 8446 §D.4): 32-byte session id, change_cipher_spec
/// records both ways; full and resumed.
#[test]
fn openssl_middlebox_compat_full_and_resumed() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &[]);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.middlebox_compat = true;
    full_then_resumed(&server, &config, &plan(1));
}

/// max_fragment_length (RFC 6066): with 1024-byte records a 4 KiB receive buffer is enough;
/// the certificate chain arrives split across records and is reassembled.
#[test]
fn openssl_max_fragment_length_small_receive_buffer() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &[]);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.max_fragment_length = Some(MaxFragmentLength::Bytes1024);
    let p = Plan {
        rx_size: 4096,
        ..plan(1)
    };
    let (full, _) = full_then_resumed(&server, &config, &p);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert!(full.handshake_received > 1024);
    assert!(
        full.max_record_received <= 1024 + 256,
        "{}",
        full.max_record_received
    );
}

/// Without max_fragment_length a 512-byte buffer cannot hold the server's certificate
/// record: a clear local error, not a panic (E1, E4).
#[test]
fn openssl_small_receive_buffer_without_limit_is_a_clear_error() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &[]);
    let config = ClientConfig::new(trust(&pki.ca_der));
    let p = Plan {
        rx_size: 512,
        ..plan(1)
    };
    let err = connect(server.port(), &config, SERVER_NAME, None, &p).unwrap_err();
    assert!(
        matches!(err, driver::DriveError::Tls(Error::BufferTooSmall)),
        "{err:?}"
    );
}

/// Mutual TLS under max_fragment_length 512: the client's Certificate, CertificateVerify and
/// Finished no longer fit one record and go out in several, none over the limit.
#[test]
fn openssl_mutual_tls_client_flight_split_under_max_fragment_length() {
    let pki = pki();
    let server = OpenSslServer::start_mutual(&pki, &[]);
    let signer = client_signer(&pki);
    let mut config = ClientConfig::new(trust(&pki.ca_der));
    config.client_auth = Some(&signer);
    config.max_fragment_length = Some(MaxFragmentLength::Bytes512);
    assert!(pki.client.cert_der.len() > 400);
    let p = Plan {
        rx_size: 3072,
        ..plan(1)
    };
    let full = full_handshake(server.port(), &config, &p);
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert!(full.max_record_sent <= 512 + 17, "{}", full.max_record_sent);
    assert!(
        full.max_record_received <= 512 + 256,
        "{}",
        full.max_record_received
    );
    // ClientHello, then at least two records for the client's second flight, then
    // close_notify.
    assert!(full.records_sent >= 4, "{}", full.records_sent);
}
