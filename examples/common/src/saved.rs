//! Sessions that survive a reboot: the session store as the examples drive it.
//!
//! - [`Store`]: the sealed session store on the board's flash ([`Board::Flash`]), under
//!   the device key the board supplies;
//! - [`ClientStore`]: the store as the client drives it (`SessionSaver`):
//!   `Connection::connect_with` consumes the offered ticket on flash before the
//!   ClientHello leaves (C28), `Connection::save_tickets` stores every record the
//!   connection's tickets made; this wrapper marks and measures both steps;
//! - [`load_into_cache`]: at boot, every stored record into its context's cache;
//! - [`Wear`] deltas per step, printed as `wear step=NAME writes=.. bytes=.. erases=..`.

use encore_client::{Session, SessionSaver};
use encore_store::{LoadReport, SessionStore, StoreError, Wear};
use rand_core::TryCryptoRng;
use static_cell::StaticCell;

use crate::connection::{Ctx, POOL_SLOTS, TICKET_CAPACITY};
use crate::{failed, say, setup_failed, Board, FlashError};

/// The examples' session store on board `B`'s flash: 8 slots, a work buffer for 256-byte
/// tickets.
pub type Store<B> = SessionStore<<B as Board>::Flash>;

/// Marker ids around the store's work at boot (`load_all`), before the ClientHello
/// (`consume`) and after the tickets arrived (`store`), for the instruction-count plugin.
pub mod markers {
    pub use encore_markers::{CONSUME, LOAD, STORE};
}

/// Prints what one step cost the flash: `wear step=NAME writes=.. bytes=.. erases=.. reads=..`.
pub fn print_wear<B: Board>(step: &str, before: Wear, after: Wear) {
    let spent = after - before;
    crate::log::wear(step, &spent);
    say!(
        B,
        "wear step={} writes={} bytes={} erases={} reads={}",
        step,
        spent.writes,
        spent.bytes_written,
        spent.erases,
        spent.reads
    );
}

/// The store as `encore-client` drives it, with the firmware's markers and wear
/// figures around each step (the client calls it outside critical sections, E3).
///
/// - `consume` (inside `connect_with`, only when a ticket is offered): markers
///   [`markers::CONSUME`] around the flash work, then the handshake's begin marker
///   again, so the handshake's instruction count starts where the ClientHello is
///   built; its result and wear are kept for the boot's report.
/// - `save` (inside `save_tickets`): counts written, skipped and failed records.
pub struct ClientStore<'s, B: Board> {
    store: &'s mut Store<B>,
    hello_marker: u8,
    /// What `consume` returned, if the connection offered a ticket.
    pub consumed: Option<Result<bool, StoreError<FlashError<B>>>>,
    /// Flash work of that `consume`.
    pub consume_wear: Wear,
    /// Flash work of storing the connection's records (set by [`crate::connection::save_tickets`]).
    pub store_wear: Wear,
    /// Records written by `save`.
    pub written: usize,
    /// Records `save` had nothing to write for (stored already, no longer resumable).
    pub skipped: usize,
    /// Records `save` failed to write.
    pub failed: usize,
}

impl<'s, B: Board> ClientStore<'s, B> {
    /// Wraps `store` for one connection whose handshake begins at `hello_marker`.
    pub fn new(store: &'s mut Store<B>, hello_marker: u8) -> Self {
        ClientStore {
            store,
            hello_marker,
            consumed: None,
            consume_wear: Wear::default(),
            store_wear: Wear::default(),
            written: 0,
            skipped: 0,
            failed: 0,
        }
    }

    /// Flash operations issued so far.
    pub fn wear(&mut self) -> Wear {
        self.store.wear()
    }
}

impl<B: Board> SessionSaver<POOL_SLOTS, TICKET_CAPACITY> for ClientStore<'_, B> {
    type Error = StoreError<FlashError<B>>;

    async fn consume(
        &mut self,
        session: &Session<'_, POOL_SLOTS, TICKET_CAPACITY>,
    ) -> Result<bool, Self::Error> {
        let before = self.store.wear();
        B::marker(markers::CONSUME.0);
        let consumed = SessionStore::consume(self.store, session).await;
        B::marker(markers::CONSUME.1);
        self.consume_wear = self.store.wear() - before;
        self.consumed = Some(consumed);
        B::marker(self.hello_marker);
        consumed
    }

    async fn save<R: TryCryptoRng + ?Sized>(
        &mut self,
        session: &Session<'_, POOL_SLOTS, TICKET_CAPACITY>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut R,
    ) -> Result<bool, Self::Error> {
        let saved = SessionSaver::<POOL_SLOTS, TICKET_CAPACITY>::save(
            &mut *self.store,
            session,
            now_ms,
            now_unix,
            rng,
        )
        .await;
        match saved {
            Ok(true) => self.written += 1,
            Ok(false) => self.skipped += 1,
            Err(e) => {
                crate::log::store_failed(&e);
                say!(B, "store: failed ({:?})", e);
                self.failed += 1;
            }
        }
        saved
    }
}

/// Keeps `store` in `cell` for the rest of the program and lends it out: the steps take it
/// by reference. (Moved by value into a step, a store left copies of itself in the frames
/// under that step's handshake, several KB of stack.) A second call ends the program as a
/// start-up failure of `firmware`.
pub fn keep<B: Board>(
    firmware: &str,
    cell: &'static StaticCell<Store<B>>,
    store: Store<B>,
) -> &'static mut Store<B> {
    match cell.try_init(store) {
        Some(store) => store,
        None => setup_failed::<B>(firmware, "session store opened twice", ()),
    }
}

/// The wall clock of `ctx` (Unix seconds), which ticket ages across a reboot or a sleep
/// need (E6); without one, `firmware`'s check fails and the program ends.
pub fn wall_clock<B: Board>(firmware: &str, ctx: &Ctx<'_, B>) -> u64 {
    match ctx.now_unix() {
        Some(now) => now,
        None => failed::<B>(
            firmware,
            "no wall clock: ticket ages across a reboot or a sleep need it (E6)",
        ),
    }
}

/// At boot: every stored record into the cache of the context that owns it, between
/// the markers [`markers::LOAD`], ticket ages from the wall clock `now_unix` (E6); then
/// `prune`, so that records that can never be offered (expired, unreadable) leave the
/// live set. Prints the `load:` and `prune:` lines and their `wear` lines. Returns the
/// load report and how many records went to `ctx`'s cache; a failed `load_all` ends the
/// program as a start-up failure of `firmware`.
pub async fn load_into_cache<B: Board>(
    firmware: &str,
    store: &mut Store<B>,
    ctx: &Ctx<'_, B>,
    now_unix: u64,
) -> (LoadReport, usize) {
    let before = store.wear();
    B::marker(markers::LOAD.0);
    let mut cached = 0usize;
    let loaded = store
        .load_all(ctx.pool(), ctx.now_ms(), Some(now_unix), |session| {
            let ours = session.info().is_ok_and(|i| i.owner == ctx.id());
            if ours && ctx.cache().add(&session, ctx.now_ms()).is_ok() {
                cached += 1;
            }
        })
        .await;
    B::marker(markers::LOAD.1);
    let report = match loaded {
        Ok(r) => r,
        Err(e) => setup_failed::<B>(firmware, "load_all", e),
    };
    crate::log::load(&report, cached);
    say!(
        B,
        "load: loaded={} cached={} empty={} expired={} rejected={} malformed={} not_loaded={} foreign={} repaired_sectors={}",
        report.loaded,
        cached,
        report.empty,
        report.expired,
        report.rejected,
        report.malformed,
        report.not_loaded,
        report.foreign,
        report.repaired_sectors
    );
    print_wear::<B>("load", before, store.wear());
    let before = store.wear();
    match store.prune(now_unix).await {
        Ok(pruned) => say!(B, "prune: removed={}", pruned),
        Err(e) => {
            crate::log::store_failed(&e);
            say!(B, "prune: failed ({:?})", e)
        }
    }
    print_wear::<B>("prune", before, store.wear());
    (report, cached)
}

impl<B: Board> ClientStore<'_, B> {
    /// Prints what `consume` did before the ClientHello: `consume: stored=.. offered=true`
    /// and its `wear` line, or why nothing was offered from flash.
    pub fn print_consume(&self, server_name: &str) {
        match self.consumed {
            Some(Ok(on_flash)) => {
                say!(B, "consume: stored={} offered=true", on_flash);
                print_wear::<B>("consume", Wear::default(), self.consume_wear);
            }
            // Not durably consumed: the connection did not offer it (C28).
            Some(Err(e)) => {
                crate::log::store_failed(&e);
                say!(B, "consume: failed ({:?}); not offered", e)
            }
            None => say!(B, "consume: nothing stored for {}", server_name),
        }
    }

    /// Prints what storing the connection's tickets did: `store: tickets=.. written=..
    /// skipped=.. failed=.. unsaved=.. live=..` and its `wear` line.
    pub fn print_store(&self, stats: &encore_client::ConnectionStats) {
        crate::log::stats(stats);
        say!(
            B,
            "store: tickets={} written={} skipped={} failed={} unsaved={} live={}",
            stats.tickets_received,
            self.written,
            self.skipped,
            self.failed,
            stats.save_failures,
            self.store.live()
        );
        print_wear::<B>("store", Wear::default(), self.store_wear);
    }
}
