//! Errors and reports of the store. Every failure is a value; nothing that comes from flash or from
//! the application panics (E1, E4).

use encore_session::Error as SessionError;
use sequential_storage::map::MapConfigError;

/// What went wrong in a store operation. `E` is the flash driver's error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StoreError<E> {
    /// The flash driver reported an error (or power failed mid-operation). The operation may have
    /// partly happened; the store stays safe to use (see the crate documentation, "Power loss").
    Flash(E),
    /// The flash range, sector size, word size or capacities do not fit together.
    Geometry(GeometryError),
    /// [`crate::SessionStore::load_all`] has not completed yet: without its index the store cannot
    /// know which slots are free or where a ticket is, so it refuses to write.
    NotLoaded,
    /// The wall clock is unknown (E6): records store wall-clock times and ages across a reboot
    /// come from the wall clock, so the store fails closed.
    WallClockUnknown,
    /// The random number generator failed; nothing was written (no nonce is made without its
    /// output).
    Rng,
    /// The write counter that enters every nonce (E8) reached `u32::MAX`: 4 294 967 295 records
    /// written, far beyond any flash's endurance, or a tombstone written by someone else (whoever
    /// can write the flash can also erase it). Nothing was written; [`crate::SessionStore::consume`]
    /// and [`crate::SessionStore::prune`] still work, and
    /// [`crate::SessionStore::erase_all`] starts afresh.
    CounterExhausted,
    /// The session handle failed (stale handle, re-entered pool) or its record could not be
    /// serialised.
    Session(SessionError),
    /// The store image is damaged beyond the automatic repair of interrupted writes (only flash
    /// faults or foreign writes do this). [`crate::SessionStore::erase_all`] starts afresh.
    Corrupted,
    /// No room left in the flash range. The geometry check makes this unreachable for records made
    /// by this crate; it is reported rather than assumed.
    Full,
}

/// Why a flash range cannot hold the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GeometryError {
    /// The range does not start on a sector boundary.
    StartNotSectorAligned,
    /// The range does not end on a sector boundary.
    EndNotSectorAligned,
    /// Fewer than two sectors: one sector must stay erased to move live records into.
    TooFewSectors,
    /// Sectors too small for the flash data structure's page markers.
    SectorTooSmall,
    /// Write or read words larger than 32 bytes.
    WordTooLarge,
    /// `SLOTS` sealed records of the largest size, plus one being replaced, do not fit in all
    /// sectors but one.
    TooSmallForSlots {
        /// Records of the largest size (`BUF` bytes) that fit.
        fit: usize,
        /// Records that must fit: `SLOTS + 1`.
        needed: usize,
    },
}

impl From<MapConfigError> for GeometryError {
    fn from(e: MapConfigError) -> Self {
        match e {
            MapConfigError::StartRangeNotAtPageBoundary => GeometryError::StartNotSectorAligned,
            MapConfigError::EndRangeNotAtPageBoundary => GeometryError::EndNotSectorAligned,
            MapConfigError::RangeTooSmall => GeometryError::TooFewSectors,
            MapConfigError::PagesTooSmall => GeometryError::SectorTooSmall,
            MapConfigError::WordSizeTooLarge => GeometryError::WordTooLarge,
        }
    }
}

impl<E> From<SessionError> for StoreError<E> {
    fn from(e: SessionError) -> Self {
        StoreError::Session(e)
    }
}

impl<E> StoreError<E> {
    pub(crate) fn from_map(e: sequential_storage::Error<E>) -> Self {
        match e {
            sequential_storage::Error::Storage { value, .. } => StoreError::Flash(value),
            sequential_storage::Error::FullStorage | sequential_storage::Error::ItemTooBig => {
                StoreError::Full
            }
            _ => StoreError::Corrupted,
        }
    }
}

/// What [`crate::SessionStore::load_all`] found, record by record. Each slot's newest value is
/// counted in exactly one field; `foreign` and `repaired_sectors` count beside them, and
/// `clock_behind_store` reports the clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LoadReport {
    /// Records decoded into the pool and handed to the caller.
    pub loaded: usize,
    /// Slots whose newest value is a tombstone: consumed (C28), pruned, or never filled since.
    pub empty: usize,
    /// Records past their lifetime, the configured timeout, 7 days, or the original-authentication
    /// limit (C29, measured on the wall clock, E6), or flagged used / not resumable. Not loaded;
    /// [`crate::SessionStore::prune`] removes them from flash.
    pub expired: usize,
    /// Records that failed authentication: tampered bytes, another device key, or a clear field
    /// (write counter) or slot that differs from what was sealed. Dropped, never a panic.
    pub rejected: usize,
    /// Values too short, in an unknown sealing format, or that authenticate but do not decode.
    pub malformed: usize,
    /// Records sealed in format 1 (the earlier builds: the device key itself as the
    /// cipher key, owner and peer identity in clear). Not opened and not loaded (a full handshake
    /// replaces them); [`crate::SessionStore::prune`] tombstones them, and new records reuse
    /// their slots first.
    pub old_format: usize,
    /// Valid records left on flash but not loaded: pool exhausted, ticket larger than the pool's
    /// slots, or a wall clock earlier than the newest stored receipt
    /// ([`LoadReport::clock_behind_store`]).
    pub not_loaded: usize,
    /// "ClockBehindStore" (C29, E6): `Some(newest receipt)` when the wall clock given to
    /// [`crate::SessionStore::load_all`] reads earlier than the newest wall-clock receipt time
    /// (Unix s) of any authentic record on flash. The clock was set back (or the records were
    /// saved while it ran ahead), so no record's age can be trusted: none is loaded (they count
    /// in `not_loaded` or `expired`), all stay on flash, and a later load with a clock past that
    /// receipt loads them. The store itself works as usual (store, consume, prune).
    pub clock_behind_store: Option<u64>,
    /// Map keys outside `0..SLOTS` (left by a build with more slots); ignored.
    pub foreign: usize,
    /// Sectors that were not erased although no data had been written to them (an interrupted
    /// erase or page-marker write), erased again before use.
    pub repaired_sectors: usize,
}

/// Outcome of [`crate::SessionStore::store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Stored {
    /// Sealed and written to `slot`. `evicted` is true when the slot held a live record (every slot
    /// was live; the one received first was replaced).
    Written {
        /// Slot (map key) written.
        slot: u8,
        /// A live record was replaced.
        evicted: bool,
    },
    /// A record with the same owner and ticket bytes is already stored (as C16); nothing written.
    AlreadyStored {
        /// Slot holding it.
        slot: u8,
    },
    /// Not written: the record is used, not resumable or already expired, so it could never be
    /// offered after a reboot.
    NotResumable,
}
