//! Sealed TLS 1.3 session records on NOR flash that survive reboots and power loss.
//!
//! A device that sleeps or reboots between connections loses every session kept in RAM and pays for
//! a full handshake at each wake-up. [`SessionStore`] keeps the serialised records of
//! `encore-session` on the board's flash, sealed under a device key, so that the first connection
//! after boot can resume (with psk_ke, without any public-key operation).
//!
//! Rule numbers cited in these docs (C1–C37, E1–E8) refer to the session contract in
//! `docs/CONTRACT.md` at the root of the repository.
//!
//! # Where the client calls it (E3: outside critical sections; the store waits for flash)
//!
//! 1. At boot: [`SessionStore::load_all`] decodes every live, unexpired record into the pool and
//!    hands each session to the caller, who adds it to its context's cache.
//! 2. After a NewSessionTicket: [`SessionStore::store`] seals and writes the new record.
//! 3. Before a ClientHello that carries a stored ticket leaves (after the context claimed it in
//!    RAM): [`SessionStore::consume`] writes the slot's tombstone and returns only once it is on
//!    flash (C28): after any power cut, a consumed ticket is never loaded again. If it fails, the
//!    ticket is not offered.
//! 4. Now and then: [`SessionStore::prune`] removes expired records.
//!
//! Cache callbacks stay synchronous; the client queues the sessions it wants to store or consume
//! and drives the store from its own task.
//!
//! ```
//! # use core::convert::Infallible;
//! # use embedded_storage_async::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
//! # struct RamFlash([u8; 32768]);
//! # impl ErrorType for RamFlash { type Error = core::convert::Infallible; }
//! # impl ReadNorFlash for RamFlash {
//! #     const READ_SIZE: usize = 4;
//! #     async fn read(&mut self, at: u32, out: &mut [u8]) -> Result<(), Infallible> {
//! #         out.copy_from_slice(&self.0[at as usize..at as usize + out.len()]); Ok(())
//! #     }
//! #     fn capacity(&self) -> usize { self.0.len() }
//! # }
//! # impl NorFlash for RamFlash {
//! #     const WRITE_SIZE: usize = 4;
//! #     const ERASE_SIZE: usize = 16384;
//! #     async fn erase(&mut self, from: u32, to: u32) -> Result<(), Infallible> {
//! #         self.0[from as usize..to as usize].fill(0xFF); Ok(())
//! #     }
//! #     async fn write(&mut self, at: u32, data: &[u8]) -> Result<(), Infallible> {
//! #         self.0[at as usize..at as usize + data.len()].copy_from_slice(data); Ok(())
//! #     }
//! # }
//! # struct HardwareRng(u64);
//! # impl rand_core::TryRng for HardwareRng {
//! #     type Error = Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Infallible> { Ok(self.try_next_u64()? as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Infallible> { self.0 += 1; Ok(self.0) }
//! #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Infallible> {
//! #         for b in d { *b = self.try_next_u64()? as u8; } Ok(())
//! #     }
//! # }
//! # impl rand_core::TryCryptoRng for HardwareRng {}
//! # fn device_secret() -> [u8; 32] { [0x5A; 32] }
//! use encore_session::{ContextId, NewSession, PeerId, SessionPool, TLS13};
//! use encore_store::{DeviceKey, SessionStore, Stored};
//!
//! static POOL: SessionPool<8> = SessionPool::new();
//!
//! # embassy_futures::block_on(async {
//! let now_unix = Some(1_800_000_000); // RTC or SNTP (E6)
//! let mut rng = HardwareRng(7);
//! let flash = RamFlash([0xFF; 32768]); // two 16 KiB sectors of the board's flash
//!
//! // At boot: the application's device key (secure element, OTP, key derivation).
//! let key = DeviceKey::new(device_secret());
//! let mut store: SessionStore<_> = SessionStore::new(flash, 0..32768, &key)?;
//! let report = store
//!     .load_all(&POOL, 0, now_unix, |session| {
//!         // cache_of(session.info()?.owner).add(&session)
//!         drop(session);
//!     })
//!     .await?;
//! assert_eq!(report.loaded, 0);
//!
//! // After a NewSessionTicket made a record:
//! let peer = PeerId::new("sensor-hub.example", &[b"mqtt"], &[3; 16]);
//! let ticket = POOL.create(&NewSession {
//!     version: TLS13, cipher_suite: 0x1301, psk: &[1; 32], ticket: &[2; 192],
//!     lifetime_s: 7200, age_add: 9, max_early_data: 0, received_ms: 0,
//!     received_unix: now_unix, auth_age_ms: 0, peer, owner: ContextId(1),
//! })?;
//! assert_eq!(
//!     store.store(&ticket, 0, now_unix, &mut rng).await?,
//!     Stored::Written { slot: 0, evicted: false }
//! );
//!
//! // Before the ClientHello that offers it: durably consumed first (C28).
//! if store.consume(&ticket).await.is_ok() {
//!     // send the ClientHello with the ticket
//! } else {
//!     // do not offer it: full handshake
//! }
//! # Ok::<(), encore_store::StoreError<Infallible>>(())
//! # }).map_err(|_| "store failed")?;
//! # Ok::<(), &'static str>(())
//! ```
//!
//! # Design
//!
//! The store is a `sequential-storage` 8 map from a slot number (`u8`, `0..SLOTS`) to a sealed
//! value. A slot's newest value wins; an empty value is its tombstone. The map writes append-only
//! items protected by CRCs and repairs itself after interrupted writes and page migrations, and it
//! needs nothing but [`NorFlash`](embedded_storage_async::nor_flash::NorFlash): `remove_item` (which
//! would need `MultiwriteNorFlash`, absent on STM32F4) is never used. Marking a ticket used is a
//! new value for its key, so it works on any NOR flash. Slots bound the flash space: the map keeps
//! at most one live value per key and drops older values when it erases a page.
//!
//! Each record is sealed with XChaCha20-Poly1305 (sealing format 2, see [`seal`] for the layout),
//! E8:
//! - under a key derived from the application's [`DeviceKey`] with HKDF-SHA256 and a label, never
//!   the device key itself;
//! - with a nonce derived by HMAC-SHA256 (under a second derived key) from 32 bytes of the
//!   application's generator, the slot, a write counter and the record itself. The counter is one
//!   more than the highest found on flash at boot; records and tombstones both carry it (clear,
//!   authenticated in records), so it survives reboots, consumptions and sector erases, and a
//!   generator that repeats its output does not repeat a nonce;
//! - with the owner context id and the peer identity only inside the encrypted record: nothing on
//!   flash in clear names the server or the context.
//!
//! The associated data binds the slot and the counter, so a record copied to another device (other
//! key) or slot does not open. A value that does not open or decode is dropped and counted in the
//! [`LoadReport`].
//!
//! # Images of sealing format 1
//!
//! Builds before format 2 sealed with the device key itself, a random nonce, and the owner and peer
//! identity in clear (format 1). This build does not open them (that would need the device key as
//! a cipher key again): `load_all` counts each in [`LoadReport::old_format`] and loads none of them,
//! so the first connection after the upgrade makes a full handshake and stores format-2 records.
//! Their slots are reused first, and [`SessionStore::prune`] tombstones them; their bytes leave
//! flash when the map erases their sector. Format-1 tombstones (empty values) still read as
//! tombstones, so a consumed ticket stays consumed.
//!
//! The store keeps a small index in RAM (one entry per slot: state, owner, a ticket fingerprint and
//! the wall-clock times) built by `load_all`. It tells `store` which slot is free and `consume`
//! where a ticket is, with no flash read.
//!
//! # Power loss
//!
//! A write interrupted by a power cut leaves an item whose CRC fails; the map ignores it, so the
//! slot keeps its previous value. Hence:
//! - `store` interrupted: the new record is there or not; no other record changes.
//! - `consume` interrupted: the ticket is still there, but `consume` has not returned, so the
//!   ClientHello was not sent: the ticket was never offered.
//! - `consume` returned: its tombstone is the slot's newest complete value; page migrations copy
//!   the newest value of each key first and erase the old page after, so the consumed record never
//!   becomes the newest value again.
//! - a page migration or erase interrupted: the map finishes it at the next operation; a sector
//!   left half-erased is detected by its markers and erased again before use
//!   ([`LoadReport::repaired_sectors`]).
//! - a write that fails for any reason leaves its slot "in doubt" in the index; the next
//!   `consume` tombstones such slots too before it reports success.
//!
//! The tests cut power at every word written and every sector erased of: storing after a full
//! handshake, consuming for a resumption, storing the replacement tickets, and pruning; after each
//! reboot no committed record is lost except the one in flight, nothing corrupt is accepted, and no
//! consumed ticket is loaded again.
//!
//! An erase cut so early that the sector still reads as intact but for a few bits is handled
//! too: at boot, when the sector after the open one is not erased, the store checks whether the
//! map without that sector has the same newest value for every slot; if so the copy into the open
//! sector was complete, and the store finishes the erase rather than let the map copy again from
//! a damaged sector (which could drop a tombstone and revive the record it consumed).
//!
//! Not covered: a bit flip in a tombstone on flash without ECC (not a power cut) makes the
//! record it consumed the slot's newest value again. The ticket would then be offered a second
//! time: a server with single-use tickets answers with a full handshake; one with reusable
//! tickets lets an observer link the two connections (RFC 8446 Appendix C.4). The tests measure
//! it.
//!
//! Sealing gives confidentiality and integrity, not freshness: someone able to write the flash can
//! put back an old sealed record, or roll back the write counter by erasing (the nonce then still
//! differs unless the generator also repeats, and even then it seals only the same record again).
//! Consumed and pruned records stay on flash, sealed, until the map erases their sector.
//!
//! # Ages across reboots (E6)
//!
//! The serialised record carries wall-clock times of receipt and of the original authentication.
//! `load_all` requires the wall clock and does not load records past the server's lifetime, 7 days,
//! or 7 days since authentication (C29; narrower with [`SessionStore::with_limits`], never wider).
//!
//! A wall clock earlier than the newest receipt of any authentic record on flash is refused
//! (C29): it was set back, or the records were saved while it ran ahead, and ages measured with it
//! could make old records young. `load_all` then loads no record at all, reports
//! [`LoadReport::clock_behind_store`] (the newest receipt) and keeps every record on flash; a
//! later `load_all` with a clock past that receipt loads them. The store goes on working in the
//! meantime (new tickets are stored, consumed tickets tombstoned).
//!
//! # Memory (E5)
//!
//! Beside the flash driver, 896 bytes with the defaults (`SLOTS = 8`, `BUF = 416`): the work
//! buffer (416), the index (40 per slot: state, owner, ticket fingerprint, wall-clock times,
//! lifetime), the two derived keys (cipher 32, nonce 32), wear counters (40), limits and flash
//! range (16), the range a boot check reads as erased (12), the write counter and write order (8),
//! padded to the buffer's 32-byte alignment (with the driver inside: 928 for a reference to it).
//! Checked by the `e5_store_size` test.
//!
//! # Testing with a simulated flash
//!
//! The `sim` feature (for tests only) adds the module `sim`: a NOR flash in RAM that loses power
//! at any word programmed or sector erased, deterministic generators and test records. This
//! crate's tests, its fuzz target and the client's store tests run on it.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod key;
pub mod seal;
#[cfg(feature = "sim")]
pub mod sim;
mod store;
mod wear;

pub use error::{GeometryError, LoadReport, StoreError, Stored};
pub use key::DeviceKey;
pub use seal::{OLD_SEAL_FORMAT, SEAL_FORMAT, SEAL_OVERHEAD, TOMBSTONE_LEN};
pub use store::SessionStore;
pub use wear::Wear;

use encore_session::codec::max_encoded_len;

/// Bytes of the map key in each item.
const KEY_LEN: usize = 1;

/// Work buffer the store needs for ticket capacity `T`: the key and the largest sealed value,
/// rounded up to 32 bytes (the largest flash word). 416 for `T = 256`.
pub const fn buffer_len(ticket_capacity: usize) -> usize {
    padded(
        KEY_LEN + SEAL_OVERHEAD + max_encoded_len(ticket_capacity),
        store::MAX_WORD,
    )
}

/// Flash bytes one stored record takes for a serialised record of `encoded_len` bytes on flash
/// with `word`-byte words: the map's 8-byte item header and the item data (key, sealed value),
/// each padded to a word. Ticket of 192 bytes with a SHA-256 PSK, 4-byte words: 344.
pub const fn record_flash_len(encoded_len: usize, word: usize) -> usize {
    padded(8, word).saturating_add(padded(
        KEY_LEN
            .saturating_add(SEAL_OVERHEAD)
            .saturating_add(encoded_len),
        word,
    ))
}

/// Flash bytes of one tombstone (key, format, write counter) on flash with `word`-byte words: 16
/// with 4- or 8-byte words.
pub const fn tombstone_flash_len(word: usize) -> usize {
    padded(8, word).saturating_add(padded(KEY_LEN + TOMBSTONE_LEN, word))
}

/// `n` rounded up to a multiple of `word` (a word of 0 counts as 1; saturates instead of
/// overflowing).
const fn padded(n: usize, word: usize) -> usize {
    let word = if word == 0 { 1 } else { word };
    match n.checked_next_multiple_of(word) {
        Some(v) => v,
        None => usize::MAX,
    }
}
