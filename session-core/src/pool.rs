//! The static pool of records and the reference-counted handles to them (C1–C4, C9, E1–E3).

use core::cell::{Cell, RefCell};
use core::num::NonZeroU32;

use critical_section::Mutex;

use crate::record::{FLAGS_NOT_RESUMABLE, FLAGS_USED};
use crate::{
    ContextId, Error, Limits, NewSession, Offer, PeerId, SessionInfo, SessionRecord, Unresumable,
};

/// Most references one record can have. [`Session::up_ref`] and [`SessionPool::acquire`] refuse
/// beyond it with [`Error::TooManyReferences`]; [`Clone`], which cannot fail, then returns a handle
/// that holds no reference (see [`Session`]). The count never saturates, so every slot is freed and
/// wiped when its last reference goes (C9).
pub const MAX_REFS: u16 = u16::MAX;

/// Slot index of a handle that holds no reference. Never a real slot: `N ≤ u16::MAX`, so the
/// highest index is `u16::MAX - 1`.
const NO_SLOT: u16 = u16::MAX;

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
/// let again = s.clone(); // a second reference
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
        let (index, generation) = critical_section::with(|cs| {
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
            Ok::<_, Error>((index as u16, generation))
        })?;
        Ok(Session {
            pool: self,
            index,
            generation,
        })
    }

    /// Takes over the reference a [`RawSession`] stands for (E2). A raw id whose slot was freed or
    /// reused is [`Error::StaleHandle`], never an alias of the new occupant; such an id owned nothing,
    /// so nothing leaks. No other error: a raw id that cannot be checked right now (only possible from
    /// inside [`SessionPool::create`]) still becomes a handle, which checks its generation on every
    /// use, so the reference is never lost.
    pub fn from_raw(&self, raw: RawSession) -> Result<Session<'_, N, T>, Error> {
        match self.slot_ref(raw.index, raw.generation, |_| ()) {
            Ok(()) | Err(Error::Busy) => Ok(Session {
                pool: self,
                index: raw.index,
                generation: raw.generation,
            }),
            Err(e) => Err(e),
        }
    }

    /// A new reference to the live record `id` names; [`Error::StaleHandle`], or
    /// [`Error::TooManyReferences`] at [`MAX_REFS`].
    pub fn acquire(&self, id: SessionId) -> Result<Session<'_, N, T>, Error> {
        self.slot_ref(id.index, id.generation, Slot::add_ref)??;
        Ok(Session {
            pool: self,
            index: id.index,
            generation: id.generation,
        })
    }

    /// Reads the live record `id` names inside one critical section. Keep `f` short: interrupts are
    /// masked while it runs (E3).
    ///
    /// `f` may use handles of this pool (clone, drop, claim, mark, read); only making a record
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
        critical_section::with(|cs| {
            let cell = self.slots.borrow(cs);
            let out = {
                let slots = cell.try_borrow().map_err(|_| Error::Busy)?;
                f(&Records { slots: &slots[..] })
            };
            // Exclusive access succeeds only in the outermost read: wipe what `f` released.
            if let Ok(mut slots) = cell.try_borrow_mut() {
                wipe_pending(&mut slots[..]);
            }
            Ok(out)
        })
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
        self.slot_ref(id.index, id.generation, |s| {
            s.record.claim(now_ms, limits, offered_suites)
        })
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
}

impl<const T: usize> Records<'_, T> {
    /// The live record `id` names; `None` for a stale id (E2).
    pub fn get(&self, id: SessionId) -> Option<&SessionRecord<T>> {
        self.slots
            .get(usize::from(id.index))
            .filter(|s| s.is_live(id.generation))
            .map(|s| &s.record)
    }

    /// [`SessionPool::claim`] for a record read here: C7 and C28 in the same critical section.
    pub fn claim(
        &self,
        id: SessionId,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
    ) -> Result<Offer, Unresumable> {
        match self.get(id) {
            Some(r) => r.claim(now_ms, limits, offered_suites),
            None => Err(Unresumable::NotResumable),
        }
    }
}

/// Names a record without owning a reference: for comparing handles (C2, C16) and for
/// [`SessionPool::acquire`] / [`SessionPool::with_record`]. Copying it changes no count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// A counted reference to a record in a [`SessionPool`] (OpenSSL's `SSL_SESSION *`).
///
/// - [`Clone`] adds a reference (`SSL_SESSION_up_ref`). It cannot fail, so when no reference can be
///   added (the count is at [`MAX_REFS`], or the handle is stale) it returns a handle that holds
///   none: every operation on it reports [`Error::StaleHandle`] and dropping it changes nothing.
///   Clone and drop work from inside [`Session::with`] too (E2).
/// - [`Drop`] releases it (`SSL_SESSION_free`); the last release zeroizes and frees the slot (C9).
/// - [`Session::up_ref`], [`Session::release`], [`Session::into_raw`] are the explicit forms: they
///   consume or produce handles, so one reference cannot be released twice (E2).
///
/// Every access checks the slot's generation: a handle rebuilt from a forged raw id reports
/// [`Error::StaleHandle`] and never sees another record (E2).
pub struct Session<'p, const N: usize, const T: usize = 256> {
    pool: &'p SessionPool<N, T>,
    index: u16,
    generation: NonZeroU32,
}

impl<'p, const N: usize, const T: usize> Session<'p, N, T> {
    /// The pool the record lives in.
    pub const fn pool(&self) -> &'p SessionPool<N, T> {
        self.pool
    }

    /// Non-owning name of the record.
    pub const fn id(&self) -> SessionId {
        SessionId {
            index: self.index,
            generation: self.generation,
        }
    }

    /// Current number of references.
    pub fn ref_count(&self) -> Result<u16, Error> {
        self.pool
            .slot_ref(self.index, self.generation, |s| s.refs.get())
    }

    /// Adds a reference and returns it as a new handle (`SSL_SESSION_up_ref`). Refuses with
    /// [`Error::TooManyReferences`] at [`MAX_REFS`].
    pub fn up_ref(&self) -> Result<Self, Error> {
        self.pool.acquire(self.id())
    }

    /// Releases this reference (`SSL_SESSION_free`); same as dropping the handle.
    pub fn release(self) {
        drop(self)
    }

    /// Same as [`SessionPool::from_raw`]: takes over the reference `raw` stands for, or
    /// [`Error::StaleHandle`].
    pub fn from_raw(pool: &'p SessionPool<N, T>, raw: RawSession) -> Result<Self, Error> {
        pool.from_raw(raw)
    }

    /// Gives up the handle without releasing its reference; [`Session::from_raw`] takes it back.
    pub fn into_raw(self) -> RawSession {
        let raw = RawSession {
            index: self.index,
            generation: self.generation,
        };
        core::mem::forget(self);
        raw
    }

    /// Reads the record inside one critical section. Keep `f` short (E3).
    pub fn with<R>(&self, f: impl FnOnce(&SessionRecord<T>) -> R) -> Result<R, Error> {
        self.pool.with_record(self.id(), f)
    }

    /// Every field but the PSK and the ticket, copied out.
    pub fn info(&self) -> Result<SessionInfo, Error> {
        self.with(|r| r.info())
    }

    /// Copies the ticket into `out` and returns its length.
    pub fn copy_ticket(&self, out: &mut [u8]) -> Result<usize, Error> {
        self.with(|r| copy_out(r.ticket(), out))?
    }

    /// Copies the resumption PSK into `out` and returns its length. The caller owns the copy and
    /// should zeroize it after use.
    pub fn copy_psk(&self, out: &mut [u8]) -> Result<usize, Error> {
        self.with(|r| copy_out(r.psk(), out))?
    }

    /// One-way: resumable → not resumable (C10, C13, C15, C18).
    pub fn mark_not_resumable(&self) -> Result<(), Error> {
        self.pool.slot_ref(self.index, self.generation, |s| {
            s.record.set_flags(FLAGS_NOT_RESUMABLE)
        })
    }

    /// One-way: unused → used (C28). Returns `true` if this call made the change, so of several
    /// contexts racing to mark the same ticket exactly one wins. To decide whether to offer a ticket,
    /// use [`Session::claim`], which also runs the C7 check in the same step.
    pub fn mark_used(&self) -> Result<bool, Error> {
        self.pool.slot_ref(self.index, self.generation, |s| {
            let was_unused = s.record.flags() & FLAGS_USED == 0;
            s.record.set_flags(FLAGS_USED);
            was_unused
        })
    }

    /// C7 and C28 in one critical section: if the record may be offered now by a connection offering
    /// `offered_suites` (the checks of [`Session::resumable`]), marks it used and returns what the
    /// ClientHello needs besides the ticket and PSK bytes. Of several holders claiming the same
    /// record (connections that have it set, a cache taking it), exactly one gets `Ok`; the others
    /// get [`Unresumable::Used`] (RFC 8446 Appendix C.4). A stale handle reports
    /// [`Unresumable::NotResumable`].
    ///
    /// The claim is the commitment to offer: a ticket claimed and then not sent is not offered
    /// later, which only costs a full handshake.
    pub fn claim(
        &self,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
    ) -> Result<Offer, Unresumable> {
        self.pool.claim(self.id(), now_ms, limits, offered_suites)
    }

    /// C35: the record may be set on a connection of context `owner` to `peer`.
    pub fn check_owner_and_peer(&self, owner: ContextId, peer: &PeerId) -> Result<(), Error> {
        self.with(|r| r.check_owner_and_peer(owner, peer))?
    }

    /// C7: may this record be offered now by a connection offering `offered_suites`? A stale handle
    /// names no record and reports [`Unresumable::NotResumable`]. This only looks: another holder may
    /// claim the record right after; to offer it, call [`Session::claim`].
    pub fn resumable(
        &self,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
    ) -> Result<(), Unresumable> {
        self.with(|r| r.resumable(now_ms, limits, offered_suites))
            .unwrap_or(Err(Unresumable::NotResumable))
    }
}

fn copy_out(src: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let dst = out
        .get_mut(..src.len())
        .ok_or(Error::BufferTooSmall { needed: src.len() })?;
    dst.copy_from_slice(src);
    Ok(src.len())
}

impl<const N: usize, const T: usize> Clone for Session<'_, N, T> {
    /// Adds a reference. When none can be added ([`MAX_REFS`], or a stale handle), the clone holds
    /// none: it reports [`Error::StaleHandle`] and its drop releases nothing.
    fn clone(&self) -> Self {
        let added = self
            .pool
            .slot_ref(self.index, self.generation, Slot::add_ref);
        let index = match added {
            Ok(Ok(())) => self.index,
            _ => NO_SLOT,
        };
        Session {
            pool: self.pool,
            index,
            generation: self.generation,
        }
    }
}

impl<const N: usize, const T: usize> Drop for Session<'_, N, T> {
    fn drop(&mut self) {
        self.pool.release_ref(self.index, self.generation);
    }
}

impl<const N: usize, const T: usize> PartialEq for Session<'_, N, T> {
    /// Same pool and same record (not merely equal contents).
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self.pool, other.pool) && self.id() == other.id()
    }
}

impl<const N: usize, const T: usize> Eq for Session<'_, N, T> {}

impl<const N: usize, const T: usize> core::fmt::Debug for Session<'_, N, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("index", &self.index)
            .field("generation", &self.generation)
            .finish()
    }
}

/// The session a connection holds: OpenSSL's `SSL::session` with the reference rules of
/// `SSL_set_session` / `SSL_get_session` / `SSL_get1_session` (C1–C4). The connection-level rules
/// (C10 eviction of an open session, C35 owner and peer) are applied by its owner before calling
/// [`CurrentSession::set`].
pub struct CurrentSession<'p, const N: usize, const T: usize = 256> {
    session: Option<Session<'p, N, T>>,
}

impl<'p, const N: usize, const T: usize> CurrentSession<'p, N, T> {
    /// No session.
    pub const fn new() -> Self {
        CurrentSession { session: None }
    }

    /// Sets `new` (or no session) and returns the handle it replaced, for the caller to inspect
    /// (C10) and drop.
    ///
    /// - C1: setting a session adds exactly one reference; the caller's own stays with the caller.
    /// - C2: setting the session already set changes no count and returns `None`.
    /// - C3: `None` releases the current one (when the caller drops the returned handle).
    pub fn set(
        &mut self,
        new: Option<&Session<'p, N, T>>,
    ) -> Result<Option<Session<'p, N, T>>, Error> {
        match (new, &self.session) {
            (Some(n), Some(cur)) if n == cur => Ok(None),
            (Some(n), _) => {
                let added = n.up_ref()?;
                Ok(self.session.replace(added))
            }
            (None, _) => Ok(self.session.take()),
        }
    }

    /// Borrows the session (C4: no count changes), like `SSL_get_session`.
    pub fn get(&self) -> Option<&Session<'p, N, T>> {
        self.session.as_ref()
    }

    /// A new reference to the session (C4: one more), like `SSL_get1_session`.
    pub fn get1(&self) -> Result<Option<Session<'p, N, T>>, Error> {
        self.session.as_ref().map(|s| s.up_ref()).transpose()
    }

    /// Takes the held reference out, leaving no session.
    pub fn take(&mut self) -> Option<Session<'p, N, T>> {
        self.session.take()
    }
}

impl<const N: usize, const T: usize> Default for CurrentSession<'_, N, T> {
    fn default() -> Self {
        Self::new()
    }
}
