//! The engine against a real TLS 1.3 server: the `engine_keyed` target.
//!
//! Random bytes never get past the ServerHello's key schedule, so the `engine` target cannot
//! reach the encrypted states. Here a deterministic in-process server (`server`) answers the
//! engine's ClientHello with a valid ServerHello (after a HelloRetryRequest when the scenario
//! says so: full handshake, resumption with psk_dhe_ke or psk_ke, offer declined), and every
//! server message after ServerHello is chosen by the input (`input`): EncryptedExtensions,
//! Certificate from a committed test PKI (`pki/`), CertificateVerify signed by its leaf,
//! CertificateRequest, the correct Finished, NewSessionTicket, KeyUpdate, or any message,
//! record, alert or raw bytes, sealed under the keys the engine expects, cut into records
//! and fed in chunks as the input says. The engine's generator and the server's key shares
//! are seeded by the scenario, so an input always replays the same bytes.
//!
//! Beyond "no panic" (E4), each run checks what a real peer can check:
//! - an error leaves the connection failed, with its alert sent (when one is due);
//! - the handshake completes only after the server's correct Finished (and, for a full
//!   handshake, its CertificateVerify), with the summary the scenario implies;
//! - the engine's binder, client Finished, client CertificateVerify and every record it
//!   sends open and verify under the server's keys; its application data arrives intact;
//! - application data and tickets delivered are the ones the server sent, and each ticket's
//!   PSK is the one the server derives (RFC 8446 §4.6.1);
//! - the engine never stalls: with input it cannot take, it yields an event or an error.

pub mod input;
pub mod rng;
pub mod seeds;
pub mod server;

use std::cell::RefCell;
use std::sync::OnceLock;

use encore_testkit::scripted::{ext, plain_record};
use encore_tls::client::{
    ClientConfig, Connection, Error, Event, HandshakeSummary, KeyExchangeMode, PskMode,
    ResumptionOffer,
};
use encore_tls::crypto::{self, CipherSuite, ClientCertSigner, NamedGroup, P256Signer};
use encore_tls::wire::AlertDescription;
use rustls_pki_types::CertificateDer;

use input::{Kind, Op, Scenario};
use rng::SeededRng;
use server::{Answer, FastSigner, Handshakes, Server};

/// The committed test PKI (`pki/make.py`): P-256 root → intermediate → leaf for
/// `fuzz.encore.test` and 192.0.2.7, the same with Ed25519 keys, and a client certificate.
pub const ROOT_DER: &[u8] = include_bytes!("../../pki/root.der");
pub const INT_DER: &[u8] = include_bytes!("../../pki/int.der");
pub const LEAF_DER: &[u8] = include_bytes!("../../pki/leaf.der");
const LEAF_KEY: &[u8] = include_bytes!("../../pki/leaf.key.der");
pub const CLIENT_DER: &[u8] = include_bytes!("../../pki/client.der");
pub const ED_ROOT_DER: &[u8] = include_bytes!("../../pki/ed25519-root.der");
pub const ED_INT_DER: &[u8] = include_bytes!("../../pki/ed25519-int.der");
pub const ED_LEAF_DER: &[u8] = include_bytes!("../../pki/ed25519-leaf.der");
const ED_LEAF_SEED: &[u8; 32] = include_bytes!("../../pki/ed25519-leaf.seed");
const CLIENT_KEY: &[u8] = include_bytes!("../../pki/client.key.der");
static CLIENT_CHAIN: [&[u8]; 1] = [CLIENT_DER];

pub const SERVER_NAME: &str = "fuzz.encore.test";
pub const SERVER_IP: &str = "192.0.2.7";
/// 2025-06-01T00:00:00Z, inside the PKI's validity (2020–2045).
pub const NOW: u64 = 1_748_736_000;
/// 2023-11-14: the configured lower bound when there is a clock too.
const LOWER_BOUND: u64 = 1_700_000_000;
pub const TICKET: &[u8] = b"encore-fuzz-ticket";
pub const COOKIE: &[u8] = b"encore-fuzz-cookie";
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

fn leaf_signer() -> &'static FastSigner {
    static SIGNER: OnceLock<FastSigner> = OnceLock::new();
    SIGNER.get_or_init(|| FastSigner::from_pkcs8_der(LEAF_KEY))
}

fn client_signer() -> &'static P256Signer<'static> {
    static SIGNER: OnceLock<P256Signer<'static>> = OnceLock::new();
    SIGNER.get_or_init(|| P256Signer::from_pkcs8_der(CLIENT_KEY, &CLIENT_CHAIN).expect("key"))
}

/// What one run reached, for the regression tests' assertions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub summary: Option<HandshakeSummary>,
    /// Tickets delivered (each one's PSK checked), and those the engine skipped.
    pub tickets: usize,
    pub tickets_skipped: u32,
    /// Application data delivered, record by record.
    pub data: Vec<Vec<u8>>,
    /// The server's close_notify was delivered.
    pub closed: bool,
    /// The error that ended the connection, if any.
    pub error: Option<Error>,
    /// The client Finished reached the server and was correct.
    pub client_finished: bool,
    /// The engine sent a client certificate, and its CertificateVerify verified.
    pub client_certificate: bool,
    /// Protected records the engine sent, and its alerts (level, description).
    pub client_records: usize,
    pub client_alerts: Vec<[u8; 2]>,
    /// Application data the engine sent, as the server decrypted it.
    pub client_data: Vec<u8>,
    /// KeyUpdates the engine sent, and those the server sent and switched keys for.
    pub client_key_updates: usize,
    pub server_key_updates: usize,
    pub alpn: Option<Vec<u8>>,
}

/// The server's work that is the same for every input of a scenario.
#[derive(Default)]
struct Caches {
    handshakes: Handshakes,
}

thread_local! {
    static CACHES: RefCell<Caches> = RefCell::new(Caches::default());
}

/// Set `ENCORE_FUZZ_TRACE` to see what an input does (scenario, operations, events), for
/// example while replaying a saved crash with `cargo test --test fuzz_regressions`.
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ENCORE_FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing() {
            eprintln!($($arg)*);
        }
    };
}

/// One input of the `engine_keyed` target; panics when the engine panics or breaks one of
/// the checks above.
pub fn run(data: &[u8]) -> Outcome {
    let (scenario, ops) = input::parse(data);
    CACHES.with(|c| run_scenario(&mut c.borrow_mut(), scenario, ops))
}

fn run_scenario(caches: &mut Caches, scenario: Scenario, ops: input::Ops<'_>) -> Outcome {
    let roots = [
        CertificateDer::from(ROOT_DER),
        CertificateDer::from(ED_ROOT_DER),
    ];
    let anchors = [
        crypto::anchor_from_der(&roots[0]).expect("root certificate"),
        crypto::anchor_from_der(&roots[1]).expect("root certificate"),
    ];
    let mut config = ClientConfig::new(&anchors);
    let psk_only = matches!(scenario.kind, Kind::ResumePsk | Kind::PskOnlyDeclined);
    if psk_only {
        config.psk_mode = PskMode::AllowPskOnly;
    }
    if scenario.alpn {
        config.alpn = &ALPN;
    }
    config.max_fragment_length = scenario.max_fragment;
    config.record_size_limit = scenario.record_size_limit.then_some(1024);
    config.middlebox_compat = scenario.middlebox;
    // E6: the later of the clock and the lower bound counts; without a clock, the bound.
    config.time_lower_bound = Some(if scenario.no_clock { NOW } else { LOWER_BOUND });
    if scenario.client_auth {
        config.client_auth = Some(client_signer() as &dyn ClientCertSigner);
    }
    let now = (!scenario.no_clock).then_some(NOW);
    let name = if scenario.ip_literal {
        SERVER_IP
    } else {
        SERVER_NAME
    };

    // The ticket's suite: the server's when it resumes, else TLS_AES_128_GCM_SHA256.
    let resumes = matches!(scenario.kind, Kind::ResumeDhe | Kind::ResumePsk);
    let ticket_suite = if resumes {
        scenario.suite
    } else {
        CipherSuite::Aes128GcmSha256
    };
    let psk = vec![0x5a; ticket_suite.hash().output_len()];
    let offer = (scenario.kind != Kind::Full).then_some(ResumptionOffer {
        ticket: TICKET,
        psk: &psk,
        suite: ticket_suite,
        // ticket_age_add 0x0102_0304, 1000 ms after receipt.
        obfuscated_age: 0x0102_0304 + 1000,
    });
    trace!("scenario {scenario:?}");
    let (mut rx, mut tx) = if scenario.small_buffers {
        (vec![0u8; 2048], vec![0u8; 512])
    } else {
        (vec![0u8; 17_000], vec![0u8; 4096])
    };
    let [h0, h1, _] = scenario.encode();
    let seed = u64::from_le_bytes([h0, h1, 0, 0, 0, 0, 0x5e, 0xed]);
    let mut outcome = Outcome::default();
    let mut conn = match Connection::new(
        &config,
        name,
        offer,
        &mut rx,
        &mut tx,
        SeededRng::new(seed),
        now,
    ) {
        Ok(c) => c,
        Err(e) => {
            outcome.error = Some(e);
            return outcome;
        }
    };

    // ClientHello, then HelloRetryRequest and ClientHello2 when the scenario retries.
    let ch1 = server::client_hello(&take_tx(&mut conn));
    let retry = scenario.retry || scenario.kind == Kind::PskOnlyDeclined;
    let mut prior = None;
    let hello = if retry {
        // A new key share when asked for, or when the server needs one and ClientHello1 had
        // none; otherwise only the cookie changes.
        let needs_share = ch1.share.is_none() && scenario.kind != Kind::ResumePsk;
        let group = (scenario.retry_group || needs_share).then_some(match ch1.share {
            Some(_) => NamedGroup::Secp256r1,
            None => NamedGroup::X25519,
        });
        let cookie = (scenario.cookie || group.is_none()).then_some(COOKIE);
        let (record, msg) =
            server::hello_retry_request(scenario.suite, &ch1.session_id, group, cookie);
        assert_eq!(conn.feed(&record), record.len());
        match conn.process() {
            Ok(None) => {}
            Ok(Some(ev)) => panic!("an event after HelloRetryRequest: {ev:?}"),
            Err(e) => {
                check_failed(&mut conn, e);
                outcome.error = Some(e);
                return outcome;
            }
        }
        let ch2 = server::client_hello(&take_tx(&mut conn));
        // RFC 8446 §4.1.2: the requested share (or the same one), the cookie echoed.
        match group {
            Some(g) => assert_eq!(
                ch2.share.as_ref().map(|s| s.0),
                Some(g.to_u16()),
                "ClientHello2 lacks the requested key share"
            ),
            None => assert_eq!(ch2.share, ch1.share, "ClientHello2 changed its key share"),
        }
        assert_eq!(ch2.cookie.as_deref(), cookie, "ClientHello2's cookie");
        prior = Some((ch1.msg, msg));
        ch2
    } else {
        ch1
    };
    let answer = Answer {
        suite: scenario.suite,
        accept_psk: resumes,
        key_share: scenario.kind != Kind::ResumePsk,
    };
    let offered = offer.map(|o| (o.psk, o.suite.hash()));
    let hs = caches.handshakes.server_hello(
        prior.as_ref().map(|(a, b)| (&a[..], &b[..])),
        &hello,
        answer,
        offered,
    );
    let wire = hs.server_hello.clone();
    let mut run = Run {
        scenario,
        server: Server::new(scenario.suite, hs),
        untouchable: wire.len(),
        wire,
        hold_tx: false,
        ed25519_leaf: false,
        stopped: false,
        retried: retry,
        client_written: Vec::new(),
        received_tickets: Vec::new(),
        data_seen: 0,
        tickets_matched: 0,
        tickets_passed_over: 0,
        outcome,
    };
    for op in ops {
        if run.stopped {
            break;
        }
        trace!("op {op:?}");
        run.op(&mut conn, op);
    }
    if !run.stopped {
        let mut wire = std::mem::take(&mut run.wire);
        run.server.flush(16_384, 0, false, &mut wire);
        run.wire = wire;
        run.deliver(&mut conn);
    }
    run.finish(&mut conn)
}

/// Sends everything the engine queued.
fn take_tx<R>(conn: &mut Connection<'_, R>) -> Vec<u8> {
    let out = conn.pending_tx().to_vec();
    conn.tx_sent(out.len());
    out
}

/// E4: an error leaves the connection failed, and it stays failed.
fn check_failed<R: rand_core::CryptoRng>(conn: &mut Connection<'_, R>, e: Error) {
    assert!(conn.is_failed(), "{e:?} did not fail the connection");
    assert!(!conn.is_connected() && !conn.is_handshaking());
    assert!(
        matches!(conn.process(), Err(Error::Closed)),
        "a failed connection processes again"
    );
    assert!(conn.write(b"x").is_err(), "a failed connection writes");
}

/// An event, copied out of the engine's borrow.
enum Seen {
    Complete(HandshakeSummary),
    Ticket {
        ticket: Vec<u8>,
        nonce: Vec<u8>,
        psk: Vec<u8>,
        suite: CipherSuite,
        lifetime: u32,
        age_add: u32,
        max_early_data: u32,
    },
    Data(Vec<u8>),
    Closed,
}

impl From<Event<'_>> for Seen {
    fn from(ev: Event<'_>) -> Self {
        match ev {
            Event::HandshakeComplete(s) => Seen::Complete(s),
            Event::NewTicket(t) => Seen::Ticket {
                ticket: t.ticket.to_vec(),
                nonce: t.nonce.to_vec(),
                psk: t.psk.as_bytes().to_vec(),
                suite: t.suite,
                lifetime: t.lifetime_s,
                age_add: t.age_add,
                max_early_data: t.max_early_data,
            },
            Event::ApplicationData(d) => Seen::Data(d.to_vec()),
            Event::Closed => Seen::Closed,
        }
    }
}

struct Run {
    scenario: Scenario,
    server: Server,
    /// Bytes on their way to the engine.
    wire: Vec<u8>,
    /// The ServerHello at the front of `wire`, until delivered: not to be corrupted.
    untouchable: usize,
    hold_tx: bool,
    /// The last Certificate sent was the Ed25519 chain: CertificateVerify signs with its key.
    ed25519_leaf: bool,
    /// The engine failed: nothing more happens.
    stopped: bool,
    retried: bool,
    /// What `write` accepted, in order.
    client_written: Vec<u8>,
    /// (nonce, PSK) of every ticket delivered, checked at the end.
    received_tickets: Vec<(Vec<u8>, Vec<u8>)>,
    data_seen: usize,
    /// Sent tickets accounted for (delivered, or skipped before one that was), and those
    /// skipped.
    tickets_matched: usize,
    tickets_passed_over: usize,
    outcome: Outcome,
}

impl Run {
    fn op<R: rand_core::CryptoRng>(&mut self, conn: &mut Connection<'_, R>, op: Op<'_>) {
        let server = &mut self.server;
        match op {
            Op::Message { ty, body } => server.message(ty, body),
            Op::EncryptedExtensions { mask } => {
                let exts = encrypted_extensions(mask, self.scenario.max_fragment);
                let mut body = (exts.len() as u16).to_be_bytes().to_vec();
                body.extend(exts);
                server.message(8, &body);
            }
            Op::Certificate { variant } => {
                self.ed25519_leaf = variant & 8 != 0;
                server.message(11, &certificate(variant));
            }
            Op::CertificateVerify => {
                let th = server.transcript_hash();
                let body = if self.ed25519_leaf {
                    ed25519_certificate_verify(&th)
                } else {
                    leaf_signer().certificate_verify(&th)
                };
                server.certificate_verify_sent = true;
                server.message(15, &body);
            }
            Op::Finished => {
                let body = server.finished_body();
                server.message(20, &body);
            }
            Op::CertificateRequest { variant } => server.message(13, &certificate_request(variant)),
            Op::Ticket {
                lifetime,
                nonce_len,
                ticket_len,
            } => server.message(4, &ticket(lifetime, nonce_len, ticket_len)),
            Op::KeyUpdate { request } => server.message(24, &[request]),
            Op::Flush { max, mode } => {
                let max = match max {
                    0 => 16_384,
                    m => usize::from(m).min(18_000),
                };
                server.flush(
                    max,
                    usize::from(mode & 0x7f),
                    mode & 0x80 != 0,
                    &mut self.wire,
                );
            }
            Op::Record { ty, pad, body } => {
                server.record(ty, body, usize::from(pad), &mut self.wire)
            }
            Op::Plain { ty, body } => self.wire.extend(plain_record(ty, body)),
            Op::Raw { bytes } => self.wire.extend_from_slice(bytes),
            Op::Deliver => self.deliver(conn),
            Op::Client { action, arg } => self.client(conn, action, arg),
            Op::Corrupt { at, xor } => {
                // Not the ServerHello: the engine would derive other keys from it, and the
                // server could no longer read the engine's alert.
                let start = self.untouchable.min(self.wire.len());
                let room = self.wire.len() - start;
                if room > 0 {
                    self.wire[start + usize::from(at) % room] ^= xor.max(1);
                }
            }
            Op::HoldTx => {
                self.hold_tx = !self.hold_tx;
                self.drain(conn);
            }
        }
    }

    /// The application's calls.
    fn client<R: rand_core::CryptoRng>(
        &mut self,
        conn: &mut Connection<'_, R>,
        action: u8,
        arg: u8,
    ) {
        match action % 4 {
            0 => {
                let data: Vec<u8> = (0..arg).map(|i| b'a' + i % 26).collect();
                let result = conn.write(&data);
                trace!(
                    "  write {} bytes: {result:?}, {} queued",
                    data.len(),
                    conn.pending_tx().len()
                );
                match result {
                    Ok(n) => {
                        assert!(n <= data.len());
                        assert!(
                            conn.is_connected(),
                            "write accepted data while not connected"
                        );
                        self.client_written.extend_from_slice(&data[..n]);
                    }
                    Err(e) => assert!(
                        !conn.is_connected() || conn.close_notify_sent(),
                        "a connected engine refused to write: {e:?}"
                    ),
                }
            }
            1 => {
                let _ = conn.close();
            }
            2 => {
                if conn.request_key_update().is_ok() {
                    assert!(conn.is_connected());
                }
            }
            _ => {
                let was_failed = conn.is_failed();
                let r = conn.send_fatal_alert(AlertDescription(arg));
                assert!(
                    conn.is_failed(),
                    "a fatal alert did not fail the connection"
                );
                if was_failed {
                    assert_eq!(r, Err(Error::Closed));
                }
            }
        }
        self.drain(conn);
    }

    /// Sends what the engine queued to the server, unless held.
    fn drain<R>(&mut self, conn: &mut Connection<'_, R>) {
        if !self.hold_tx {
            let bytes = take_tx(conn);
            self.server.receive(&bytes);
        }
    }

    /// Feeds the wire to the engine (in the scenario's chunks) and processes it.
    fn deliver<R: rand_core::CryptoRng>(&mut self, conn: &mut Connection<'_, R>) {
        let wire = std::mem::take(&mut self.wire);
        self.untouchable = 0;
        let chunk = usize::from(self.scenario.chunk);
        let mut off = 0;
        while off < wire.len() && !self.stopped {
            let end = match chunk {
                0 => wire.len(),
                c => (off + c).min(wire.len()),
            };
            let n = conn.feed(&wire[off..end]);
            off += n;
            let progressed = self.process(conn);
            if n == 0 && !progressed && !self.stopped {
                // Nothing fit and nothing happened: only a closed connection may ignore
                // its input; otherwise the caller would wait forever on a full buffer.
                assert!(
                    !conn.is_connected() && !conn.is_handshaking(),
                    "the engine stalls: receive buffer full, no event and no error \
                     (connected: {}, {} bytes unprocessed)",
                    conn.is_connected(),
                    conn.rx_unprocessed()
                );
                return;
            }
        }
    }

    /// Processes until the engine needs input; returns whether anything happened.
    fn process<R: rand_core::CryptoRng>(&mut self, conn: &mut Connection<'_, R>) -> bool {
        let mut progressed = false;
        loop {
            let seen = match conn.process() {
                Ok(None) => return progressed,
                Ok(Some(ev)) => {
                    trace!("  event {ev:?}");
                    Seen::from(ev)
                }
                Err(e) => {
                    trace!("  error {e:?}");
                    self.failed(conn, e);
                    return true;
                }
            };
            progressed = true;
            self.drain(conn);
            self.check(conn, seen);
        }
    }

    fn failed<R: rand_core::CryptoRng>(&mut self, conn: &mut Connection<'_, R>, e: Error) {
        check_failed(conn, e);
        self.outcome.error = Some(e);
        self.stopped = true;
        let before = self.server.client.alerts.len();
        self.drain(conn);
        if let (Some(alert), false) = (e.alert(), self.hold_tx) {
            assert_eq!(
                self.server.client.alerts[before..].last(),
                Some(&[2, alert.0]),
                "{e:?} without its fatal alert"
            );
        }
    }

    fn check<R>(&mut self, conn: &mut Connection<'_, R>, seen: Seen) {
        assert!(!self.outcome.closed, "an event after close_notify");
        let server = &self.server;
        match seen {
            Seen::Complete(s) => {
                assert!(self.outcome.summary.is_none(), "a second HandshakeComplete");
                assert!(
                    server.finished_sent,
                    "the handshake completed without the server's Finished"
                );
                let (resumed, kex, declined) = match self.scenario.kind {
                    Kind::Full => (false, KeyExchangeMode::Full, false),
                    Kind::ResumeDhe => (true, KeyExchangeMode::PskDhe, false),
                    Kind::ResumePsk => (true, KeyExchangeMode::Psk, false),
                    Kind::Declined | Kind::PskOnlyDeclined => (false, KeyExchangeMode::Full, true),
                };
                let expected = HandshakeSummary {
                    resumed,
                    kex,
                    suite: server.suite,
                    offer_declined: declined,
                    retried: self.retried,
                };
                assert_eq!(s, expected, "the handshake summary");
                if kex == KeyExchangeMode::Full {
                    assert!(
                        server.certificate_verify_sent,
                        "a full handshake completed without CertificateVerify (C32)"
                    );
                }
                assert!(conn.is_connected());
                assert_eq!(conn.suite(), Some(server.suite));
                self.outcome.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
                self.outcome.summary = Some(s);
            }
            Seen::Ticket {
                ticket,
                nonce,
                psk,
                suite,
                lifetime,
                age_add,
                max_early_data,
            } => {
                assert!(
                    self.outcome.summary.is_some(),
                    "a ticket before the handshake"
                );
                assert_eq!(suite, server.suite);
                // The engine skips tickets it cannot keep (a lifetime over seven days, or
                // too large for its buffer) and counts them: each ticket delivered is the
                // next one sent or a later one, and every one passed over was counted.
                if !server.raw_handshake {
                    let rest = server.tickets.get(self.tickets_matched..).unwrap_or(&[]);
                    let at = rest
                        .iter()
                        .position(|t| {
                            (&t.ticket, &t.nonce, t.lifetime, t.age_add, t.max_early_data)
                                == (&ticket, &nonce, lifetime, age_add, max_early_data)
                        })
                        .expect("a ticket the server did not send, or out of order");
                    self.tickets_matched += at + 1;
                    self.tickets_passed_over += at;
                    assert!(
                        self.tickets_passed_over <= conn.tickets_skipped() as usize,
                        "a ticket was dropped without being counted as skipped: {:?}",
                        &rest[..at]
                    );
                }
                self.received_tickets.push((nonce, psk));
                self.outcome.tickets += 1;
            }
            Seen::Data(d) => {
                assert!(conn.is_connected());
                let sent = server
                    .data
                    .get(self.data_seen)
                    .expect("application data the server did not send");
                assert_eq!(&d, sent, "application data changed on the way");
                self.data_seen += 1;
                self.outcome.data.push(d);
            }
            Seen::Closed => {
                assert!(server.close_notify_sent, "Closed without a close_notify");
                assert!(conn.close_notify_received());
                assert!(conn.close_notify_sent(), "close_notify not answered");
                self.outcome.closed = true;
            }
        }
    }

    /// Sends whatever is still held and checks what needs the whole exchange.
    fn finish<R>(mut self, conn: &mut Connection<'_, R>) -> Outcome {
        self.hold_tx = false;
        self.drain(conn);
        let client = &self.server.client;
        if self.outcome.summary.is_some() {
            assert!(
                client.finished_verified,
                "the handshake completed but no client Finished arrived"
            );
        }
        for (nonce, psk) in &self.received_tickets {
            let expected = self
                .server
                .ticket_psk(nonce)
                .expect("the client Finished precedes every ticket");
            assert_eq!(expected.as_bytes(), &psk[..], "the ticket's PSK");
        }
        assert_eq!(
            client.data, self.client_written,
            "the engine's application data changed on the way"
        );
        let mut outcome = self.outcome;
        outcome.client_finished = client.finished_verified;
        outcome.client_certificate = client.certificate_verified;
        outcome.client_records = client.records;
        outcome.client_alerts = client.alerts.clone();
        outcome.client_data = client.data.clone();
        outcome.client_key_updates = client.key_updates;
        outcome.server_key_updates = self.server.key_updates_sent;
        outcome.tickets_skipped = conn.tickets_skipped();
        outcome
    }
}

fn encrypted_extensions(
    mask: u8,
    offered: Option<encore_tls::client::MaxFragmentLength>,
) -> Vec<u8> {
    let mut exts = Vec::new();
    let on = |n: u32| mask >> n & 1 == 1;
    if on(0) {
        exts.extend(ext(0x0010, &[0, 3, 2, b'h', b'2']));
    }
    if on(1) {
        exts.extend(ext(0x0001, &[offered.map_or(2, |m| m.code())]));
    }
    if on(2) {
        let limit: u16 = if on(7) { 64 } else { 16_385 };
        exts.extend(ext(0x001c, &limit.to_be_bytes()));
    }
    if on(3) {
        exts.extend(ext(0x0000, &[]));
    }
    if on(4) {
        exts.extend(ext(0x002a, &[]));
    }
    if on(5) {
        exts.extend(ext(0xfaff, &[]));
    }
    if on(6) {
        exts.extend(ext(0x000a, &[0, 2, 0, 0x1d]));
    }
    exts
}

/// CertificateVerify (ed25519, RFC 8446 §4.4.3) by the Ed25519 leaf over `th`.
fn ed25519_certificate_verify(th: &[u8]) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let mut content = [0u8; crypto::CERTIFICATE_VERIFY_CONTENT_MAX];
    let content = crypto::certificate_verify_content(true, th, &mut content);
    let sig = ed25519_dalek::SigningKey::from_bytes(ED_LEAF_SEED).sign(content);
    let mut body = vec![0x08, 0x07, 0, 64];
    body.extend_from_slice(&sig.to_bytes());
    body
}

fn certificate(variant: u8) -> Vec<u8> {
    let (leaf, int, root) = if variant & 8 != 0 {
        (ED_LEAF_DER, ED_INT_DER, ED_ROOT_DER)
    } else {
        (LEAF_DER, INT_DER, ROOT_DER)
    };
    let entry_ext: &[u8] = &[0, 5, 0, 0];
    let (context, chain, leaf_exts): (&[u8], &[&[u8]], &[u8]) = match variant % 8 {
        0 => (&[], &[leaf, int], &[]),
        1 => (&[], &[leaf], &[]),
        2 => (&[], &[int, leaf], &[]),
        3 => (&[], &[leaf, int, root], &[]),
        4 => (&[], &[CLIENT_DER, int], &[]),
        5 => (&[], &[], &[]),
        6 => (&[], &[leaf, int], entry_ext),
        _ => (&[9], &[leaf, int], &[]),
    };
    let mut list = Vec::new();
    for (i, cert) in chain.iter().enumerate() {
        list.extend_from_slice(&(cert.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(cert);
        let exts = if i == 0 { leaf_exts } else { &[] };
        list.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        list.extend_from_slice(exts);
    }
    let mut body = vec![context.len() as u8];
    body.extend_from_slice(context);
    body.extend_from_slice(&(list.len() as u32).to_be_bytes()[1..]);
    body.extend(list);
    body
}

fn certificate_request(variant: u8) -> Vec<u8> {
    let on = |n: u32| variant >> n & 1 == 1;
    let scheme: u16 = if on(0) { 0x0807 } else { 0x0403 };
    let mut schemes = 2u16.to_be_bytes().to_vec();
    schemes.extend_from_slice(&scheme.to_be_bytes());
    let mut exts = Vec::new();
    if !on(3) {
        exts.extend(ext(0x000d, &schemes));
    }
    if on(2) {
        exts.extend(ext(0x0032, &schemes));
    }
    let context: &[u8] = if on(1) { &[7] } else { &[] };
    let mut body = vec![context.len() as u8];
    body.extend_from_slice(context);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    body
}

fn ticket(lifetime: u32, nonce_len: u8, ticket_len: u8) -> Vec<u8> {
    let mut body = lifetime.to_be_bytes().to_vec();
    body.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes());
    let n = nonce_len & 0x7f;
    body.push(n);
    body.extend((0..n).map(|i| 0xa0 ^ i));
    body.extend_from_slice(&u16::from(ticket_len).to_be_bytes());
    body.extend((0..ticket_len).map(|i| 0x5c ^ i));
    let exts = if nonce_len & 0x80 != 0 {
        ext(0x002a, &0x4000u32.to_be_bytes())
    } else {
        Vec::new()
    };
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    body
}
