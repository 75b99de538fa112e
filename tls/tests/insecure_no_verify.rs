//! The `insecure-no-verify` feature (off by default): the handshake completes without any
//! trust anchor, and the connection reports the insecure trust fingerprint so that its
//! sessions are never offered to a verifying connection (C33).
#![cfg(feature = "insecure-no-verify")]

use encore_testkit as common;
mod driver;

use common::OpenSslServer;
use driver::{connect, full_handshake, pki, trust, Plan};
use encore_tls::client::{ClientConfig, KeyExchangeMode};
use encore_tls::crypto::INSECURE_NO_VERIFY_FINGERPRINT;

#[test]
fn insecure_mode_connects_without_anchors_and_marks_its_sessions_c33() {
    let pki = pki();
    let server = OpenSslServer::start(&pki, &[]);
    let mut config = ClientConfig::new(&[]);
    config.insecure_no_verify = true;
    let full = connect(
        server.port(),
        &config,
        "wrong.name.test",
        None,
        &Plan::default(),
    )
    .unwrap();
    assert_eq!(full.summary.kex, KeyExchangeMode::Full);
    assert_eq!(full.trust_fingerprint, INSECURE_NO_VERIFY_FINGERPRINT);

    let verifying = ClientConfig::new(trust(&pki.ca_der));
    let checked = full_handshake(server.port(), &verifying, &Plan::default());
    assert_ne!(checked.trust_fingerprint, INSECURE_NO_VERIFY_FINGERPRINT);
}
