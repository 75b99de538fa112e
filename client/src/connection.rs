//! The connection: OpenSSL's `SSL`, over an embedded-io-async transport.

use embedded_io_async::{Error as _, Read, Write};
use encore_session::{
    CurrentSession, MonotonicClock, NewSession, Offer, PeerId, Session, WallClock, MAX_PSK_LEN,
    TLS13,
};
use encore_tls::crypto::CipherSuite;
use encore_tls::{Event, HandshakeSummary, KeyExchangeMode, NewTicket, PskMode, ResumptionOffer};
use rand_core::TryCryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::context::{BadSessionRule, Context};
use crate::rng::{FallibleRng, SharedRng};
use crate::saver::{NoSaver, SessionSaver, SAVE_QUEUE_LEN};
use crate::Error;

type Engine<'c, G> = encore_tls::Connection<'c, SharedRng<'c, G>>;

/// The default limit on a whole handshake, from `connect` to the server's Finished (R2):
/// 30 seconds, far above any healthy handshake (a full one on a 25 MHz Cortex-M4 takes
/// about 1.5 s of computation), far below what a battery can afford to spend on a server
/// that trickles bytes.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u32 = 30_000;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Fresh, or cleared: `connect` may run.
    Idle,
    /// `connect` is running. Seen by any other method, it means the `connect` future was
    /// dropped mid-way (C12).
    Handshaking,
    /// The handshake completed.
    Connected,
    /// The handshake or the connection failed; `clear` before connecting again.
    Failed,
}

/// Byte and ticket counts of the current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionStats {
    /// Bytes written to the transport.
    pub bytes_sent: usize,
    /// Bytes read from the transport.
    pub bytes_received: usize,
    /// Record bytes sent from the first ClientHello byte to the client Finished.
    pub handshake_sent: usize,
    /// Record bytes received up to the server Finished.
    pub handshake_received: usize,
    /// NewSessionTicket messages received.
    pub tickets_received: usize,
    /// Tickets that could not become records (pool exhausted, ticket too large; C37, E1).
    pub tickets_dropped: usize,
    /// NewSessionTickets the engine dropped without ending the connection: larger than the
    /// receive buffer can hold, or with a lifetime over seven days (R4, R5).
    pub tickets_skipped: usize,
    /// Records made from tickets that a [`SessionSaver`] wrote
    /// ([`Connection::save_tickets`]).
    pub tickets_saved: usize,
    /// Records made from tickets that were not saved: the saver failed, or more than
    /// [`SAVE_QUEUE_LEN`] waited.
    pub save_failures: usize,
    /// [`Connection::connect_with`] claimed a ticket, but its saver failed to consume it
    /// durably, so the ticket was not offered and the handshake was a full one (C28).
    pub offer_withdrawn: bool,
}

/// One TLS connection to one server name (OpenSSL's `SSL`), over the transport `S`.
///
/// The caller provides the record buffers: `rx` holds what the server sends (16 709 bytes hold any
/// record; less with `max_fragment_length` or `record_size_limit`), `tx` what the client sends
/// (the ClientHello with its ticket, the client certificate chain with mutual TLS). An optional
/// carry buffer ([`Connection::with_carry_buffer`]) keeps application data that did not fit the
/// caller's `read` buffer.
///
/// # The session slot (C1–C6)
/// [`Connection::set_session`] sets the session to offer; [`Connection::session`] borrows it and
/// [`Connection::get1_session`] takes a reference. Which session the connection has (C5): before
/// a handshake, the one set (or the one `connect` took from the context's cache); after a resumed
/// handshake, the record that was offered; after a full handshake, none until the first ticket;
/// then each NewSessionTicket's record.
///
/// # The bad-session rule (C10–C15)
/// The session is *open* from the end of the handshake until close_notify is sent (by
/// [`Connection::shutdown`], or in answer to the server's) or marked as sent
/// ([`Connection::set_shutdown`]). Replacing the session of an open connection, clearing it or
/// dropping it evicts the session from the cache and marks it not resumable, once (C10, C13;
/// relaxed by [`BadSessionRule::Keep`]). A fatal alert sent or received does the same (C15).
///
/// # Flushing the transport
/// Records are handed to the transport with `write` as soon as they are made. The connection
/// calls the transport's `flush` only where the protocol needs the bytes to have left: before
/// it waits for the server (a handshake flight, [`Connection::read`],
/// [`Connection::await_tickets`]) when something was written since the last flush, when it
/// sends a fatal alert or answers close_notify, and in [`Connection::shutdown`]. So a transport
/// that buffers writes until `flush` (as embedded-io-async allows) works, and one whose
/// `flush` waits for the peer's acknowledgement (embassy-net's `TcpSocket` waits for the TCP
/// ACK) costs no round trip per [`Connection::write`]: when the connection does flush before
/// a read, the server's answer carries that ACK.
pub struct Connection<'c, 'a, S, C, G, const N: usize, const P: usize, const T: usize = 256> {
    ctx: &'c Context<'a, C, G, N, P, T>,
    server_name: &'c str,
    peer: PeerId,
    io: S,
    engine: Option<Engine<'c, G>>,
    buffers: Option<(&'c mut [u8], &'c mut [u8])>,
    /// PSK key exchange mode the next `connect` offers with a resumption.
    psk_mode: PskMode,
    /// Bytes were written to the transport since its last `flush`.
    unflushed: bool,
    carry: &'c mut [u8],
    carry_start: usize,
    carry_end: usize,
    current: CurrentSession<'a, P, T>,
    pub(crate) phase: Phase,
    pub(crate) completed: bool,
    close_sent: bool,
    close_received: bool,
    /// The session of this connection was invalidated already (C10, C13, C15): nothing more to
    /// invalidate.
    spoiled: bool,
    pub(crate) reused: bool,
    summary: Option<HandshakeSummary>,
    /// Monotonic time (ms, negative before boot) of the full handshake that authenticated the
    /// server, for the records made from this connection's tickets (C29).
    auth_ms: i64,
    stats: ConnectionStats,
    rng_failures: u32,
    /// Tickets of this connection become records to save ([`Connection::connect_with`]).
    keep_for_saving: bool,
    /// Records made from this connection's tickets, waiting for a saver.
    to_save: [Option<Session<'a, P, T>>; SAVE_QUEUE_LEN],
    /// Limit on a whole handshake, in ms (R2); `None` for none.
    handshake_timeout_ms: Option<u32>,
}

impl<'c, 'a, S, C, G, const N: usize, const P: usize, const T: usize>
    Connection<'c, 'a, S, C, G, N, P, T>
where
    S: Read + Write,
    C: MonotonicClock + WallClock,
    G: TryCryptoRng,
{
    /// A connection of `ctx` to `server_name` (SNI; an IP literal sends none) over `io`.
    pub fn new(
        ctx: &'c Context<'a, C, G, N, P, T>,
        server_name: &'c str,
        io: S,
        rx: &'c mut [u8],
        tx: &'c mut [u8],
    ) -> Self {
        Connection {
            ctx,
            server_name,
            peer: ctx.peer_id(server_name),
            io,
            engine: None,
            buffers: Some((rx, tx)),
            psk_mode: ctx.tls_config().psk_mode,
            unflushed: false,
            carry: &mut [],
            carry_start: 0,
            carry_end: 0,
            current: CurrentSession::new(),
            phase: Phase::Idle,
            completed: false,
            close_sent: false,
            close_received: false,
            spoiled: false,
            reused: false,
            summary: None,
            auth_ms: 0,
            stats: ConnectionStats::default(),
            rng_failures: 0,
            keep_for_saving: false,
            to_save: [const { None }; SAVE_QUEUE_LEN],
            handshake_timeout_ms: Some(DEFAULT_HANDSHAKE_TIMEOUT_MS),
        }
    }

    /// Sets the limit on a whole handshake (R2), [`DEFAULT_HANDSHAKE_TIMEOUT_MS`] unless
    /// changed; `None` removes it. It counts from the start of `connect` on the context's
    /// monotonic clock and is checked every time the transport returns, so a server that
    /// keeps a handshake alive by sending a byte now and then fails it with
    /// [`Error::HandshakeTimeout`]. A server that sends nothing at all is caught by the
    /// transport's own read timeout (embassy-net's `TcpSocket::set_timeout`,
    /// `StdTransport`'s read timeout), which should be shorter than this limit: the
    /// handshake then ends at most one read timeout after the limit.
    pub fn set_handshake_timeout(&mut self, timeout_ms: Option<u32>) {
        self.handshake_timeout_ms = timeout_ms;
    }

    /// The limit on a whole handshake, in milliseconds.
    pub fn handshake_timeout(&self) -> Option<u32> {
        self.handshake_timeout_ms
    }

    /// Gives the connection a buffer for application data that does not fit a `read` buffer.
    /// Without one, `read` needs buffers as large as the largest record's plaintext; each `read`
    /// returns the data of at most one record.
    pub fn with_carry_buffer(mut self, carry: &'c mut [u8]) -> Self {
        self.carry = carry;
        self
    }

    /// Sets the PSK key exchange mode the next [`Connection::connect`] offers when it resumes a
    /// session; it stays set across [`Connection::clear`]. The default is the context's
    /// (`ClientConfig::psk_mode`). Tickets this connection receives go to the context's cache
    /// whatever the mode, so one context serves both kinds of resumption.
    ///
    /// - [`PskMode::DheOnly`] (psk_dhe_ke): the resumption runs a fresh (EC)DHE exchange, so it
    ///   keeps forward secrecy; it costs one key generation and one key agreement.
    /// - [`PskMode::AllowPskOnly`] (psk_ke): no key share at all, so no public-key operation;
    ///   but that connection has **no forward secrecy**: anyone who later learns the ticket's
    ///   PSK (from this device's session store, or from the server's ticket key) can decrypt
    ///   everything it carried. A server that refuses psk_ke answers with HelloRetryRequest and
    ///   the handshake becomes a full one (the offer is declined, C6).
    pub fn set_psk_mode(&mut self, mode: PskMode) {
        self.psk_mode = mode;
    }

    /// The PSK key exchange mode the next `connect` offers with a resumption.
    pub fn psk_mode(&self) -> PskMode {
        self.psk_mode
    }

    /// Sets the session the next `connect` offers (`SSL_set_session`), or none.
    ///
    /// - C35: a session of another context, or made for another peer identity (server name,
    ///   ALPN list, trust configuration), is [`Error::Session`] and changes nothing.
    /// - C10: if this connection's session is open, it is invalidated first, once.
    /// - C1: one reference is added; the caller's stays with the caller. C2: setting the same
    ///   session changes no count. C3: `None` releases the current one.
    /// - C12: a fresh connection invalidates nothing.
    pub fn set_session(&mut self, session: Option<&Session<'a, P, T>>) -> Result<(), Error> {
        self.settle_aborted();
        if let Some(s) = session {
            if !core::ptr::eq(s.pool(), self.ctx.pool()) {
                return Err(Error::Session(encore_session::Error::WrongOwner));
            }
            s.check_owner_and_peer(self.ctx.id(), &self.peer)?;
        }
        self.invalidate_if_open();
        let replaced = self.current.set(session)?;
        drop(replaced);
        Ok(())
    }

    /// Runs the handshake. Offers the session set on this connection if it can be resumed (C7),
    /// otherwise, when none is set, the newest usable one the context's cache holds for this
    /// peer (unless [`encore_cache::CacheMode::NO_INTERNAL_LOOKUP`]).
    ///
    /// C28: the record is claimed before the ClientHello is built ([`Session::claim`]: the C7
    /// check and unused → used in one critical section; a record taken from the cache was
    /// claimed by the cache). So of several connections holding the same record, set on each or
    /// set on one and cached, exactly one offers it; the others make full handshakes. A claimed
    /// ticket that is not sent after all (the engine refuses to start, the transport fails, this
    /// future is dropped) stays used: it is never offered again, which costs one full handshake.
    /// If this future is dropped before it completes, the connection is failed until
    /// [`Connection::clear`]; nothing is invalidated (C12).
    ///
    /// Tickets stay in RAM; [`Connection::connect_with`] also keeps them on durable storage.
    pub async fn connect(&mut self) -> Result<HandshakeSummary, Error> {
        self.keep_for_saving = false;
        self.connect_inner(&mut NoSaver).await
    }

    /// [`Connection::connect`] with a durable session store (`saver`, for example
    /// `encore_store::SessionStore` with the `store` feature), driven outside critical
    /// sections (E3):
    ///
    /// - C28 across power loss: the offered record is claimed in RAM first, as by `connect`
    ///   (whether set with [`Connection::set_session`] or taken from the context's cache),
    ///   then `saver.consume` removes it from durable storage, and only then is the
    ///   ClientHello built and sent. If `consume` fails, the ticket is not offered
    ///   ([`ConnectionStats::offer_withdrawn`]): the handshake is a full one, and the record
    ///   stays used in RAM. So no ticket whose durable consumption failed ever leaves, and a
    ///   reboot never brings back one that did.
    /// - C27: the records this connection's tickets make are kept (up to
    ///   [`SAVE_QUEUE_LEN`], one reference each) until [`Connection::save_tickets`] or
    ///   [`Connection::await_tickets_with`] writes them to the saver, so every ticket is
    ///   saved, not only the newest. Records still waiting are released when the connection
    ///   is dropped.
    pub async fn connect_with<V: SessionSaver<P, T>>(
        &mut self,
        saver: &mut V,
    ) -> Result<HandshakeSummary, Error> {
        self.keep_for_saving = true;
        self.connect_inner(saver).await
    }

    async fn connect_inner<V: SessionSaver<P, T>>(
        &mut self,
        saver: &mut V,
    ) -> Result<HandshakeSummary, Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Idle => {}
            Phase::Connected => return Err(Error::AlreadyConnected),
            Phase::Failed | Phase::Handshaking => return Err(Error::Failed),
        }
        if self.buffers.is_none() {
            // Buffers are away only inside an engine, and an engine exists only outside Idle.
            return Err(Error::Failed);
        }
        let ctx = self.ctx;
        let now = ctx.now_ms();
        let mut codes = [0u16; 3];
        let n = ctx.suite_codes(&mut codes);
        let suites = codes.get(..n).unwrap_or(&[]);

        // Which session to offer (C7, C26, C28, C36). Only a claim makes an offer: the claim
        // checks C7 and marks the record used in one critical section, so of several
        // connections holding the same record (set on each, or set on one and cached) exactly
        // one offers it (RFC 8446 Appendix C.4). A claimed ticket that is then not sent is lost,
        // which costs a full handshake and nothing else.
        let mut claimed = None;
        if self.current.get().is_none() {
            if let Some(taken) = ctx.cache().take_for_connect(&self.peer, now, suites) {
                // The cache returns only records it claimed for this call.
                claimed = taken.with(|r| r.offer(now)).ok().flatten();
                let _ = self.current.set(Some(&taken))?;
            }
        } else if let Some(s) = self.current.get() {
            // A ticket the engine cannot carry is not claimed, so it stays usable elsewhere.
            let fits = s
                .with(|r| r.ticket().len() <= encore_tls::client::MAX_OFFER_TICKET_LEN)
                .unwrap_or(false);
            if fits {
                claimed = s.claim(now, &ctx.cache().config().limits, suites).ok();
            }
        }
        // C28 across power loss: durably consumed before the ClientHello is built. If this
        // future is dropped while the saver waits, the connection is failed until `clear`
        // and the claimed ticket stays used (C12).
        let mut withdrawn = false;
        if let (Some(_), Some(s)) = (claimed.as_ref(), self.current.get()) {
            self.phase = Phase::Handshaking;
            let consumed = saver.consume(s).await;
            self.phase = Phase::Idle;
            if consumed.is_err() {
                claimed = None;
                withdrawn = true;
            }
        }
        let started = {
            // E7: the copies of the ticket and the PSK are wiped when this block ends, on
            // every path (`Zeroizing`), before the handshake goes on; the engine keeps its
            // own copy of both, made where it stays.
            let mut ticket = Zeroizing::new([0u8; T]);
            let mut psk = Zeroizing::new([0u8; MAX_PSK_LEN]);
            let mut offer = None;
            if let (Some(claim), Some(s)) = (claimed, self.current.get()) {
                let t = s.copy_ticket(&mut ticket[..])?;
                let p = s.copy_psk(&mut psk[..])?;
                offer = resumption_offer(
                    &claim,
                    ticket.get(..t).unwrap_or(&[]),
                    psk.get(..p).unwrap_or(&[]),
                );
            }
            let Some(buffers) = self.buffers.take() else {
                return Err(Error::Failed);
            };
            self.rng_failures = ctx.rng.failures();
            // Started in `self.engine`, where it stays (E7): the key share, the copy of the
            // PSK and its Early Secret are made there, and never moved.
            Engine::start_in(
                &mut self.engine,
                ctx.tls_config(),
                self.server_name,
                offer,
                self.psk_mode,
                buffers,
                SharedRng::new(&ctx.rng),
                ctx.now_unix(),
            )
        };
        if let Err(refused) = started {
            // The buffers come back, so the connection connects again after `clear`.
            self.buffers = Some((refused.rx, refused.tx));
            self.phase = Phase::Failed;
            return Err(Error::Tls(refused.error));
        }
        self.phase = Phase::Handshaking;
        self.stats = ConnectionStats {
            offer_withdrawn: withdrawn,
            ..ConnectionStats::default()
        };
        self.unflushed = false;
        let deadline = self
            .handshake_timeout_ms
            .map(|t| now.saturating_add(u64::from(t)));
        match self.drive_handshake(deadline).await {
            Ok(summary) => Ok(summary),
            Err(e) => {
                let e = self.fail(e).await;
                Err(e)
            }
        }
    }

    /// R1: everything the engine queued, whatever queued it (the first ClientHello, a
    /// second one after HelloRetryRequest, an answering close_notify, the client's flight),
    /// is written before the connection waits for the server again.
    async fn drive_handshake(&mut self, deadline: Option<u64>) -> Result<HandshakeSummary, Error> {
        loop {
            self.check_rng()?;
            self.pump(&mut [])?;
            // Nothing made with a failed generator may leave (ClientHello2's key share).
            self.check_rng()?;
            self.send_tx().await?;
            if let Some(s) = self.summary {
                // The client Finished goes to the transport; it is flushed before the
                // connection next waits for the server, or by `shutdown`.
                return Ok(s);
            }
            self.check_deadline(deadline)?;
            if self.fill().await? == 0 {
                return Err(Error::TransportClosed);
            }
            self.check_deadline(deadline)?;
        }
    }

    fn check_deadline(&self, deadline: Option<u64>) -> Result<(), Error> {
        match deadline {
            Some(d) if self.ctx.now_ms() >= d => Err(Error::HandshakeTimeout),
            _ => Ok(()),
        }
    }

    /// Reads application data into `buf`; `Ok(0)` once the server sent close_notify (answered
    /// with ours, so the session stays resumable: CONTRACT "Decided"). Tickets that arrive are
    /// turned into records (C5, C27). A transport error is returned as is and leaves the
    /// connection usable (for example a read timeout).
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.settle_aborted();
        if self.carry_end > self.carry_start {
            return Ok(self.take_carry(buf));
        }
        match self.phase {
            Phase::Connected => {}
            Phase::Idle | Phase::Handshaking => return Err(Error::NotConnected),
            Phase::Failed => return Err(Error::Failed),
        }
        loop {
            if self.close_received {
                return Ok(0);
            }
            let got = match self.pump(buf) {
                Ok(n) => n,
                Err(e) => return Err(self.fail(e).await),
            };
            let sent = self.send_tx().await;
            if self.close_received {
                // Our answering close_notify is best effort: a server that closed first may
                // have shut its socket already.
                if sent.is_ok() {
                    let _ = self.flush_io().await;
                }
                return Ok(got);
            }
            sent?;
            if got > 0 {
                return Ok(got);
            }
            if self.fill().await? == 0 {
                return Err(Error::TransportClosed);
            }
        }
    }

    /// Reads and processes records until `count` NewSessionTickets have arrived on this
    /// connection since `connect` (each one a record in the cache and the connection's
    /// session: C5, C27), and returns how many arrived. TLS 1.3 servers send tickets after the
    /// handshake, unannounced, and `read` waits for application data; this waits for tickets.
    ///
    /// It returns early, with the count so far, when the server's close_notify arrives
    /// (answered, as by `read`) or when application data arrives: that data waits for the
    /// next `read` in the carry buffer ([`Connection::with_carry_buffer`]; without room there
    /// it is [`Error::ReadBufferTooSmall`], as for `read`). The end of the stream without
    /// close_notify is [`Error::TransportClosed`].
    ///
    /// It never gives up by itself: a server that sends fewer tickets keeps it waiting. Wrap it
    /// in the runtime's timeout (for example `embassy_time::with_timeout`). Dropping the
    /// future leaves the connection usable, and nothing received is lost, as long as the
    /// transport's `read` loses no bytes when its future is dropped (embassy-net's
    /// `TcpSocket` is such a transport); the tickets already processed stay cached. A
    /// transport error is returned as is and leaves the connection usable too.
    pub async fn await_tickets(&mut self, count: usize) -> Result<usize, Error> {
        self.await_tickets_until(count, None).await
    }

    async fn await_tickets_until(
        &mut self,
        count: usize,
        deadline: Option<u64>,
    ) -> Result<usize, Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Connected => {}
            Phase::Idle | Phase::Handshaking => return Err(Error::NotConnected),
            Phase::Failed => return Err(Error::Failed),
        }
        loop {
            if self.stats.tickets_received >= count
                || self.close_received
                || self.carry_end > self.carry_start
            {
                return Ok(self.stats.tickets_received);
            }
            if let Err(e) = self.pump(&mut []) {
                return Err(self.fail(e).await);
            }
            let sent = self.send_tx().await;
            if self.close_received {
                if sent.is_ok() {
                    let _ = self.flush_io().await;
                }
                continue;
            }
            sent?;
            if self.stats.tickets_received >= count || self.carry_end > self.carry_start {
                continue;
            }
            if self.check_deadline(deadline).is_err() {
                return Ok(self.stats.tickets_received);
            }
            if self.fill().await? == 0 {
                return Err(Error::TransportClosed);
            }
            if self.check_deadline(deadline).is_err() {
                // Process what arrived, then report.
                if let Err(e) = self.pump(&mut []) {
                    return Err(self.fail(e).await);
                }
                self.send_tx().await?;
                return Ok(self.stats.tickets_received);
            }
        }
    }

    /// Asks the server for fresh traffic keys in both directions (RFC 8446 §4.6.3): the
    /// KeyUpdate is sent and flushed now, our own keys change at once, and the server's
    /// answer switches its keys when it arrives (handled by [`Connection::read`]).
    pub async fn request_key_update(&mut self) -> Result<(), Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Connected => {}
            Phase::Idle | Phase::Handshaking => return Err(Error::NotConnected),
            Phase::Failed => return Err(Error::Failed),
        }
        if self.close_sent {
            return Err(Error::Closed);
        }
        let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
        engine.request_key_update()?;
        self.send_tx().await?;
        self.flush_io().await
    }

    /// Ends the connection with a fatal alert of the application's choice (for example
    /// `no_application_protocol` when the negotiated ALPN is unacceptable, RFC 7301 §3.2):
    /// the alert is sent and flushed, the connection fails, and its session is invalidated
    /// (C15). Only after a completed handshake; during one, the engine sends the alerts.
    pub async fn send_fatal_alert(
        &mut self,
        description: encore_tls::wire::AlertDescription,
    ) -> Result<(), Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Connected => {}
            Phase::Idle | Phase::Handshaking => return Err(Error::NotConnected),
            Phase::Failed => return Err(Error::Failed),
        }
        let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
        let queued = engine.send_fatal_alert(description);
        let sent = match queued {
            Ok(()) => match self.send_tx().await {
                Ok(()) => self.flush_io().await,
                Err(e) => Err(e),
            },
            Err(e) => Err(Error::Tls(e)),
        };
        if !self.spoiled {
            // C15: a fatal alert sent invalidates the connection's session.
            if let Some(s) = self.current.get() {
                self.ctx.cache().remove(s);
            }
            self.spoiled = true;
        }
        self.phase = Phase::Failed;
        sent
    }

    /// [`Connection::await_tickets`] that gives up `timeout_ms` after the call: it returns the
    /// number of tickets that arrived by then (fewer than `count`), or earlier as
    /// `await_tickets` does. The limit is checked every time the transport returns, so a
    /// transport read timeout no longer than `timeout_ms` bounds the wait (otherwise the
    /// transport's own timeout error ends it). Nothing received is lost.
    pub async fn await_tickets_within(
        &mut self,
        count: usize,
        timeout_ms: u32,
    ) -> Result<usize, Error> {
        let deadline = self.ctx.now_ms().saturating_add(u64::from(timeout_ms));
        self.await_tickets_until(count, Some(deadline)).await
    }

    /// [`Connection::await_tickets`], then [`Connection::save_tickets`]: every record made
    /// from the tickets that arrived is written to `saver` (C27), also when waiting ended in
    /// an error (a read timeout, for example). Returns what `await_tickets` returned.
    pub async fn await_tickets_with<V: SessionSaver<P, T>>(
        &mut self,
        count: usize,
        saver: &mut V,
    ) -> Result<usize, Error> {
        let arrived = self.await_tickets(count).await;
        self.save_tickets(saver).await;
        arrived
    }

    /// Writes every record made from this connection's tickets since [`Connection::connect_with`]
    /// to `saver`, oldest first, outside critical sections (E3), with the context's clocks (E6)
    /// and generator. Returns how many were written. A record the saver refuses is counted in
    /// [`ConnectionStats::save_failures`] and released: the ticket stays usable in RAM, it
    /// only does not survive a reboot. Records that can no longer be offered (used, or
    /// invalidated meanwhile: C10, C13, C15) are not written.
    pub async fn save_tickets<V: SessionSaver<P, T>>(&mut self, saver: &mut V) -> usize {
        let ctx = self.ctx;
        let mut written = 0;
        for i in 0..SAVE_QUEUE_LEN {
            let Some(session) = self.to_save.get_mut(i).and_then(Option::take) else {
                continue;
            };
            let mut rng = FallibleRng::new(&ctx.rng);
            match saver
                .save(&session, ctx.now_ms(), ctx.now_unix(), &mut rng)
                .await
            {
                Ok(true) => written += 1,
                Ok(false) => {}
                Err(_) => self.stats.save_failures += 1,
            }
        }
        self.stats.tickets_saved += written;
        written
    }

    /// Records made from this connection's tickets that wait for
    /// [`Connection::save_tickets`].
    pub fn tickets_to_save(&self) -> usize {
        self.to_save.iter().filter(|s| s.is_some()).count()
    }

    /// Writes all of `data` as application data and sends it.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Connected => {}
            Phase::Idle | Phase::Handshaking => return Err(Error::NotConnected),
            Phase::Failed => return Err(Error::Failed),
        }
        if self.close_sent {
            return Err(Error::Closed);
        }
        let mut off = 0;
        while off < data.len() {
            let rest = data.get(off..).unwrap_or(&[]);
            let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
            let n = engine.write(rest)?;
            off += n;
            // Handed to the transport, not flushed: see "Flushing the transport".
            self.send_tx().await?;
        }
        Ok(data.len())
    }

    /// Makes sure everything written has left: flushes the transport if anything was written
    /// since its last flush (`embedded_io_async::Write::flush`).
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Connected => {}
            Phase::Idle | Phase::Handshaking => return Err(Error::NotConnected),
            Phase::Failed => return Err(Error::Failed),
        }
        self.send_tx().await?;
        self.flush_io().await
    }

    /// Sends close_notify (`SSL_shutdown`); from then on the session is no longer open and stays
    /// cached and resumable (C11). Returns whether the server's close_notify was received
    /// already. Calling it again only flushes.
    pub async fn shutdown(&mut self) -> Result<bool, Error> {
        self.settle_aborted();
        if self.phase != Phase::Connected {
            return Err(match self.phase {
                Phase::Failed => Error::Failed,
                _ => Error::NotConnected,
            });
        }
        if let Some(engine) = self.engine.as_mut() {
            engine.close()?;
        }
        self.close_sent = true;
        self.send_tx().await?;
        // The end of the connection: everything written must leave.
        self.io.flush().await.map_err(|e| Error::Io(e.kind()))?;
        self.unflushed = false;
        Ok(self.close_received)
    }

    /// Marks close_notify as sent without sending it (`SSL_set_shutdown(SSL_SENT_SHUTDOWN)`), so
    /// that closing the transport does not spoil the session (C11).
    pub fn set_shutdown(&mut self) {
        self.settle_aborted();
        self.close_sent = true;
    }

    /// Readies the connection for another `connect` (`SSL_clear`), in the same buffers.
    ///
    /// C14: after a clean shutdown the session stays set, so the next `connect` offers it if it
    /// is still resumable; after an unclean end (open without close_notify, failed, or a dropped
    /// `connect`) it is released, and an open session is invalidated first (C13). C8: resets
    /// `session_reused`. E7: the engine's secrets are wiped where they lie, and the buffers
    /// and the carry buffer are zeroed.
    pub fn clear(&mut self) {
        self.settle_aborted();
        let clean = self.completed && self.close_sent && !self.spoiled;
        let unclean = self.phase == Phase::Failed || (self.completed && !self.close_sent);
        self.invalidate_if_open();
        if unclean && !clean {
            drop(self.current.take());
        }
        // E7: the engine is wiped where it lies (secrets, offer, both buffers, zeroed as they
        // come back) before its place is emptied; taking it out first would leave a copy of
        // its secrets in `self.engine`.
        if let Some(engine) = self.engine.as_mut() {
            self.buffers = Some(engine.release());
        }
        self.engine = None;
        // Application data the caller's `read` buffers could not take.
        self.carry.zeroize();
        self.phase = Phase::Idle;
        self.unflushed = false;
        self.completed = false;
        self.close_sent = false;
        self.close_received = false;
        self.spoiled = false;
        self.reused = false;
        self.summary = None;
        self.carry_start = 0;
        self.carry_end = 0;
    }

    // ---- driving the engine ----

    /// Writes everything the engine queued to the transport, without flushing it.
    async fn send_tx(&mut self) -> Result<(), Error> {
        loop {
            let Some(engine) = self.engine.as_mut() else {
                return Ok(());
            };
            let pending = engine.pending_tx();
            if pending.is_empty() {
                break;
            }
            let n = self
                .io
                .write(pending)
                .await
                .map_err(|e| Error::Io(e.kind()))?;
            if n == 0 {
                return Err(Error::TransportClosed);
            }
            engine.tx_sent(n);
            self.stats.bytes_sent += n;
            self.unflushed = true;
        }
        Ok(())
    }

    /// Flushes the transport if anything was written since its last flush.
    async fn flush_io(&mut self) -> Result<(), Error> {
        if self.unflushed {
            self.io.flush().await.map_err(|e| Error::Io(e.kind()))?;
            self.unflushed = false;
        }
        Ok(())
    }

    /// Waits for bytes from the server. What was written must have left first, or a transport
    /// that buffers until `flush` would wait forever for an answer to it.
    async fn fill(&mut self) -> Result<usize, Error> {
        self.flush_io().await?;
        let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
        let space = engine.rx_space();
        if space.is_empty() {
            return Err(Error::Tls(encore_tls::Error::BufferTooSmall));
        }
        let n = self.io.read(space).await.map_err(|e| Error::Io(e.kind()))?;
        engine.rx_filled(n);
        self.stats.bytes_received += n;
        Ok(n)
    }

    /// Runs every buffered event; application data goes to `out` then to the carry buffer.
    /// Returns the number of bytes written to `out`.
    fn pump(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let mut written = 0;
        loop {
            let Some(engine) = self.engine.as_mut() else {
                return Ok(written);
            };
            match engine.process()? {
                None => break,
                Some(Event::HandshakeComplete(s)) => {
                    self.stats.handshake_sent = self.stats.bytes_sent + engine.pending_tx().len();
                    self.stats.handshake_received =
                        self.stats.bytes_received - engine.rx_unprocessed();
                    self.on_complete(s);
                    // Whatever follows the handshake (tickets, data a server sends right after
                    // its Finished) waits for the first `read`.
                    break;
                }
                Some(Event::NewTicket(t)) => {
                    self.stats.tickets_received += 1;
                    let keep = if self.keep_for_saving {
                        Some(&mut self.to_save)
                    } else {
                        None
                    };
                    on_ticket(
                        self.ctx,
                        &self.peer,
                        self.auth_ms,
                        &mut self.current,
                        &mut self.stats,
                        keep,
                        &t,
                    );
                }
                Some(Event::ApplicationData(d)) => {
                    let room = out.get_mut(written..).unwrap_or(&mut []);
                    let n = room.len().min(d.len());
                    if let (Some(dst), Some(src)) = (room.get_mut(..n), d.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    written += n;
                    let rest = d.get(n..).unwrap_or(&[]);
                    if !rest.is_empty() {
                        let free = self.carry.len().saturating_sub(self.carry_end);
                        if rest.len() > free {
                            return Err(Error::ReadBufferTooSmall { needed: rest.len() });
                        }
                        if let Some(dst) = self
                            .carry
                            .get_mut(self.carry_end..self.carry_end + rest.len())
                        {
                            dst.copy_from_slice(rest);
                        }
                        self.carry_end += rest.len();
                        // Hand the carried bytes out before reading more records.
                        break;
                    }
                    // One record per call: a buffer that holds the largest record's plaintext
                    // never needs the carry buffer, whatever the records' sizes.
                    if written > 0 {
                        break;
                    }
                }
                Some(Event::Closed) => {
                    self.close_received = true;
                }
            }
        }
        if let Some(engine) = self.engine.as_ref() {
            if engine.close_notify_sent() {
                self.close_sent = true;
            }
            self.stats.tickets_skipped = engine.tickets_skipped() as usize;
        }
        Ok(written)
    }

    fn take_carry(&mut self, buf: &mut [u8]) -> usize {
        let avail = self
            .carry
            .get(self.carry_start..self.carry_end)
            .unwrap_or(&[]);
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.carry_start += n;
        if self.carry_start == self.carry_end {
            self.carry_start = 0;
            self.carry_end = 0;
        }
        n
    }

    fn on_complete(&mut self, s: HandshakeSummary) {
        let now = self.ctx.now_ms();
        self.completed = true;
        self.summary = Some(s);
        self.reused = s.resumed;
        self.phase = Phase::Connected;
        if s.resumed {
            // C29: tickets of a resumption keep the offered record's authentication time.
            self.auth_ms = self
                .current
                .get()
                .and_then(|cur| cur.info().ok())
                .map(|i| i.received_ms.saturating_sub(i64::from(i.auth_age_s) * 1000))
                .unwrap_or_else(|| clamp_ms(now));
        } else {
            self.auth_ms = clamp_ms(now);
            // C5, C6: after a full handshake (an offer declined, or none made) the connection
            // has no session until the first ticket.
            drop(self.current.take());
        }
    }

    fn check_rng(&mut self) -> Result<(), Error> {
        if self.ctx.rng.failures() != self.rng_failures {
            return Err(Error::Rng);
        }
        Ok(())
    }

    /// Ends a failed operation: sends a pending fatal alert, applies C15, fails the connection.
    /// Returns the error to report: [`Error::Rng`] whenever the generator failed during the
    /// handshake (the only time the engine draws from it), whatever else went wrong, and
    /// then nothing queued leaves (R10).
    async fn fail(&mut self, e: Error) -> Error {
        let rng_failed = self.phase == Phase::Handshaking && self.check_rng().is_err();
        let e = if rng_failed { Error::Rng } else { e };
        if e != Error::Rng {
            // A fatal alert, if one is due, must leave before the connection is abandoned.
            if self.send_tx().await.is_ok() {
                let _ = self.flush_io().await;
            }
        } else if let Some(engine) = self.engine.as_mut() {
            // Nothing generated with a failed RNG may leave.
            let n = engine.pending_tx().len();
            engine.tx_sent(n);
        }
        if e.is_fatal_alert() && !self.spoiled {
            // C15: a fatal alert, sent or received, invalidates the connection's session.
            if let Some(s) = self.current.get() {
                self.ctx.cache().remove(s);
            }
            self.spoiled = true;
        }
        self.phase = Phase::Failed;
        e
    }
}

impl<'c, 'a, S, C, G, const N: usize, const P: usize, const T: usize>
    Connection<'c, 'a, S, C, G, N, P, T>
{
    /// The session set or negotiated (`SSL_get_session`): borrowed, no count changes (C4, C5).
    pub fn session(&self) -> Option<&Session<'a, P, T>> {
        self.current.get()
    }

    /// A new reference to the connection's session (`SSL_get1_session`, C4).
    pub fn get1_session(&self) -> Result<Option<Session<'a, P, T>>, Error> {
        Ok(self.current.get1()?)
    }

    /// True only after a handshake that resumed the offered session (C8): false before any
    /// handshake, after a full one, and after [`Connection::clear`].
    pub fn session_reused(&self) -> bool {
        self.reused
    }

    /// The peer identity sessions of this connection are made for and checked against (C33).
    pub fn peer_id(&self) -> PeerId {
        self.peer
    }

    /// The server name.
    pub fn server_name(&self) -> &'c str {
        self.server_name
    }

    /// The last completed handshake.
    pub fn handshake(&self) -> Option<HandshakeSummary> {
        self.summary
    }

    /// How the last handshake established its keys.
    pub fn kex(&self) -> Option<KeyExchangeMode> {
        self.summary.map(|s| s.kex)
    }

    /// The ALPN protocol the server selected.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.engine.as_ref().and_then(|e| e.alpn_protocol())
    }

    /// Where the connection is in its life.
    pub fn phase(&self) -> Phase {
        if self.phase == Phase::Handshaking {
            // Only observable once a `connect` future was dropped (C12).
            Phase::Failed
        } else {
            self.phase
        }
    }

    /// True when the session is open: handshake completed, close_notify neither sent nor marked
    /// as sent, and the session not invalidated already (C10, C13).
    pub fn session_open(&self) -> bool {
        self.completed && !self.close_sent && !self.spoiled
    }

    /// True once close_notify was sent, answered or marked as sent.
    pub fn close_notify_sent(&self) -> bool {
        self.close_sent
    }

    /// True once the server's close_notify arrived.
    pub fn close_notify_received(&self) -> bool {
        self.close_received
    }

    /// Byte and ticket counts since the last `connect`.
    pub fn stats(&self) -> ConnectionStats {
        self.stats
    }

    /// The transport, for example to reconnect a socket between [`Connection::clear`] and the
    /// next `connect`.
    pub fn transport_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Replaces the transport and returns the old one.
    pub fn replace_transport(&mut self, io: S) -> S {
        core::mem::replace(&mut self.io, io)
    }

    /// C12: a `connect` future was dropped mid-way. The connection is failed until `clear`;
    /// nothing is invalidated. A ticket it claimed is used already (C28).
    fn settle_aborted(&mut self) {
        if self.phase == Phase::Handshaking {
            self.phase = Phase::Failed;
        }
    }

    /// C10, C13: invalidates the session of an open connection, once.
    fn invalidate_if_open(&mut self) {
        if self.session_open() {
            if self.ctx.bad_session_rule() == BadSessionRule::Invalidate {
                if let Some(s) = self.current.get() {
                    self.ctx.cache().remove(s);
                }
            }
            self.spoiled = true;
        }
    }
}

impl<S, C, G, const N: usize, const P: usize, const T: usize> Drop
    for Connection<'_, '_, S, C, G, N, P, T>
{
    /// C13: dropping a connection whose session is open invalidates that session, even while
    /// the application still holds a reference to it. C12: a dropped `connect` invalidates
    /// nothing; the ticket it claimed stays used (C28).
    ///
    /// E7: the engine is wiped where it lies, and the buffers (received application data,
    /// plaintext before sealing) and the carry buffer are zeroed: after a drop nothing of the
    /// connection is left in the caller's memory.
    fn drop(&mut self) {
        self.settle_aborted();
        self.invalidate_if_open();
        match self.engine.as_mut() {
            // Zeroes both buffers too.
            Some(engine) => {
                engine.release();
            }
            None => {
                if let Some((rx, tx)) = self.buffers.as_mut() {
                    rx.zeroize();
                    tx.zeroize();
                }
            }
        }
        self.carry.zeroize();
    }
}

/// The engine's offer for a claimed record: the values read in the claim (C30, C31) with the
/// ticket and PSK copied out of the record. `None` when the engine cannot carry the ticket: a
/// full handshake instead (C7).
pub(crate) fn resumption_offer<'o>(
    claim: &Offer,
    ticket: &'o [u8],
    psk: &'o [u8],
) -> Option<ResumptionOffer<'o>> {
    if ticket.len() > encore_tls::client::MAX_OFFER_TICKET_LEN {
        return None;
    }
    Some(ResumptionOffer {
        ticket,
        psk,
        suite: CipherSuite::from_u16(claim.cipher_suite)?,
        age_add: claim.age_add,
        ticket_age_ms: claim.ticket_age_ms,
    })
}

fn clamp_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// A NewSessionTicket became a record: into the cache (unless "no internal store") and to the
/// new-session callback by the cache, and the connection's session from now on (C5, C27, C37).
fn on_ticket<'a, C, G, const N: usize, const P: usize, const T: usize>(
    ctx: &Context<'a, C, G, N, P, T>,
    peer: &PeerId,
    auth_ms: i64,
    current: &mut CurrentSession<'a, P, T>,
    stats: &mut ConnectionStats,
    keep: Option<&mut [Option<Session<'a, P, T>>; SAVE_QUEUE_LEN]>,
    t: &NewTicket<'_>,
) where
    C: MonotonicClock + WallClock,
    G: TryCryptoRng,
{
    let now = ctx.now_ms();
    let auth_age_ms = u64::try_from(clamp_ms(now).saturating_sub(auth_ms)).unwrap_or(0);
    let new = NewSession {
        version: TLS13,
        cipher_suite: t.suite.to_u16(),
        psk: t.psk.as_bytes(),
        ticket: t.ticket,
        lifetime_s: t.lifetime_s,
        age_add: t.age_add,
        max_early_data: t.max_early_data,
        received_ms: now,
        received_unix: ctx.now_unix(),
        auth_age_ms,
        peer: *peer,
        owner: ctx.id(),
    };
    match ctx.cache().new_session(&new, now) {
        Ok(s) => {
            // C23: the record stays the connection's session whatever the cache did with it.
            let _ = current.take();
            let _ = current.set(Some(&s));
            if let Some(queue) = keep {
                // Kept for the saver (C27: every ticket, not only the newest).
                match queue.iter_mut().find(|q| q.is_none()) {
                    Some(free) => *free = Some(s),
                    None => stats.save_failures += 1,
                }
            }
        }
        Err(_) => stats.tickets_dropped += 1,
    }
}
