//! One TLS connection of the examples, through `encore-client`: TCP connect, the
//! handshake between two markers, the tickets awaited, a line sent, close_notify.

use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, WithTimeout};
use encore_client::{
    ConnectionStats, Context, HandshakeSummary, KeyExchangeMode, PskMode, Session,
};

use crate::saved::{markers, ClientStore};
use crate::transport::Transport;
use crate::{say, Board};

/// Session pool slots: the context's cache, plus the records connections and the
/// application hold.
pub const POOL_SLOTS: usize = 8;
/// Ticket bytes per slot: OpenSSL's tickets are 192 or 208 bytes (PEERS.md).
pub const TICKET_CAPACITY: usize = 256;
/// Entries of each context's cache.
pub const CACHE_ENTRIES: usize = 4;

/// The examples' context on board `B`.
pub type Ctx<'a, B> =
    Context<'a, <B as Board>::Clock, <B as Board>::Rng, CACHE_ENTRIES, POOL_SLOTS, TICKET_CAPACITY>;
/// A counted reference to a session record of the examples' pool.
pub type Record<'a> = Session<'a, POOL_SLOTS, TICKET_CAPACITY>;
/// The examples' pool.
pub type Pool = encore_client::SessionPool<POOL_SLOTS, TICKET_CAPACITY>;

/// Engine receive buffer: any record (16,709 bytes, `encore-client`) plus room
/// for the server Certificate kept until CertificateVerify.
pub const RX_LEN: usize = 16_709 + 2_048;
/// Engine transmit buffer: a ClientHello with a ticket, a Finished, a line.
pub const TX_LEN: usize = 2_048;
/// Carry buffer of a connection handed to a library that reads in small pieces
/// (`rust-mqtt` reads a packet's header a byte at a time): the rest of a record waits
/// here. Holds any record the MQTT and HTTP examples' servers send after the handshake.
pub const CARRY_LEN: usize = 1_024;
/// Buffers of the TCP socket, each way.
pub const SOCKET_BUF_LEN: usize = 4_096;

/// How long to wait for the server at any step: a safety net against a server that
/// stops answering, never reached when it behaves.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Memory for one connection at a time, reused by every connection.
pub struct Buffers {
    /// Engine receive buffer.
    pub rx: [u8; RX_LEN],
    /// Engine transmit buffer.
    pub tx: [u8; TX_LEN],
    /// TCP receive buffer.
    pub socket_rx: [u8; SOCKET_BUF_LEN],
    /// TCP transmit buffer.
    pub socket_tx: [u8; SOCKET_BUF_LEN],
}

impl Buffers {
    /// Zeroed buffers (a `const fn`, so a static holds them without a copy on the stack).
    pub const fn new() -> Self {
        Buffers {
            rx: [0; RX_LEN],
            tx: [0; TX_LEN],
            socket_rx: [0; SOCKET_BUF_LEN],
            socket_tx: [0; SOCKET_BUF_LEN],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Failure {
    /// The TCP connection could not be made in time.
    Connect,
    /// The client reported an error.
    Client(encore_client::Error),
    /// The server sent no ticket.
    NoTicket,
}

impl From<encore_client::Error> for Failure {
    fn from(e: encore_client::Error) -> Self {
        Failure::Client(e)
    }
}

/// What one connection did.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The completed handshake.
    pub summary: HandshakeSummary,
    /// `session_reused()` after the handshake (C8).
    pub reused: bool,
    /// Byte and ticket counts, handshake wire bytes included.
    pub stats: ConnectionStats,
    /// References to the record offered through `set_session`, right before
    /// `connect` and right after it returned (C6: one fewer when declined).
    pub offered_refs: Option<(u16, u16)>,
    /// The connection's session right after `connect` was the record offered (C5).
    pub kept_offered: bool,
    /// Milliseconds of emulated time `connect` took (the handshake's wall time).
    pub handshake_ms: u64,
    /// Milliseconds of emulated time from the TCP connect to the end of the TCP close.
    pub total_ms: u64,
}

impl Outcome {
    /// The outcome of a connection that began (TCP connect) at `started` and made
    /// `handshake`, with `stats` at its end; no session was set on it by hand.
    pub fn new(handshake: Handshake, stats: ConnectionStats, started: Instant) -> Self {
        Outcome {
            summary: handshake.summary,
            reused: handshake.reused,
            stats,
            offered_refs: None,
            kept_offered: false,
            handshake_ms: handshake.ms,
            total_ms: started.elapsed().as_millis(),
        }
    }

    /// Handshake wire bytes, both directions, as PEERS.md defines them.
    pub fn wire_bytes(&self) -> usize {
        self.stats.handshake_sent + self.stats.handshake_received
    }

    /// The key exchange, as the firmware's output names it.
    pub fn kex_name(&self) -> &'static str {
        match self.summary.kex {
            KeyExchangeMode::Full => "full",
            KeyExchangeMode::PskDhe => "psk_dhe",
            KeyExchangeMode::Psk => "psk",
        }
    }

    /// Prints the connection's line: `conn=N reused=.. kex=.. wire_bytes=..`, then
    /// the two directions, tickets received, whether the server declined an offer,
    /// the suite, and the wall time of the handshake and of the whole connection.
    pub fn print<B: Board>(&self, n: u8) {
        crate::log::outcome(n, self);
        say!(
            B,
            "conn={} reused={} kex={} wire_bytes={} sent={} received={} tickets={} declined={} suite={:?} handshake_ms={} total_ms={}",
            n,
            self.reused,
            self.kex_name(),
            self.wire_bytes(),
            self.stats.handshake_sent,
            self.stats.handshake_received,
            self.stats.tickets_received,
            self.summary.offer_declined,
            self.summary.suite,
            self.handshake_ms,
            self.total_ms
        );
    }
}

/// What one connection of [`run`] does.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'p, 'a> {
    /// The connection's number (1-based): its handshake markers and its `conn=` line.
    pub n: u8,
    /// The server name (SNI, certificate and peer identity).
    pub server_name: &'p str,
    /// The record set with `set_session` before `connect`; `None` lets `connect` take a
    /// ticket from the context's cache by itself.
    pub offer: Option<&'p Record<'a>>,
    /// The key exchange a resumption offers.
    pub psk_mode: PskMode,
    /// What is sent once the tickets arrived.
    pub line: &'p [u8],
    /// Tickets to wait for after the handshake.
    pub want_tickets: usize,
}

/// Runs connection `plan.n` of `ctx`: TCP connect to the forwarded server ([`open`]),
/// `set_session(plan.offer)` when given (otherwise `connect` takes a ticket from the
/// context's cache by itself), the [`handshake`] between its markers, `await_tickets` until
/// the server issued `plan.want_tickets` tickets, `plan.line` sent, close_notify (C11,
/// [`close`]).
///
/// With `store`, the connection drives the session store: `connect_with` consumes the
/// offered ticket on flash before the ClientHello leaves (C28; the handshake's begin marker
/// is set again after it), and the records the tickets made are stored ([`save_tickets`])
/// once they arrived, before the line is sent.
///
/// Returns the outcome and a reference to the connection's session at the end
/// (`get1_session`: the newest ticket's record, C5).
pub async fn run<'a, B: Board>(
    ctx: &Ctx<'a, B>,
    stack: Stack<'static>,
    plan: &Plan<'_, 'a>,
    buffers: &mut Buffers,
    mut store: Option<&mut ClientStore<'_, B>>,
) -> Result<(Outcome, Option<Record<'a>>), Failure> {
    let started = Instant::now();
    let mut slot = None;
    let opened = open::<B>(
        &mut slot,
        ctx,
        stack,
        plan.server_name,
        plan.psk_mode,
        buffers,
        None,
    );
    let conn = crate::out_of_line(opened).await?;
    let offer = plan.offer;
    if offer.is_some() {
        conn.set_session(offer)?;
    }
    let refs_before = offer.and_then(|s| s.ref_count().ok());

    let handshake = handshake(plan.n, conn, store.as_deref_mut()).await?;

    let refs_after = offer.and_then(|s| s.ref_count().ok());
    let kept_offered = match (offer, conn.session()) {
        (Some(o), Some(cur)) => o == cur,
        _ => false,
    };

    // The tickets follow the handshake at once; the timeout is only a safety net
    // (a server that sends fewer than expected).
    match conn
        .await_tickets(plan.want_tickets)
        .with_timeout(TIMEOUT)
        .await
    {
        Ok(Ok(_)) | Err(_) => {}
        Ok(Err(e)) => return Err(e.into()),
    }
    if conn.stats().tickets_received == 0 {
        return Err(Failure::NoTicket);
    }
    if let Some(store) = store {
        save_tickets(conn, store).await;
    }
    let newest = conn.get1_session()?;
    let stats = conn.stats();
    conn.write(plan.line).await?;
    close::<B>(conn).await?;
    drop(slot);

    let outcome = Outcome {
        offered_refs: refs_before.zip(refs_after),
        kept_offered,
        ..Outcome::new(handshake, stats, started)
    };
    Ok((outcome, newest))
}

/// What [`run`] returned for connection `n`, in a firmware whose check ends at the first
/// failed connection: the connection's `conn=` line printed ([`Outcome::print`]), or the
/// failure reported as `firmware`'s ([`crate::connection_failed`]), which ends the program.
///
/// A plain function after the `await`, not an `async` wrapper around [`run`]: a wrapper's
/// frame would sit under every handshake's stack.
pub fn checked<'a, B: Board>(
    firmware: &str,
    n: u8,
    ran: Result<(Outcome, Option<Record<'a>>), Failure>,
) -> (Outcome, Option<Record<'a>>) {
    match ran {
        Ok((outcome, newest)) => {
            outcome.print::<B>(n);
            (outcome, newest)
        }
        Err(e) => crate::connection_failed::<B>(firmware, n, e),
    }
}

/// A connection of the examples' context over the TCP transport, on board `B`.
pub type Conn<'c, 'a, B> = encore_client::Connection<
    'c,
    'a,
    Transport<'c>,
    <B as Board>::Clock,
    <B as Board>::Rng,
    CACHE_ENTRIES,
    POOL_SLOTS,
    TICKET_CAPACITY,
>;

/// TCP connect to the forwarded server, then a connection of `ctx` to `server_name` in
/// `buffers` (with `carry` as its carry buffer when given, see
/// `encore_client::Connection::with_carry_buffer`), offering `psk_mode` when it resumes,
/// placed in `slot`. No byte of TLS is sent yet.
///
/// The connection is made here and lent out, not returned, and [`run`] polls this step out of
/// line ([`crate::out_of_line`]): a connection returned by an `async fn`, or made in the
/// caller's poll, passes through that poll's frame, which stays under every handshake that
/// follows (240 B of the demo's stack peaks).
pub async fn open<'s, 'c, 'a, B: Board>(
    slot: &'s mut Option<Conn<'c, 'a, B>>,
    ctx: &'c Ctx<'a, B>,
    stack: Stack<'static>,
    server_name: &'c str,
    psk_mode: PskMode,
    buffers: &'c mut Buffers,
    carry: Option<&'c mut [u8]>,
) -> Result<&'s mut Conn<'c, 'a, B>, Failure> {
    let Buffers {
        rx,
        tx,
        socket_rx,
        socket_tx,
    } = buffers;
    let mut socket = TcpSocket::new(stack, socket_rx, socket_tx);
    socket.set_timeout(Some(TIMEOUT));
    match socket.connect(B::server()).with_timeout(TIMEOUT).await {
        Ok(Ok(())) => {}
        _ => return Err(Failure::Connect),
    }
    let io = Transport::new(socket, TIMEOUT);
    let conn = encore_client::Connection::new(ctx, server_name, io, rx, tx);
    let conn = slot.insert(match carry {
        Some(carry) => conn.with_carry_buffer(carry),
        None => conn,
    });
    conn.set_psk_mode(psk_mode);
    Ok(conn)
}

/// What a completed handshake reports ([`handshake`]).
#[derive(Debug, Clone, Copy)]
pub struct Handshake {
    /// The engine's summary.
    pub summary: HandshakeSummary,
    /// `session_reused()` right after it (C8).
    pub reused: bool,
    /// Milliseconds of emulated time `connect` took (the handshake's wall time).
    pub ms: u64,
}

/// The handshake of connection `n` between markers `10·n + 1` and `10·n + 2`
/// ([`crate::handshake_markers`]): `connect_with(store)` when given (the offered
/// ticket is consumed on flash first, C28), `connect` otherwise.
pub async fn handshake<B: Board>(
    n: u8,
    conn: &mut Conn<'_, '_, B>,
    store: Option<&mut ClientStore<'_, B>>,
) -> Result<Handshake, Failure> {
    let (begin, end) = crate::handshake_markers(n);
    B::marker(begin);
    let handshake_start = Instant::now();
    let connected = match store {
        Some(store) => conn.connect_with(store).await,
        None => conn.connect().await,
    };
    let ms = handshake_start.elapsed().as_millis();
    B::marker(end);
    Ok(Handshake {
        summary: connected?,
        reused: conn.session_reused(),
        ms,
    })
}

/// Stores the records the connection's tickets made (`save_tickets`), between the
/// markers [`crate::saved::markers::STORE`], and keeps the flash work in `store`.
pub async fn save_tickets<B: Board>(conn: &mut Conn<'_, '_, B>, store: &mut ClientStore<'_, B>) {
    let before = store.wear();
    B::marker(markers::STORE.0);
    conn.save_tickets(store).await;
    B::marker(markers::STORE.1);
    store.store_wear = store.wear() - before;
}

/// close_notify, which keeps the session resumable (C11); then the server's
/// close_notify and the end of its stream, so that both FINs are exchanged.
pub async fn close<B: Board>(conn: &mut Conn<'_, '_, B>) -> Result<(), Failure> {
    let server_closed = conn.shutdown().await?;
    if !server_closed {
        let mut buf = [0u8; 64];
        let _ = conn.read(&mut buf).await;
    }
    conn.transport_mut().close(TIMEOUT).await;
    Ok(())
}
