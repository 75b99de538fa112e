//! The sans-I/O TLS 1.3 client engine.
//!
//! A [`Connection`] never touches a socket. The caller moves bytes:
//! - received bytes go into [`Connection::rx_space`] then [`Connection::rx_filled`] (or
//!   [`Connection::feed`]); [`Connection::process`] is then called until it returns
//!   `Ok(None)`, each call yielding at most one [`Event`];
//! - bytes to send are in [`Connection::pending_tx`]; after sending, the caller reports
//!   how many left with [`Connection::tx_sent`].
//!
//! Both buffers are the caller's (E1). The receive buffer holds unprocessed records plus the
//! handshake bytes being reassembled: it needs one whole protected record (16 645 bytes by
//! default; max_fragment_length or record_size_limit plus 261 when the server honours
//! them) plus the server's Certificate message, which is kept until its CertificateVerify
//! has been checked. Too small a buffer is [`Error::BufferTooSmall`], never a panic. The
//! transmit buffer needs room for the ClientHello (about 230 bytes plus the ticket) and,
//! with client authentication, the certificate chain plus one record header and tag per
//! record.
//!
//! The loop a host program runs (firmware does the same over its own socket):
//!
//! ```no_run
//! # extern crate std;
//! # use std::io::{Read, Write};
//! use encore_tls::client::{ClientConfig, Connection, Event};
//! # fn rng() -> impl rand_core::CryptoRng { struct R; impl rand_core::TryRng for R {
//! #   type Error = core::convert::Infallible;
//! #   fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(0) }
//! #   fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(0) }
//! #   fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> { Ok(()) } }
//! #   impl rand_core::TryCryptoRng for R {} R }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let anchors = [];
//! let config = ClientConfig::new(&anchors);
//! let (mut rx, mut tx) = ([0u8; 16 * 1024 + 325], [0u8; 4096]);
//! let mut conn = Connection::new(&config, "example.com", None, &mut rx, &mut tx, rng(), Some(1_700_000_000))?;
//! let mut sock = std::net::TcpStream::connect("127.0.0.1:443")?;
//! loop {
//!     let n = sock.write(conn.pending_tx())?;
//!     conn.tx_sent(n);
//!     while let Some(event) = conn.process()? {
//!         match event {
//!             Event::HandshakeComplete(s) => { /* s.resumed, s.kex, s.offer_declined */ }
//!             Event::NewTicket(t) => { /* store t.ticket, t.psk, t.suite, t.age_add, ... */ }
//!             Event::ApplicationData(data) => { /* consume data */ }
//!             Event::Closed => return Ok(()),
//!         }
//!     }
//!     let n = sock.read(conn.rx_space())?;
//!     conn.rx_filled(n);
//! }
//! # }
//! ```
//!
//! The handshake states live in a private `state` module: each state struct handles only its own messages,
//! so a message in the wrong state is `unexpected_message` by construction.

mod buffers;
mod config;
mod error;
mod prepared;
mod record;
mod secrets;
mod sizes;
mod state;

use config::offered_suites;
pub use config::{ClientConfig, MaxFragmentLength, PskMode, ResumptionOffer};
pub use error::{Error, Violation};
pub use prepared::Prepared;
pub(crate) use secrets::{OwnedOffer, Secrets};
pub use sizes::BufferSizes;

use crate::crypto::{
    self, CipherSuite, KeySchedule, KeyShare, RecordProtection, Secret, Transcript,
};
use crate::wire::handshake::{self as hs, KeyUpdate};
use crate::wire::record::{
    content_type, ChangeCipherSpec, RecordHeader, HEADER_LEN, MAX_PLAINTEXT,
};
use crate::wire::{Alert, AlertDescription, AlertLevel};
use state::{Connected, Span, State};

/// How the keys of a completed handshake were established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyExchangeMode {
    /// Full handshake: (EC)DHE and certificate authentication.
    Full,
    /// Resumption with (EC)DHE (psk_dhe_ke).
    PskDhe,
    /// Resumption without (EC)DHE (psk_ke): no forward secrecy.
    Psk,
}

/// Summary of a completed handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HandshakeSummary {
    /// True when the server accepted the offered session (C8).
    pub resumed: bool,
    /// The key exchange used.
    pub kex: KeyExchangeMode,
    /// The negotiated suite.
    pub suite: CipherSuite,
    /// True when a session was offered and the server declined it: the handshake was a
    /// full one (C6, C34).
    pub offer_declined: bool,
    /// True when the server sent a HelloRetryRequest.
    pub retried: bool,
}

/// A NewSessionTicket with everything a session record needs (RFC 8446 §4.6.1, C27).
#[derive(Debug, Clone)]
pub struct NewTicket<'c> {
    /// The ticket (PSK identity).
    pub ticket: &'c [u8],
    /// The ticket nonce.
    pub nonce: &'c [u8],
    /// The resumption PSK: HKDF-Expand-Label(resumption_master_secret, "resumption",
    /// nonce, Hash.length). Lent from the engine's one place for it (E7): copy it into the
    /// session record; the engine wipes it at the next [`Connection::process`] call (and when
    /// released or dropped).
    pub psk: &'c Secret,
    /// The suite of this connection (the ticket may be used with suites of its hash).
    pub suite: CipherSuite,
    /// ticket_lifetime in seconds.
    pub lifetime_s: u32,
    /// ticket_age_add.
    pub age_add: u32,
    /// max_early_data_size (0 without the early_data extension).
    pub max_early_data: u32,
}

/// Something the caller should know about, yielded by [`Connection::process`].
#[derive(Debug)]
pub enum Event<'c> {
    /// The handshake completed; application data may now be written.
    HandshakeComplete(HandshakeSummary),
    /// The server issued a ticket.
    NewTicket(NewTicket<'c>),
    /// Decrypted application data.
    ApplicationData(&'c [u8]),
    /// The server sent close_notify. The engine has queued its own close_notify in reply
    /// (CONTRACT, bad-session rule: a server that closes first does not spoil the session).
    Closed,
}

/// Internal event with ranges instead of borrows, turned into [`Event`] at the API edge.
enum Ev {
    Complete(HandshakeSummary),
    /// The PSK waits in [`Secrets::ticket_psk`].
    Ticket {
        ticket: (usize, usize),
        nonce: (usize, usize),
        suite: CipherSuite,
        lifetime_s: u32,
        age_add: u32,
        max_early_data: u32,
    },
    Data(usize, usize),
    Closed,
}

/// Protected record overhead: inner content type + AEAD tag.
const PROTECTED_OVERHEAD: usize = 1 + crypto::TAG_LEN;

/// Ticket capacity of a [`Connection`] whose type does not name one: the longest ticket it
/// can offer. The engine keeps its own copy of the offer (ticket and PSK), so a caller can
/// reuse the memory the offer came from, and can take the buffers back with
/// [`Connection::into_buffers`] while the offer's source is rewritten. Covers OpenSSL
/// tickets that embed a client certificate (656 bytes). A client that keeps its sessions
/// in a pool names the pool's ticket capacity instead (`Connection<'a, R, T>`), so that
/// every ticket the pool holds can be offered and no byte more is reserved.
pub const MAX_OFFER_TICKET_LEN: usize = 1024;

/// One TLS 1.3 client connection.
///
/// Its secrets stay in its own memory (E7), each at one place, and are wiped there when they
/// have served, on failure and on drop. Moving a live connection (returning it from
/// [`Connection::new`], `Option::take`, passing it by value) copies its bytes and leaves them
/// at the old place unwiped: a caller that cares builds it where it stays with
/// [`Connection::start_in`] and ends it there with [`Connection::release`] or a drop in
/// place.
pub struct Connection<'a, R, const T: usize = MAX_OFFER_TICKET_LEN> {
    config: &'a ClientConfig<'a>,
    server_name: &'a str,
    offer: OwnedOffer<T>,
    /// PSK key exchange mode of this connection's offer (from the configuration, or given
    /// to [`Connection::start`]).
    psk_mode: PskMode,
    rng: R,
    now_unix: Option<u64>,

    rx: &'a mut [u8],
    /// Plaintext handshake bytes at the front of `rx`.
    hs_len: usize,
    /// Handshake bytes at the front kept for a later message (the server Certificate,
    /// needed by CertificateVerify).
    hs_keep: usize,
    /// Raw record bytes after the handshake bytes.
    raw_len: usize,
    /// Handshake bytes after `hs_keep` consumed by the last event, dropped on the next call.
    discard_hs: usize,
    /// Raw bytes consumed by the last event, dropped on the next call.
    discard_raw: usize,
    /// Bytes still to drop of a post-handshake message too large for `rx`.
    skip_hs: usize,
    /// NewSessionTickets dropped without ending the connection: too large for `rx`, or a
    /// lifetime over seven days.
    pub(crate) tickets_skipped: u32,
    /// Range of the server's end-entity certificate in `rx` (kept for CertificateVerify).
    /// Here rather than in the state, so that every state payload is a few bytes: a state
    /// written with a smaller payload leaves the rest of the state's place unwritten (E7).
    pub(crate) end_entity: (usize, usize),

    tx: &'a mut [u8],
    tx_len: usize,
    /// Bytes of `tx` still to send before the first ClientHello carrying the offer has left.
    offer_pending: usize,
    offer_sent: bool,

    transcript: Transcript,
    /// Traffic keys, [`RecordProtection::unkeyed`] when there are none: never `None`, whose
    /// unwritten payload would hold whatever the stack held where the connection was built
    /// (E7).
    read_key: RecordProtection,
    write_key: RecordProtection,
    state: State,

    random: [u8; 32],
    session_id: [u8; 32],
    session_id_len: usize,
    suites: heapless::Vec<u16, 3>,

    alpn_index: Option<usize>,
    /// Largest plaintext the server accepts in one record.
    peer_max_fragment: usize,
    /// Largest plaintext accepted from the server.
    own_max_fragment: usize,
    summary: Option<HandshakeSummary>,
    pub(crate) secrets: Secrets,
    ccs_sent: bool,
    close_sent: bool,
    close_received: bool,
    /// A KeyUpdate answering the server's update_requested was queued and no application
    /// data has been written since: later requests are answered by it (RFC 8446 §4.6.3).
    key_update_answered: bool,
}

/// Why [`Connection::start`] did not start a connection, with the caller's buffers handed
/// back, so that a connection object that owns them can try again (with another offer, or
/// none) instead of losing them.
pub struct Refused<'a> {
    /// What was wrong.
    pub error: Error,
    /// The receive buffer given to `start`.
    pub rx: &'a mut [u8],
    /// The transmit buffer given to `start`.
    pub tx: &'a mut [u8],
}

impl core::fmt::Debug for Refused<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Refused")
            .field("error", &self.error)
            .field("rx_len", &self.rx.len())
            .field("tx_len", &self.tx.len())
            .finish()
    }
}

impl<'a, R: rand_core::CryptoRng> Connection<'a, R> {
    /// Starts a connection to `server_name` (a DNS name, or an IP literal for which no SNI
    /// is sent) and queues the first ClientHello in `tx_buf`, with the PSK key exchange
    /// mode of `config`. On error the buffers are dropped with it; [`Connection::start`]
    /// hands them back. Returned by value, as [`Connection::start`] (see there for E7).
    ///
    /// `offer` is the session to resume (C28: it counts as used once
    /// [`Connection::offer_sent`] turns true). `now_unix` is the wall-clock time for
    /// certificate validity; without it the configured lower bound is used, and without
    /// that a full handshake fails closed (E6). The offer is copied (see
    /// [`MAX_OFFER_TICKET_LEN`]; a longer ticket is [`Error::BufferTooSmall`]). Built with
    /// the default ticket capacity; [`Connection::start_in`] builds one of any capacity.
    pub fn new(
        config: &'a ClientConfig<'a>,
        server_name: &'a str,
        offer: Option<ResumptionOffer<'_>>,
        rx_buf: &'a mut [u8],
        tx_buf: &'a mut [u8],
        rng: R,
        now_unix: Option<u64>,
    ) -> Result<Self, Error> {
        Self::start(
            config,
            server_name,
            offer,
            config.psk_mode,
            (rx_buf, tx_buf),
            rng,
            now_unix,
        )
        .map_err(|r| r.error)
    }

    /// [`Connection::new`] with the PSK key exchange mode of this connection's offer
    /// (overriding `config.psk_mode`, so that one configuration serves connections that
    /// resume with and without (EC)DHE), and the buffers `(rx, tx)` handed back in
    /// [`Refused`] when the connection cannot start.
    ///
    /// The connection is returned by value: the key share, the offered PSK and its Early
    /// Secret move with it, and the places it moves through keep their bytes (E7).
    /// [`Connection::start_in`] builds it where it stays instead.
    pub fn start(
        config: &'a ClientConfig<'a>,
        server_name: &'a str,
        offer: Option<ResumptionOffer<'_>>,
        psk_mode: PskMode,
        buffers: (&'a mut [u8], &'a mut [u8]),
        rng: R,
        now_unix: Option<u64>,
    ) -> Result<Self, Refused<'a>> {
        let mut conn = Self::blank(config, server_name, psk_mode, buffers, rng, now_unix)?;
        let loaded = match &offer {
            Some(o) => conn.offer.set(o),
            None => Ok(()),
        };
        match loaded.and_then(|()| conn.begin()) {
            Ok(()) => Ok(conn),
            Err(error) => {
                let (rx, tx) = conn.release();
                Err(Refused { error, rx, tx })
            }
        }
    }
}

impl<'a, R: rand_core::CryptoRng, const T: usize> Connection<'a, R, T> {
    /// [`Connection::start`] into `slot`, where the connection then stays (E7): every secret
    /// is made in `slot` (the key share, the copy of the offered PSK, its Early Secret), so
    /// none is ever moved and none is left behind on the way. Whatever `slot` held is dropped
    /// (and so wiped) first. When the connection cannot start, `slot` is left empty and the
    /// buffers come back in [`Refused`] (zeroed once the engine wrote to them, as by
    /// [`Connection::release`]).
    ///
    /// With [`Connection::release`] (and then emptying the slot) this is how a connection
    /// object that reuses one place for successive connections keeps E7.
    ///
    /// The offer is read from `offer` once: its ticket and PSK are copied straight into the
    /// connection's place for them ([`ResumptionOffer::copy_into`]), which holds a ticket of up
    /// to `T` bytes (a longer one is [`Error::BufferTooSmall`]).
    #[allow(clippy::too_many_arguments)] // `start`'s arguments and the place to start in
    pub fn start_in(
        slot: &mut Option<Self>,
        config: &'a ClientConfig<'a>,
        server_name: &'a str,
        offer: Option<&ResumptionOffer<'_>>,
        psk_mode: PskMode,
        buffers: (&'a mut [u8], &'a mut [u8]),
        rng: R,
        now_unix: Option<u64>,
    ) -> Result<(), Refused<'a>> {
        let mut prepared =
            Self::prepare_in(slot, config, server_name, psk_mode, buffers, rng, now_unix)?;
        if let Some(source) = offer {
            if let Err(error) = prepared.load_offer(source) {
                return Err(prepared.refuse(error));
            }
        }
        prepared.start()
    }

    /// The first step of [`Connection::start_in`], for a caller that must read its offer at
    /// a moment of its own (inside the critical section that claims a session record, say):
    /// places a connection in `slot` that holds no secret and has queued nothing, and
    /// returns the [`Prepared`] view through which its offer is loaded and it is started.
    /// Whatever `slot` held is dropped (and so wiped) first; when the configuration is
    /// refused, `slot` is left empty and the buffers come back in [`Refused`].
    pub fn prepare_in<'s>(
        slot: &'s mut Option<Self>,
        config: &'a ClientConfig<'a>,
        server_name: &'a str,
        psk_mode: PskMode,
        buffers: (&'a mut [u8], &'a mut [u8]),
        rng: R,
        now_unix: Option<u64>,
    ) -> Result<Prepared<'s, 'a, R, T>, Refused<'a>> {
        *slot = None;
        let blank = Self::blank(config, server_name, psk_mode, buffers, rng, now_unix)?;
        *slot = Some(blank);
        Ok(Prepared::new(slot))
    }

    /// A connection that holds no secret yet (so that it may be moved into place): the
    /// configuration checked, the random values drawn, nothing queued.
    fn blank(
        config: &'a ClientConfig<'a>,
        server_name: &'a str,
        psk_mode: PskMode,
        buffers: (&'a mut [u8], &'a mut [u8]),
        mut rng: R,
        now_unix: Option<u64>,
    ) -> Result<Self, Refused<'a>> {
        let (rx_buf, tx_buf) = buffers;
        // The order of the suites follows the offer, once it is loaded (`begin`).
        let suites = match offered_suites(config, None) {
            Ok(suites) => suites,
            Err(error) => {
                return Err(Refused {
                    error,
                    rx: rx_buf,
                    tx: tx_buf,
                })
            }
        };
        let mut random = [0u8; 32];
        rng.fill_bytes(&mut random);
        let mut session_id = [0u8; 32];
        let session_id_len = if config.middlebox_compat {
            rng.fill_bytes(&mut session_id);
            32
        } else {
            0
        };
        Ok(Connection {
            config,
            server_name,
            offer: OwnedOffer::none(),
            psk_mode,
            rng,
            now_unix,
            rx: rx_buf,
            hs_len: 0,
            hs_keep: 0,
            raw_len: 0,
            discard_hs: 0,
            discard_raw: 0,
            skip_hs: 0,
            tickets_skipped: 0,
            end_entity: (0, 0),
            tx: tx_buf,
            tx_len: 0,
            offer_pending: 0,
            offer_sent: false,
            transcript: Transcript::for_suites(&suites),
            read_key: RecordProtection::unkeyed(),
            write_key: RecordProtection::unkeyed(),
            state: State::Failed,
            random,
            session_id,
            session_id_len,
            suites,
            alpn_index: None,
            peer_max_fragment: MAX_PLAINTEXT,
            own_max_fragment: MAX_PLAINTEXT,
            summary: None,
            secrets: Secrets::new(),
            ccs_sent: false,
            close_sent: false,
            close_received: false,
            key_update_answered: false,
        })
    }

    /// Queues the first ClientHello with the offer loaded (if any), in place: the key share
    /// and the PSK's Early Secret are made where they stay.
    fn begin(&mut self) -> Result<(), Error> {
        self.transcript.scrub();
        if let Some(offer) = self.offer.get() {
            // The suites of the ticket's hash first (C31); `blank` checked the rest.
            self.suites = offered_suites(self.config, Some(offer.suite))?;
        }
        self.state = state::start(self)?;
        if self.offer.is_some() {
            self.offer_pending = self.tx_len;
        }
        Ok(())
    }

    /// Processes buffered input; yields at most one event per call. `Ok(None)` means more
    /// input is needed (or nothing is left to do). After an `Err`, a fatal alert (when one
    /// is due) waits in [`Connection::pending_tx`] and the connection is failed.
    pub fn process(&mut self) -> Result<Option<Event<'_>>, Error> {
        if !self.secrets.ticket_psk.is_empty() {
            // Lent by the last `Event::NewTicket`, which has ended (E7).
            use zeroize::Zeroize;
            self.secrets.ticket_psk.zeroize();
        }
        if matches!(self.state, State::Failed) {
            return Err(Error::Closed);
        }
        match self.process_inner() {
            Ok(None) => Ok(None),
            Ok(Some(ev)) => Ok(Some(self.to_event(ev))),
            Err(e) => {
                self.fail(e);
                Err(e)
            }
        }
    }

    fn process_inner(&mut self) -> Result<Option<Ev>, Error> {
        loop {
            self.apply_discards();
            // 1. A complete handshake message waiting?
            let region = self.rx.get(self.hs_keep..self.hs_len).unwrap_or(&[]);
            let max = self.rx.len();
            let split =
                hs::split_message(region, max).map(|m| m.map(|m| (m.msg_type, m.total_len)));
            let split = match split {
                Err(_) if self.skip_oversized_ticket() => continue,
                other => other?,
            };
            if let Some((ty, total)) = split {
                let at = Span {
                    start: self.hs_keep,
                    total,
                };
                self.discard_hs = total;
                let ev = state::handle(self, ty, at)?;
                if ev.is_some() {
                    return Ok(ev);
                }
                continue;
            }
            if matches!(self.state, State::Closed) {
                return Ok(None);
            }
            // 2. A complete record waiting?
            let raw = self
                .rx
                .get(self.hs_len..self.hs_len + self.raw_len)
                .unwrap_or(&[]);
            if raw.len() < HEADER_LEN {
                return Ok(None);
            }
            let hdr = RecordHeader::parse(raw)?;
            // RFC 8446 §5.2: a protected record carries at most the inner plaintext limit
            // plus 255 bytes of expansion (2^14 + 256 without a negotiated limit).
            let limit = if self.read_key.is_keyed() {
                self.own_max_fragment + 256
            } else {
                self.own_max_fragment
            };
            if usize::from(hdr.length) > limit {
                return Err(Error::Illegal(Violation::RecordTooLong));
            }
            if raw.len() < hdr.total_len() {
                if self.hs_len + hdr.total_len() > self.rx.len() {
                    if self.skip_oversized_ticket() {
                        continue;
                    }
                    return Err(Error::BufferTooSmall);
                }
                return Ok(None);
            }
            if let Some(ev) = self.open_record(hdr)? {
                return Ok(Some(ev));
            }
        }
    }
}

impl<'a, R, const T: usize> Connection<'a, R, T> {
    /// NewSessionTickets received after the handshake and dropped without ending the
    /// connection: a ticket larger than the receive buffer can hold (tickets may be up to
    /// 65,535 bytes, RFC 8446 §4.6.1), or one whose lifetime exceeds seven days.
    pub fn tickets_skipped(&self) -> u32 {
        self.tickets_skipped
    }

    /// True once the whole first ClientHello carrying the resumption offer has been
    /// reported sent: from then on the ticket counts as used (C28).
    pub fn offer_sent(&self) -> bool {
        self.offer_sent
    }

    /// True when a session was offered.
    pub fn offered(&self) -> bool {
        self.offer.is_some()
    }

    /// Wipes every secret where it lies (E7): the key schedule, the traffic secrets, the
    /// traffic keys and the offered PSK. Not a hot path: it runs when the secrets have no
    /// use left (failure, close, release).
    pub(crate) fn wipe_secrets(&mut self) {
        use zeroize::Zeroize;
        self.secrets.wipe();
        // `RecordProtection`'s `Drop` wipes the cipher state and the IV in place.
        self.read_key = RecordProtection::unkeyed();
        self.write_key = RecordProtection::unkeyed();
        self.offer.psk.zeroize();
    }

    /// The completed handshake, if any.
    pub fn handshake(&self) -> Option<HandshakeSummary> {
        self.summary
    }

    /// True while the handshake is running.
    pub fn is_handshaking(&self) -> bool {
        self.state.is_handshaking()
    }

    /// True once the handshake completed and until the connection closed or failed.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    /// True when the connection failed (an error was returned or a fatal alert handled).
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed)
    }

    /// The negotiated suite: from the ServerHello on, and after the handshake completed (also
    /// once closed); `None` before, and after a handshake that failed.
    pub fn suite(&self) -> Option<CipherSuite> {
        self.state
            .suite()
            .or(self.summary.map(|summary| summary.suite))
    }

    /// The ALPN protocol the server selected, if any.
    pub fn alpn_protocol(&self) -> Option<&'a [u8]> {
        let alpn: &'a [&'a [u8]] = self.config.alpn;
        self.alpn_index.and_then(|i| alpn.get(i).copied())
    }

    /// The server name this connection was made for.
    pub fn server_name(&self) -> &'a str {
        self.server_name
    }

    /// Fingerprint of the trust configuration that authenticated (or would authenticate)
    /// the server: part of a session's peer identity (C33). Connections that skip
    /// verification report [`crypto::INSECURE_NO_VERIFY_FINGERPRINT`].
    pub fn trust_fingerprint(&self) -> [u8; 16] {
        self.config.trust_fingerprint()
    }

    /// The PSK key exchange mode this connection offers with a resumption.
    pub fn psk_mode(&self) -> PskMode {
        self.psk_mode
    }

    /// True once close_notify was queued for sending.
    pub fn close_notify_sent(&self) -> bool {
        self.close_sent
    }

    /// True once the server's close_notify was received.
    pub fn close_notify_received(&self) -> bool {
        self.close_received
    }
}

/// `copy_within` that does nothing instead of panicking on a range outside `buf` (E4:
/// the callers keep their ranges inside the buffer, and a broken invariant must not turn
/// into a panic reachable from network input).
fn move_bytes(buf: &mut [u8], src: core::ops::Range<usize>, dest: usize) {
    let len = src.end.saturating_sub(src.start);
    if src.start <= src.end && src.end <= buf.len() && dest.saturating_add(len) <= buf.len() {
        buf.copy_within(src, dest);
    }
}

impl<R, const T: usize> core::fmt::Debug for Connection<'_, R, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("server_name", &self.server_name)
            .field("state", &self.state.name())
            .field("suite", &self.suite())
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod start_tests;
