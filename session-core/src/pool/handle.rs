//! Handles: counted references to a pool's records (`Session`) and a connection's session slot (`CurrentSession`).

use super::*;

/// A counted reference to a record in a [`SessionPool`] (OpenSSL's `SSL_SESSION *`).
///
/// - [`Session::up_ref`] adds a reference (`SSL_SESSION_up_ref`) and returns it as a new handle, or
///   [`Error::TooManyReferences`] at [`MAX_REFS`] ([`Error::StaleHandle`] for a stale handle). A
///   handle is not `Clone`: a clone could not report that error, so every handle holds exactly
///   one reference.
/// - [`Drop`] releases it (`SSL_SESSION_free`); the last release zeroizes and frees the slot (C9).
/// - [`Session::release`] and [`Session::into_raw`] consume handles, so one reference cannot be
///   released twice (E2). `up_ref` and drop work from inside [`Session::with`] too (E2).
///
/// Every access checks the slot's generation: a handle rebuilt from a forged raw id reports
/// [`Error::StaleHandle`] and never sees another record (E2).
pub struct Session<'p, const N: usize, const T: usize = 256> {
    pub(super) pool: &'p SessionPool<N, T>,
    pub(super) index: u16,
    pub(super) generation: NonZeroU32,
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

    /// [`Session::claim`], and `read` of the claimed record and its [`Offer`] in the same
    /// critical section (see [`Records::claim_with`]): a connection copies the ticket and
    /// the PSK into its engine there, so that they are read once, under the claim.
    pub fn claim_with<R>(
        &self,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
        read: impl FnOnce(&SessionRecord<T>, &Offer) -> R,
    ) -> Result<(Offer, R), Unresumable> {
        let id = self.id();
        self.pool
            .with_records(|records| records.claim_with(id, now_ms, limits, offered_suites, read))
            .unwrap_or(Err(Unresumable::NotResumable))
    }

    /// C35: the record may be set on a connection of context `owner` to `peer`.
    pub fn check_owner_and_peer(&self, owner: ContextId, peer: &PeerId) -> Result<(), Error> {
        self.with(|r| r.check_owner_and_peer(owner, peer))?
    }

    /// C7: may this record be offered at `now` (monotonic milliseconds) by a connection offering
    /// `suites`? [`SessionRecord::resumable`] for the record the handle names; a stale handle
    /// names none and reports [`Unresumable::NotResumable`]. This only looks: another holder may
    /// claim the record right after; to offer it, call [`Session::claim`].
    pub fn resumable(&self, now: u64, limits: &Limits, suites: &[u16]) -> Result<(), Unresumable> {
        self.with(|r| r.resumable(now, limits, suites))
            .unwrap_or(Err(Unresumable::NotResumable))
    }
}

pub(super) fn copy_out(src: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let dst = out
        .get_mut(..src.len())
        .ok_or(Error::BufferTooSmall { needed: src.len() })?;
    dst.copy_from_slice(src);
    Ok(src.len())
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

    /// Makes `session` the current one, taking over its reference (no count changes, so
    /// nothing can fail), and returns the handle it replaced, for the caller to drop. What
    /// [`CurrentSession::set`] does with a reference the caller hands over instead of keeping.
    pub fn replace(&mut self, session: Session<'p, N, T>) -> Option<Session<'p, N, T>> {
        self.session.replace(session)
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
