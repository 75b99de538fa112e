//! E7 (docs/CONTRACT.md), secrets stay secret, through the public `Connection`: a full
//! handshake with a ticket and application data read through the carry buffer, `clear()`, a
//! resumption with that ticket, a failed handshake, and the drop, against the scripted TLS 1.3
//! server of `encore_testkit::scripted` over TCP. The scripted server knows every secret of its side
//! (handshake, master, traffic and resumption secrets, the ticket's PSK); the client's key
//! share comes from a generator that records what it gave. After each step the connection's
//! own memory (it sits in a `ManuallyDrop` slot), the `connect` future's memory (where the
//! ticket and PSK copies were made), the caller's buffers and the carry buffer are scanned for
//! every 16-byte window of every secret, traffic key and IV (an IV, 12 bytes, whole), the
//! ticket PSK, the key share and the application data.

use encore_testkit as common;
use encore_testkit::scripted;
mod support;

use std::io::Write as _;
use std::mem::ManuallyDrop;
use std::net::TcpStream;
use std::pin::pin;
use std::sync::mpsc;

use common::residue::{bytes_of, KnownSecrets};
use common::TestPki;
use encore_cache::CacheConfig;
use encore_client::{block_on, Connection, Context, Error, StdClock, StdTransport};
use encore_tls::crypto::{HashAlg, KeySchedule};
use scripted::rng::{x25519_secret, Recording};
use scripted::tcp::{client_finished, drain, script, Identity};
use scripted::{ParsedHello, Scripted, ServerHelloSpec};
use support::{identity, transport, FULL_HELLO, NAME, RX, TX};

const P: usize = 16;
const TICKET: &[u8] = b"residue-ticket-through-the-client";
/// Application data the server sends: decrypted into the caller's buffers, which must not
/// keep it after `clear()` or the drop.
const DATA: &[u8] = b"APPLICATION-DATA-0123456789abcdefghijklmnopqrstuvwxyz-APPLICATION-DATA";

// ---------------------------------------------------------------------------------------------
// Known secrets and the scan
// ---------------------------------------------------------------------------------------------

/// A caller's buffer, lent to the connection for good (`'static`), remembered by address so
/// that it can be read again once the connection is done with it.
struct Buffer {
    at: *const u8,
    len: usize,
}

impl Buffer {
    fn new(len: usize) -> (Buffer, &'static mut [u8]) {
        let b: &'static mut [u8] = Box::leak(vec![0u8; len].into_boxed_slice());
        (
            Buffer {
                at: b.as_ptr(),
                len,
            },
            b,
        )
    }

    /// The buffer's bytes now. Called only while the connection does not run (after
    /// `clear()` or the drop).
    fn bytes(&self) -> Vec<u8> {
        (0..self.len)
            // SAFETY: the buffer is leaked, so `at..at + len` stays allocated and initialised
            // for the whole test; it is read only between calls into the connection, never
            // while the connection writes it.
            .map(|i| unsafe { self.at.add(i).read_volatile() })
            .collect()
    }
}

/// Memory taken at one step, scanned once every secret is known (the server's side is known
/// only when its thread ends).
struct Snapshot {
    step: String,
    place: &'static str,
    bytes: Vec<u8>,
    allowed: Vec<&'static str>,
}

#[derive(Default)]
struct Snapshots(Vec<Snapshot>);

impl Snapshots {
    fn take(&mut self, step: &str, place: &'static str, bytes: Vec<u8>, allowed: &[&'static str]) {
        self.0.push(Snapshot {
            step: step.to_string(),
            place,
            bytes,
            allowed: allowed.to_vec(),
        });
    }

    /// Each caller's buffer at `step`, which must hold nothing.
    fn take_buffers(&mut self, step: &str, buffers: &[(&'static str, Buffer)]) {
        for (place, buffer) in buffers {
            self.take(step, place, buffer.bytes(), &[]);
        }
    }

    /// No secret is found where it must not be (each found is reported, one line per step
    /// and place); `required` secrets must be found at their steps (so that the scan is seen
    /// to work).
    fn assert_clean(&self, known: &KnownSecrets, required: &[(&str, &str, &str)]) {
        let lines = self.scan(known, required);
        for l in &lines {
            eprintln!("residue: {l}");
        }
        assert!(lines.is_empty(), "{lines:#?}");
    }

    fn scan(&self, known: &KnownSecrets, required: &[(&str, &str, &str)]) -> Vec<String> {
        let mut lines = Vec::new();
        for s in &self.0 {
            let found = known.found_in(&s.bytes);
            let stray: Vec<_> = found
                .iter()
                .filter(|f| !s.allowed.contains(&f.as_str()))
                .cloned()
                .collect();
            if !stray.is_empty() {
                lines.push(format!(
                    "{}: {} holds {}",
                    s.step,
                    s.place,
                    stray.join(", ")
                ));
            }
            for (step, place, name) in required {
                if s.step == *step && s.place == *place {
                    assert!(
                        found.iter().any(|f| f == name),
                        "{step}: {place} must still hold {name} (found {found:?})"
                    );
                }
            }
        }
        lines
    }
}

// ---------------------------------------------------------------------------------------------
// The scripted server over TCP
// ---------------------------------------------------------------------------------------------

type Ctx = Context<'static, StdClock, Recording, 8, P>;
type Conn<'c> = Connection<'c, 'static, StdTransport, StdClock, Recording, 8, P>;

/// A context whose generator records what it gave (the client's key shares come from it).
fn context(pki: &TestPki, rng: Recording) -> Ctx {
    support::context(
        &pki.ca_der,
        CacheConfig::DEFAULT,
        StdClock::new(),
        rng,
        |_| {},
    )
}

/// A connection of `ctx` to the scripted server at `port`, in a slot whose bytes stay readable
/// after the drop, over caller's buffers of [`RX`] and [`TX`] bytes and, given `carry`, a carry
/// buffer of that many bytes. The buffers are returned by name, to be read once the
/// connection is done with them.
fn connection(
    ctx: &Ctx,
    port: u16,
    carry: Option<usize>,
) -> (ManuallyDrop<Conn<'_>>, Vec<(&'static str, Buffer)>) {
    let (rx_mem, rx) = Buffer::new(RX);
    let (tx_mem, tx) = Buffer::new(TX);
    let mut buffers = vec![("rx", rx_mem), ("tx", tx_mem)];
    let mut conn = Connection::new(ctx, NAME, transport(port), rx, tx);
    if let Some(len) = carry {
        let (carry_mem, carry) = Buffer::new(len);
        buffers.push(("carry", carry_mem));
        conn = conn.with_carry_buffer(carry);
    }
    (ManuallyDrop::new(conn), buffers)
}

/// Drops the connection in `slot`, whose bytes stay there to be read.
fn drop_connection(slot: &mut ManuallyDrop<Conn<'_>>) {
    // SAFETY: the slot holds a live connection, dropped exactly once here (each test calls
    // this once, after its last use of the connection); afterwards the slot's bytes are only
    // read, never used as a connection.
    unsafe { ManuallyDrop::drop(slot) };
}

/// What a scripted server thread learnt: its secrets, the client's X25519 share, the flight
/// that starts with its ServerHello (for the shared secret).
struct ServerSide {
    known: KnownSecrets,
    client_share: Vec<u8>,
    flight: Vec<u8>,
}

impl ServerSide {
    fn new(known: KnownSecrets, hello: &ParsedHello, flight: Vec<u8>) -> ServerSide {
        ServerSide {
            known,
            client_share: hello.x25519_share.clone().unwrap(),
            flight,
        }
    }

    /// The client's X25519 private key (from `rng`) and the shared secret with the server's
    /// share, `prefix`ed, into `known`.
    fn add_client_secrets(&self, known: &mut KnownSecrets, prefix: &str, rng: &Recording) {
        let key = rng.x25519_key(&self.client_share);
        let at = self
            .flight
            .windows(4)
            .position(|w| w == [0x00, 0x1d, 0x00, 0x20])
            .expect("an X25519 key_share");
        let shared = x25519_secret(&key)
            .agree(&self.flight[at + 4..at + 36])
            .unwrap();
        known.add(&format!("{prefix}x25519"), &key);
        known.add(&format!("{prefix}dhe"), shared.as_bytes());
    }
}

/// Answers `hello` with a full handshake's flight: ServerHello, then EncryptedExtensions,
/// Certificate and CertificateVerify of `id` and `finished` (made by the server) in one
/// protected record. The handshake secrets go to `known`. Returns the server and the flight.
fn send_full_flight(
    s: &mut TcpStream,
    hello: &ParsedHello,
    id: &Identity,
    known: &mut KnownSecrets,
    finished: impl FnOnce(&mut Scripted) -> Vec<u8>,
) -> (Scripted, Vec<u8>) {
    let mut sv = Scripted::new();
    let mut flight = sv.server_hello(hello, &FULL_HELLO);
    handshake_secrets(known, "", &sv);
    let mut hs = sv.encrypted_extensions();
    hs.extend(sv.certificate(&[&id.0, &id.1]));
    hs.extend(sv.certificate_verify(&id.2));
    hs.extend(finished(&mut sv));
    flight.extend(sv.seal(22, &hs));
    s.write_all(&flight).unwrap();
    (sv, flight)
}

/// After the ServerHello: the Handshake Secret and both handshake traffic secrets, `prefix`ed.
fn handshake_secrets(known: &mut KnownSecrets, prefix: &str, server: &Scripted) {
    known.add(
        &format!("{prefix}handshake"),
        server.schedule.as_ref().unwrap().secret().as_bytes(),
    );
    known.traffic(&format!("{prefix}c_hs"), &server.client_hs);
    known.traffic(&format!("{prefix}s_hs"), &server.server_hs);
}

/// After the server Finished: master, application traffic and resumption master secrets.
fn application_secrets(
    known: &mut KnownSecrets,
    prefix: &str,
    server: &mut Scripted,
    fin: &[u8],
) -> scripted::AppKeys {
    let keys = server.application_keys();
    known.add(
        &format!("{prefix}master"),
        server.schedule.as_ref().unwrap().secret().as_bytes(),
    );
    known.traffic(&format!("{prefix}c_ap"), &keys.c_ap);
    known.traffic(&format!("{prefix}s_ap"), &keys.s_ap);
    let mut t = server.transcript.clone();
    t.update(fin);
    let rms = server
        .schedule
        .as_ref()
        .unwrap()
        .resumption_master_secret(t.current_hash().as_bytes());
    known.add(&format!("{prefix}res_master"), rms.as_bytes());
    keys
}

fn with_prefix(prefix: &str, names: &[&str]) -> Vec<&'static str> {
    names
        .iter()
        .map(|n| &*Box::leak(format!("{prefix}{n}").into_boxed_str()))
        .collect()
}

const AP: &[&str] = common::residue::APPLICATION_SECRETS;

/// E7 through `Connection`: full handshake, ticket, data through the carry buffer, clear,
/// resumption, drop; a failed handshake, clear and drop.
#[test]
fn e7_connection_leaves_no_secret_behind() {
    let pki = TestPki::generate(&[NAME]);
    let id = identity(&pki);
    let (psk_tx, psk_rx) = mpsc::channel::<Vec<u8>>();

    // Server A: a full handshake, a ticket, application data, close_notify.
    let (port_a, server_a) = script(move |s, hello| {
        let mut known = KnownSecrets::default();
        let (mut sv, flight) = send_full_flight(s, &hello, &id, &mut known, Scripted::finished);
        let fin = client_finished(s, &mut sv);
        let mut keys = application_secrets(&mut known, "", &mut sv, &fin);
        let psk = sv.ticket_psk(&fin, &[7]);
        known.add("ticket_psk", psk.as_bytes());
        psk_tx.send(psk.as_bytes().to_vec()).unwrap();
        let mut out = scripted::seal(
            &mut keys.s_write,
            22,
            &scripted::new_session_ticket(7200, &[7], TICKET),
        );
        out.extend(scripted::seal(&mut keys.s_write, 23, DATA));
        out.extend(scripted::seal(&mut keys.s_write, 21, &[1, 0]));
        s.write_all(&out).unwrap();
        let _ = drain(s);
        ServerSide::new(known, &hello, flight)
    });

    let rng = Recording::default();
    let ctx = context(&pki, rng.clone());
    let (mut conn, buffers) = connection(&ctx, port_a, Some(4096));
    let mut snaps = Snapshots::default();

    {
        let mut connect = pin!(conn.connect());
        let hs = block_on(connect.as_mut()).unwrap();
        assert!(!hs.resumed);
        snaps.take("full connect", "connect future", bytes_of(&*connect), &[]);
    }
    snaps.take("full connect", "connection", bytes_of(&*conn), AP);
    assert_eq!(block_on(conn.await_tickets(1)).unwrap(), 1);
    snaps.take("ticket", "connection", bytes_of(&*conn), AP);
    // Application data through a small `read` buffer: the rest waits in the carry buffer.
    let mut got = Vec::new();
    let mut small = [0u8; 10];
    while got.len() < DATA.len() {
        let n = block_on(conn.read(&mut small)).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&small[..n]);
    }
    assert_eq!(got, DATA);
    small.fill(0);
    assert_eq!(block_on(conn.read(&mut small)).unwrap(), 0); // close_notify
    snaps.take("read", "connection", bytes_of(&*conn), &[]);
    block_on(conn.shutdown()).unwrap();
    conn.clear();
    snaps.take("clear", "connection", bytes_of(&*conn), &[]);
    snaps.take_buffers("clear", &buffers);
    let side_a = server_a.join().unwrap();
    assert!(
        conn.session().is_some(),
        "the ticket stays set for the next connect"
    );

    // Server B: accepts the ticket (psk_dhe_ke).
    let ticket_psk = psk_rx.recv().unwrap();
    let psk_b = ticket_psk.clone();
    let (port_b, server_b) = script(move |s, hello| {
        let (id, ..) = hello.psk.clone().expect("the ticket is offered");
        assert_eq!(id, TICKET);
        let mut known = KnownSecrets::default();
        let early = KeySchedule::early(HashAlg::Sha256, Some(&psk_b));
        known.add("b.early", early.secret().as_bytes());
        known.add("b.binder_key", early.binder_key(true).as_bytes());
        let mut sv = Scripted::new();
        sv.psk = psk_b;
        let accept = ServerHelloSpec {
            psk_identity: Some(0),
            ..FULL_HELLO
        };
        let mut flight = sv.server_hello(&hello, &accept);
        handshake_secrets(&mut known, "b.", &sv);
        let mut hs = sv.encrypted_extensions();
        hs.extend(sv.finished());
        flight.extend(sv.seal(22, &hs));
        s.write_all(&flight).unwrap();
        let fin = client_finished(s, &mut sv);
        let mut keys = application_secrets(&mut known, "b.", &mut sv, &fin);
        s.write_all(&scripted::seal(&mut keys.s_write, 23, DATA))
            .unwrap();
        let _ = drain(s);
        ServerSide::new(known, &hello, flight)
    });
    conn.replace_transport(transport(port_b));
    {
        let mut connect = pin!(conn.connect());
        let hs = block_on(connect.as_mut()).unwrap();
        assert!(hs.resumed);
        snaps.take(
            "resumed connect",
            "connect future",
            bytes_of(&*connect),
            &[],
        );
    }
    // The engine keeps its copy of the ticket (not a secret) with the offer; its PSK is gone.
    let mut b_ap = with_prefix("b.", AP);
    b_ap.push("ticket");
    snaps.take("resumed connect", "connection", bytes_of(&*conn), &b_ap);
    let n = block_on(conn.read(&mut [0u8; 128])).unwrap();
    assert_eq!(n, DATA.len());
    snaps.take("resumed read", "connection", bytes_of(&*conn), &b_ap);
    // Dropped while connected (no shutdown).
    drop_connection(&mut conn);
    snaps.take("drop", "connection", bytes_of(&*conn), &[]);
    snaps.take_buffers("drop", &buffers);
    let side_b = server_b.join().unwrap();

    let mut known = side_a.known.clone();
    known.extend(&side_b.known);
    side_a.add_client_secrets(&mut known, "", &rng);
    side_b.add_client_secrets(&mut known, "b.", &rng);
    known.add("psk copy", &ticket_psk);
    known.add("ticket", TICKET);
    known.add("data", DATA);
    snaps.assert_clean(
        &known,
        &[
            ("full connect", "connection", "c_ap"),
            ("full connect", "connection", "s_ap"),
            ("resumed connect", "connection", "b.c_ap"),
            ("resumed connect", "connection", "b.res_master"),
        ],
    );
}

/// E7: a full handshake whose server Finished does not verify: the handshake secrets and the
/// key share are gone from the connection once `connect` fails, and the buffers handed back
/// by `clear()` hold nothing; nor does anything after the drop.
#[test]
fn e7_failed_connection_leaves_no_secret_behind() {
    let pki = TestPki::generate(&[NAME]);
    let id = identity(&pki);
    let (port, server) = script(move |s, hello| {
        let mut known = KnownSecrets::default();
        let bad_finished = |_: &mut Scripted| scripted::handshake(20, &[0x55; 32]);
        let (_, flight) = send_full_flight(s, &hello, &id, &mut known, bad_finished);
        let _ = drain(s);
        ServerSide::new(known, &hello, flight)
    });
    let rng = Recording::default();
    let ctx = context(&pki, rng.clone());
    let (mut conn, buffers) = connection(&ctx, port, None);
    let mut snaps = Snapshots::default();
    assert_eq!(
        block_on(conn.connect()).unwrap_err(),
        Error::Tls(encore_tls::Error::BadFinished)
    );
    snaps.take("failed connect", "connection", bytes_of(&*conn), &[]);
    conn.clear();
    snaps.take("clear", "connection", bytes_of(&*conn), &[]);
    snaps.take_buffers("clear", &buffers);
    drop_connection(&mut conn);
    snaps.take("drop", "connection", bytes_of(&*conn), &[]);
    let side = server.join().unwrap();
    let mut known = side.known.clone();
    side.add_client_secrets(&mut known, "", &rng);
    snaps.assert_clean(&known, &[]);
}
