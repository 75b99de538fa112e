//! Engine tests against a scripted TLS 1.3 server built from the crate's own key schedule
//! and record protection. Real servers never misbehave on demand, so the rules about
//! misbehaving servers (C31, C32), record framing (coalesced and split handshake
//! messages, change_cipher_spec), KeyUpdate and the clock rule (E6) are checked here, byte
//! for byte. Nothing is mocked: the scripted server runs the RFC 8446 computations.

use encore_testkit as common;
mod driver;
use encore_testkit::scripted;

use driver::{spec, take_tx, SERVER_NAME};

use encore_tls::client::{
    ClientConfig, Connection, Error, Event, KeyExchangeMode, PskMode, ResumptionOffer, Violation,
};
use encore_tls::crypto::{
    self, CipherSuite, HashAlg, KeyExchange, KeySchedule, NamedGroup, RecordProtection, Transcript,
};
use scripted::*;

const TICKET: &[u8] = b"scripted-ticket-0123456789";

fn offer() -> ResumptionOffer<'static> {
    ResumptionOffer {
        ticket: TICKET,
        psk: &PSK,
        suite: CipherSuite::Aes128GcmSha256,
        // 0x20 ms after receipt, with ticket_age_add 0xffff_fff0: the sum wraps to 0x10 (C30).
        obfuscated_age: encore_session::obfuscated_ticket_age(0x20, 0xffff_fff0),
    }
}

/// 17000-byte receive and 4096-byte transmit buffers, leaked so that an engine can borrow
/// them for the rest of the test.
fn buffers() -> (&'static mut [u8], &'static mut [u8]) {
    (
        Box::leak(vec![0u8; 17000].into_boxed_slice()),
        Box::leak(vec![0u8; 4096].into_boxed_slice()),
    )
}

/// An engine for [`SERVER_NAME`] with its ClientHello queued.
fn engine<'a>(
    config: &'a ClientConfig<'a>,
    offer: Option<ResumptionOffer<'a>>,
    now: Option<u64>,
) -> Connection<'a, driver::HostRng> {
    engine_for(config, SERVER_NAME, offer, now, buffers())
}

fn engine_for<'a>(
    config: &'a ClientConfig<'a>,
    server_name: &'a str,
    offer: Option<ResumptionOffer<'a>>,
    now: Option<u64>,
    (rx, tx): (&'a mut [u8], &'a mut [u8]),
) -> Connection<'a, driver::HostRng> {
    Connection::new(config, server_name, offer, rx, tx, driver::host_rng(), now).unwrap()
}

/// An engine for [`SERVER_NAME`] on buffers of the test's own sizes, offering [`offer`], with
/// its ClientHello queued.
fn offering_on<'a>(
    config: &'a ClientConfig<'a>,
    buffers: (&'a mut [u8], &'a mut [u8]),
) -> Connection<'a, driver::HostRng> {
    engine_for(config, SERVER_NAME, Some(offer()), Some(1), buffers)
}

/// Feeds `bytes` and processes until the engine needs more input; returns the last result.
fn feed<'c, R: rand_core::CryptoRng>(
    conn: &'c mut Connection<'_, R>,
    bytes: &[u8],
) -> Result<Option<Event<'c>>, Error> {
    assert_eq!(conn.feed(bytes), bytes.len());
    conn.process()
}

/// Takes the ClientHello the engine queued and answers it as `server` does with `spec`:
/// returns the ServerHello record, to which the test adds the rest of the flight.
fn server_hello<R>(
    conn: &mut Connection<'_, R>,
    server: &mut Scripted,
    spec: &ServerHelloSpec,
) -> Vec<u8> {
    let hello = parse_hello(&take_tx(conn));
    server.server_hello(&hello, spec)
}

/// The records the engine queued, opened with the client handshake key.
fn sent_in_handshake<R>(conn: &mut Connection<'_, R>, server: &mut Scripted) -> Vec<(u8, Vec<u8>)> {
    open_all(server.client_read.as_mut().unwrap(), &take_tx(conn))
}

/// What came of a server flight: whether the engine yielded an event (or the error), and the
/// records it sent back, opened with the client handshake key.
type Answered = (Result<bool, Error>, Vec<(u8, Vec<u8>)>);

/// Answers the ClientHello the engine queued with a ServerHello per `spec`, then with the
/// handshake messages `flight` writes with the scripted server, sealed in one record.
fn answer<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    spec: &ServerHelloSpec,
    flight: impl FnOnce(&mut Scripted) -> Vec<u8>,
) -> Answered {
    let mut server = Scripted::new();
    let mut bytes = server_hello(conn, &mut server, spec);
    let hs = flight(&mut server);
    bytes.extend(server.seal(22, &hs));
    let result = feed(conn, &bytes).map(|e| e.is_some());
    (result, sent_in_handshake(conn, &mut server))
}

const NO_ANCHORS: [rustls_pki_types::TrustAnchor<'static>; 0] = [];

/// C30/C31: the offer lists the suites of the ticket's hash first (then the others, for a
/// server that declines), psk_dhe_ke, the obfuscated age, and a binder the server can
/// verify over the partial ClientHello.
#[test]
fn offer_hello_has_binder_age_and_the_ticket_hash_suites_first_c30_c31() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let hello = parse_hello(conn.pending_tx());
    assert_eq!(hello.suites, vec![0x1301, 0x1303, 0x1302]);
    assert_eq!(hello.psk_modes, vec![1]);
    let (id, age, binder, binders_at) = hello.psk.clone().unwrap();
    assert_eq!(id, TICKET);
    assert_eq!(age, 0x20u32.wrapping_add(0xffff_fff0));
    assert_eq!(age, 0x10);
    let bk = KeySchedule::early(HashAlg::Sha256, Some(&PSK)).binder_key(true);
    let th = Transcript::new().hash_with(HashAlg::Sha256, &hello.msg[..binders_at]);
    let expected = crypto::finished_verify_data(HashAlg::Sha256, bk.as_bytes(), th.as_bytes());
    assert_eq!(binder, expected.as_bytes());
    // C28: the offer counts as sent only when the whole ClientHello left.
    let len = conn.pending_tx().len();
    assert!(!conn.offer_sent());
    conn.tx_sent(len - 1);
    assert!(!conn.offer_sent());
    conn.tx_sent(1);
    assert!(conn.offer_sent());
}

/// psk_ke opt-in: no key share at all, psk_ke only (zero public-key operations).
#[test]
fn psk_only_offer_sends_no_key_share() {
    let mut config = ClientConfig::new(&NO_ANCHORS);
    config.psk_mode = PskMode::AllowPskOnly;
    let conn = engine(&config, Some(offer()), Some(1));
    let hello = parse_hello(conn.pending_tx());
    assert_eq!(hello.key_share_entries, 0);
    assert_eq!(hello.psk_modes, vec![0]);
}

/// An offer answered by a ServerHello the engine must refuse: the error and the plaintext
/// alert it queued.
fn resumed_until_server_hello(spec: ServerHelloSpec) -> (Error, Vec<u8>) {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let sh = server_hello(&mut conn, &mut Scripted::new(), &spec);
    let err = feed(&mut conn, &sh).unwrap_err();
    assert!(conn.is_failed());
    (err, take_tx(&mut conn))
}

/// C31: a selected identity that was not offered aborts with illegal_parameter.
#[test]
fn selected_identity_not_offered_aborts_c31() {
    let (err, alert) = resumed_until_server_hello(spec(Some(1)));
    assert_eq!(err, Error::Illegal(Violation::PskIdentityNotOffered));
    assert_eq!(alert, vec![21, 3, 3, 0, 2, 2, 47]);
}

/// C31: the server accepts the PSK with a suite of another hash than the ticket's:
/// illegal_parameter.
#[test]
fn psk_accepted_with_a_suite_of_another_hash_aborts_c31() {
    let (err, alert) = resumed_until_server_hello(ServerHelloSpec {
        suite: 0x1302,
        ..spec(Some(0))
    });
    assert_eq!(err, Error::Illegal(Violation::PskSuiteHashMismatch));
    assert_eq!(alert, vec![21, 3, 3, 0, 2, 2, 47]);
}

/// C31: a suite that was not offered at all is illegal_parameter, offer or not.
#[test]
fn suite_not_configured_aborts_c31() {
    let mut config = ClientConfig::new(&NO_ANCHORS);
    config.cipher_suites = &[CipherSuite::Aes128GcmSha256, CipherSuite::Aes256GcmSha384];
    let mut conn = engine(&config, Some(offer()), Some(1));
    let hello = parse_hello(&take_tx(&mut conn));
    assert_eq!(hello.suites, vec![0x1301, 0x1302]);
    let sh = Scripted::new().server_hello(
        &hello,
        &ServerHelloSpec {
            suite: 0x1303,
            ..spec(None)
        },
    );
    assert_eq!(
        feed(&mut conn, &sh).unwrap_err(),
        Error::Illegal(Violation::SuiteNotOffered)
    );
    assert_eq!(take_tx(&mut conn), vec![21, 3, 3, 0, 2, 2, 47]);
}

/// C31: an offer whose hash none of the configured suites shares cannot be made.
#[test]
fn offer_without_a_configured_suite_of_its_hash_is_refused_c31() {
    let mut config = ClientConfig::new(&NO_ANCHORS);
    config.cipher_suites = &[CipherSuite::Aes256GcmSha384];
    let (rx, tx) = buffers();
    let err = Connection::new(
        &config,
        SERVER_NAME,
        Some(offer()),
        rx,
        tx,
        driver::host_rng(),
        Some(1),
    )
    .unwrap_err();
    assert_eq!(err, Error::OfferSuiteNotConfigured);
}

/// C31: psk_dhe_ke (the only mode offered) selected without key_share aborts.
#[test]
fn psk_dhe_without_key_share_aborts_c31() {
    let (err, alert) = resumed_until_server_hello(ServerHelloSpec {
        key_share: false,
        ..spec(Some(0))
    });
    assert_eq!(err, Error::MissingKeyShare);
    assert_eq!(alert, vec![21, 3, 3, 0, 2, 2, 109]);
}

/// C32: a full handshake in which the server skips Certificate/CertificateVerify is
/// rejected; the alert is protected with the client handshake key.
#[test]
fn full_handshake_without_certificate_is_rejected_c32() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, None, Some(1));
    let sent = answer(&mut conn, &spec(None), |s| {
        let mut hs = s.encrypted_extensions();
        hs.extend(s.finished());
        hs
    });
    assert_eq!(
        sent,
        (Err(Error::ServerNotAuthenticated), vec![(21, vec![2, 10])])
    );
}

/// EncryptedExtensions and a Certificate of one 0xaa byte: what comes of it after a
/// ServerHello per `spec` (see [`answer`]).
fn bogus_certificate(
    config: &ClientConfig<'_>,
    offer: Option<ResumptionOffer<'_>>,
    now: Option<u64>,
    spec: &ServerHelloSpec,
) -> Answered {
    let mut conn = engine(config, offer, now);
    answer(&mut conn, spec, |s| {
        let mut hs = s.encrypted_extensions();
        hs.extend(s.message(11, &[0, 0, 0, 6, 0, 0, 1, 0xaa, 0, 0]));
        hs
    })
}

/// C32: a server that accepted the PSK must not send a Certificate.
#[test]
fn certificate_after_psk_accepted_is_rejected_c32() {
    let config = ClientConfig::new(&NO_ANCHORS);
    assert_eq!(
        bogus_certificate(&config, Some(offer()), Some(1), &spec(Some(0))),
        (Err(Error::CertificateWithPsk), vec![(21, vec![2, 10])])
    );
}

/// E6: without a wall clock and without a lower bound, certificate checks fail closed.
#[test]
fn no_wall_clock_fails_closed_e6() {
    let config = ClientConfig::new(&NO_ANCHORS);
    assert_eq!(
        bogus_certificate(&config, None, None, &spec(None)),
        (Err(Error::NoWallClock), vec![(21, vec![2, 46])])
    );
}

/// The server's flight for a resumption (psk_dhe_ke, identity 0) with its Finished split in
/// two: the ServerHello record, then EncryptedExtensions with the first ten bytes of Finished,
/// then the rest of Finished, the last two unsealed (the test frames them).
fn split_finished_flight<R>(
    conn: &mut Connection<'_, R>,
    server: &mut Scripted,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let flight = server_hello(conn, server, &spec(Some(0)));
    let mut head = server.encrypted_extensions();
    let fin = server.finished();
    head.extend_from_slice(&fin[..10]);
    (flight, head, fin[10..].to_vec())
}

/// A resumed handshake through odd framing: a change_cipher_spec record (ignored, RFC 8446
/// §5), EncryptedExtensions and half of Finished coalesced in one record, the rest of
/// Finished in the next; then NewSessionTicket and KeyUpdate(update_requested) coalesced
/// after the handshake. Checks the client Finished, the ticket's PSK (§4.6.1) and the
/// KeyUpdate answer (§4.6.3), byte for byte.
#[test]
fn resumed_handshake_with_split_and_coalesced_messages_ticket_and_key_update() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let mut server = Scripted::new();
    let (mut flight, head, tail) = split_finished_flight(&mut conn, &mut server);
    flight.extend(plain_record(20, &[1]));
    flight.extend(server.seal(22, &head));
    flight.extend(server.seal(22, &tail));
    // Feed byte by byte: records split across reads too.
    let mut summary = None;
    for b in &flight {
        assert_eq!(conn.feed(&[*b]), 1);
        while let Some(ev) = conn.process().unwrap() {
            match ev {
                Event::HandshakeComplete(s) => summary = Some(s),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let summary = summary.unwrap();
    assert!(summary.resumed);
    assert_eq!(summary.kex, KeyExchangeMode::PskDhe);
    assert_eq!(summary.suite, CipherSuite::Aes128GcmSha256);

    // The client Finished, checked by the server.
    let th_server_finished = server.transcript.current_hash();
    let records = sent_in_handshake(&mut conn, &mut server);
    assert_eq!(records.len(), 1);
    let (ty, client_fin) = &records[0];
    assert_eq!(*ty, 22);
    let expected = crypto::finished_verify_data(
        HashAlg::Sha256,
        server.client_hs.as_bytes(),
        th_server_finished.as_bytes(),
    );
    assert_eq!(&client_fin[4..], expected.as_bytes());
    let AppKeys {
        mut s_write,
        mut c_read,
        s_ap,
        c_ap,
    } = server.application_keys();

    // NewSessionTicket + KeyUpdate(update_requested) in one record.
    let mut nst = new_session_ticket(7200, &[0xa0, 0xa1], &[0xee, 0xef, 0xf0]);
    nst.extend(handshake(24, &[1]));
    let post = seal(&mut s_write, 22, &nst);
    assert_eq!(conn.feed(&post), post.len());
    match conn.process().unwrap() {
        Some(Event::NewTicket(t)) => {
            assert_eq!(t.ticket, &[0xee, 0xef, 0xf0]);
            assert_eq!(t.nonce, &[0xa0, 0xa1]);
            assert_eq!(t.lifetime_s, 7200);
            assert_eq!(t.age_add, 0x0102_0304);
            assert_eq!(t.max_early_data, 0);
            assert_eq!(t.suite, CipherSuite::Aes128GcmSha256);
            let psk = server.ticket_psk(client_fin, &[0xa0, 0xa1]);
            assert_eq!(t.psk.as_bytes(), psk.as_bytes());
        }
        other => panic!("expected a ticket, got {other:?}"),
    }
    assert!(conn.process().unwrap().is_none());
    // The KeyUpdate answer goes out under the old key; later data under the new one.
    let answer = open_all(&mut c_read, &take_tx(&mut conn));
    assert_eq!(answer, vec![(22, vec![24, 0, 0, 1, 0])]);
    assert_eq!(conn.write(b"after update").unwrap(), 12);
    let c_ap1 = crypto::next_traffic_secret(HashAlg::Sha256, c_ap.as_bytes());
    let mut c_read1 =
        RecordProtection::new(CipherSuite::Aes128GcmSha256, c_ap1.as_bytes()).unwrap();
    let data = open_all(&mut c_read1, &take_tx(&mut conn));
    assert_eq!(data, vec![(23, b"after update".to_vec())]);
    // The server's next records use its updated key too.
    let s_ap1 = crypto::next_traffic_secret(HashAlg::Sha256, s_ap.as_bytes());
    let mut s_write1 =
        RecordProtection::new(CipherSuite::Aes128GcmSha256, s_ap1.as_bytes()).unwrap();
    let mut data = seal(&mut s_write1, 23, b"pong");
    data.extend(seal(&mut s_write1, 21, &[1, 0]));
    assert_data(&mut conn, &data, b"pong");
    assert!(matches!(conn.process().unwrap(), Some(Event::Closed)));
    assert!(conn.close_notify_received());
    // Decided: the engine answers close_notify with its own.
    assert!(conn.close_notify_sent());
    let closing = open_all(&mut c_read1, &take_tx(&mut conn));
    assert_eq!(closing, vec![(21, vec![1, 0])]);
}

/// change_cipher_spec before ServerHello is ignored (RFC 8446 §5, middlebox compatibility);
/// one whose body is not the single byte 1 is unexpected_message.
#[test]
fn change_cipher_spec_before_server_hello_is_ignored_but_garbage_is_not() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, None, Some(1));
    take_tx(&mut conn);
    assert!(feed(&mut conn, &plain_record(20, &[1])).unwrap().is_none());
    let err = feed(&mut conn, &plain_record(20, &[2])).unwrap_err();
    assert_eq!(err, Error::UnexpectedMessage);
    assert_eq!(take_tx(&mut conn), vec![21, 3, 3, 0, 2, 2, 10]);
}

/// E4: arbitrary bytes after the ClientHello never panic; the engine either waits for
/// more input or fails with an error and stays failed.
#[test]
fn arbitrary_input_never_panics_e4() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut failures = 0;
    for round in 0..300 {
        let (mut rx, mut tx) = (vec![0u8; 2048], vec![0u8; 1024]);
        let mut conn = offering_on(&config, (&mut rx, &mut tx));
        take_tx(&mut conn);
        let len = (next() % 600) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the rounds start with a plausible handshake record header.
        if round % 2 == 0 && input.len() > 5 {
            input[..3].copy_from_slice(&[22, 3, 3]);
        }
        conn.feed(&input);
        let mut result = conn.process();
        while let Ok(Some(_)) = result {
            result = conn.process();
        }
        if result.is_err() {
            failures += 1;
            assert!(conn.is_failed());
            assert_eq!(conn.process().unwrap_err(), Error::Closed);
        }
    }
    assert!(
        failures > 100,
        "random input should mostly fail: {failures}"
    );
}

/// E5: the engine's own state has a size known at compile time, independent of the
/// caller's buffers; printed for the record and bounded here.
#[test]
fn connection_state_size_is_bounded_e5() {
    let size = core::mem::size_of::<Connection<'static, driver::HostRng>>();
    eprintln!("size_of::<Connection>() = {size} bytes");
    assert!(size < 4096, "{size}");
}

/// HelloRetryRequest: ClientHello2 carries a P-256 share, echoes the cookie, repeats the
/// ticket (C28) with a binder over message_hash(ClientHello1) + HelloRetryRequest + the
/// partial ClientHello2 (RFC 8446 §4.4.1, §4.2.11.2).
#[test]
fn retry_sends_requested_share_cookie_and_new_binder() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let ch1 = parse_hello(&take_tx(&mut conn));
    assert!(conn.offer_sent());
    assert_eq!(ch1.share_groups, vec![(0x001d, 32)]);
    let (hrr, hrr_msg) = hello_retry_request(Some(0x0017), Some(b"cookie!"));
    assert!(feed(&mut conn, &hrr).unwrap().is_none());
    let ch2 = parse_hello(&take_tx(&mut conn));
    assert_eq!(ch2.share_groups, vec![(0x0017, 65)]);
    assert_eq!(ch2.cookie.as_deref(), Some(&b"cookie!"[..]));
    let (id, _, binder, binders_at) = ch2.psk.clone().unwrap();
    assert_eq!(id, TICKET);
    let mut t = Transcript::new();
    t.update(&ch1.msg);
    t.select(HashAlg::Sha256);
    t.replace_with_message_hash(HashAlg::Sha256);
    t.update(&hrr_msg);
    let th = t.hash_with(HashAlg::Sha256, &ch2.msg[..binders_at]);
    let bk = KeySchedule::early(HashAlg::Sha256, Some(&PSK)).binder_key(true);
    let expected = crypto::finished_verify_data(HashAlg::Sha256, bk.as_bytes(), th.as_bytes());
    assert_eq!(binder, expected.as_bytes());
    // A second HelloRetryRequest is unexpected_message.
    let (hrr2, _) = hello_retry_request(Some(0x001d), None);
    assert_eq!(
        feed(&mut conn, &hrr2).unwrap_err(),
        Error::UnexpectedMessage
    );
    assert_eq!(take_tx(&mut conn), vec![21, 3, 3, 0, 2, 2, 10]);
}

/// A HelloRetryRequest for the group already sent, or one that changes nothing, is
/// illegal_parameter (RFC 8446 §4.1.4).
#[test]
fn retry_for_the_group_already_sent_or_changing_nothing_is_illegal() {
    let config = ClientConfig::new(&NO_ANCHORS);
    for (group, violation) in [
        (Some(0x001d), Violation::RetryGroupInvalid),
        (Some(0x0018), Violation::RetryGroupInvalid),
        (None, Violation::RetryChangesNothing),
    ] {
        let mut conn = engine(&config, None, Some(1));
        take_tx(&mut conn);
        let (hrr, _) = hello_retry_request(group, None);
        assert_eq!(
            feed(&mut conn, &hrr).unwrap_err(),
            Error::Illegal(violation),
            "{group:?}"
        );
        assert_eq!(take_tx(&mut conn), vec![21, 3, 3, 0, 2, 2, 47]);
    }
}

// ---------------------------------------------------------------------------------------------
// Full handshakes against the scripted server, record limits, interleaving, KeyUpdate.
// ---------------------------------------------------------------------------------------------

/// 2023-06-01T00:00:00Z: a clock rolled back.
const Y2023: u64 = 1_685_577_600;
/// 2024-01-01T00:00:00Z: notAfter of the certificate that expired.
const Y2024: u64 = 1_704_067_200;
/// 2025-06-01T00:00:00Z, inside the other test certificates' validity (2020–2045).
const Y2025_06: u64 = 1_748_736_000;
/// 2026-01-01T00:00:00Z: a firmware build date used as the time lower bound.
const Y2026: u64 = 1_767_225_600;

/// Answers the queued ClientHello with ServerHello (psk_dhe_ke, identity 0),
/// EncryptedExtensions carrying `ee_exts` and Finished, checks that the engine completes
/// the resumption, and returns the application keys.
fn resume_to_connected<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    ee_exts: &[u8],
) -> AppKeys {
    let mut server = Scripted::new();
    let mut flight = server_hello(conn, &mut server, &spec(Some(0)));
    let mut hs = server.encrypted_extensions_with(ee_exts);
    hs.extend(server.finished());
    flight.extend(server.seal(22, &hs));
    match feed(conn, &flight).unwrap() {
        Some(Event::HandshakeComplete(s)) => assert_eq!(s.kex, KeyExchangeMode::PskDhe),
        other => panic!("expected the handshake to complete, got {other:?}"),
    }
    take_tx(conn);
    server.application_keys()
}

/// Feeds one record, which must come out as the application data `expected`.
fn assert_data<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    record: &[u8],
    expected: &[u8],
) {
    match feed(conn, record).unwrap() {
        Some(Event::ApplicationData(d)) => assert_eq!(d, expected),
        other => panic!("expected data, got {other:?}"),
    }
}

/// Feeds `bytes`, which the engine must refuse as record_overflow with the alert protected
/// under the client application key that `c_read` opens.
fn assert_record_overflow<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    c_read: &mut RecordProtection,
    bytes: &[u8],
) {
    assert_eq!(
        feed(conn, bytes).unwrap_err(),
        Error::Illegal(Violation::RecordTooLong)
    );
    assert_eq!(open_all(c_read, &take_tx(conn)), vec![(21, vec![2, 22])]);
}

/// E6: the certificate is checked at the later of the wall clock and the lower bound. A
/// clock rolled back to 2023 does not revive a certificate that expired in 2024, before the
/// firmware's build date (2026): certificate_expired.
#[test]
fn rolled_back_clock_does_not_revive_an_expired_certificate_e6() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let p256 = &rcgen::PKCS_ECDSA_P256_SHA256;
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    root_params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let root =
        CertifiedIssuer::self_signed(root_params, KeyPair::generate_for(p256).unwrap()).unwrap();
    let mut leaf_params = CertificateParams::new(vec![SERVER_NAME.to_string()]).unwrap();
    leaf_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    leaf_params.not_after = rcgen::date_time_ymd(2024, 1, 1);
    let leaf = leaf_params
        .signed_by(&KeyPair::generate_for(p256).unwrap(), &root)
        .unwrap();
    let anchors = [crypto::anchor_from_der(root.der()).unwrap()];
    let chain: [&[u8]; 1] = [leaf.der()];
    let expired = (
        Err(Error::Certificate(crypto::CertError::Expired {
            now: Y2026,
            not_after: Y2024,
        })),
        vec![(21, vec![2, 45])],
    );
    for (now, floor, expected) in [
        // Either time alone inside the validity: the chain verifies (the engine then waits
        // for CertificateVerify).
        (Some(Y2023), None, (Ok(false), vec![])),
        (None, Some(Y2023), (Ok(false), vec![])),
        // Both known: the later one counts, whichever it is.
        (Some(Y2023), Some(Y2026), expired.clone()),
        (Some(Y2026), Some(Y2023), expired.clone()),
    ] {
        let mut config = ClientConfig::new(&anchors);
        config.time_lower_bound = floor;
        let mut conn = engine(&config, None, now);
        let sent = answer(&mut conn, &spec(None), |s| {
            let mut hs = s.encrypted_extensions();
            hs.extend(s.certificate(&chain));
            hs
        });
        assert_eq!(sent, expected, "now {now:?}, lower bound {floor:?}");
    }
}

/// C31: a server that declines the offer may pick a suite of another hash than the
/// ticket's; the handshake is then a full one, authenticated by certificate (C32).
#[test]
fn offer_declined_with_a_suite_of_another_hash_is_a_full_handshake_c31() {
    let pki = common::TestPki::generate(&[SERVER_NAME]);
    let config = ClientConfig::new(driver::trust(&pki.ca_der));
    let mut conn = engine(&config, Some(offer()), Some(Y2025_06));
    let hello = parse_hello(&take_tx(&mut conn));
    assert!(hello.psk.is_some());
    let mut server = Scripted::with_suite(CipherSuite::Aes256GcmSha384);
    let mut flight = server.server_hello(
        &hello,
        &ServerHelloSpec {
            suite: 0x1302,
            ..spec(None)
        },
    );
    let mut hs = server.encrypted_extensions();
    hs.extend(server.certificate(&[&pki.leaf.cert_der, &pki.int_der]));
    hs.extend(server.certificate_verify(&pki.leaf.key_der));
    hs.extend(server.finished());
    flight.extend(server.seal(22, &hs));
    let summary = match feed(&mut conn, &flight).unwrap() {
        Some(Event::HandshakeComplete(s)) => s,
        other => panic!("expected the handshake to complete, got {other:?}"),
    };
    assert!(!summary.resumed);
    assert!(summary.offer_declined);
    assert!(!summary.retried);
    assert_eq!(summary.kex, KeyExchangeMode::Full);
    assert_eq!(summary.suite, CipherSuite::Aes256GcmSha384);
    // The client Finished verifies under the SHA-384 handshake secret.
    let th = server.transcript.current_hash();
    let records = sent_in_handshake(&mut conn, &mut server);
    let expected =
        crypto::finished_verify_data(HashAlg::Sha384, server.client_hs.as_bytes(), th.as_bytes());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].0, 22);
    assert_eq!(&records[0].1[4..], expected.as_bytes());
}

/// RFC 8446 §5.4, §5.2: the whole inner plaintext, padding included, is at most 2^14 + 1
/// bytes; a record of 2^14 content bytes and 200 padding bytes is record_overflow. A
/// ciphertext longer than 2^14 + 256 is refused from its header.
#[test]
fn padded_inner_plaintext_over_two_to_the_fourteen_plus_one_is_record_overflow() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let AppKeys {
        mut s_write,
        mut c_read,
        ..
    } = resume_to_connected(&mut conn, &[]);
    // Exactly 2^14 + 1: 2^14 - 1 content bytes, the type and one padding byte.
    let full = vec![0x61; 16383];
    assert_data(&mut conn, &seal_padded(&mut s_write, 23, &full, 1), &full);
    let rec = seal_padded(&mut s_write, 23, &vec![0x62; 16384], 200);
    assert_eq!(rec.len(), 5 + 16384 + 1 + 200 + 16);
    assert_record_overflow(&mut conn, &mut c_read, &rec);

    // The ciphertext bound is checked before the body arrives.
    let mut conn = engine(&config, Some(offer()), Some(1));
    let mut c_read = resume_to_connected(&mut conn, &[]).c_read;
    let too_long = 16384 + 256 + 1;
    let header = [23, 3, 3, (too_long >> 8) as u8, too_long as u8];
    assert_record_overflow(&mut conn, &mut c_read, &header);
}

/// RFC 8449 §4: with record_size_limit 1024 announced (and the server's echoed), the inner
/// plaintext, content type and padding included, is at most 1024 bytes.
#[test]
fn padded_inner_plaintext_over_the_record_size_limit_is_record_overflow_rfc8449_4() {
    let mut config = ClientConfig::new(&NO_ANCHORS);
    config.record_size_limit = Some(1024);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let AppKeys {
        mut s_write,
        mut c_read,
        ..
    } = resume_to_connected(&mut conn, &ext(0x001c, &[0x08, 0]));
    let rec = seal_padded(&mut s_write, 23, &[0x61; 1000], 23);
    assert_data(&mut conn, &rec, &[0x61; 1000]);
    let rec = seal_padded(&mut s_write, 23, &[0x62; 1000], 24);
    assert_record_overflow(&mut conn, &mut c_read, &rec);
}

/// RFC 8449 §4: a record_size_limit outside 64..=16385 is refused when the connection is
/// made, instead of a receive limit of zero bytes.
#[test]
fn record_size_limit_outside_64_to_16385_is_refused_rfc8449_4() {
    for (limit, ok) in [
        (0, false),
        (1, false),
        (63, false),
        (64, true),
        (16385, true),
        (16386, false),
        (u16::MAX, false),
    ] {
        let mut config = ClientConfig::new(&NO_ANCHORS);
        config.record_size_limit = Some(limit);
        let (mut rx, mut tx) = (vec![0u8; 17000], vec![0u8; 4096]);
        let result = Connection::new(
            &config,
            SERVER_NAME,
            None,
            &mut rx,
            &mut tx,
            driver::host_rng(),
            Some(1),
        );
        match result {
            Ok(_) => assert!(ok, "{limit}"),
            Err(e) => {
                assert!(!ok, "{limit}");
                assert_eq!(e, Error::RecordSizeLimitOutOfRange);
                assert_eq!(e.alert(), None);
            }
        }
    }
}

/// RFC 8449 §5: both max_fragment_length and record_size_limit in EncryptedExtensions is
/// fatal for the client: illegal_parameter.
#[test]
fn max_fragment_length_and_record_size_limit_together_are_illegal_rfc8449_5() {
    let mut config = ClientConfig::new(&NO_ANCHORS);
    config.max_fragment_length = Some(encore_tls::client::MaxFragmentLength::Bytes1024);
    config.record_size_limit = Some(1024);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let sent = answer(&mut conn, &spec(Some(0)), |s| {
        let mut exts = ext(0x0001, &[2]);
        exts.extend(ext(0x001c, &[0x04, 0x00]));
        s.encrypted_extensions_with(&exts)
    });
    assert_eq!(
        sent,
        (
            Err(Error::Illegal(Violation::BothRecordLimits)),
            vec![(21, vec![2, 47])]
        )
    );
}

/// RFC 8446 §4.2: no server_name is sent for an IP literal, so an acknowledgement is
/// unsupported_extension; for a DNS name it is accepted.
#[test]
fn server_name_ack_without_server_name_is_unsupported_extension_rfc8446_4_2() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let refused = (
        Err(Error::Illegal(Violation::ServerNameNotSent)),
        vec![(21, vec![2, 110])],
    );
    for (name, expected) in [
        (SERVER_NAME, (Ok(false), vec![])),
        ("192.0.2.7", refused.clone()),
        ("2001:db8::7", refused.clone()),
    ] {
        let mut conn = engine_for(&config, name, Some(offer()), Some(Y2025_06), buffers());
        let sent = answer(&mut conn, &spec(Some(0)), |s| {
            s.encrypted_extensions_with(&ext(0x0000, &[]))
        });
        assert_eq!(sent, expected, "{name}");
    }
}

/// RFC 8446 §5.1: no record of another type may come between the fragments of a handshake
/// message. Finished split over two records with a change_cipher_spec or a (warning)
/// alert between them is unexpected_message.
#[test]
fn records_between_fragments_of_a_handshake_message_are_unexpected_rfc8446_5_1() {
    for between in ["change_cipher_spec", "user_canceled"] {
        let config = ClientConfig::new(&NO_ANCHORS);
        let mut conn = engine(&config, Some(offer()), Some(1));
        let mut server = Scripted::new();
        let (mut flight, head, tail) = split_finished_flight(&mut conn, &mut server);
        flight.extend(server.seal(22, &head));
        flight.extend(match between {
            "change_cipher_spec" => plain_record(20, &[1]),
            _ => server.seal(21, &[1, 90]),
        });
        flight.extend(server.seal(22, &tail));
        assert_eq!(
            feed(&mut conn, &flight).unwrap_err(),
            Error::UnexpectedMessage,
            "{between}"
        );
        assert_eq!(
            sent_in_handshake(&mut conn, &mut server),
            vec![(21, vec![2, 10])],
            "{between}"
        );
    }
}

/// RFC 8446 §4.2.9, §4.1.2: a psk_ke-only offer keeps psk_ke alone in ClientHello2 after
/// HelloRetryRequest (now with the requested key share). A server that then accepts the
/// PSK with a key share selected psk_dhe_ke, which was not offered: illegal_parameter. A
/// server that declines the PSK goes on with a full handshake.
#[test]
fn psk_only_offer_after_retry_rejects_psk_dhe_ke_rfc8446_4_2_9() {
    for accept in [true, false] {
        let mut config = ClientConfig::new(&NO_ANCHORS);
        config.psk_mode = PskMode::AllowPskOnly;
        let mut conn = engine(&config, Some(offer()), Some(1));
        let ch1 = parse_hello(&take_tx(&mut conn));
        assert_eq!(ch1.key_share_entries, 0);
        assert_eq!(ch1.psk_modes, vec![0]);
        let (hrr, _) = hello_retry_request(Some(0x001d), None);
        assert!(feed(&mut conn, &hrr).unwrap().is_none());
        let ch2 = parse_hello(&take_tx(&mut conn));
        assert_eq!(ch2.share_groups, vec![(0x001d, 32)]);
        assert_eq!(ch2.psk_modes, vec![0]);
        assert_eq!(ch2.psk.as_ref().unwrap().0, TICKET);
        let sh = Scripted::new().server_hello(&ch2, &spec(accept.then_some(0)));
        let result = feed(&mut conn, &sh).map(|e| e.is_some());
        if accept {
            assert_eq!(result, Err(Error::Illegal(Violation::PskDheNotOffered)));
            assert_eq!(take_tx(&mut conn), vec![21, 3, 3, 0, 2, 2, 47]);
        } else {
            assert_eq!(result, Ok(false));
            assert!(conn.is_handshaking());
        }
    }
}

/// RFC 8446 §5: a content type TLS 1.3 does not define is unexpected_message; §5.1:
/// legacy_record_version is ignored on receipt.
#[test]
fn unknown_content_type_is_unexpected_and_record_version_is_ignored_rfc8446_5() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, None, Some(1));
    take_tx(&mut conn);
    // change_cipher_spec under an odd legacy_record_version: still ignored.
    assert!(feed(&mut conn, &[20, 0x02, 0x00, 0, 1, 1])
        .unwrap()
        .is_none());
    assert!(feed(&mut conn, &[20, 0xfe, 0xfd, 0, 1, 1])
        .unwrap()
        .is_none());
    assert_eq!(
        feed(&mut conn, &[24, 3, 3, 0, 1, 0]).unwrap_err(),
        Error::UnexpectedMessage
    );
    assert_eq!(take_tx(&mut conn), vec![21, 3, 3, 0, 2, 2, 10]);
}

/// RFC 8446 §4.3.2: certificate_request_context is empty during the handshake; a server
/// that sends one is illegal_parameter.
#[test]
fn certificate_request_with_a_context_during_the_handshake_is_illegal_rfc8446_4_3_2() {
    for (context, expected) in [
        (&[][..], (Ok(false), vec![])),
        (
            &[7, 7][..],
            (
                Err(Error::Illegal(Violation::CertificateRequestContextNotEmpty)),
                vec![(21, vec![2, 47])],
            ),
        ),
    ] {
        let config = ClientConfig::new(&NO_ANCHORS);
        let mut conn = engine(&config, None, Some(1));
        let mut body = vec![context.len() as u8];
        body.extend_from_slice(context);
        let sigs = ext(0x000d, &[0, 2, 0x04, 0x03]);
        body.extend_from_slice(&(sigs.len() as u16).to_be_bytes());
        body.extend(sigs);
        let sent = answer(&mut conn, &spec(None), |s| {
            let mut hs = s.encrypted_extensions();
            hs.extend(s.message(13, &body));
            hs
        });
        assert_eq!(sent, expected, "{context:?}");
    }
}

/// RFC 8446 §4.6.3: KeyUpdate(update_requested) received many times while the client sends
/// nothing is answered by one KeyUpdate; after the client's next application data, a new
/// request gets a new answer.
#[test]
fn key_update_requests_while_silent_get_one_answer_rfc8446_4_6_3() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let (mut rx, mut tx) = (vec![0u8; 17000], vec![0u8; 1024]);
    let mut conn = offering_on(&config, (&mut rx, &mut tx));
    let AppKeys {
        mut s_write,
        c_read: mut c_read0,
        mut s_ap,
        c_ap,
    } = resume_to_connected(&mut conn, &[]);
    let suite = CipherSuite::Aes128GcmSha256;
    let mut requests = Vec::new();
    // 300 requests, each in its own record under the server's next key: their answers
    // would need 300 * 27 bytes of a 1024-byte transmit buffer.
    for _ in 0..300 {
        requests.extend(seal(&mut s_write, 22, &handshake(24, &[1])));
        s_ap = crypto::next_traffic_secret(HashAlg::Sha256, s_ap.as_bytes());
        s_write = RecordProtection::new(suite, s_ap.as_bytes()).unwrap();
    }
    let mut fed = 0;
    while fed < requests.len() {
        fed += conn.feed(&requests[fed..]);
        assert!(conn.process().unwrap().is_none());
    }
    assert_eq!(
        open_all(&mut c_read0, &take_tx(&mut conn)),
        vec![(22, vec![24, 0, 0, 1, 0])]
    );
    // Application data under the updated key, then a new request: a new answer.
    assert_eq!(conn.write(b"ping").unwrap(), 4);
    let request = seal(&mut s_write, 22, &handshake(24, &[1]));
    assert!(feed(&mut conn, &request).unwrap().is_none());
    let c_ap1 = crypto::next_traffic_secret(HashAlg::Sha256, c_ap.as_bytes());
    let mut c_read1 = RecordProtection::new(suite, c_ap1.as_bytes()).unwrap();
    assert_eq!(
        open_all(&mut c_read1, &take_tx(&mut conn)),
        vec![(23, b"ping".to_vec()), (22, vec![24, 0, 0, 1, 0])]
    );
}

/// C9 carried to the engine's buffers: those handed back by `into_buffers` for the next
/// connection hold no plaintext (received data, handshake messages, data before sealing).
#[test]
fn into_buffers_hands_back_zeroed_buffers() {
    let config = ClientConfig::new(&NO_ANCHORS);
    let mut conn = engine(&config, Some(offer()), Some(1));
    let mut s_write = resume_to_connected(&mut conn, &[]).s_write;
    let rec = seal(&mut s_write, 23, b"secret reading 42");
    assert_data(&mut conn, &rec, b"secret reading 42");
    assert_eq!(conn.write(b"secret command").unwrap(), 14);
    let (rx, tx) = conn.into_buffers();
    assert_eq!(rx.len(), 17000);
    assert_eq!(tx.len(), 4096);
    assert!(rx.iter().all(|b| *b == 0));
    assert!(tx.iter().all(|b| *b == 0));
}

/// C31, RFC 8446 §4.1.2: a HelloRetryRequest that fixes a suite of another hash than the
/// ticket's rules the PSK out: ClientHello2 leaves it out, a ServerHello that still selects
/// it is unsupported_extension, and one that does not is a full handshake.
#[test]
fn retry_with_a_suite_of_another_hash_withdraws_the_offer_c31() {
    for select_psk in [true, false] {
        let config = ClientConfig::new(&NO_ANCHORS);
        let mut conn = engine(&config, Some(offer()), Some(1));
        let ch1 = parse_hello(&take_tx(&mut conn));
        assert!(ch1.psk.is_some());
        let (hrr, _) = hello_retry_request_for(0x1302, Some(0x0017), None);
        assert!(feed(&mut conn, &hrr).unwrap().is_none());
        let ch2 = parse_hello(&take_tx(&mut conn));
        assert!(ch2.psk.is_none());
        assert_eq!(ch2.share_groups, vec![(0x0017, 65)]);
        assert_eq!(ch2.suites, vec![0x1301, 0x1303, 0x1302]);
        // The scripted server answers with X25519 key material; a ServerHello that selects
        // the PSK is refused before its key share is used.
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x42; 32]);
        body.extend_from_slice(&[0, 0x13, 0x02, 0]);
        let mut exts = ext(0x002b, &[0x03, 0x04]);
        let kx = KeyExchange::generate(NamedGroup::Secp256r1, &mut driver::host_rng()).unwrap();
        let mut ks = vec![0x00, 0x17];
        let pk = kx.public_key();
        ks.extend_from_slice(&(pk.len() as u16).to_be_bytes());
        ks.extend_from_slice(&pk);
        exts.extend(ext(0x0033, &ks));
        if select_psk {
            exts.extend(ext(0x0029, &[0, 0]));
        }
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let sh = plain_record(22, &handshake(2, &body));
        let result = feed(&mut conn, &sh).map(|e| e.is_some());
        if select_psk {
            assert_eq!(result, Err(Error::Illegal(Violation::PskNotOffered)));
            assert_eq!(take_tx(&mut conn), vec![21, 3, 3, 0, 2, 2, 110]);
        } else {
            assert_eq!(result, Ok(false));
            assert!(conn.is_handshaking());
            assert_eq!(conn.suite(), Some(CipherSuite::Aes256GcmSha384));
        }
    }
}
