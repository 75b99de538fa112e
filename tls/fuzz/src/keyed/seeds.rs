//! Seed inputs of `engine_keyed`: each one a handshake that gets somewhere, so that the
//! fuzzer starts from the encrypted states instead of having to find them. They are
//! committed as files (`seeds/engine_keyed/`, the corpus `cargo xtask fuzz` starts from),
//! and `tls/tests/fuzz_regressions.rs` checks both that the files are these bytes and what
//! each one reaches.

use encore_tls::client::MaxFragmentLength;
use encore_tls::crypto::CipherSuite;

use super::input::{Kind, Op, Scenario, Script};

/// The server's flight of a full handshake: EncryptedExtensions (with `ee` extensions),
/// Certificate (leaf + intermediate), CertificateVerify, Finished.
fn full_flight(ee: u8) -> [Op<'static>; 4] {
    [
        Op::EncryptedExtensions { mask: ee },
        Op::Certificate { variant: 0 },
        Op::CertificateVerify,
        Op::Finished,
    ]
}

const FLUSH: Op<'static> = Op::Flush { max: 0, mode: 0 };

fn ticket(ticket_len: u8) -> Op<'static> {
    Op::Ticket {
        lifetime: 7200,
        nonce_len: 2,
        ticket_len,
    }
}

/// Full handshake; then a ticket, KeyUpdate(update_requested), data both ways, close_notify.
pub fn full_then_ticket_key_update_data_close() -> Vec<u8> {
    Script::new(Scenario::new(Kind::Full))
        .ops(full_flight(0))
        .ops([FLUSH, Op::Deliver, Op::Client { action: 0, arg: 5 }])
        .ops([ticket(16), Op::KeyUpdate { request: 1 }, FLUSH])
        .ops([
            Op::Record {
                ty: 23,
                pad: 0,
                body: b"pong",
            },
            Op::Record {
                ty: 21,
                pad: 0,
                body: &[1, 0],
            },
            Op::Deliver,
        ])
        .bytes()
}

/// psk_dhe_ke resumption after HelloRetryRequest (P-256, cookie), ChaCha20-Poly1305,
/// middlebox compatibility, ALPN; then three tickets in one record, the second with a
/// lifetime over seven days.
pub fn resume_dhe_after_retry() -> Vec<u8> {
    let mut s = Scenario::new(Kind::ResumeDhe);
    s.retry = true;
    s.retry_group = true;
    s.cookie = true;
    s.suite = CipherSuite::Chacha20Poly1305Sha256;
    s.middlebox = true;
    s.alpn = true;
    Script::new(s)
        .ops([Op::EncryptedExtensions { mask: 1 }, Op::Finished, FLUSH])
        .ops([Op::Deliver, ticket(8)])
        .op(Op::Ticket {
            lifetime: 604_801,
            nonce_len: 1,
            ticket_len: 9,
        })
        .ops([ticket(200), FLUSH])
        .bytes()
}

/// psk_ke resumption (no key exchange at all), TLS_AES_256_GCM_SHA384, record_size_limit;
/// the server's flight cut into 7-byte records with padding, then 1000 bytes of data.
pub fn resume_psk_ke_sha384_record_limit() -> Vec<u8> {
    let mut s = Scenario::new(Kind::ResumePsk);
    s.suite = CipherSuite::Aes256GcmSha384;
    s.record_size_limit = true;
    Script::new(s)
        .ops([
            Op::EncryptedExtensions { mask: 1 << 2 },
            Op::Finished,
            Op::Flush { max: 7, mode: 3 },
        ])
        .op(Op::Record {
            ty: 23,
            pad: 23,
            body: &[0x61; 1000],
        })
        .bytes()
}

/// The offer declined: a full handshake in which the server asks for the client's
/// certificate; the wire fed 7 bytes at a time.
pub fn declined_with_client_certificate() -> Vec<u8> {
    let mut s = Scenario::new(Kind::Declined);
    s.client_auth = true;
    s.chunk = 7;
    Script::new(s)
        .ops([
            Op::EncryptedExtensions { mask: 0 },
            Op::CertificateRequest { variant: 0 },
            Op::Certificate { variant: 0 },
            Op::CertificateVerify,
            Op::Finished,
            FLUSH,
        ])
        .bytes()
}

/// A client certificate chain longer than the server's max_fragment_length (512): the
/// client's Certificate, CertificateVerify and Finished go out in several records.
pub fn client_certificate_under_max_fragment_length() -> Vec<u8> {
    let mut s = Scenario::new(Kind::Full);
    s.client_auth = true;
    s.max_fragment = Some(MaxFragmentLength::Bytes512);
    Script::new(s)
        .ops([
            Op::EncryptedExtensions { mask: 1 << 1 },
            Op::CertificateRequest { variant: 0 },
            Op::Certificate { variant: 8 },
            Op::CertificateVerify,
            Op::Finished,
            Op::Flush { max: 512, mode: 0 },
        ])
        .bytes()
}

/// A psk_ke-only offer the server declines (HelloRetryRequest for X25519, then a full
/// handshake) on small buffers with max_fragment_length 512 and an IP literal as name.
pub fn psk_only_declined_small_buffers() -> Vec<u8> {
    let mut s = Scenario::new(Kind::PskOnlyDeclined);
    s.small_buffers = true;
    s.max_fragment = Some(MaxFragmentLength::Bytes512);
    s.ip_literal = true;
    Script::new(s)
        .ops(full_flight(1 << 1))
        .ops([Op::Flush { max: 512, mode: 0 }, Op::Deliver])
        .ops([
            Op::Client {
                action: 0,
                arg: 200,
            },
            ticket(32),
            FLUSH,
        ])
        .op(Op::Record {
            ty: 23,
            pad: 0,
            body: b"ok",
        })
        .bytes()
}

/// A full handshake after HelloRetryRequest for P-256, TLS_AES_256_GCM_SHA384, with only
/// the clock's lower bound (E6); the application asks for a KeyUpdate.
pub fn full_after_retry_without_clock() -> Vec<u8> {
    let mut s = Scenario::new(Kind::Full);
    s.retry = true;
    s.retry_group = true;
    s.suite = CipherSuite::Aes256GcmSha384;
    s.no_clock = true;
    Script::new(s)
        .ops(full_flight(0))
        .ops([FLUSH, Op::Deliver, Op::Client { action: 2, arg: 0 }])
        .bytes()
}

/// psk_ke resumption after a HelloRetryRequest that only sets a cookie: ClientHello2 keeps
/// its (absent) key share and repeats the offer with a new binder; the Ed25519 chain is not
/// needed, data goes both ways.
pub fn resume_psk_ke_after_cookie_retry() -> Vec<u8> {
    let mut s = Scenario::new(Kind::ResumePsk);
    s.retry = true;
    s.cookie = true;
    s.chunk = 100;
    Script::new(s)
        .ops([Op::EncryptedExtensions { mask: 0 }, Op::Finished, FLUSH])
        .ops([Op::Deliver, Op::Client { action: 0, arg: 26 }])
        .op(Op::Record {
            ty: 23,
            pad: 0,
            body: b"psk",
        })
        .bytes()
}

/// A full handshake over the Ed25519 chain: an ed25519 CertificateVerify (RFC 8446 §4.2.3),
/// then a ticket.
pub fn full_over_the_ed25519_chain() -> Vec<u8> {
    Script::new(Scenario::new(Kind::Full))
        .ops([
            Op::EncryptedExtensions { mask: 0 },
            Op::Certificate { variant: 8 },
            Op::CertificateVerify,
            Op::Finished,
            FLUSH,
            Op::Deliver,
            ticket(4),
        ])
        .bytes()
}

/// A CertificateVerify whose signature is not the leaf's: decrypt_error.
pub fn bad_certificate_verify() -> Vec<u8> {
    Script::new(Scenario::new(Kind::Full))
        .ops([
            Op::EncryptedExtensions { mask: 0 },
            Op::Certificate { variant: 0 },
            Op::Message {
                ty: 15,
                body: &[0x04, 0x03, 0, 2, 0, 0],
            },
        ])
        .bytes()
}

/// Finished and a ticket in one record (a server that ignores where its keys change):
/// unexpected_message under the handshake key.
pub fn finished_coalesced_with_a_ticket() -> Vec<u8> {
    Script::new(Scenario::new(Kind::ResumeDhe))
        .ops([
            Op::EncryptedExtensions { mask: 0 },
            Op::Finished,
            ticket(8),
            Op::Flush { max: 0, mode: 0x80 },
        ])
        .bytes()
}

/// Every seed, by file name.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "full_then_ticket_key_update_data_close",
            full_then_ticket_key_update_data_close(),
        ),
        ("resume_dhe_after_retry", resume_dhe_after_retry()),
        (
            "resume_psk_ke_sha384_record_limit",
            resume_psk_ke_sha384_record_limit(),
        ),
        (
            "declined_with_client_certificate",
            declined_with_client_certificate(),
        ),
        (
            "client_certificate_under_max_fragment_length",
            client_certificate_under_max_fragment_length(),
        ),
        (
            "psk_only_declined_small_buffers",
            psk_only_declined_small_buffers(),
        ),
        (
            "full_after_retry_without_clock",
            full_after_retry_without_clock(),
        ),
        (
            "resume_psk_ke_after_cookie_retry",
            resume_psk_ke_after_cookie_retry(),
        ),
        ("full_over_the_ed25519_chain", full_over_the_ed25519_chain()),
        ("bad_certificate_verify", bad_certificate_verify()),
        (
            "finished_coalesced_with_a_ticket",
            finished_coalesced_with_a_ticket(),
        ),
    ]
}
