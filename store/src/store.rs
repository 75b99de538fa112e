//! The store: a map from slot number to sealed record, on `sequential-storage`.

mod load;
mod repair;
mod write;

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

    /// The flash beneath the store, to read what its driver counted or reports; the store
    /// keeps it.
    pub fn flash(&mut self) -> &F {
        &self.map.flash().inner
    }

    /// Gives the flash back.
    pub fn into_flash(self) -> F {
        let SessionStore { map, .. } = self;
        map.destroy().0.inner
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
