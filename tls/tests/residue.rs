//! E7 (docs/CONTRACT.md), secrets stay secret: full, resumed, retried and failed handshakes
//! against the scripted server, whose key schedule gives every secret the engine computes.
//! After each step the engine's own memory (it sits in a `ManuallyDrop` slot, viewed with
//! `size_of_val`) is scanned for every 16-byte window of every secret, traffic key and IV
//! (an IV, 12 bytes, whole), the offered PSK, the ticket PSK and the (EC)DHE private key:
//! only the secrets the next step still needs may be there. The buffers handed back, and the
//! slot after `drop_in_place`, must hold none.

use encore_testkit as common;
mod driver;
use encore_testkit::scripted;

use common::residue::{bytes_of, KnownSecrets};
use driver::{spec, take_tx};
use scripted::rng::{x25519_secret, Recording};

use std::mem::ManuallyDrop;

use encore_tls::client::{ClientConfig, Connection, Error, Event, ResumptionOffer, Violation};
use encore_tls::crypto::{self, CipherSuite, HashAlg, KeySchedule};
use scripted::*;

const NAME: &str = "server.encore.test";
const TICKET: &[u8] = b"residue-ticket-0123456789";
/// 2025-06-01T00:00:00Z, inside the test certificates' validity.
const NOW: u64 = 1_748_736_000;

// ---------------------------------------------------------------------------------------------
// A generator that remembers what it gave (the private key shares come from it)
// ---------------------------------------------------------------------------------------------

/// The P-256 private key whose uncompressed point is `public`.
fn p256_key(rng: &Recording, public: &[u8]) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    rng.key("P-256", |d| {
        p256::SecretKey::from_slice(d)
            .is_ok_and(|k| k.public_key().to_encoded_point(false).as_bytes() == public)
    })
}

// ---------------------------------------------------------------------------------------------
// The scan (the secrets and the bytes of a value: `encore_testkit::residue`)
// ---------------------------------------------------------------------------------------------

/// What the scans found where they must not have: one line per step and place.
#[derive(Default)]
struct Residue {
    lines: Vec<String>,
}

impl Residue {
    /// Scans `mem` (`place` at `step`): every secret found must be in `allowed`, and every
    /// one in `required` must be found (so that the scan is seen to work).
    fn scan(
        &mut self,
        known: &KnownSecrets,
        step: &str,
        place: &str,
        mem: &[u8],
        allowed: &[&str],
        required: &[&str],
    ) {
        let found = known.found_in(mem);
        let stray: Vec<_> = found
            .iter()
            .filter(|f| !allowed.contains(&f.as_str()))
            .cloned()
            .collect();
        if !stray.is_empty() {
            self.lines
                .push(format!("{step}: {place} holds {}", stray.join(", ")));
        }
        for r in required {
            assert!(
                found.iter().any(|f| f == r),
                "{step}: {place} must still hold {r} (found {found:?})"
            );
        }
    }

    fn assert_clean(self) {
        for l in &self.lines {
            eprintln!("residue: {l}");
        }
        assert!(self.lines.is_empty(), "{:#?}", self.lines);
    }
}

// ---------------------------------------------------------------------------------------------
// Driving the engine
// ---------------------------------------------------------------------------------------------

type Engine<'a> = Connection<'a, Recording>;

/// The configuration of the handshakes that need no trust anchor: resumptions and failures.
const NO_ANCHORS: ClientConfig<'static> = ClientConfig::new(&[]);

/// An engine's buffers (17000-byte receive, 4096-byte transmit) and the generator it draws
/// from.
fn parts() -> (Vec<u8>, Vec<u8>, Recording) {
    (vec![0u8; 17000], vec![0u8; 4096], Recording::default())
}

/// The [`parts`] of an engine that offers [`PSK`], and the secrets of the offer: the PSK, its
/// Early Secret and binder key.
fn offering_parts() -> (Vec<u8>, Vec<u8>, Recording, KnownSecrets) {
    let (rx, tx, rng) = parts();
    let mut known = KnownSecrets::default();
    known.add("psk", &PSK);
    let early = KeySchedule::early(HashAlg::Sha256, Some(&PSK));
    known.add("early", early.secret().as_bytes());
    known.add("binder_key", early.binder_key(true).as_bytes());
    (rx, tx, rng, known)
}

/// An engine for [`NAME`] on `rx`/`tx`, drawing from `rng`, in a slot the test drops by hand
/// so that the memory it leaves can be read.
fn engine<'a>(
    config: &'a ClientConfig<'a>,
    offer: Option<ResumptionOffer<'a>>,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
    rng: &Recording,
) -> ManuallyDrop<Engine<'a>> {
    ManuallyDrop::new(Connection::new(config, NAME, offer, rx, tx, rng.clone(), Some(NOW)).unwrap())
}

/// The ClientHello the engine queued, and its X25519 private key (known as "x25519").
fn client_hello(
    conn: &mut Engine<'_>,
    rng: &Recording,
    known: &mut KnownSecrets,
) -> (ParsedHello, Vec<u8>) {
    let hello = parse_hello(&take_tx(conn));
    let x25519 = rng.x25519_key(hello.x25519_share.as_ref().unwrap());
    known.add("x25519", &x25519);
    (hello, x25519)
}

fn offer() -> ResumptionOffer<'static> {
    ResumptionOffer {
        ticket: TICKET,
        psk: &PSK,
        suite: CipherSuite::Aes128GcmSha256,
        obfuscated_age: encore_session::obfuscated_ticket_age(1000, 7),
    }
}

/// The X25519 shared secret of the client's key (`client`) and the server's share in the
/// ServerHello record `sh`.
fn x25519_shared(client: &[u8], sh: &[u8]) -> Vec<u8> {
    let at = sh
        .windows(4)
        .position(|w| w == [0x00, 0x1d, 0x00, 0x20])
        .expect("an X25519 key_share");
    x25519_secret(client)
        .agree(&sh[at + 4..at + 36])
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// The handshake secret the scripted server's schedule holds after its ServerHello.
fn handshake_secrets(known: &mut KnownSecrets, server: &Scripted) {
    known.add(
        "handshake",
        server.schedule.as_ref().unwrap().secret().as_bytes(),
    );
    known.traffic("c_hs", &server.client_hs);
    known.traffic("s_hs", &server.server_hs);
}

/// Answers `hello` with a ServerHello selecting `psk_identity` (or no PSK), which the engine
/// takes; the handshake secrets and the X25519 shared secret (of the client key `x25519`)
/// become known.
fn server_hello(
    conn: &mut Engine<'_>,
    known: &mut KnownSecrets,
    hello: &ParsedHello,
    x25519: &[u8],
    psk_identity: Option<u16>,
) -> Scripted {
    let mut server = Scripted::new();
    let sh = server.server_hello(hello, &spec(psk_identity));
    handshake_secrets(known, &server);
    known.add("dhe", &x25519_shared(x25519, &sh));
    assert_eq!(conn.feed(&sh), sh.len());
    assert!(conn.process().unwrap().is_none());
    server
}

const HS: &[&str] = &[
    "handshake",
    "c_hs",
    "c_hs.key",
    "c_hs.iv",
    "s_hs",
    "s_hs.key",
    "s_hs.iv",
];
const AP: &[&str] = common::residue::APPLICATION_SECRETS;

/// After the server's Finished: the master secret, both application traffic secrets and the
/// resumption master secret (over the client Finished, read from `client_flight`).
fn application_secrets(
    known: &mut KnownSecrets,
    server: &mut Scripted,
    client_flight: &[u8],
) -> (AppKeys, Vec<u8>) {
    let keys = server.application_keys();
    known.add(
        "master",
        server.schedule.as_ref().unwrap().secret().as_bytes(),
    );
    known.traffic("c_ap", &keys.c_ap);
    known.traffic("s_ap", &keys.s_ap);
    let records = open_all(server.client_read.as_mut().unwrap(), client_flight);
    let fin = records.last().unwrap().1.clone();
    assert_eq!(fin[0], 20);
    let mut t = server.transcript.clone();
    t.update(&fin);
    let rms = server
        .schedule
        .as_ref()
        .unwrap()
        .resumption_master_secret(t.current_hash().as_bytes());
    known.add("res_master", rms.as_bytes());
    (keys, fin)
}

/// E7: a full handshake, a ticket, a KeyUpdate both ways, the server's close_notify, the
/// buffers handed back, and the drop.
#[test]
fn e7_full_handshake_leaves_no_secret_behind() {
    let pki = common::TestPki::generate(&[NAME]);
    let ca = rustls_pki_types::CertificateDer::from(pki.ca_der.clone());
    let anchors = [crypto::anchor_from_der(&ca).unwrap()];
    let config = ClientConfig::new(&anchors);
    let (mut rx, mut tx, rng) = parts();
    let mut known = KnownSecrets::default();
    let mut res = Residue::default();
    let mut slot = engine(&config, None, &mut rx, &mut tx, &rng);
    let conn: &mut Engine<'_> = &mut slot;
    let (hello, x25519) = client_hello(conn, &rng, &mut known);
    res.scan(
        &known,
        "ClientHello",
        "engine",
        &bytes_of(conn),
        &["x25519"],
        &["x25519"],
    );

    let mut server = server_hello(conn, &mut known, &hello, &x25519, None);
    res.scan(
        &known,
        "ServerHello",
        "engine",
        &bytes_of(conn),
        HS,
        &["handshake", "c_hs", "s_hs"],
    );

    let mut hs = server.encrypted_extensions();
    hs.extend(server.certificate(&[&pki.leaf.cert_der, &pki.int_der]));
    hs.extend(server.certificate_verify(&pki.leaf.key_der));
    hs.extend(server.finished());
    let flight = server.seal(22, &hs);
    assert_eq!(conn.feed(&flight), flight.len());
    assert!(matches!(
        conn.process().unwrap(),
        Some(Event::HandshakeComplete(_))
    ));
    let (mut keys, fin) = application_secrets(&mut known, &mut server, &take_tx(conn));
    res.scan(
        &known,
        "Finished",
        "engine",
        &bytes_of(conn),
        AP,
        &["c_ap", "s_ap", "res_master"],
    );

    // A ticket: its PSK goes to the caller and does not stay behind.
    let ticket_psk = server.ticket_psk(&fin, &[9, 9]);
    known.add("ticket_psk", ticket_psk.as_bytes());
    let nst = seal(
        &mut keys.s_write,
        22,
        &new_session_ticket(7200, &[9, 9], b"ticket-bytes"),
    );
    assert_eq!(conn.feed(&nst), nst.len());
    match conn.process().unwrap() {
        Some(Event::NewTicket(t)) => assert_eq!(t.psk.as_bytes(), ticket_psk.as_bytes()),
        other => panic!("expected a ticket, got {other:?}"),
    }
    // Lent to the event, so still in the engine until the next `process`.
    let lent = [AP, &["ticket_psk"]].concat();
    res.scan(
        &known,
        "NewTicket event",
        "engine",
        &bytes_of(conn),
        &lent,
        &["ticket_psk"],
    );
    assert!(conn.process().unwrap().is_none());
    res.scan(
        &known,
        "NewSessionTicket",
        "engine",
        &bytes_of(conn),
        AP,
        &["c_ap", "s_ap"],
    );

    // KeyUpdate(update_requested): both directions move on, the old secrets go.
    let ku = seal(&mut keys.s_write, 22, &handshake(24, &[1]));
    assert_eq!(conn.feed(&ku), ku.len());
    assert!(conn.process().unwrap().is_none());
    let c_ap1 = crypto::next_traffic_secret(HashAlg::Sha256, keys.c_ap.as_bytes());
    let s_ap1 = crypto::next_traffic_secret(HashAlg::Sha256, keys.s_ap.as_bytes());
    known.traffic("c_ap1", &c_ap1);
    known.traffic("s_ap1", &s_ap1);
    let answer = open_all(&mut keys.c_read, &take_tx(conn));
    assert_eq!(answer, vec![(22, vec![24, 0, 0, 1, 0])]);
    let updated = &[
        "c_ap1",
        "c_ap1.key",
        "c_ap1.iv",
        "s_ap1",
        "s_ap1.key",
        "s_ap1.iv",
        "res_master",
    ];
    res.scan(
        &known,
        "KeyUpdate",
        "engine",
        &bytes_of(conn),
        updated,
        &["c_ap1", "s_ap1"],
    );

    // The server closes: nothing is left to protect.
    let mut s_write1 =
        crypto::RecordProtection::new(CipherSuite::Aes128GcmSha256, s_ap1.as_bytes()).unwrap();
    let mut data = seal(&mut s_write1, 23, b"last words");
    data.extend(seal(&mut s_write1, 21, &[1, 0]));
    assert_eq!(conn.feed(&data), data.len());
    assert!(matches!(
        conn.process().unwrap(),
        Some(Event::ApplicationData(b"last words"))
    ));
    assert!(matches!(conn.process().unwrap(), Some(Event::Closed)));
    take_tx(conn);
    res.scan(&known, "close_notify", "engine", &bytes_of(conn), &[], &[]);

    let (rx_back, tx_back) = conn.release();
    res.scan(&known, "release", "rx", rx_back, &[], &[]);
    res.scan(&known, "release", "tx", tx_back, &[], &[]);
    assert!(rx_back.iter().chain(tx_back.iter()).all(|b| *b == 0));
    res.scan(&known, "release", "engine", &bytes_of(&*slot), &[], &[]);
    // SAFETY: the slot holds a live engine, dropped exactly once here and never used again
    // except to read its bytes.
    unsafe { core::ptr::drop_in_place(&mut *slot as *mut Engine<'_>) };
    res.scan(&known, "drop", "engine", &bytes_of(&*slot), &[], &[]);
    res.scan(&known, "drop", "rx", &rx, &[], &[]);
    res.scan(&known, "drop", "tx", &tx, &[], &[]);
    res.assert_clean();
}

/// E7: a resumption (psk_dhe_ke): the offered PSK, its Early Secret and the key share go
/// once the ServerHello is in; the handshake secrets once the Finished is; the buffers are
/// handed back while connected (what `clear()` does) and nothing stays behind.
#[test]
fn e7_resumption_leaves_no_secret_behind() {
    let (mut rx, mut tx, rng, mut known) = offering_parts();
    let mut res = Residue::default();
    // Built where it stays.
    let mut slot: ManuallyDrop<Option<Engine<'_>>> = ManuallyDrop::new(None);
    let started = Connection::start_in(
        &mut slot,
        &NO_ANCHORS,
        NAME,
        Some(&offer()),
        NO_ANCHORS.psk_mode,
        (&mut rx, &mut tx),
        rng.clone(),
        Some(NOW),
    );
    assert!(started.is_ok());
    let conn: &mut Engine<'_> = slot.as_mut().unwrap();
    let (hello, x25519) = client_hello(conn, &rng, &mut known);
    assert!(hello.psk.is_some());
    let start = &["psk", "early", "x25519"];
    res.scan(
        &known,
        "ClientHello",
        "engine",
        &bytes_of(&*slot),
        start,
        start,
    );
    let conn: &mut Engine<'_> = slot.as_mut().unwrap();

    let mut server = server_hello(conn, &mut known, &hello, &x25519, Some(0));
    res.scan(
        &known,
        "ServerHello",
        "engine",
        &bytes_of(&*slot),
        HS,
        &["handshake", "c_hs", "s_hs"],
    );
    let conn: &mut Engine<'_> = slot.as_mut().unwrap();

    let mut hs = server.encrypted_extensions();
    hs.extend(server.finished());
    let flight = server.seal(22, &hs);
    assert_eq!(conn.feed(&flight), flight.len());
    match conn.process().unwrap() {
        Some(Event::HandshakeComplete(s)) => assert!(s.resumed),
        other => panic!("expected the handshake to complete, got {other:?}"),
    }
    application_secrets(&mut known, &mut server, &take_tx(conn));
    res.scan(
        &known,
        "Finished",
        "engine",
        &bytes_of(&*slot),
        AP,
        &["c_ap", "s_ap", "res_master"],
    );
    let conn: &mut Engine<'_> = slot.as_mut().unwrap();
    conn.write(b"some request").unwrap();
    take_tx(conn);

    // What `clear()` does: the buffers back while connected.
    let (rx_back, tx_back) = conn.release();
    res.scan(&known, "release", "rx", rx_back, &[], &[]);
    res.scan(&known, "release", "tx", tx_back, &[], &[]);
    res.scan(&known, "release", "engine", &bytes_of(&*slot), &[], &[]);
    // SAFETY: the slot holds a live `Option` of an engine, dropped exactly once here and
    // never used again except to read its bytes.
    unsafe { core::ptr::drop_in_place(&mut *slot as *mut Option<Engine<'_>>) };
    res.scan(&known, "drop", "engine", &bytes_of(&*slot), &[], &[]);
    res.assert_clean();
}

/// E7: a ServerHello rejected (an identity never offered, C31): the key share, the Early
/// Secret and the PSK go with the failure; the same for a server Finished that does not
/// verify, with the handshake secrets.
#[test]
fn e7_failed_handshakes_leave_no_secret_behind() {
    let mut res = Residue::default();
    for bad_finished in [false, true] {
        let (mut rx, mut tx, rng, mut known) = offering_parts();
        let mut slot = engine(&NO_ANCHORS, Some(offer()), &mut rx, &mut tx, &rng);
        let conn: &mut Engine<'_> = &mut slot;
        let (hello, _) = client_hello(conn, &rng, &mut known);
        let mut server = Scripted::new();
        let mut bytes = server.server_hello(&hello, &spec(Some(if bad_finished { 0 } else { 1 })));
        let step = if bad_finished {
            handshake_secrets(&mut known, &server);
            let mut hs = server.encrypted_extensions();
            hs.extend(handshake(20, &[0x55; 32]));
            bytes.extend(server.seal(22, &hs));
            "bad Finished"
        } else {
            "rejected ServerHello"
        };
        assert_eq!(conn.feed(&bytes), bytes.len());
        let expected = if bad_finished {
            Error::BadFinished
        } else {
            Error::Illegal(Violation::PskIdentityNotOffered)
        };
        assert_eq!(conn.process().unwrap_err(), expected);
        assert!(conn.is_failed());
        take_tx(conn);
        res.scan(&known, step, "engine", &bytes_of(conn), &[], &[]);
        // SAFETY: the slot holds a live engine, dropped exactly once here and never used
        // again except to read its bytes.
        unsafe { core::ptr::drop_in_place(&mut *slot as *mut Engine<'_>) };
        res.scan(
            &known,
            &format!("{step}, drop"),
            "engine",
            &bytes_of(&*slot),
            &[],
            &[],
        );
    }
    res.assert_clean();
}

/// E7: a HelloRetryRequest for P-256 replaces the X25519 key share: the X25519 key goes, the
/// P-256 key stays until the ServerHello.
#[test]
fn e7_retry_replaces_the_key_share_in_place() {
    let (mut rx, mut tx, rng, mut known) = offering_parts();
    let mut res = Residue::default();
    let mut slot = engine(&NO_ANCHORS, Some(offer()), &mut rx, &mut tx, &rng);
    let conn: &mut Engine<'_> = &mut slot;
    client_hello(conn, &rng, &mut known);
    let (hrr, _) = hello_retry_request(Some(0x0017), None);
    assert_eq!(conn.feed(&hrr), hrr.len());
    assert!(conn.process().unwrap().is_none());
    let ch2 = parse_hello(&take_tx(conn));
    let (group, _) = ch2.share_groups[0];
    assert_eq!(group, 0x0017);
    let point = {
        // The P-256 share of ClientHello2: the last 65 bytes of its key_share entry.
        let at = ch2
            .msg
            .windows(4)
            .position(|w| w == [0x00, 0x17, 0x00, 0x41])
            .unwrap();
        ch2.msg[at + 4..at + 4 + 65].to_vec()
    };
    known.scalar("p256", &p256_key(&rng, &point));
    let retried = &["psk", "early", "p256", "p256.le"];
    res.scan(
        &known,
        "ClientHello2",
        "engine",
        &bytes_of(conn),
        retried,
        &["psk", "early"],
    );
    // SAFETY: the slot holds a live engine, dropped exactly once here and never used again
    // except to read its bytes.
    unsafe { core::ptr::drop_in_place(&mut *slot as *mut Engine<'_>) };
    res.scan(&known, "drop", "engine", &bytes_of(&*slot), &[], &[]);
    res.assert_clean();
}
