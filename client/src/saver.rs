//! Sessions that outlive RAM: the points where a connection drives a durable session store.
//!
//! Cache callbacks are synchronous and run inside critical sections, while a store waits for
//! flash. So the connection itself drives the store from its own task, outside critical
//! sections (E3), at two points:
//!
//! - before a ClientHello that carries a ticket leaves: [`SessionSaver::consume`], durably
//!   and first (C28 survives power loss); if it fails, the ticket is not offered;
//! - after tickets arrive: [`SessionSaver::save`] for each record made from them (C27).
//!
//! Loading at boot stays with the application, which knows which context owns each record
//! (`encore_store::SessionStore::load_all`, then `Context::cache().add`).

use core::future::Future;

use encore_session::Session;
use rand_core::TryCryptoRng;

/// Records made from one connection's tickets that wait to be saved
/// ([`crate::Connection::save_tickets`]). A server sends one or two tickets per handshake
/// (OpenSSL two after a full handshake, one after a resumption); more are counted in
/// [`crate::ConnectionStats::save_failures`] and not saved.
pub const SAVE_QUEUE_LEN: usize = 4;

/// A durable home for session records, for example `encore_store::SessionStore` on NOR flash
/// (implemented with the `store` feature).
///
/// `P` and `T` are the session pool's slots and ticket capacity. Both methods wait (for flash),
/// and the connection calls them outside critical sections (E3).
pub trait SessionSaver<const P: usize, const T: usize> {
    /// Why an operation failed (a flash error, an unloaded store, a failed generator).
    type Error: core::fmt::Debug;

    /// Removes `session` from durable storage before its ticket is offered (C28): when this
    /// returns `Ok`, no later boot may load the ticket again, whatever power does. `Ok(true)`
    /// when it was stored, `Ok(false)` when it was not (a record that only lived in RAM).
    /// On `Err` the connection does not offer the ticket and makes a full handshake.
    fn consume(
        &mut self,
        session: &Session<'_, P, T>,
    ) -> impl Future<Output = Result<bool, Self::Error>>;

    /// Stores a record made from a NewSessionTicket. `now_ms` and `now_unix` are the context's
    /// monotonic and wall clocks (E6); `rng` is the context's generator, reporting failure
    /// rather than inventing bytes. `Ok(true)` when written, `Ok(false)` when there was
    /// nothing to write (stored already, or the record can no longer be offered).
    fn save<R: TryCryptoRng + ?Sized>(
        &mut self,
        session: &Session<'_, P, T>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut R,
    ) -> impl Future<Output = Result<bool, Self::Error>>;
}

/// No durable storage: what a plain [`crate::Connection::connect`] uses. Consuming finds
/// nothing to remove, so the ticket is offered; saving writes nothing.
pub(crate) struct NoSaver;

impl<const P: usize, const T: usize> SessionSaver<P, T> for NoSaver {
    type Error = core::convert::Infallible;

    async fn consume(&mut self, _session: &Session<'_, P, T>) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn save<R: TryCryptoRng + ?Sized>(
        &mut self,
        _session: &Session<'_, P, T>,
        _now_ms: u64,
        _now_unix: Option<u64>,
        _rng: &mut R,
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

#[cfg(feature = "store")]
impl<F, const SLOTS: usize, const BUF: usize, const P: usize, const T: usize> SessionSaver<P, T>
    for encore_store::SessionStore<F, SLOTS, BUF>
where
    F: embedded_storage_async::nor_flash::NorFlash,
{
    type Error = encore_store::StoreError<F::Error>;

    /// `SessionStore::consume`: one tombstone (three flash writes with 4-byte words, two with
    /// larger words) when the ticket was stored, nothing otherwise.
    async fn consume(&mut self, session: &Session<'_, P, T>) -> Result<bool, Self::Error> {
        encore_store::SessionStore::consume(self, session).await
    }

    /// `SessionStore::store`, sealed under a nonce derived from `rng`'s output, the slot, the
    /// store's write counter and the record (E8): one record (three flash writes) when written.
    async fn save<R: TryCryptoRng + ?Sized>(
        &mut self,
        session: &Session<'_, P, T>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut R,
    ) -> Result<bool, Self::Error> {
        let stored = self.store(session, now_ms, now_unix, rng).await?;
        Ok(matches!(stored, encore_store::Stored::Written { .. }))
    }
}
