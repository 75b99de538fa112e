//! The store: a map from slot number to sealed record, on `sequential-storage`.

use core::cell::Cell;
use core::ops::Range;

use chacha20poly1305::XChaCha20Poly1305;
use embedded_storage_async::nor_flash::{NorFlash, ReadNorFlash};
use encore_session::{
    ticket_offerable, ContextId, Error as SessionError, Limits, Session, SessionPool, SEVEN_DAYS_S,
};
use rand_core::TryCryptoRng;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
use zeroize::Zeroize;

use crate::error::{GeometryError, LoadReport, StoreError, Stored};
use crate::key::NonceKey;
use crate::seal::{self, Kind, OpenError, SealedWrite, Tombstone, FINGERPRINT_LEN, RANDOM_LEN};
use crate::wear::{CountingFlash, Wear};
use crate::{buffer_len, DeviceKey};

type Map<F> = MapStorage<u8, CountingFlash<F>, Cache<Uncached, Uncached, Uncached, u8>>;

/// Largest write or read word `sequential-storage` supports, and the alignment of [`buffer_len`].
pub(crate) const MAX_WORD: usize = 32;
/// Size of an item header in `sequential-storage` 8 (CRC, length, length CRC), before word padding.
const ITEM_HEADER: usize = 8;
/// A page-state marker is set when at least this many bits of its first read word are 0
/// (`sequential-storage` 8 tolerates bit flips this way).
const MARKER_ZERO_BITS: u32 = 4;

/// Header of a present item with no data bytes in `sequential-storage` 8: the data CRC of nothing,
/// length 0, the CRC of that length. The map's item iterator takes the key from past the end of
/// such an item and slices out of range, so it must never see one. The store never writes one
/// (every item starts with its key byte); only damaged or foreign flash holds one.
const EMPTY_ITEM_HEADER: [u8; ITEM_HEADER] = [0x11, 0x11, 0x11, 0x11, 0x00, 0x00, 0x03, 0xE2];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// The slot's newest value is a tombstone, or it was never written.
    Empty,
    /// Holds an unconsumed record, described by the other fields.
    Live,
    /// Holds bytes that are never offered (expired, unreadable, undecodable). Reusable without a
    /// tombstone; [`SessionStore::prune`] writes one.
    Stale,
    /// A write to this slot did not complete: it may hold the record it held before or the one being
    /// written. [`SessionStore::consume`] tombstones such slots before it reports success, so an
    /// unidentified record can never outlive a consumption (C28).
    Unknown,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    state: SlotState,
    owner: ContextId,
    fingerprint: [u8; FINGERPRINT_LEN],
    received_unix: u64,
    auth_unix: u64,
    lifetime_s: u32,
    /// When the record was written, relative to the others (its position in the map at load,
    /// then a counter): breaks ties between records received in the same second.
    order: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        state: SlotState::Empty,
        owner: ContextId(0),
        fingerprint: [0; FINGERPRINT_LEN],
        received_unix: 0,
        auth_unix: 0,
        lifetime_s: 0,
        order: 0,
    };

    fn of(state: SlotState, summary: &seal::Summary<'_>) -> Slot {
        Slot {
            state,
            owner: summary.owner,
            fingerprint: seal::fingerprint(summary.ticket),
            received_unix: summary.received_unix,
            auth_unix: summary.auth_unix,
            lifetime_s: summary.lifetime_s,
            order: 0,
        }
    }

    /// C29 on the wall clock (E6). A clock earlier than the receipt says nothing about the age, so
    /// such a record is kept (and not loaded) rather than pruned.
    fn expired(&self, now_unix: u64, limits: &Limits) -> bool {
        let Some(age_s) = now_unix.checked_sub(self.received_unix) else {
            return false;
        };
        let since_auth_s = now_unix.saturating_sub(self.auth_unix);
        ticket_offerable(
            age_s.saturating_mul(1000),
            since_auth_s.saturating_mul(1000),
            self.lifetime_s,
            limits,
        )
        .is_err()
    }
}

/// The map's work buffer, word-aligned for flash drivers that need it, zeroized on drop.
#[repr(align(32))]
struct WorkBuffer<const B: usize>([u8; B]);

impl<const B: usize> Drop for WorkBuffer<B> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Sealed session records on NOR flash, safe across power loss (see the crate documentation).
///
/// - `F`: the board's flash (`embedded_storage_async::nor_flash::NorFlash`; `MultiwriteNorFlash`
///   is not needed).
/// - `SLOTS`: records kept at most (1 to 255), one map key each.
/// - `BUF`: the work buffer, at least [`buffer_len`]`(T)` for the pools used with it (checked at
///   compile time; 416 for the default `T = 256`).
pub struct SessionStore<F: NorFlash, const SLOTS: usize = 8, const BUF: usize = 416> {
    map: Map<F>,
    /// Seals records; its key is derived from the device key (E8), zeroized on drop.
    cipher: XChaCha20Poly1305,
    /// Derives each record's nonce (E8), zeroized on drop.
    nonce_key: NonceKey,
    limits: Limits,
    slots: [Slot; SLOTS],
    /// Write order of the next record (see `Slot::order`).
    next_order: u32,
    /// The highest write counter used or found on flash (0: none). The next record gets one more;
    /// tombstones carry it, so it survives reboots (see [`crate::seal`]).
    counter: u32,
    loaded: bool,
    buf: WorkBuffer<BUF>,
}

/// Limits the store applies on its own: the widest a context may configure (7 days for both), so a
/// record any context could still offer is never pruned. Contexts apply their own limits when they
/// offer (C29).
const WIDEST_LIMITS: Limits = Limits {
    timeout_s: SEVEN_DAYS_S,
    max_auth_age_s: SEVEN_DAYS_S,
};

impl<F: NorFlash, const SLOTS: usize, const BUF: usize> SessionStore<F, SLOTS, BUF> {
    /// A store over `range` of `flash`, sealing with `key`.
    ///
    /// Checks the geometry: `range` on sector boundaries, at least two sectors, words of at most 32
    /// bytes, and room in all sectors but one for `SLOTS + 1` records of `BUF` bytes (the +1 is
    /// the record being written while the one it replaces is still live). Nothing is read or
    /// written until [`SessionStore::load_all`].
    pub fn new(flash: F, range: Range<u32>, key: &DeviceKey) -> Result<Self, StoreError<F::Error>> {
        const {
            assert!(
                SLOTS >= 1 && SLOTS <= 255,
                "SLOTS must be 1..=255 (u8 map keys)"
            );
            assert!(BUF >= 128, "BUF too small for any record");
        }
        let config = MapConfig::<CountingFlash<F>>::try_new(range.clone())
            .map_err(|e| StoreError::Geometry(e.into()))?;
        Self::check_capacity(&range).map_err(StoreError::Geometry)?;
        // Never fails: HMAC and the cipher take 32-byte keys.
        let (cipher, nonce_key) = key
            .derive()
            .ok_or(StoreError::Geometry(GeometryError::WordTooLarge))?;
        Ok(SessionStore {
            map: MapStorage::new(
                CountingFlash {
                    inner: flash,
                    wear: Wear::default(),
                    hidden: None,
                },
                config,
                Cache::new_uncached(),
            ),
            cipher,
            nonce_key,
            limits: WIDEST_LIMITS,
            slots: [Slot::EMPTY; SLOTS],
            next_order: 0,
            counter: 0,
            loaded: false,
            buf: WorkBuffer([0; BUF]),
        })
    }

    /// Loads and prunes with narrower limits than the default (7 days since receipt, 7 days since
    /// the original authentication; the server's lifetime always applies). Wider limits are capped
    /// at 7 days ([`Limits::clamped`], C29).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits.clamped();
        self
    }

    fn word() -> usize {
        F::WRITE_SIZE.max(F::READ_SIZE).max(1)
    }

    fn check_capacity(range: &Range<u32>) -> Result<(), GeometryError> {
        let word = Self::word();
        if word > MAX_WORD {
            return Err(GeometryError::WordTooLarge);
        }
        let sectors = (range.end.saturating_sub(range.start) as usize)
            .checked_div(F::ERASE_SIZE)
            .unwrap_or(0);
        let item = ITEM_HEADER.next_multiple_of(word) + BUF.next_multiple_of(word);
        let per_sector = F::ERASE_SIZE.saturating_sub(2 * word) / item;
        let fit = sectors.saturating_sub(1).saturating_mul(per_sector);
        let needed = SLOTS + 1;
        if fit < needed {
            return Err(GeometryError::TooSmallForSlots { fit, needed });
        }
        Ok(())
    }

    /// Flash operations issued so far (see [`Wear`]).
    pub fn wear(&mut self) -> Wear {
        self.map.flash().wear
    }

    /// Number of slots holding a live record (loaded or not).
    pub fn live(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Live)
            .count()
    }

    /// Gives the flash back.
    pub fn into_flash(self) -> F {
        let SessionStore { map, .. } = self;
        map.destroy().0.inner
    }

    /// At boot: reads every slot, decodes the live, unexpired records into `pool` and hands each to
    /// `on_session` (which adds it to its context's cache, by [`encore_session::SessionInfo::owner`]).
    ///
    /// - Ages come from the wall clock (E6): `now_unix` is required ([`StoreError::WallClockUnknown`]
    ///   otherwise, nothing read), and records past C29's limits are not loaded.
    /// - A wall clock earlier than the newest receipt of any authentic record on flash is refused
    ///   (C29): no record is loaded (all stay on flash) and
    ///   [`LoadReport::clock_behind_store`] gives that receipt. The store is loaded all the same
    ///   (store, consume and prune work).
    /// - A record that fails to open or decode is dropped and counted in the report, never a panic
    ///   (E4); records of sealing format 1 are counted in [`LoadReport::old_format`] and not
    ///   opened. Consumed records are tombstones and never come back (C28).
    /// - The write counter of the next record is one more than the highest counter on flash,
    ///   taken from records and tombstones (E8).
    /// - Flash is only read, except that a sector left half-erased by a power cut is erased again,
    ///   and so is a sector whose erase was cut after its live items had been copied (both counted
    ///   in [`LoadReport::repaired_sectors`]). A page migration cut before its copy completed is
    ///   redone by the map at its next write.
    ///
    /// [`StoreError::Corrupted`] means the image cannot be read safely (an item the map cannot
    /// iterate, or a state its repair cannot fix); [`SessionStore::erase_all`] starts afresh.
    ///
    /// Until this returns `Ok`, [`SessionStore::store`], [`SessionStore::consume`] and
    /// [`SessionStore::prune`] refuse with [`StoreError::NotLoaded`]. Calling it again rebuilds the
    /// index and loads the records again.
    pub async fn load_all<'p, const N: usize, const T: usize>(
        &mut self,
        pool: &'p SessionPool<N, T>,
        now_ms: u64,
        now_unix: Option<u64>,
        mut on_session: impl FnMut(Session<'p, N, T>),
    ) -> Result<LoadReport, StoreError<F::Error>> {
        const {
            assert!(BUF >= buffer_len(T), "BUF is smaller than buffer_len(T)");
        }
        let now_unix = now_unix.ok_or(StoreError::WallClockUnknown)?;
        self.loaded = false;
        let mut report = LoadReport {
            repaired_sectors: self.erase_unmarked_sectors().await?,
            ..LoadReport::default()
        };
        self.refuse_empty_items().await?;
        report.repaired_sectors += self.finish_interrupted_erase().await?;

        // Pass 1: the position of each slot's newest value, in the map's oldest-to-newest order.
        let mut newest: [Option<u32>; SLOTS] = [None; SLOTS];
        let mut foreign = [0u32; 8];
        let mut count: u32 = 0;
        {
            let mut items = self
                .map
                .fetch_all_items(&mut self.buf.0)
                .await
                .map_err(StoreError::from_map)?;
            while let Some((key, _)) = items
                .next::<&[u8]>(&mut self.buf.0)
                .await
                .map_err(StoreError::from_map)?
            {
                match newest.get_mut(usize::from(key)) {
                    Some(n) => *n = Some(count),
                    None => {
                        if let Some(word) = foreign.get_mut(usize::from(key / 32)) {
                            *word |= 1 << (key % 32);
                        }
                    }
                }
                count = count.checked_add(1).ok_or(StoreError::Corrupted)?;
            }
        }
        report.foreign = foreign.iter().map(|w| w.count_ones() as usize).sum();

        // Pass 2: open, check and decode each slot's newest value. The sessions are handed over
        // only after every value was seen: a clock behind the newest receipt loads none (C29).
        let mut slots = [Slot::EMPTY; SLOTS];
        let mut pending: [Option<Session<'p, N, T>>; SLOTS] = core::array::from_fn(|_| None);
        let mut counter: u32 = 0;
        let mut newest_receipt: Option<u64> = None;
        let mut seen: u32 = 0;
        let mut items = self
            .map
            .fetch_all_items(&mut self.buf.0)
            .await
            .map_err(StoreError::from_map)?;
        loop {
            let base = self.buf.0.as_ptr() as usize;
            let Some((key, value)) = items
                .next::<&[u8]>(&mut self.buf.0)
                .await
                .map_err(StoreError::from_map)?
            else {
                break;
            };
            let position = seen;
            seen = seen.saturating_add(1);
            let (Some(slot), Some(Some(newest_at)), Some(waiting)) = (
                slots.get_mut(usize::from(key)),
                newest.get(usize::from(key)).copied(),
                pending.get_mut(usize::from(key)),
            ) else {
                continue;
            };
            if newest_at != position {
                continue;
            }
            // Where the map put the value inside the work buffer, so it can be decrypted in place.
            let start = (value.as_ptr() as usize).wrapping_sub(base);
            let range = start..start.saturating_add(value.len());
            let Some(value) = self.buf.0.get_mut(range) else {
                report.malformed += 1;
                slot.state = SlotState::Stale;
                continue;
            };
            match seal::kind(value) {
                Kind::Tombstone(written) => {
                    counter = counter.max(written.unwrap_or(0));
                    report.empty += 1;
                    continue;
                }
                Kind::OldFormat => {
                    report.old_format += 1;
                    slot.state = SlotState::Stale;
                    continue;
                }
                Kind::Malformed => {
                    report.malformed += 1;
                    slot.state = SlotState::Stale;
                    continue;
                }
                Kind::Sealed => {}
            }
            let opened = Self::load_one(
                &self.cipher,
                &self.limits,
                key,
                value,
                pool,
                now_ms,
                now_unix,
            );
            value.zeroize();
            if let Some(c) = opened.counter {
                counter = counter.max(c);
            }
            if let Some(r) = opened.received_unix {
                newest_receipt = Some(newest_receipt.map_or(r, |n| n.max(r)));
            }
            match opened.loaded {
                Loaded::Session(meta, session) => {
                    *slot = Slot {
                        order: position,
                        ..meta
                    };
                    *waiting = Some(session);
                }
                Loaded::Held(meta) => {
                    *slot = Slot {
                        order: position,
                        ..meta
                    };
                    report.not_loaded += 1;
                }
                Loaded::Expired => {
                    slot.state = SlotState::Stale;
                    report.expired += 1;
                }
                Loaded::Rejected => {
                    slot.state = SlotState::Stale;
                    report.rejected += 1;
                }
                Loaded::Malformed => {
                    slot.state = SlotState::Stale;
                    report.malformed += 1;
                }
            }
        }
        if seen != count {
            // The image changed between the passes; nothing can be trusted about positions.
            return Err(StoreError::Corrupted);
        }
        // C29, E6: a clock earlier than a receipt already on flash was set back (or the records
        // were saved while it ran ahead); ages measured with it could make old records young.
        report.clock_behind_store = newest_receipt.filter(|newest| now_unix < *newest);
        self.slots = slots;
        self.next_order = count;
        self.counter = counter;
        self.loaded = true;
        // Hand the sessions over in the order they were written, as the map holds them.
        let mut by_position: [usize; SLOTS] = core::array::from_fn(|i| i);
        by_position.sort_unstable_by_key(|i| self.slots.get(*i).map_or(0, |s| s.order));
        for i in by_position {
            let Some(session) = pending.get_mut(i).and_then(Option::take) else {
                continue;
            };
            if report.clock_behind_store.is_some() {
                // Dropped: the pool wipes the record (C9); it stays on flash.
                drop(session);
                report.not_loaded += 1;
            } else {
                report.loaded += 1;
                on_session(session);
            }
        }
        Ok(report)
    }

    /// Opens and checks one sealed value (decrypted in place; the caller zeroizes it).
    fn load_one<'p, const N: usize, const T: usize>(
        cipher: &XChaCha20Poly1305,
        limits: &Limits,
        key: u8,
        value: &mut [u8],
        pool: &'p SessionPool<N, T>,
        now_ms: u64,
        now_unix: u64,
    ) -> Opened<'p, N, T> {
        let mut opened = Opened {
            counter: None,
            received_unix: None,
            loaded: Loaded::Malformed,
        };
        let body = match seal::open(cipher, key, value) {
            Ok((counter, body)) => {
                opened.counter = Some(counter);
                body
            }
            Err(OpenError::Malformed) => return opened,
            Err(OpenError::Unauthentic) => {
                opened.loaded = Loaded::Rejected;
                return opened;
            }
        };
        let Some(plain) = value.get(body) else {
            return opened;
        };
        let Some(summary) = seal::summarize(plain) else {
            return opened;
        };
        opened.received_unix = Some(summary.received_unix);
        let meta = Slot::of(SlotState::Live, &summary);
        opened.loaded = if summary.flags != 0 || meta.expired(now_unix, limits) {
            Loaded::Expired
        } else {
            match pool.decode(plain, now_ms, Some(now_unix)) {
                Ok(session) => Loaded::Session(meta, session),
                Err(SessionError::Decode(_)) => Loaded::Malformed,
                Err(_) => Loaded::Held(meta),
            }
        };
        opened
    }

    /// After a NewSessionTicket: seals `session` and writes it to a free slot (E3: call it outside
    /// critical sections; it waits for flash).
    ///
    /// Used, not-resumable and already-expired records are not written ([`Stored::NotResumable`]),
    /// nor is a ticket already stored ([`Stored::AlreadyStored`]). When every slot is live, the
    /// record received first is replaced (`evicted`). The nonce is derived (E8) from 32 bytes of
    /// `rng`, the slot, the next write counter and the record itself, so it does not repeat even
    /// if the generator does ([`crate::seal`]); without the generator's output nothing is written
    /// ([`StoreError::Rng`]). `now_unix` is needed when the record's wall-clock receipt time is
    /// unknown (E6).
    ///
    /// Costs one item write: three `write` calls when the value's length is not a multiple of the
    /// word size, two when it is (see the README's wear table), plus page upkeep now and then.
    pub async fn store<'p, const N: usize, const T: usize, R: TryCryptoRng + ?Sized>(
        &mut self,
        session: &Session<'p, N, T>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut R,
    ) -> Result<Stored, StoreError<F::Error>> {
        const {
            assert!(BUF >= buffer_len(T), "BUF is smaller than buffer_len(T)");
        }
        if !self.loaded {
            return Err(StoreError::NotLoaded);
        }
        let info = session.info().map_err(StoreError::Session)?;
        if info.used || info.not_resumable {
            return Ok(Stored::NotResumable);
        }
        let result = self.store_inner(session, now_ms, now_unix, rng).await;
        self.buf.0.zeroize();
        result
    }

    async fn store_inner<'p, const N: usize, const T: usize, R: TryCryptoRng + ?Sized>(
        &mut self,
        session: &Session<'p, N, T>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut R,
    ) -> Result<Stored, StoreError<F::Error>> {
        // Serialise once in the clear to learn what the index needs, then forget the plaintext.
        let n = session
            .encode(&mut self.buf.0, now_ms, now_unix)
            .map_err(|e| match e {
                SessionError::WallClockUnknown => StoreError::WallClockUnknown,
                e => StoreError::Session(e),
            })?;
        let meta = match self.buf.0.get(..n).and_then(seal::summarize) {
            Some(summary) => Slot::of(SlotState::Live, &summary),
            None => return Err(StoreError::Corrupted),
        };
        self.buf.0.zeroize();

        if meta.expired(now_unix.unwrap_or(meta.received_unix), &self.limits) {
            return Ok(Stored::NotResumable);
        }
        if let Some(slot) = self.find(meta.owner, &meta.fingerprint).next() {
            return Ok(Stored::AlreadyStored { slot });
        }
        let now = now_unix.unwrap_or(meta.received_unix);
        let (slot, evicted) = self.pick_slot(now).ok_or(StoreError::Full)?;
        let counter = self
            .counter
            .checked_add(1)
            .ok_or(StoreError::CounterExhausted)?;
        let mut random = [0u8; RANDOM_LEN];
        rng.try_fill_bytes(&mut random)
            .map_err(|_| StoreError::Rng)?;
        self.set_state(slot, SlotState::Unknown);
        // Used from now on, whether or not the write completes: a value cut by a power failure
        // may be partly on flash, so its counter is not given to another record in this boot.
        self.counter = counter;
        let value = SealedWrite {
            cipher: &self.cipher,
            nonce_key: &self.nonce_key,
            session,
            slot,
            counter,
            random,
            now_ms,
            now_unix,
            failure: Cell::new(None),
        };
        let written = self.map.store_item(&mut self.buf.0, &slot, &value).await;
        if let Err(e) = written {
            return Err(match value.failure.take() {
                Some(session_error) => StoreError::Session(session_error),
                None => StoreError::from_map(e),
            });
        }
        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
            *s = Slot {
                order: self.next_order,
                ..meta
            };
        }
        self.next_order = self.next_order.saturating_add(1);
        Ok(Stored::Written { slot, evicted })
    }

    /// Chooses where a new record goes: an empty slot, else one holding stale or unknown bytes,
    /// else an expired live record, else the live record received first (written first among
    /// those received in the same second), which is evicted.
    fn pick_slot(&self, now_unix: u64) -> Option<(u8, bool)> {
        let first = |want: &dyn Fn(&Slot) -> bool| {
            self.slots
                .iter()
                .position(want)
                .and_then(|i| u8::try_from(i).ok())
        };
        if let Some(i) = first(&|s| s.state == SlotState::Empty) {
            return Some((i, false));
        }
        if let Some(i) = first(&|s| matches!(s.state, SlotState::Stale | SlotState::Unknown)) {
            return Some((i, false));
        }
        if let Some(i) = first(&|s| s.expired(now_unix, &self.limits)) {
            return Some((i, true));
        }
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| (s.received_unix, s.order))
            .map(|(i, _)| i)?;
        Some((u8::try_from(oldest).ok()?, true))
    }

    fn find<'a>(
        &'a self,
        owner: ContextId,
        fingerprint: &'a [u8; FINGERPRINT_LEN],
    ) -> impl Iterator<Item = u8> + 'a {
        self.slots
            .iter()
            .enumerate()
            .filter(move |(_, s)| {
                s.state == SlotState::Live && s.owner == owner && s.fingerprint == *fingerprint
            })
            .filter_map(|(i, _)| u8::try_from(i).ok())
    }

    fn set_state(&mut self, slot: u8, state: SlotState) {
        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
            s.state = state;
        }
    }

    /// Writes `slot`'s tombstone, which carries the write counter (so that it survives even when
    /// every slot's newest value is a tombstone). While the write is in flight the slot is
    /// `Unknown`, and stays so if it fails.
    async fn tombstone(&mut self, slot: u8) -> Result<(), StoreError<F::Error>> {
        self.set_state(slot, SlotState::Unknown);
        self.map
            .store_item(&mut self.buf.0, &slot, &Tombstone(self.counter))
            .await
            .map_err(StoreError::from_map)?;
        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
            *s = Slot::EMPTY;
        }
        Ok(())
    }

    /// Before a ClientHello that carries `session`'s ticket leaves: durably removes the record from
    /// flash (C28). When this returns `Ok`, no later boot loads the ticket again, whatever power
    /// does; when it returns `Err`, do not offer the ticket (fall back to a full handshake).
    ///
    /// Returns `Ok(true)` if the ticket was stored, `Ok(false)` if it was not (a session that only
    /// ever lived in RAM, or already consumed): nothing to remove, it may be offered. Slots left in
    /// doubt by an earlier failed write are tombstoned as well, since one of them might hold this
    /// ticket.
    ///
    /// Call it also when a stored session is invalidated (C10, C13, C15, C18), so that a reboot does
    /// not bring it back as resumable. Costs one tombstone per slot removed: three `write` calls
    /// with 4-byte words (header, one word of key, format and counter, the rest padded to a
    /// word), two with larger words, plus page upkeep now and then.
    pub async fn consume<const N: usize, const T: usize>(
        &mut self,
        session: &Session<'_, N, T>,
    ) -> Result<bool, StoreError<F::Error>> {
        const {
            assert!(BUF >= buffer_len(T), "BUF is smaller than buffer_len(T)");
        }
        if !self.loaded {
            return Err(StoreError::NotLoaded);
        }
        let owner = session.info().map_err(StoreError::Session)?.owner;
        let len = session
            .copy_ticket(&mut self.buf.0)
            .map_err(StoreError::Session)?;
        let fingerprint = seal::fingerprint(self.buf.0.get(..len).unwrap_or(&[]));
        self.buf.0.zeroize();

        let mut found = false;
        for i in 0..SLOTS {
            let Some(slot) = self.slots.get(i).copied() else {
                continue;
            };
            let ours = slot.state == SlotState::Live
                && slot.owner == owner
                && slot.fingerprint == fingerprint;
            if ours || slot.state == SlotState::Unknown {
                let key = u8::try_from(i).map_err(|_| StoreError::Corrupted)?;
                self.tombstone(key).await?;
                found |= ours;
            }
        }
        Ok(found)
    }

    /// Writes a tombstone over every record that can never be offered again: expired by the wall
    /// clock (C29, E6), unreadable or undecodable at load, or in doubt after a failed write. Returns
    /// how many slots were cleared. Loading already skips such records; pruning also removes their
    /// ciphertext from the live set, so the map drops it at its next page erase.
    pub async fn prune(&mut self, now_unix: u64) -> Result<usize, StoreError<F::Error>> {
        if !self.loaded {
            return Err(StoreError::NotLoaded);
        }
        let mut cleared = 0;
        for i in 0..SLOTS {
            let Some(slot) = self.slots.get(i).copied() else {
                continue;
            };
            let prunable = match slot.state {
                SlotState::Empty => false,
                SlotState::Live => slot.expired(now_unix, &self.limits),
                SlotState::Stale | SlotState::Unknown => true,
            };
            if prunable {
                let key = u8::try_from(i).map_err(|_| StoreError::Corrupted)?;
                self.tombstone(key).await?;
                cleared += 1;
            }
        }
        Ok(cleared)
    }

    /// Erases the whole range and starts with an empty index (for example after
    /// [`StoreError::Corrupted`]).
    ///
    /// Sectors are erased one by one. If power fails part-way, some records and some tombstones may
    /// survive; since the map is a ring, a surviving record could then have lost the tombstone that
    /// consumed it. Call this only when the image is already unreadable (or after
    /// [`StoreError::CounterExhausted`]), and call it again at the next boot if it did not return
    /// `Ok`.
    ///
    /// The write counter starts again from 0, as the next boot would find it on the blank range;
    /// nonces stay distinct through the generator's output and the record, both in their hash.
    pub async fn erase_all(&mut self) -> Result<(), StoreError<F::Error>> {
        self.loaded = false;
        self.map.erase_all().await.map_err(StoreError::from_map)?;
        self.slots = [Slot::EMPTY; SLOTS];
        self.counter = 0;
        self.loaded = true;
        Ok(())
    }

    /// [`StoreError::Corrupted`] if an item with no data bytes appears anywhere in the range
    /// (see [`EMPTY_ITEM_HEADER`]): loading such an image would panic inside the map. Items start
    /// at word-aligned offsets, so every aligned offset is checked; reads overlap by a header so
    /// that none straddles two reads unseen.
    async fn refuse_empty_items(&mut self) -> Result<(), StoreError<F::Error>> {
        let range = self.map.flash_range();
        let word = Self::word();
        let read = F::READ_SIZE.max(1);
        let chunk = BUF - BUF % read;
        let overlap = ITEM_HEADER.next_multiple_of(read).next_multiple_of(word);
        let advance = u32::try_from(chunk.saturating_sub(overlap) / word * word)
            .map_err(|_| StoreError::Corrupted)?;
        if advance == 0 {
            return Err(StoreError::Geometry(GeometryError::WordTooLarge));
        }
        let mut at = range.start;
        while at < range.end {
            let len = chunk.min((range.end - at) as usize);
            let part = self.buf.0.get_mut(..len).ok_or(StoreError::Corrupted)?;
            self.map
                .flash()
                .read(at, part)
                .await
                .map_err(StoreError::Flash)?;
            let found = part
                .windows(ITEM_HEADER)
                .step_by(word)
                .any(|w| w == EMPTY_ITEM_HEADER);
            if found {
                self.buf.0.zeroize();
                return Err(StoreError::Corrupted);
            }
            if len < chunk {
                break;
            }
            at = at.saturating_add(advance);
        }
        self.buf.0.zeroize();
        Ok(())
    }

    /// Whether the word at `address` is a set page marker (at least 4 of its bits are 0, the rule of
    /// `sequential-storage` 8).
    async fn marker_set(&mut self, address: u32) -> Result<bool, StoreError<F::Error>> {
        let read = F::READ_SIZE.max(1);
        let word = self.buf.0.get_mut(..read).ok_or(StoreError::Corrupted)?;
        self.map
            .flash()
            .read(address, word)
            .await
            .map_err(StoreError::Flash)?;
        let zeros: u32 = word.iter().map(|b| b.count_zeros()).sum();
        Ok(zeros >= MARKER_ZERO_BITS)
    }

    /// Finishes the erase of a sector whose live items were all copied before power failed.
    ///
    /// In a healthy map the sector after the open one is erased. When it is not, either copying
    /// its live items into the open sector was interrupted, or the erase that follows the copy was.
    /// The map cannot tell the two apart: at its next write it erases the open sector and copies
    /// again from the old one. After an interrupted erase the old sector may be damaged while
    /// still looking intact (its markers survive, a few bits do not); copying from it again would
    /// lose the good copies, and a damaged tombstone would let the record it consumed come back.
    ///
    /// So the store asks first: with the old sector read as erased, is every slot's newest value
    /// the same? If so, the copy was complete and the old sector holds nothing the map needs: it
    /// erases it, as the interrupted erase would have. If not, the copy was interrupted and the old
    /// sector is intact (its erase never started): the map's own repair is right. Returns the
    /// number of sectors erased (0 or 1).
    async fn finish_interrupted_erase(&mut self) -> Result<usize, StoreError<F::Error>> {
        let range = self.map.flash_range();
        let sector = u32::try_from(F::ERASE_SIZE).map_err(|_| StoreError::Corrupted)?;
        let read = u32::try_from(F::READ_SIZE.max(1)).map_err(|_| StoreError::Corrupted)?;
        let sectors = range.end.saturating_sub(range.start) / sector.max(1);
        let mut open_sector = None;
        for i in 0..sectors {
            let start = range.start + i * sector;
            if self.marker_set(start).await? && !self.marker_set(start + sector - read).await? {
                open_sector = Some(i);
                break;
            }
        }
        let Some(open_sector) = open_sector else {
            return Ok(0);
        };
        let old = range.start + (open_sector + 1) % sectors * sector;
        if !self.marker_set(old).await? {
            return Ok(0);
        }
        let with_old = self.newest_digests().await;
        self.map.flash().hidden = Some(old..old + sector);
        let without_old = self.newest_digests().await;
        self.map.flash().hidden = None;
        if with_old? != without_old? {
            return Ok(0);
        }
        self.map
            .flash()
            .erase(old, old + sector)
            .await
            .map_err(StoreError::Flash)?;
        Ok(1)
    }

    /// For each slot, a digest of its newest value (`None`: never written).
    async fn newest_digests(
        &mut self,
    ) -> Result<[Option<[u8; FINGERPRINT_LEN]>; SLOTS], StoreError<F::Error>> {
        let mut newest = [None; SLOTS];
        let mut items = self
            .map
            .fetch_all_items(&mut self.buf.0)
            .await
            .map_err(StoreError::from_map)?;
        while let Some((key, value)) = items
            .next::<&[u8]>(&mut self.buf.0)
            .await
            .map_err(StoreError::from_map)?
        {
            if let Some(n) = newest.get_mut(usize::from(key)) {
                *n = Some(seal::fingerprint(value));
            }
        }
        Ok(newest)
    }

    /// Erases again every sector whose start marker is not set but which is not blank.
    ///
    /// `sequential-storage` sets a sector's start marker before it writes anything else into it, and
    /// treats a sector without one as erased and ready to write. A power cut during an erase, or
    /// while the marker itself was being written, can leave such a sector with stray programmed
    /// bits; writing into it would fail or produce garbage. Erasing it loses nothing: no data was
    /// ever committed to a sector without a start marker.
    async fn erase_unmarked_sectors(&mut self) -> Result<usize, StoreError<F::Error>> {
        let range = self.map.flash_range();
        let sector = F::ERASE_SIZE;
        let read = F::READ_SIZE.max(1);
        let chunk = BUF - BUF % read;
        if chunk == 0 || sector % read != 0 {
            return Err(StoreError::Geometry(GeometryError::WordTooLarge));
        }
        let mut repaired = 0;
        let mut start = range.start;
        while start < range.end {
            let end = start.saturating_add(u32::try_from(sector).unwrap_or(u32::MAX));
            let flash = self.map.flash();
            let marker = self.buf.0.get_mut(..read).ok_or(StoreError::Corrupted)?;
            flash.read(start, marker).await.map_err(StoreError::Flash)?;
            let zeros: u32 = marker.iter().map(|b| b.count_zeros()).sum();
            if zeros < MARKER_ZERO_BITS {
                let mut blank = true;
                let mut at = start;
                while at < end && blank {
                    let len = chunk.min((end - at) as usize);
                    let part = self.buf.0.get_mut(..len).ok_or(StoreError::Corrupted)?;
                    flash.read(at, part).await.map_err(StoreError::Flash)?;
                    blank = part.iter().all(|b| *b == 0xFF);
                    at = at.saturating_add(len as u32);
                }
                if !blank {
                    flash.erase(start, end).await.map_err(StoreError::Flash)?;
                    repaired += 1;
                }
            }
            start = end;
        }
        self.buf.0.zeroize();
        Ok(repaired)
    }
}

/// What opening one sealed value gave: its write counter and receipt time once authenticated,
/// and the outcome.
struct Opened<'p, const N: usize, const T: usize> {
    counter: Option<u32>,
    received_unix: Option<u64>,
    loaded: Loaded<'p, N, T>,
}

enum Loaded<'p, const N: usize, const T: usize> {
    Session(Slot, Session<'p, N, T>),
    Held(Slot),
    Expired,
    Rejected,
    Malformed,
}
