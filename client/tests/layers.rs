//! session-core and the TLS engine sit side by side (neither depends on the other), and each
//! states a few TLS 1.3 facts for itself. The client is where they meet, so it checks here
//! that the two agree.

use encore_session::{HashAlgorithm, MAX_PSK_LEN, SEVEN_DAYS_S, TLS13};
use encore_tls::crypto::{CipherSuite, HashAlg, MAX_HASH_LEN};
use encore_tls::wire::handshake::{MAX_TICKET_LIFETIME, TLS13 as ENGINE_TLS13};

#[test]
fn same_protocol_version() {
    assert_eq!(TLS13, ENGINE_TLS13);
}

#[test]
fn same_seven_day_cap() {
    assert_eq!(SEVEN_DAYS_S, MAX_TICKET_LIFETIME);
}

#[test]
fn longest_psk_is_the_longest_transcript_hash() {
    assert_eq!(MAX_PSK_LEN, MAX_HASH_LEN);
}

/// Every suite the engine implements is known to session-core with the same hash, so a record
/// made from one of the engine's tickets is offered with the suites of its own hash (C31).
#[test]
fn same_hash_for_every_engine_suite() {
    let mut seen = 0;
    for code in 0x1300u16..=0x13ff {
        let Some(suite) = CipherSuite::from_u16(code) else {
            continue;
        };
        let Some(hash) = HashAlgorithm::of_suite(code) else {
            panic!("suite {code:#06x} of the engine is unknown to session-core");
        };
        let engine = match suite.hash() {
            HashAlg::Sha256 => HashAlgorithm::Sha256,
            HashAlg::Sha384 => HashAlgorithm::Sha384,
        };
        assert_eq!(hash, engine, "suite {code:#06x}");
        assert_eq!(
            hash.output_len(),
            suite.hash().output_len(),
            "suite {code:#06x}"
        );
        seen += 1;
    }
    assert_eq!(seen, CipherSuite::ALL.len());
}
