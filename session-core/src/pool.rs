//! The static pool of records and the reference-counted handles to them (C1–C4, C9, E1–E3).

mod handle;

pub use handle::{CurrentSession, Session};

use core::cell::{Cell, RefCell};
use core::num::NonZeroU32;

use critical_section::{CriticalSection, Mutex};

use crate::record::{FLAGS_NOT_RESUMABLE, FLAGS_USED};
use crate::{
    ContextId, Error, Limits, NewSession, Offer, PeerId, SessionInfo, SessionRecord, Unresumable,
};

/// Most references one record can have. [`Session::up_ref`] and [`SessionPool::acquire`] refuse
/// beyond it with [`Error::TooManyReferences`], which the caller sees: a handle is not `Clone`, so no
/// handle that holds no reference is ever made. The count never saturates, so every slot is freed
/// and wiped when its last reference goes (C9).
pub const MAX_REFS: u16 = u16::MAX;

/// One pool slot: a record, its reference count, and the generation that tells live handles from
/// stale ones (E2). A free slot has `refs == 0`.
///
/// The count (and the record's flags) are [`Cell`]s: adding or dropping a reference needs only the
/// shared access that readers hold too, so it works from inside [`Session::with`] (E2, C9). Only
/// filling and wiping a slot need exclusive access.
pub(crate) struct Slot<const T: usize> {
    pub(crate) record: SessionRecord<T>,
    /// Generation of the current (or last) occupant; 0 before first use. A slot whose generation has
    /// reached `u32::MAX` is retired rather than wrapped, so an old handle can never match again.
    pub(crate) generation: u32,
    pub(crate) refs: Cell<u16>,
    /// Meaningful in slot 0 only: the pool's own state, kept in what would otherwise be the slot's
    /// padding so that the pool stays at its E5 size. Bit 15 ([`WIPE_PENDING`]) is set while some
    /// freed record waits to be wiped (see [`SessionRecord`]'s pending-wipe mark): the outermost read
    /// looks for such records only then, so a read costs the same whatever the pool's size. The low
    /// 15 bits are where [`SessionPool::create`] starts looking for a free slot: the slot freed last,
    /// or the one after the slot taken last. Any value is safe; it only saves a search.
    pool_state: Cell<u16>,
}

/// Bit of [`Slot::pool_state`]: some freed record waits to be wiped.
const WIPE_PENDING: u16 = 1 << 15;

impl<const T: usize> Slot<T> {
    const fn empty() -> Self {
        Slot {
            record: SessionRecord::empty(),
            generation: 0,
            refs: Cell::new(0),
            pool_state: Cell::new(0),
        }
    }

    fn is_live(&self, generation: NonZeroU32) -> bool {
        self.refs.get() > 0 && self.generation == generation.get()
    }

    /// Adds a reference unless the count is at [`MAX_REFS`].
    fn add_ref(&self) -> Result<(), Error> {
        let refs = self.refs.get();
        if refs == MAX_REFS {
            return Err(Error::TooManyReferences);
        }
        self.refs.set(refs + 1);
        Ok(())
    }

    /// Drops a reference; true if it was the last one.
    fn drop_ref(&self) -> bool {
        let refs = self.refs.get().saturating_sub(1);
        self.refs.set(refs);
        refs == 0
    }

    /// Zeroizes the record, which also clears its pending-wipe mark (C9).
    fn wipe(&mut self) {
        self.record.wipe();
    }
}

/// Marks the pool as having a pending wipe (see [`Slot::pool_state`]).
fn mark_wipe_pending<const T: usize>(slots: &[Slot<T>]) {
    if let Some(first) = slots.first() {
        first.pool_state.set(first.pool_state.get() | WIPE_PENDING);
    }
}

/// Where [`SessionPool::create`] starts its search next (see [`Slot::pool_state`]).
fn set_free_hint<const T: usize>(slots: &[Slot<T>], index: usize) {
    if let Some(first) = slots.first() {
        let hint = (index as u16) & !WIPE_PENDING;
        first
            .pool_state
            .set((first.pool_state.get() & WIPE_PENDING) | hint);
    }
}

fn free_hint<const T: usize>(slots: &[Slot<T>]) -> usize {
    slots
        .first()
        .map_or(0, |s| usize::from(s.pool_state.get() & !WIPE_PENDING))
}

/// Wipes the records whose last reference went during a read; scans the slots only when one did.
fn wipe_pending<const T: usize>(slots: &mut [Slot<T>]) {
    let Some(first) = slots.first() else {
        return;
    };
    let state = first.pool_state.get();
    if state & WIPE_PENDING == 0 {
        return;
    }
    first.pool_state.set(state & !WIPE_PENDING);
    for slot in slots.iter_mut().filter(|s| s.record.wipe_pending()) {
        slot.wipe();
    }
}

/// A fixed pool of `N` session records with `T`-byte ticket slots, usable as a `static` (E1, E3).
///
/// All state sits in a `critical_section::Mutex<RefCell<..>>`: every operation is one short critical
/// section with no waiting inside, so the pool may be shared by tasks and interrupt handlers on
/// single-core parts without compare-and-swap atomics (thumbv6m). Only [`SessionPool::create`] and
/// [`SessionPool::decode`] need the slots exclusively, and they run no caller code while they hold
/// them; every other operation, including adding and dropping references, works from inside a
/// [`Session::with`] closure. Records are reached through
/// [`Session`] handles that count references (C1–C4); the last release zeroizes the secret and the
/// ticket and frees the slot (C9).
///
/// ```
/// use encore_session::{ContextId, NewSession, PeerId, SessionPool, TLS13};
///
/// static POOL: SessionPool<4> = SessionPool::new();
///
/// let peer = PeerId::new("example.com", &[b"h2"], &[7; 16]);
/// let s = POOL.create(&NewSession {
///     version: TLS13, cipher_suite: 0x1301, psk: &[1; 32], ticket: &[2; 192],
///     lifetime_s: 7200, age_add: 5, max_early_data: 0, received_ms: 1_000,
///     received_unix: None, auth_age_ms: 0, peer, owner: ContextId(1),
/// })?;
/// let again = s.up_ref()?; // a second reference
/// assert_eq!(s.ref_count()?, 2);
/// drop(again);
/// assert_eq!(POOL.in_use(), 1);
/// drop(s); // last reference: zeroized, slot free
/// assert_eq!(POOL.in_use(), 0);
/// # Ok::<(), encore_session::Error>(())
/// ```
pub struct SessionPool<const N: usize, const T: usize = 256> {
    slots: Mutex<RefCell<[Slot<T>; N]>>,
}

impl<const N: usize, const T: usize> SessionPool<N, T> {
    /// Slot indices are u16, ticket lengths are u16.
    const CAPACITY_OK: () = assert!(N <= u16::MAX as usize && T <= u16::MAX as usize);

    /// An empty pool; `const`, so it can be a `static`.
    #[allow(clippy::let_unit_value)]
    pub const fn new() -> Self {
        let () = Self::CAPACITY_OK;
        SessionPool {
            slots: Mutex::new(RefCell::new([const { Slot::empty() }; N])),
        }
    }

    /// Number of slots.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Ticket capacity of each slot in bytes.
    pub const fn ticket_capacity(&self) -> usize {
        T
    }

    /// Number of slots holding a live record.
    pub fn in_use(&self) -> usize {
        critical_section::with(|cs| match self.slots.borrow(cs).try_borrow() {
            Ok(slots) => slots.iter().filter(|s| s.refs.get() > 0).count(),
            Err(_) => 0,
        })
    }

    /// Makes a new record with one reference, owned by the returned handle (C27).
    ///
    /// Errors: [`Error::TicketTooLarge`] or [`Error::PskTooLong`] before any slot is touched;
    /// [`Error::PoolExhausted`] when every slot is live (E1); [`Error::Busy`] when called from inside
    /// a [`Session::with`] closure on this pool.
    pub fn create(&self, new: &NewSession<'_>) -> Result<Session<'_, N, T>, Error> {
        let received = i64::try_from(new.received_ms).unwrap_or(i64::MAX);
        self.create_with(new, 0, received)
    }

    pub(crate) fn create_with(
        &self,
        new: &NewSession<'_>,
        flags: u8,
        received_ms: i64,
    ) -> Result<Session<'_, N, T>, Error> {
        SessionRecord::<T>::validate(new)?;
        let id = critical_section::with(|cs| {
            let mut slots = self
                .slots
                .borrow(cs)
                .try_borrow_mut()
                .map_err(|_| Error::Busy)?;
            // From the hint onwards, then from the start: the first free slot not retired (E2).
            let start = free_hint(&slots[..]) % N.max(1);
            let usable = |s: &Slot<T>| s.refs.get() == 0 && s.generation < u32::MAX;
            let index = (start..N)
                .chain(0..start)
                .find(|&i| slots.get(i).is_some_and(usable))
                .ok_or(Error::PoolExhausted)?;
            set_free_hint(&slots[..], index + 1);
            let slot = slots.get_mut(index).ok_or(Error::PoolExhausted)?;
            if slot.record.wipe_pending() {
                slot.wipe();
            }
            slot.generation += 1;
            slot.refs.set(1);
            slot.record.fill(new, flags, received_ms);
            let generation = NonZeroU32::new(slot.generation).ok_or(Error::StaleHandle)?;
            Ok::<_, Error>(SessionId::new(index as u16, generation))
        })?;
        Ok(self.handle(id))
    }

    /// Takes over the reference a [`RawSession`] stands for (E2). A raw id whose slot was freed or
    /// reused is [`Error::StaleHandle`], never an alias of the new occupant; such an id owned nothing,
    /// so nothing leaks. No other error: a raw id that cannot be checked right now (only possible from
    /// inside [`SessionPool::create`]) still becomes a handle, which checks its generation on every
    /// use, so the reference is never lost.
    pub fn from_raw(&self, raw: RawSession) -> Result<Session<'_, N, T>, Error> {
        match self.slot_ref(raw.index, raw.generation, |_| ()) {
            Ok(()) | Err(Error::Busy) => Ok(self.handle(raw.id())),
            Err(e) => Err(e),
        }
    }

    /// A new reference to the live record `id` names; [`Error::StaleHandle`], or
    /// [`Error::TooManyReferences`] at [`MAX_REFS`].
    pub fn acquire(&self, id: SessionId) -> Result<Session<'_, N, T>, Error> {
        self.slot_ref(id.index, id.generation, Slot::add_ref)??;
        Ok(self.handle(id))
    }

    /// Reads the live record `id` names inside one critical section. Keep `f` short: interrupts are
    /// masked while it runs (E3).
    ///
    /// `f` may use handles of this pool (up_ref, drop, claim, mark, read); only making a record
    /// ([`SessionPool::create`], [`SessionPool::decode`]) is [`Error::Busy`] inside it. A last
    /// reference dropped inside `f` frees its slot at once and wipes the record as soon as the
    /// outermost read of the pool returns (C9).
    pub fn with_record<R>(
        &self,
        id: SessionId,
        f: impl FnOnce(&SessionRecord<T>) -> R,
    ) -> Result<R, Error> {
        self.with_records(|records| records.get(id).map(f).ok_or(Error::StaleHandle))?
    }

    /// Reads any number of the pool's live records inside one critical section, for work that
    /// looks at several records at once (a cache matching its entries). Keep `f` short and bounded:
    /// interrupts are masked while it runs (E3).
    ///
    /// What `f` may do is as for [`SessionPool::with_record`]: use handles of this pool, but not make
    /// a record ([`Error::Busy`]). [`Error::Busy`] is also the answer when called from inside
    /// [`SessionPool::create`], which runs no caller code, so only a nested pool can see it.
    pub fn with_records<R>(&self, f: impl FnOnce(&Records<'_, T>) -> R) -> Result<R, Error> {
        critical_section::with(|cs| self.with_records_in(cs, f))
    }

    /// [`SessionPool::with_records`] inside a critical section the caller already holds (`cs`), so
    /// that work which reads its own state and the pool's records together (a cache) enters one
    /// critical section, not two nested ones. Same rules for `f` (E3).
    ///
    /// Always inlined, like the closure it wraps: the callers' closures are their whole critical
    /// section, and a call in between costs them more than the wrapper itself.
    #[inline(always)]
    pub fn with_records_in<R>(
        &self,
        cs: CriticalSection<'_>,
        f: impl FnOnce(&Records<'_, T>) -> R,
    ) -> Result<R, Error> {
        let cell = self.slots.borrow(cs);
        let out = {
            let slots = cell.try_borrow().map_err(|_| Error::Busy)?;
            f(&Records {
                slots: &slots[..],
                pool: self.address(),
            })
        };
        // Exclusive access succeeds only in the outermost read: wipe what `f` released.
        if let Ok(mut slots) = cell.try_borrow_mut() {
            wipe_pending(&mut slots[..]);
        }
        Ok(out)
    }

    /// [`SessionPool::acquire`] for a record read in `records`, a read of this pool: the reference
    /// is added inside that read, with no critical section of its own. Given the read of another
    /// pool, it is [`SessionPool::acquire`].
    #[inline]
    pub fn acquire_in(
        &self,
        records: &Records<'_, T>,
        id: SessionId,
    ) -> Result<Session<'_, N, T>, Error> {
        self.handle_in(records, id, Slot::add_ref, || self.acquire(id))
    }

    /// [`SessionPool::from_raw`] checked against `records`, a read of this pool, with no critical
    /// section of its own. Given the read of another pool, it is [`SessionPool::from_raw`].
    #[inline]
    pub fn from_raw_in(
        &self,
        records: &Records<'_, T>,
        raw: RawSession,
    ) -> Result<Session<'_, N, T>, Error> {
        self.handle_in(records, raw.id(), |_| Ok(()), || self.from_raw(raw))
    }

    /// A handle for the live record `id` names in `records`, once `take` succeeded on its slot
    /// (adding the handle's reference, or finding the one it takes over). When `records` reads
    /// another pool, `elsewhere` makes the handle instead, in a critical section of its own.
    #[inline]
    fn handle_in<'p>(
        &'p self,
        records: &Records<'_, T>,
        id: SessionId,
        take: impl FnOnce(&Slot<T>) -> Result<(), Error>,
        elsewhere: impl FnOnce() -> Result<Session<'p, N, T>, Error>,
    ) -> Result<Session<'p, N, T>, Error> {
        if records.pool != self.address() {
            return elsewhere();
        }
        take(records.live_slot(id).ok_or(Error::StaleHandle)?)?;
        Ok(self.handle(id))
    }

    /// The handle of a reference to `id`'s record that the caller already counted.
    fn handle(&self, id: SessionId) -> Session<'_, N, T> {
        Session {
            pool: self,
            index: id.index,
            generation: id.generation,
        }
    }

    /// What tells this pool's reads from another pool's ([`Records`]).
    fn address(&self) -> *const () {
        (self as *const Self).cast()
    }

    /// C7 and C28 for the live record `id` names, in one critical section: if it may be offered now
    /// with `offered_suites`, marks it used and returns what the ClientHello needs (see
    /// [`Session::claim`]). A stale id names no record: [`Unresumable::NotResumable`].
    pub fn claim(
        &self,
        id: SessionId,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
    ) -> Result<Offer, Unresumable> {
        self.with_records(|records| records.claim(id, now_ms, limits, offered_suites))
            .unwrap_or(Err(Unresumable::NotResumable))
    }

    /// Runs `f` on the live slot `(index, generation)` inside one critical section, with the shared
    /// access that reference counts and flags need. Runs no caller code.
    fn slot_ref<R>(
        &self,
        index: u16,
        generation: NonZeroU32,
        f: impl FnOnce(&Slot<T>) -> R,
    ) -> Result<R, Error> {
        critical_section::with(|cs| {
            let slots = self
                .slots
                .borrow(cs)
                .try_borrow()
                .map_err(|_| Error::Busy)?;
            let slot = slots.get(usize::from(index)).ok_or(Error::StaleHandle)?;
            if !slot.is_live(generation) {
                return Err(Error::StaleHandle);
            }
            Ok(f(slot))
        })
    }

    /// Drops one reference; the last one frees the slot and wipes the record (C9), at once or, inside
    /// a read of the pool, when the outermost read ends. Stale ids are ignored: they own nothing.
    fn release_ref(&self, index: u16, generation: NonZeroU32) {
        critical_section::with(|cs| {
            let cell = self.slots.borrow(cs);
            if let Ok(mut slots) = cell.try_borrow_mut() {
                if let Some(slot) = slots.get_mut(usize::from(index)) {
                    if slot.is_live(generation) && slot.drop_ref() {
                        slot.wipe();
                        set_free_hint(&slots[..], usize::from(index));
                    }
                }
            } else if let Ok(slots) = cell.try_borrow() {
                if let Some(slot) = slots.get(usize::from(index)) {
                    if slot.is_live(generation) && slot.drop_ref() {
                        slot.record.set_wipe_pending();
                        mark_wipe_pending(&slots[..]);
                        set_free_hint(&slots[..], usize::from(index));
                    }
                }
            }
            // Otherwise the slots are held exclusively, which only `create` and the wipes above do,
            // and they drop no handle: unreachable.
        })
    }

    #[cfg(test)]
    pub(crate) fn slot_state(&self, index: usize) -> Option<(u32, u16, bool)> {
        critical_section::with(|cs| {
            let slots = self.slots.borrow(cs).borrow();
            slots
                .get(index)
                .map(|s| (s.generation, s.refs.get(), s.record.is_wiped()))
        })
    }

    #[cfg(test)]
    pub(crate) fn pending_mark(&self) -> bool {
        critical_section::with(|cs| {
            let slots = self.slots.borrow(cs).borrow();
            slots
                .first()
                .is_some_and(|s| s.pool_state.get() & WIPE_PENDING != 0)
        })
    }

    #[cfg(test)]
    pub(crate) fn force_generation(&self, index: usize, generation: u32) {
        critical_section::with(|cs| {
            if let Some(s) = self.slots.borrow(cs).borrow_mut().get_mut(index) {
                s.generation = generation;
            }
        })
    }
}

impl<const N: usize, const T: usize> Default for SessionPool<N, T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Shared access to every live record of a pool, inside the critical section of
/// [`SessionPool::with_records`].
pub struct Records<'a, const T: usize> {
    slots: &'a [Slot<T>],
    /// The pool read, so that [`SessionPool::acquire_in`] and [`SessionPool::from_raw_in`] make
    /// handles only from reads of their own pool. Compared, never dereferenced.
    pool: *const (),
}

impl<const T: usize> Records<'_, T> {
    /// The live record `id` names; `None` for a stale id (E2).
    pub fn get(&self, id: SessionId) -> Option<&SessionRecord<T>> {
        self.live_slot(id).map(|s| &s.record)
    }

    fn live_slot(&self, id: SessionId) -> Option<&Slot<T>> {
        self.slots
            .get(usize::from(id.index))
            .filter(|s| s.is_live(id.generation))
    }

    /// [`SessionPool::claim`] for a record read here: C7 and C28 in the same critical section.
    pub fn claim(
        &self,
        id: SessionId,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
    ) -> Result<Offer, Unresumable> {
        self.claim_with(id, now_ms, limits, offered_suites, |_, _| ())
            .map(|(offer, ())| offer)
    }

    /// [`Records::claim`], and `read` of the claimed record and its [`Offer`] in the same
    /// critical section: for copying the ticket and the PSK straight to where they are sent
    /// from. `read` runs only when the claim succeeds; it must not use this pool (it would
    /// find it busy), and should copy and return.
    pub fn claim_with<R>(
        &self,
        id: SessionId,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
        read: impl FnOnce(&SessionRecord<T>, &Offer) -> R,
    ) -> Result<(Offer, R), Unresumable> {
        match self.get(id) {
            Some(r) => r.claim_with(now_ms, limits, offered_suites, read),
            None => Err(Unresumable::NotResumable),
        }
    }
}

/// Names a record without owning a reference: for comparing handles (C2, C16) and for
/// [`SessionPool::acquire`] / [`SessionPool::with_record`]. Copying it changes no count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionId {
    index: u16,
    generation: NonZeroU32,
}

impl SessionId {
    /// The id of slot `index`'s occupant of generation `generation`. It owns nothing, and names no
    /// record unless that occupant is live (E2).
    pub const fn new(index: u16, generation: NonZeroU32) -> Self {
        SessionId { index, generation }
    }

    /// Slot index in the pool.
    pub const fn index(&self) -> u16 {
        self.index
    }

    /// Generation of the slot's occupant.
    pub const fn generation(&self) -> u32 {
        self.generation.get()
    }
}

/// One reference to a record, as plain numbers, for storage outside Rust handles (a C interface, a
/// cache entry). Neither `Copy` nor `Clone`: turning it back into a handle with
/// [`SessionPool::from_raw`] consumes it, so a reference is released at most once (E2).
#[derive(Debug, PartialEq, Eq)]
pub struct RawSession {
    index: u16,
    generation: NonZeroU32,
}

impl RawSession {
    /// Slot index in the pool.
    pub const fn index(&self) -> u16 {
        self.index
    }

    /// Generation of the slot's occupant when the reference was taken.
    pub const fn generation(&self) -> u32 {
        self.generation.get()
    }

    /// The record this raw reference names.
    pub const fn id(&self) -> SessionId {
        SessionId {
            index: self.index,
            generation: self.generation,
        }
    }

    /// Packs into a u64 (`generation << 16 | index`) for a C interface.
    pub const fn into_bits(self) -> u64 {
        ((self.generation.get() as u64) << 16) | self.index as u64
    }

    /// Unpacks [`RawSession::into_bits`]; `None` for a value no raw id can have.
    ///
    /// Whoever calls this vouches that the value stands for a reference it owns. A value that does not
    /// still cannot alias a reused slot: every use checks the generation (E2).
    pub const fn from_bits(bits: u64) -> Option<RawSession> {
        if bits >> 48 != 0 {
            return None;
        }
        match NonZeroU32::new((bits >> 16) as u32) {
            Some(generation) => Some(RawSession {
                index: bits as u16,
                generation,
            }),
            None => None,
        }
    }
}
