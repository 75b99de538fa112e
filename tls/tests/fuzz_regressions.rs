//! The fuzz targets' bodies (`tls/fuzz/src/`), included here so that they run on stable
//! under `cargo test`:
//! - every input saved in `tls/fuzz/regressions/<target>/` (a crash `cargo xtask fuzz`
//!   found and copied there) replays without a panic: once the engine is fixed, the
//!   finding stays fixed;
//! - the `engine_keyed` seeds (`tls/fuzz/seeds/engine_keyed/`, the corpus the fuzzer starts
//!   from) are the bytes `keyed::seeds` writes, and each reaches exactly the state it was
//!   written for, checked by the target's own real server: handshake summary, tickets with
//!   their PSKs, data both ways, KeyUpdates, alerts.
//!
//! Set `ENCORE_WRITE_SEEDS=1` to rewrite the seed files after changing `keyed::seeds` or the
//! input format.

#[allow(dead_code)]
#[path = "../fuzz/src/engine.rs"]
mod engine;
#[allow(dead_code)]
#[path = "../fuzz/src/handshake.rs"]
mod handshake;
#[allow(dead_code)]
#[path = "../fuzz/src/keyed/mod.rs"]
mod keyed;
#[allow(dead_code)]
#[path = "../fuzz/src/record.rs"]
mod record;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use encore_tls::client::{Error, HandshakeSummary, KeyExchangeMode};
use encore_tls::crypto::CipherSuite;
use keyed::Outcome;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted by name; none when it does not exist.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read input"))
        })
        .collect();
    out.sort();
    out
}

/// Replays every saved input of `target`; names each one that panics.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let inputs = files(&fuzz_dir().join("regressions").join(target));
    let failing: Vec<&str> = inputs
        .iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| run(data))).is_err())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        failing.is_empty(),
        "tls/fuzz/regressions/{target}: {failing:?} still fail; reproduce one with \
         `cargo +nightly fuzz run {target} fuzz/regressions/{target}/NAME` from tls/"
    );
    inputs.len()
}

#[test]
fn saved_record_inputs_replay_without_panic_e4() {
    replay("record", record::run);
}

#[test]
fn saved_handshake_inputs_replay_without_panic_e4() {
    replay("handshake", handshake::run);
}

#[test]
fn saved_engine_inputs_replay_without_panic_e4() {
    replay("engine", engine::run);
}

#[test]
fn saved_engine_keyed_inputs_replay_without_panic_e4() {
    replay("engine_keyed", |data| {
        keyed::run(data);
    });
}

/// The committed seed files are exactly what `keyed::seeds` writes, and nothing else is in
/// their directory: the fuzzer starts from the inputs these tests check.
#[test]
fn committed_seeds_are_the_seed_builders_bytes() {
    let dir = fuzz_dir().join("seeds").join("engine_keyed");
    let seeds = keyed::seeds::all();
    if std::env::var_os("ENCORE_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).expect("seed directory");
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes).expect("write seed");
        }
    }
    let committed = files(&dir);
    let mut expected: Vec<(String, Vec<u8>)> = seeds
        .into_iter()
        .map(|(name, bytes)| (name.to_string(), bytes))
        .collect();
    expected.sort();
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&committed), names(&expected), "seed files");
    for ((name, got), (_, want)) in committed.iter().zip(&expected) {
        assert_eq!(
            got, want,
            "{name} differs; ENCORE_WRITE_SEEDS=1 rewrites it"
        );
    }
}

fn full(suite: CipherSuite, offer_declined: bool, retried: bool) -> Option<HandshakeSummary> {
    Some(HandshakeSummary {
        resumed: false,
        kex: KeyExchangeMode::Full,
        suite,
        offer_declined,
        retried,
    })
}

fn resumed(kex: KeyExchangeMode, suite: CipherSuite, retried: bool) -> Option<HandshakeSummary> {
    Some(HandshakeSummary {
        resumed: true,
        kex,
        suite,
        offer_declined: false,
        retried,
    })
}

/// What `write` sends for `n` bytes in the target: a, b, c, … z, a, …
fn written(n: u8) -> Vec<u8> {
    (0..n).map(|i| b'a' + i % 26).collect()
}

/// Full handshake over the committed chain (C32), then everything after it: a ticket whose
/// PSK the server derives too (RFC 8446 §4.6.1), KeyUpdate(update_requested) answered once
/// (§4.6.3) and followed by the server's new key, data both ways, close_notify answered.
#[test]
fn seed_full_handshake_then_ticket_key_update_data_and_close() {
    let o = keyed::run(&keyed::seeds::full_then_ticket_key_update_data_close());
    assert_eq!(
        o,
        Outcome {
            summary: full(CipherSuite::Aes128GcmSha256, false, false),
            tickets: 1,
            data: vec![b"pong".to_vec()],
            closed: true,
            client_finished: true,
            client_alerts: vec![[1, 0]],
            client_data: written(5),
            client_key_updates: 1,
            server_key_updates: 1,
            client_records: 4,
            ..Outcome::default()
        }
    );
}

/// psk_dhe_ke resumption after HelloRetryRequest (P-256, cookie), with the binder over
/// message_hash(ClientHello1) + HelloRetryRequest checked by the server (RFC 8446
/// §4.2.11.2), ChaCha20-Poly1305, middlebox compatibility, ALPN; three tickets in one
/// record, of which the one with a lifetime over seven days is skipped (RFC 8446 §4.6.1).
#[test]
fn seed_resumption_with_dhe_after_retry() {
    let o = keyed::run(&keyed::seeds::resume_dhe_after_retry());
    assert_eq!(
        o,
        Outcome {
            summary: resumed(
                KeyExchangeMode::PskDhe,
                CipherSuite::Chacha20Poly1305Sha256,
                true
            ),
            tickets: 2,
            tickets_skipped: 1,
            client_finished: true,
            alpn: Some(b"h2".to_vec()),
            client_records: 1,
            ..Outcome::default()
        }
    );
}

/// psk_ke resumption (no public-key operation) with TLS_AES_256_GCM_SHA384 and
/// record_size_limit 1024: the flight in 7-byte padded records, then a record whose inner
/// plaintext is exactly the limit (RFC 8449 §4).
#[test]
fn seed_psk_ke_resumption_with_sha384_and_record_size_limit() {
    let o = keyed::run(&keyed::seeds::resume_psk_ke_sha384_record_limit());
    assert_eq!(
        o,
        Outcome {
            summary: resumed(KeyExchangeMode::Psk, CipherSuite::Aes256GcmSha384, false),
            data: vec![vec![0x61; 1000]],
            client_finished: true,
            client_records: 1,
            ..Outcome::default()
        }
    );
}

/// The offer declined (C6): a full handshake with CertificateRequest, answered with the
/// client's certificate and a CertificateVerify the server verifies; fed 7 bytes at a time.
#[test]
fn seed_declined_offer_with_client_certificate() {
    let o = keyed::run(&keyed::seeds::declined_with_client_certificate());
    assert_eq!(
        o,
        Outcome {
            summary: full(CipherSuite::Aes128GcmSha256, true, false),
            client_finished: true,
            client_certificate: true,
            client_records: 1,
            ..Outcome::default()
        }
    );
}

/// RFC 6066 §4: under a max_fragment_length of 512 the client's Certificate,
/// CertificateVerify and Finished (about 560 bytes) go out in two records, which the server
/// reassembles and verifies.
#[test]
fn seed_client_certificate_split_under_max_fragment_length() {
    let o = keyed::run(&keyed::seeds::client_certificate_under_max_fragment_length());
    assert_eq!(
        o,
        Outcome {
            summary: full(CipherSuite::Aes128GcmSha256, false, false),
            client_finished: true,
            client_certificate: true,
            client_records: 2,
            ..Outcome::default()
        }
    );
}

/// A psk_ke-only offer declined through HelloRetryRequest (RFC 8446 §4.2.9), on 2048/512-byte
/// buffers with max_fragment_length 512 and an IP literal as server name.
#[test]
fn seed_psk_only_offer_declined_on_small_buffers() {
    let o = keyed::run(&keyed::seeds::psk_only_declined_small_buffers());
    assert_eq!(
        o,
        Outcome {
            summary: full(CipherSuite::Aes128GcmSha256, true, true),
            tickets: 1,
            data: vec![b"ok".to_vec()],
            client_finished: true,
            client_data: written(200),
            client_records: 2,
            ..Outcome::default()
        }
    );
}

/// A full handshake after HelloRetryRequest for P-256 with TLS_AES_256_GCM_SHA384 and only
/// the clock's lower bound (E6); the application's KeyUpdate opens under the next key.
#[test]
fn seed_full_handshake_after_retry_without_a_clock() {
    let o = keyed::run(&keyed::seeds::full_after_retry_without_clock());
    assert_eq!(
        o,
        Outcome {
            summary: full(CipherSuite::Aes256GcmSha384, false, true),
            client_finished: true,
            client_key_updates: 1,
            client_records: 2,
            ..Outcome::default()
        }
    );
}

/// psk_ke resumption after a HelloRetryRequest that only sets a cookie (RFC 8446 §4.1.4):
/// ClientHello2 keeps its key shares (none) and echoes the cookie, fed 100 bytes at a time.
#[test]
fn seed_psk_ke_resumption_after_a_cookie_retry() {
    let o = keyed::run(&keyed::seeds::resume_psk_ke_after_cookie_retry());
    assert_eq!(
        o,
        Outcome {
            summary: resumed(KeyExchangeMode::Psk, CipherSuite::Aes128GcmSha256, true),
            data: vec![b"psk".to_vec()],
            client_finished: true,
            client_data: written(26),
            client_records: 2,
            ..Outcome::default()
        }
    );
}

/// A full handshake over the Ed25519 chain with an ed25519 CertificateVerify (RFC 8446
/// §4.2.3), then a ticket.
#[test]
fn seed_full_handshake_over_the_ed25519_chain() {
    let o = keyed::run(&keyed::seeds::full_over_the_ed25519_chain());
    assert_eq!(
        o,
        Outcome {
            summary: full(CipherSuite::Aes128GcmSha256, false, false),
            tickets: 1,
            client_finished: true,
            client_records: 1,
            ..Outcome::default()
        }
    );
}

/// A CertificateVerify that is not the leaf's signature: decrypt_error, sealed under the
/// client handshake key.
#[test]
fn seed_bad_certificate_verify_is_decrypt_error() {
    let o = keyed::run(&keyed::seeds::bad_certificate_verify());
    assert_eq!(
        o,
        Outcome {
            error: Some(Error::BadCertificateVerify),
            client_alerts: vec![[2, 51]],
            client_records: 1,
            ..Outcome::default()
        }
    );
}

/// RFC 8446 §5.1: Finished and a ticket in one record (the key changes after Finished) is
/// unexpected_message.
#[test]
fn seed_finished_coalesced_with_a_ticket_is_unexpected() {
    let o = keyed::run(&keyed::seeds::finished_coalesced_with_a_ticket());
    assert_eq!(
        o,
        Outcome {
            error: Some(Error::UnexpectedMessage),
            client_alerts: vec![[2, 10]],
            client_records: 1,
            ..Outcome::default()
        }
    );
}
