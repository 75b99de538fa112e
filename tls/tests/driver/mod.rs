//! Runs an engine [`Connection`] over a blocking `std::net::TcpStream` to completion: the
//! loop every host program built on the engine needs (feed received bytes, send what the
//! engine queued, react to events). It also counts wire bytes as PEERS.md defines them:
//! every record byte in both directions from the first ClientHello byte to the client
//! Finished. Around it, what the engine's test binaries share: a full handshake, a
//! resumption and both in turn against a real server, the test PKI's trust anchor and client
//! signer, and the steps of an in-memory run against the scripted server.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use encore_tls::client::{
    ClientConfig, Connection, Error, Event, HandshakeSummary, ResumptionOffer,
};
use encore_tls::crypto::{CipherSuite, P256Signer};

use crate::common::scripted::ServerHelloSpec;
use crate::common::{ServerProcess, TestPki};

/// How long a test waits for a server to report what it saw.
pub const WAIT: Duration = Duration::from_secs(5);

/// A ticket copied out of the engine's event, with its time of receipt.
#[derive(Clone, Debug)]
pub struct OwnedTicket {
    pub ticket: Vec<u8>,
    pub nonce: Vec<u8>,
    pub psk: Vec<u8>,
    pub suite: CipherSuite,
    pub lifetime_s: u32,
    pub age_add: u32,
    pub max_early_data: u32,
    pub received: Instant,
}

impl OwnedTicket {
    /// The offer for a new connection, with the age measured now (C30).
    pub fn offer(&self) -> ResumptionOffer<'_> {
        ResumptionOffer {
            ticket: &self.ticket,
            psk: &self.psk,
            suite: self.suite,
            obfuscated_age: encore_session::obfuscated_ticket_age(
                self.received.elapsed().as_millis() as u64,
                self.age_add,
            ),
        }
    }
}

/// What to do after the handshake.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Application data to write once connected.
    pub send: Option<Vec<u8>>,
    /// Stop reading once this many tickets arrived (and the response, if `want_response`).
    pub want_tickets: usize,
    /// Keep reading until some application data arrived.
    pub want_response: bool,
    /// Give up reading after this long without input.
    pub idle: Duration,
    /// Send close_notify at the end.
    pub close: bool,
    /// Hold `send` back until `want_tickets` tickets arrived (keeps the data out of the
    /// flight that carries the client Finished).
    pub send_after_tickets: bool,
    /// Receive buffer size (the engine needs one whole record plus the handshake message
    /// being reassembled).
    pub rx_size: usize,
    /// Start the connection without a wall clock (E6).
    pub no_clock: bool,
    /// Ask for a KeyUpdate (update_requested) before writing `send`.
    pub key_update_before_send: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            send: None,
            want_tickets: 1,
            want_response: false,
            idle: Duration::from_millis(1500),
            close: true,
            send_after_tickets: false,
            rx_size: 16 * 1024 + 325,
            no_clock: false,
            key_update_before_send: false,
        }
    }
}

/// The usual plan: wait for `tickets` NewSessionTickets after the handshake, nothing else.
pub fn plan(tickets: usize) -> Plan {
    Plan {
        want_tickets: tickets,
        ..Plan::default()
    }
}

/// What happened on one connection.
#[derive(Debug)]
pub struct Outcome {
    pub summary: HandshakeSummary,
    pub tickets: Vec<OwnedTicket>,
    pub response: Vec<u8>,
    /// Record bytes sent from the first ClientHello byte to the client Finished.
    pub handshake_sent: usize,
    /// Record bytes received up to and including the server Finished.
    pub handshake_received: usize,
    pub total_sent: usize,
    pub total_received: usize,
    pub offer_sent: bool,
    pub server_closed: bool,
    pub alpn: Option<Vec<u8>>,
    pub trust_fingerprint: [u8; 16],
    /// Longest record body received (from the record headers on the wire).
    pub max_record_received: usize,
    /// Records sent and the longest record body sent.
    pub records_sent: usize,
    pub max_record_sent: usize,
}

/// Follows record boundaries in a byte stream to find the longest record body.
#[derive(Default)]
struct RecordScan {
    header: Vec<u8>,
    body_left: usize,
    max: usize,
    count: usize,
}

impl RecordScan {
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let need = 5 - self.header.len();
            let n = need.min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == 5 {
                self.body_left = u16::from_be_bytes([self.header[3], self.header[4]]) as usize;
                self.max = self.max.max(self.body_left);
                self.count += 1;
                self.header.clear();
            }
        }
    }
}

impl Outcome {
    /// Handshake wire bytes, both directions.
    pub fn handshake_bytes(&self) -> usize {
        self.handshake_sent + self.handshake_received
    }
}

/// Why a driven connection failed.
#[derive(Debug)]
pub enum DriveError {
    Tls(Error),
    Io(std::io::Error),
    /// The server closed the TCP connection during the handshake.
    Eof,
}

impl From<std::io::Error> for DriveError {
    fn from(e: std::io::Error) -> Self {
        DriveError::Io(e)
    }
}

/// A deterministic-enough host RNG for the engine: the operating system's generator.
pub type HostRng = rand_core::UnwrapErr<crate::common::OsRandom>;

pub fn host_rng() -> HostRng {
    rand_core::UnwrapErr(crate::common::OsRandom)
}

/// A full handshake (no offer) with 127.0.0.1:`port` as [`SERVER_NAME`], following `plan`;
/// panics if the connection fails.
pub fn full_handshake(port: u16, config: &ClientConfig<'_>, plan: &Plan) -> Outcome {
    connect(port, config, SERVER_NAME, None, plan).unwrap()
}

/// A connection to 127.0.0.1:`port` as [`SERVER_NAME`] that offers `ticket`, following
/// `plan`; panics if the connection fails.
pub fn resume(port: u16, config: &ClientConfig<'_>, ticket: &OwnedTicket, plan: &Plan) -> Outcome {
    connect(port, config, SERVER_NAME, Some(ticket.offer()), plan).unwrap()
}

/// A full handshake with `server`, then a connection that offers its first ticket, which must
/// resume and which the server itself must report as its first resumption; both outcomes.
pub fn full_then_resumed(
    server: &ServerProcess,
    config: &ClientConfig<'_>,
    plan: &Plan,
) -> (Outcome, Outcome) {
    let full = full_handshake(server.port(), config, plan);
    assert!(
        !full.tickets.is_empty(),
        "no ticket after the full handshake"
    );
    let resumed = resume(server.port(), config, &full.tickets[0], plan);
    assert!(resumed.summary.resumed, "{:?}", resumed.summary);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    (full, resumed)
}

/// Connects to 127.0.0.1:`port` and runs one connection following `plan`.
pub fn connect(
    port: u16,
    config: &ClientConfig<'_>,
    server_name: &str,
    offer: Option<ResumptionOffer<'_>>,
    plan: &Plan,
) -> Result<Outcome, DriveError> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    run(stream, config, server_name, offer, plan)
}

fn flush<R: rand_core::CryptoRng>(
    stream: &mut TcpStream,
    conn: &mut Connection<'_, R>,
    sent: &mut usize,
    scan: &mut RecordScan,
) -> Result<(), DriveError> {
    while !conn.pending_tx().is_empty() {
        let n = stream.write(conn.pending_tx())?;
        scan.push(&conn.pending_tx()[..n]);
        if n == 0 {
            return Err(DriveError::Eof);
        }
        conn.tx_sent(n);
        *sent += n;
    }
    Ok(())
}

/// Runs `stream` through a whole connection.
pub fn run(
    mut stream: TcpStream,
    config: &ClientConfig<'_>,
    server_name: &str,
    offer: Option<ResumptionOffer<'_>>,
    plan: &Plan,
) -> Result<Outcome, DriveError> {
    let mut rx = vec![0u8; plan.rx_size];
    let mut tx = vec![0u8; 8 * 1024];
    let mut conn = Connection::new(
        config,
        server_name,
        offer,
        &mut rx,
        &mut tx,
        host_rng(),
        (!plan.no_clock).then(crate::common::now_unix),
    )
    .map_err(DriveError::Tls)?;
    stream.set_read_timeout(Some(plan.idle))?;
    stream.set_nodelay(true)?;
    let mut sent = 0usize;
    let mut received = 0usize;
    let mut summary = None;
    let mut handshake_sent = 0;
    let mut handshake_received = 0;
    let mut tickets = Vec::new();
    let mut response = Vec::new();
    let mut server_closed = false;
    let mut data_sent = false;
    let mut scan = RecordScan::default();
    let mut sent_scan = RecordScan::default();

    let result: Result<(), DriveError> = (|| loop {
        flush(&mut stream, &mut conn, &mut sent, &mut sent_scan)?;
        loop {
            match conn.process() {
                Ok(Some(Event::HandshakeComplete(s))) => {
                    summary = Some(s);
                    handshake_sent = sent + conn.pending_tx().len();
                    handshake_received = received - conn.rx_unprocessed();
                }
                Ok(Some(Event::NewTicket(t))) => tickets.push(OwnedTicket {
                    ticket: t.ticket.to_vec(),
                    nonce: t.nonce.to_vec(),
                    psk: t.psk.as_bytes().to_vec(),
                    suite: t.suite,
                    lifetime_s: t.lifetime_s,
                    age_add: t.age_add,
                    max_early_data: t.max_early_data,
                    received: Instant::now(),
                }),
                Ok(Some(Event::ApplicationData(d))) => response.extend_from_slice(d),
                Ok(Some(Event::Closed)) => server_closed = true,
                Ok(None) => break,
                Err(e) => {
                    let _ = flush(&mut stream, &mut conn, &mut sent, &mut sent_scan);
                    return Err(DriveError::Tls(e));
                }
            }
        }
        if conn.is_connected()
            && !data_sent
            && (!plan.send_after_tickets || tickets.len() >= plan.want_tickets)
        {
            if let Some(data) = &plan.send {
                if plan.key_update_before_send {
                    conn.request_key_update().map_err(DriveError::Tls)?;
                }
                let mut off = 0;
                while off < data.len() {
                    let n = conn.write(&data[off..]).map_err(DriveError::Tls)?;
                    off += n;
                    flush(&mut stream, &mut conn, &mut sent, &mut sent_scan)?;
                }
            }
            data_sent = true;
        }
        flush(&mut stream, &mut conn, &mut sent, &mut sent_scan)?;
        if server_closed {
            return Ok(());
        }
        if summary.is_some()
            && data_sent
            && tickets.len() >= plan.want_tickets
            && (!plan.want_response || !response.is_empty())
        {
            return Ok(());
        }
        let space = conn.rx_space();
        if space.is_empty() {
            return Err(DriveError::Tls(Error::BufferTooSmall));
        }
        match stream.read(space) {
            Ok(0) => {
                if summary.is_some() {
                    return Ok(());
                }
                return Err(DriveError::Eof);
            }
            Ok(n) => {
                scan.push(&space[..n]);
                conn.rx_filled(n);
                received += n;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if summary.is_some() {
                    return Ok(());
                }
                return Err(DriveError::Io(e));
            }
            Err(e) => return Err(DriveError::Io(e)),
        }
    })();
    result?;
    if plan.close && conn.is_connected() {
        conn.close().map_err(DriveError::Tls)?;
    }
    let _ = flush(&mut stream, &mut conn, &mut sent, &mut sent_scan);
    let summary = summary.ok_or(DriveError::Eof)?;
    Ok(Outcome {
        summary,
        tickets,
        response,
        handshake_sent,
        handshake_received,
        total_sent: sent,
        total_received: received,
        offer_sent: conn.offer_sent(),
        server_closed,
        alpn: conn.alpn_protocol().map(|p| p.to_vec()),
        trust_fingerprint: conn.trust_fingerprint(),
        max_record_received: scan.max,
        records_sent: sent_scan.count,
        max_record_sent: sent_scan.max,
    })
}

/// A trust anchor for `der`, leaked so that it lives as long as the test.
pub fn anchor(der: &[u8]) -> rustls_pki_types::TrustAnchor<'static> {
    let cert: &'static rustls_pki_types::CertificateDer<'static> = Box::leak(Box::new(
        rustls_pki_types::CertificateDer::from(der.to_vec()),
    ));
    encore_tls::crypto::anchor_from_der(cert).expect("trust anchor")
}

/// The certificate `der` as the only trust anchor, leaked like [`anchor`]: what a
/// [`ClientConfig`] takes.
pub fn trust(der: &[u8]) -> &'static [rustls_pki_types::TrustAnchor<'static>] {
    Box::leak(Box::new([anchor(der)]))
}

/// The server name every test certificate carries.
pub const SERVER_NAME: &str = "server.encore.test";

/// A fresh test PKI for [`SERVER_NAME`].
pub fn pki() -> TestPki {
    TestPki::generate(&[SERVER_NAME])
}

/// The signer of `pki`'s client certificate, its chain leaked like [`anchor`]'s certificate.
pub fn client_signer(pki: &TestPki) -> P256Signer<'static> {
    let cert: &'static [u8] = Box::leak(pki.client.cert_der.clone().into_boxed_slice());
    let chain: &'static [&'static [u8]] = Box::leak(Box::new([cert]));
    P256Signer::from_pkcs8_der(&pki.client.key_der, chain).expect("client key")
}

// ---------------------------------------------------------------------------------------------
// In memory, against the scripted server (`encore_testkit::scripted`)
// ---------------------------------------------------------------------------------------------

/// Sends what the engine queued and returns it.
pub fn take_tx<R>(conn: &mut Connection<'_, R>) -> Vec<u8> {
    let out = conn.pending_tx().to_vec();
    conn.tx_sent(out.len());
    out
}

/// A ServerHello for TLS_AES_128_GCM_SHA256 with an X25519 key share, selecting
/// `psk_identity` (or no PSK).
pub fn spec(psk_identity: Option<u16>) -> ServerHelloSpec {
    ServerHelloSpec {
        suite: 0x1301,
        key_share: true,
        psk_identity,
    }
}
