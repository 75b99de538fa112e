//! The connection: OpenSSL's `SSL`, over an embedded-io-async transport.

mod data;
mod engine;
mod handshake;
mod tickets;

use embedded_io_async::Error as _;
use encore_session::{Clock, CurrentSession, Offer, PeerId, Session, SessionRecord};
use encore_tls::client::Refused;
use encore_tls::{Event, HandshakeSummary, KeyExchangeMode, NewTicket, PskMode};
use rand_core::TryCryptoRng;
use zeroize::Zeroize;

use crate::context::{BadSessionRule, Context};
use crate::glue::{load_record, new_session};
use crate::io::Stream;
use crate::rng::{FallibleRng, SharedRng};
use crate::saver::{NoSaver, SessionSaver, SAVE_QUEUE_LEN};
use crate::Error;

/// The engine, with room for any ticket the context's pool can hold (`T`): every cached
/// ticket can be offered.
type Engine<'c, G, const T: usize> = encore_tls::Connection<'c, SharedRng<'c, G>, T>;

/// The default limit on a whole handshake, from `connect` to the server's Finished (R2):
/// 30 seconds, far above any healthy handshake (a full one on a 25 MHz Cortex-M4 takes
/// about 1.5 s of computation), far below what a battery can afford to spend on a server
/// that trickles bytes.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u32 = 30_000;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    engine: Option<Engine<'c, G, T>>,
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
    S: Stream,
    C: Clock,
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
    ///
    /// Libraries that read a stream in small pieces need one: an MQTT client that reads a
    /// packet's fixed header a byte at a time would otherwise fail with
    /// [`Error::ReadBufferTooSmall`] on the first record longer than its read. The carry
    /// buffer holds the rest of the record (up to the record's plaintext, 16 KiB unless a
    /// smaller fragment length was negotiated) until the next reads take it.
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

    /// `Ok` on a connection whose handshake completed and that has not failed, once an
    /// abandoned handshake is settled; [`Error::NotConnected`] or [`Error::Failed`] otherwise.
    fn check_connected(&mut self) -> Result<(), Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Connected => Ok(()),
            Phase::Idle | Phase::Handshaking => Err(Error::NotConnected),
            Phase::Failed => Err(Error::Failed),
        }
    }

    /// [`Self::check_connected`], and close_notify not sent yet ([`Error::Closed`]).
    fn check_writable(&mut self) -> Result<(), Error> {
        self.check_connected()?;
        if self.close_sent {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The engine could not start: its buffers come back (so the connection connects again
    /// after `clear`), and the connection is failed with the engine's reason.
    fn refused(&mut self, refused: Refused<'c>) -> Error {
        self.buffers = Some((refused.rx, refused.tx));
        self.phase = Phase::Failed;
        Error::Tls(refused.error)
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

fn clamp_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// A NewSessionTicket became a record: into the cache (unless "no internal store") and to the
/// new-session callback by the cache, and the connection's session from now on (C5, C27, C37).
fn on_ticket<'a, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize>(
    ctx: &Context<'a, C, G, N, P, T>,
    peer: &PeerId,
    auth_ms: i64,
    current: &mut CurrentSession<'a, P, T>,
    stats: &mut ConnectionStats,
    keep: Option<&mut [Option<Session<'a, P, T>>; SAVE_QUEUE_LEN]>,
    t: &NewTicket<'_>,
) {
    let now = ctx.now_ms();
    let auth_age_ms = u64::try_from(clamp_ms(now).saturating_sub(auth_ms)).unwrap_or(0);
    let new = new_session(t, *peer, ctx.id(), now, ctx.now_unix(), auth_age_ms);
    match ctx.cache().new_session(&new, now) {
        Ok(s) => {
            if let Some(queue) = keep {
                // Kept for the saver (C27: every ticket, not only the newest), with a
                // reference of its own; one that cannot be added is a save failure, seen in
                // the stats, never a handle that holds nothing.
                match (queue.iter_mut().find(|q| q.is_none()), s.up_ref()) {
                    (Some(free), Ok(r)) => *free = Some(r),
                    _ => stats.save_failures += 1,
                }
            }
            // C23: the record stays the connection's session whatever the cache did with it.
            // The new record's own reference moves in: nothing to add, nothing that can fail.
            drop(current.replace(s));
        }
        Err(_) => stats.tickets_dropped += 1,
    }
}
