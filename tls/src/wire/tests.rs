//! Codec tests: exact bytes in, exact values or errors out (E4: malformed input is an
//! error with the right alert, never a panic).

use super::handshake::*;
use super::record::*;
use super::*;

#[test]
fn reader_reports_truncation_instead_of_panicking_e4() {
    let mut r = Reader::new(&[0x01, 0x02, 0x03]);
    assert_eq!(r.u16(), Ok(0x0102));
    assert_eq!(r.u16(), Err(WireError::Truncated));
    assert_eq!(r.u8(), Ok(0x03));
    assert_eq!(r.u8(), Err(WireError::Truncated));
    let mut r = Reader::new(&[0x05, 0xaa]);
    assert_eq!(r.vec8(), Err(WireError::BadLength));
    let mut r = Reader::new(&[0x00, 0x00, 0x02, 0xaa, 0xbb, 0xcc]);
    assert_eq!(r.vec24(), Ok(&[0xaa, 0xbb][..]));
    assert_eq!(r.expect_end(), Err(WireError::TrailingBytes));
}

#[test]
fn writer_refuses_to_overflow_its_buffer_e1() {
    let mut buf = [0u8; 3];
    let mut w = Writer::new(&mut buf);
    assert_eq!(w.u16(0xabcd), Ok(()));
    assert_eq!(w.u16(0x1234), Err(WireError::BufferTooSmall));
    assert_eq!(w.written(), &[0xab, 0xcd]);
}

#[test]
fn record_header_parse_and_emit() {
    let h = RecordHeader::parse(&[0x17, 0x03, 0x03, 0x01, 0x02]).unwrap();
    assert_eq!(h.content_type, content_type::APPLICATION_DATA);
    assert_eq!(h.length, 0x0102);
    assert_eq!(h.total_len(), 5 + 0x0102);
    assert_eq!(h.to_bytes(), [0x17, 0x03, 0x03, 0x01, 0x02]);
    // RFC 8446 §5: a content type TLS 1.3 does not define is unexpected_message.
    assert_eq!(
        RecordHeader::parse(&[0x18, 0x03, 0x03, 0, 1]),
        Err(WireError::UnexpectedContentType)
    );
    assert_eq!(
        WireError::UnexpectedContentType.alert(),
        AlertDescription::UNEXPECTED_MESSAGE
    );
    // RFC 8446 §5.1: legacy_record_version MUST be ignored on receipt.
    let h = RecordHeader::parse(&[0x16, 0x02, 0x00, 0, 1]).unwrap();
    assert_eq!(h.legacy_version, 0x0200);
    assert_eq!(h.content_type, content_type::HANDSHAKE);
    assert_eq!(h.length, 1);
    assert_eq!(
        RecordHeader::parse(&[0x16, 0x03]),
        Err(WireError::Truncated)
    );
}

#[test]
fn alerts_map_errors_to_rfc8446_descriptions() {
    assert_eq!(WireError::Truncated.alert(), AlertDescription::DECODE_ERROR);
    assert_eq!(
        WireError::IllegalValue.alert(),
        AlertDescription::ILLEGAL_PARAMETER
    );
    assert_eq!(
        WireError::UnsupportedExtension.alert(),
        AlertDescription::UNSUPPORTED_EXTENSION
    );
    assert_eq!(WireError::MissingExtension.alert(), AlertDescription(109));
    let a = Alert::parse(&[2, 40]).unwrap();
    assert_eq!(a.level, 2);
    assert_eq!(a.description, AlertDescription::HANDSHAKE_FAILURE);
    assert_eq!(Alert::parse(&[2]), Err(WireError::Truncated));
    assert_eq!(Alert::parse(&[2, 40, 0]), Err(WireError::TrailingBytes));
}

#[test]
fn split_message_waits_for_the_whole_message() {
    let msg = [20, 0, 0, 3, 0xaa, 0xbb, 0xcc, 24];
    assert_eq!(split_message(&msg[..3], 100), Ok(None));
    assert_eq!(split_message(&msg[..6], 100), Ok(None));
    assert_eq!(
        split_message(&msg, 100),
        Ok(Some(Message {
            msg_type: 20,
            body: &[0xaa, 0xbb, 0xcc],
            total_len: 7
        }))
    );
    assert_eq!(split_message(&msg, 2), Err(WireError::BadLength));
}

fn minimal_hello<'a>(random: &'a [u8; 32], key: &'a [u8]) -> ClientHello<'a> {
    ClientHello {
        random,
        session_id: &[],
        cipher_suites: &[0x1301],
        server_name: Some("a.b"),
        groups: &[0x001d],
        key_share: Some((0x001d, key)),
        signature_algorithms: &[0x0403],
        signature_algorithms_cert: &[],
        alpn: &[],
        cookie: None,
        max_fragment_length: None,
        record_size_limit: None,
        psk_modes: &[],
        psk: None,
    }
}

#[test]
fn client_hello_exact_bytes() {
    let random = [0x11u8; 32];
    let key = [0x22u8; 4];
    let mut out = [0u8; 256];
    let e = minimal_hello(&random, &key).emit(&mut out).unwrap();
    let mut expected: heapless::Vec<u8, 256> = heapless::Vec::new();
    let body_head: &[u8] = &[0x03, 0x03];
    let after_random: &[u8] = &[
        0x00, // session id
        0x00, 0x02, 0x13, 0x01, // suites
        0x01, 0x00, // compression
        0x00, 0x31, // extensions length = 49
        0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x00, 0x03, b'a', b'.', b'b', // SNI
        0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, // supported_versions
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d, // supported_groups
        0x00, 0x33, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x1d, 0x00, 0x04, 0x22, 0x22, 0x22,
        0x22, // key_share
        0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, // signature_algorithms
    ];
    let body_len = body_head.len() + 32 + after_random.len();
    expected
        .extend_from_slice(&[1, 0, 0, body_len as u8])
        .unwrap();
    expected.extend_from_slice(body_head).unwrap();
    expected.extend_from_slice(&random).unwrap();
    expected.extend_from_slice(after_random).unwrap();
    assert_eq!(&out[..e.len], &expected[..]);
    assert_eq!(e.len, 4 + 2 + 32 + 1 + 4 + 2 + 2 + 49);
    assert_eq!(e.binders_at, e.len);
}

#[test]
fn client_hello_puts_pre_shared_key_last_with_binder_slot_c30() {
    let random = [0u8; 32];
    let key = [0x22u8; 4];
    let mut h = minimal_hello(&random, &key);
    h.psk_modes = &[PSK_DHE_KE];
    h.cookie = Some(&[0xc0, 0x0c]);
    h.psk = Some(PskIdentity {
        identity: &[0xaa, 0xbb, 0xcc],
        obfuscated_ticket_age: 0x0102_0304,
        binder_len: 32,
    });
    let mut out = [0u8; 512];
    let e = h.emit(&mut out).unwrap();
    // cookie, then psk_key_exchange_modes, then pre_shared_key (RFC 8446 §4.2.11).
    let tail: &[u8] = &[
        0x00, 0x2c, 0x00, 0x04, 0x00, 0x02, 0xc0, 0x0c, // cookie
        0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, // psk_key_exchange_modes: psk_dhe_ke
        0x00, 0x29, 0x00, 0x2e, // pre_shared_key, 46 bytes
        0x00, 0x09, 0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03, 0x04, // identities
    ];
    let binders_start = e.len - 35;
    assert_eq!(e.binders_at, binders_start);
    assert_eq!(e.binder_at, binders_start + 3);
    assert_eq!(&out[binders_start - tail.len()..binders_start], tail);
    assert_eq!(&out[binders_start..binders_start + 3], &[0x00, 0x21, 0x20]);
    assert_eq!(&out[e.binder_at..e.len], &[0u8; 32]);
    // Handshake length covers the whole body, binders included.
    assert_eq!(
        u32::from_be_bytes([0, out[1], out[2], out[3]]) as usize,
        e.len - 4
    );
}

#[test]
fn client_hello_too_big_for_buffer_is_an_error_not_a_panic_e4() {
    let random = [0u8; 32];
    let key = [0u8; 32];
    let mut out = [0u8; 60];
    assert_eq!(
        minimal_hello(&random, &key).emit(&mut out),
        Err(WireError::BufferTooSmall)
    );
}

fn server_hello(random: &[u8; 32], exts: &[u8]) -> heapless::Vec<u8, 256> {
    let mut v = heapless::Vec::new();
    v.extend_from_slice(&[0x03, 0x03]).unwrap();
    v.extend_from_slice(random).unwrap();
    v.extend_from_slice(&[0x00, 0x13, 0x02, 0x00]).unwrap();
    v.extend_from_slice(&(exts.len() as u16).to_be_bytes())
        .unwrap();
    v.extend_from_slice(exts).unwrap();
    v
}

#[test]
fn server_hello_with_psk_and_key_share() {
    let exts = [
        0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, // supported_versions
        0x00, 0x33, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x02, 0xab, 0xcd, // key_share
        0x00, 0x29, 0x00, 0x02, 0x00, 0x00, // pre_shared_key: identity 0
    ];
    let body = server_hello(&[7u8; 32], &exts);
    let sh = ServerHello::parse(&body).unwrap();
    assert!(!sh.is_retry_request);
    assert_eq!(sh.cipher_suite, 0x1302);
    assert_eq!(sh.selected_version, Some(TLS13));
    assert_eq!(sh.key_share, Some((0x001d, &[0xab, 0xcd][..])));
    assert_eq!(sh.selected_identity, Some(0));
    assert_eq!(sh.cookie, None);
}

#[test]
fn hello_retry_request_is_recognised_by_its_random() {
    let exts = [
        0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, // supported_versions
        0x00, 0x33, 0x00, 0x02, 0x00, 0x17, // key_share: wants secp256r1
        0x00, 0x2c, 0x00, 0x04, 0x00, 0x02, 0x99, 0x98, // cookie
    ];
    let body = server_hello(&HELLO_RETRY_REQUEST_RANDOM, &exts);
    let hrr = ServerHello::parse(&body).unwrap();
    assert!(hrr.is_retry_request);
    assert_eq!(hrr.key_share, Some((0x0017, &[][..])));
    assert_eq!(hrr.cookie, Some(&[0x99, 0x98][..]));
}

#[test]
fn server_hello_rejects_bad_extensions_with_the_right_alert() {
    // Unknown extension: unsupported_extension (RFC 8446 §4.2).
    let body = server_hello(&[1u8; 32], &[0x12, 0x34, 0x00, 0x00]);
    assert_eq!(
        ServerHello::parse(&body),
        Err(WireError::UnsupportedExtension)
    );
    // Known but not allowed in ServerHello (ALPN): illegal_parameter.
    let body = server_hello(&[1u8; 32], &[0x00, 0x10, 0x00, 0x00]);
    assert_eq!(ServerHello::parse(&body), Err(WireError::IllegalValue));
    // Cookie outside a HelloRetryRequest: illegal_parameter.
    let body = server_hello(&[1u8; 32], &[0x00, 0x2c, 0x00, 0x03, 0x00, 0x01, 0x01]);
    assert_eq!(ServerHello::parse(&body), Err(WireError::IllegalValue));
    // Duplicate.
    let body = server_hello(
        &[1u8; 32],
        &[
            0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
        ],
    );
    assert_eq!(
        ServerHello::parse(&body),
        Err(WireError::DuplicateExtension)
    );
    // Extension body longer than announced.
    let body = server_hello(&[1u8; 32], &[0x00, 0x2b, 0x00, 0x09, 0x03]);
    assert_eq!(ServerHello::parse(&body), Err(WireError::BadLength));
    // Non-null compression.
    let mut body = server_hello(&[1u8; 32], &[]);
    body[37] = 1;
    assert_eq!(ServerHello::parse(&body), Err(WireError::IllegalValue));
}

#[test]
fn encrypted_extensions_alpn_and_limits() {
    let body = [
        0x00, 0x13, // extensions length 19
        0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2', // ALPN h2
        0x00, 0x1c, 0x00, 0x02, 0x40, 0x00, // record_size_limit 16384
        0x00, 0x00, 0x00, 0x00, // server_name ack
    ];
    let ee = EncryptedExtensions::parse(&body).unwrap();
    assert_eq!(ee.alpn, Some(&b"h2"[..]));
    assert_eq!(ee.record_size_limit, Some(16384));
    assert!(ee.server_name_ack);
    assert!(!ee.early_data);
    // record_size_limit below 64 is illegal (RFC 8449 §4).
    let bad = [0x00, 0x06, 0x00, 0x1c, 0x00, 0x02, 0x00, 0x3f];
    assert_eq!(
        EncryptedExtensions::parse(&bad),
        Err(WireError::IllegalValue)
    );
    // key_share does not belong in EncryptedExtensions.
    let bad = [0x00, 0x04, 0x00, 0x33, 0x00, 0x00];
    assert_eq!(
        EncryptedExtensions::parse(&bad),
        Err(WireError::IllegalValue)
    );
}

#[test]
fn certificate_entries_iterate_end_entity_first() {
    let body = [
        0x00, // context
        0x00, 0x00, 0x0c, // list length 12
        0x00, 0x00, 0x02, 0xaa, 0xbb, 0x00, 0x00, // cert 1
        0x00, 0x00, 0x01, 0xcc, 0x00, // cert 2 (truncated extensions)
    ];
    assert_eq!(Certificate::parse(&body), Err(WireError::Truncated));
    let body = [
        0x00, 0x00, 0x00, 0x0d, // list length 13
        0x00, 0x00, 0x02, 0xaa, 0xbb, 0x00, 0x00, // cert 1
        0x00, 0x00, 0x01, 0xcc, 0x00, 0x00, // cert 2
    ];
    let c = Certificate::parse(&body).unwrap();
    let mut it = c.certificates();
    assert_eq!(it.next(), Some(&[0xaa, 0xbb][..]));
    assert_eq!(it.next(), Some(&[0xcc][..]));
    assert_eq!(it.next(), None);
}

#[test]
fn certificate_request_needs_signature_algorithms() {
    let body = [
        0x00, 0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03,
    ];
    let cr = CertificateRequest::parse(&body).unwrap();
    assert!(cr.accepts(0x0403));
    assert!(!cr.accepts(0x0807));
    let body = [0x00, 0x00, 0x00];
    assert_eq!(
        CertificateRequest::parse(&body),
        Err(WireError::MissingExtension)
    );
}

#[test]
fn new_session_ticket_fields_and_lifetime_limit() {
    let body = [
        0x00, 0x00, 0x1c, 0x20, // lifetime 7200
        0xde, 0xad, 0xbe, 0xef, // age_add
        0x01, 0x05, // nonce
        0x00, 0x02, 0x77, 0x88, // ticket
        0x00, 0x08, 0x00, 0x2a, 0x00, 0x04, 0x00, 0x00, 0x40, 0x00, // early_data 16384
    ];
    let t = NewSessionTicket::parse(&body).unwrap();
    assert_eq!(t.lifetime, 7200);
    assert_eq!(t.age_add, 0xdead_beef);
    assert_eq!(t.nonce, &[0x05]);
    assert_eq!(t.ticket, &[0x77, 0x88]);
    assert_eq!(t.max_early_data, 16384);
    let mut too_long = body;
    too_long[..4].copy_from_slice(&(MAX_TICKET_LIFETIME + 1).to_be_bytes());
    // Parsed: the engine drops such a ticket and keeps the connection.
    assert_eq!(
        NewSessionTicket::parse(&too_long).unwrap().lifetime,
        MAX_TICKET_LIFETIME + 1
    );
    let empty_ticket = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        NewSessionTicket::parse(&empty_ticket),
        Err(WireError::BadLength)
    );
}

#[test]
fn key_update_values() {
    assert_eq!(parse_key_update(&[0]), Ok(false));
    assert_eq!(parse_key_update(&[1]), Ok(true));
    assert_eq!(parse_key_update(&[2]), Err(WireError::IllegalValue));
    assert_eq!(parse_key_update(&[]), Err(WireError::Truncated));
}
