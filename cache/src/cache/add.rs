//! Adding records: `add` and `new_session` (C16, C17, C19, C20, C24, C37).

use super::*;

impl<'p, const N: usize, const P: usize, const T: usize> SessionCache<'p, N, P, T> {
    /// Adds a reference to `session` to the cache (`SSL_CTX_add_session`); see the crate
    /// documentation for eviction (C19, C20), auto-flush and the per-peer limit (C37).
    ///
    /// - C16: a record already cached gives [`Added::AlreadyPresent`] and changes nothing.
    /// - C19, C20: a record that cannot be offered at `now_ms` (used, not resumable, expired under
    ///   [`CacheConfig::limits`]) is not cached: [`Added::Dropped`], counted in `dropped`, and nothing
    ///   is flushed or evicted for it.
    /// - C17: a different record with the same ticket bytes is replaced and released, without a
    ///   remove callback.
    /// - C24: a record of another context (or another pool) is [`Error::WrongOwner`].
    pub fn add(&self, session: &Session<'_, P, T>, now_ms: u64) -> Result<Added, Error> {
        if !core::ptr::eq(session.pool(), self.pool) {
            return Err(Error::WrongOwner);
        }
        let id = session.id();
        let mut adding = Adding::default();
        let mut out = AddOut::EMPTY;
        let first = self.add_step(id, now_ms, &mut adding, &mut out);
        self.add_rest(id, now_ms, &mut adding, &mut out, first)
    }

    /// One step of [`SessionCache::add`] in its own critical section.
    fn add_step(
        &self,
        id: SessionId,
        now_ms: u64,
        adding: &mut Adding,
        out: &mut AddOut<'p, P, T>,
    ) -> Result<Ended<Added>, Error> {
        critical_section::with(|cs| self.add_step_in(cs, id, now_ms, adding, out))
    }

    /// [`SessionCache::add_step`] inside the critical section `cs` the caller holds.
    fn add_step_in(
        &self,
        cs: CriticalSection<'_>,
        id: SessionId,
        now_ms: u64,
        adding: &mut Adding,
        out: &mut AddOut<'p, P, T>,
    ) -> Result<Ended<Added>, Error> {
        self.locked_with_records_in(cs, |s, records| {
            self.add_in(s, records, id, now_ms, adding, out)
        })?
    }

    /// Runs the steps of [`SessionCache::add`] after `step`, each removal's callback between them.
    fn add_rest(
        &self,
        id: SessionId,
        now_ms: u64,
        adding: &mut Adding,
        out: &mut AddOut<'p, P, T>,
        mut step: Result<Ended<Added>, Error>,
    ) -> Result<Added, Error> {
        // Each step removes one entry (callback outside the critical section) or ends.
        for _ in 0..=2 * N {
            match step? {
                Ended::Removed => self.finish_removal(out.removed.take()),
                Ended::Done(added) => {
                    drop(out.released.take());
                    self.finish_removal(out.evicted.take());
                    return Ok(added);
                }
            }
            step = self.add_step(id, now_ms, adding, out);
        }
        // Only reachable if remove callbacks keep adding stale entries.
        let _ = self.locked(|s| bump(&mut s.stats.dropped));
        Ok(Added::Dropped)
    }

    /// One step of [`SessionCache::add`], inside its critical section: C16, C19, the auto-flush,
    /// C37, C17, then room (C19, C20) and the new entry. Each check is made again in every step, as
    /// a callback between steps may have changed the cache or the record.
    fn add_in(
        &self,
        s: &mut State<N>,
        records: &Records<'_, T>,
        id: SessionId,
        now_ms: u64,
        adding: &mut Adding,
        out: &mut AddOut<'p, P, T>,
    ) -> Result<Ended<Added>, Error> {
        let done = |added| Ok(Ended::Done(added));
        let limits = &self.config.limits;
        let r = records.get(id).ok_or(Error::StaleHandle)?;
        if r.owner() != self.owner {
            return Err(Error::WrongOwner);
        }
        let (peer, tag, b) = match adding.mine {
            Some(mine) => mine,
            None => {
                let peer = r.peer();
                let digest = ticket_digest(r.ticket());
                let b = Buckets {
                    peer: peer_bucket::<N>(&peer),
                    ticket: ticket_bucket::<N>(digest),
                };
                let mine = (peer, tag_of(&peer, digest), b);
                adding.mine = Some(mine);
                mine
            }
        };
        let [ptag, ttag] = tag.to_be_bytes();
        // One walk of the peer's chain: the record itself (C16), the peer's entries (C37) and the
        // least recently touched stale one.
        let mut count = 0;
        let mut others = 0;
        let mut oldest_stale = None;
        let unexpired = s.surely_unexpired(now_ms);
        for (i, e) in s.chain(Chain::Peer, b.peer) {
            if e.id() == id {
                return done(Added::AlreadyPresent);
            }
            if !e.may_be_peer(ptag) {
                continue;
            }
            let Some(o) = records.get(e.id()) else {
                continue;
            };
            if o.peer() == peer {
                count += 1;
                if !(e.may_have_ticket(ttag) && o.ticket() == r.ticket()) {
                    others += 1;
                }
                if self.cached_stale(unexpired, e, o, now_ms) {
                    oldest_stale = Some(i);
                }
            }
        }
        // Not offerable (any more: a holder may have claimed or spoiled it since the last step).
        if r.offerable(now_ms, limits).is_err() {
            bump(&mut s.stats.dropped);
            return done(Added::Dropped);
        }
        // A cache of no entries has no room to make: nothing is flushed or evicted for it.
        if N == 0 {
            bump(&mut s.stats.dropped);
            return done(Added::Dropped);
        }
        // Auto-flush: the peer's stale entries go first, then, from a full cache, every expired
        // entry. C37: a peer at its limit first loses its stale entries.
        let auto = !self.config.mode.contains(CacheMode::NO_AUTO_FLUSH);
        adding.flush_peer |= count >= self.config.max_per_peer;
        if auto || adding.flush_peer {
            if let Some(i) = oldest_stale {
                return Ok(self.remove_stale_at(s, records, i, &mut out.removed));
            }
        }
        adding.flush_expired |= auto && s.is_full();
        if adding.flush_expired {
            if let Some(i) = self.find_expired(s, records, now_ms) {
                return Ok(self.remove_stale_at(s, records, i, &mut out.removed));
            }
        }
        if others >= self.config.max_per_peer {
            bump(&mut s.stats.dropped);
            return done(Added::Dropped);
        }
        // C17: the entry with the same ticket bytes, if any.
        let same = s
            .chain(Chain::Ticket, b.ticket)
            .find(|(_, e)| {
                e.may_have_ticket(ttag)
                    && records
                        .get(e.id())
                        .is_some_and(|o| o.ticket() == r.ticket())
            })
            .map(|(i, _)| i);
        let raw = self.pool.acquire_in(records, id)?.into_raw();
        let replaced = same.is_some();
        if let Some(i) = same {
            out.released = self.remove_entry(s, records, i);
        }
        if s.is_full() {
            bump(&mut s.stats.full);
            // C20: the least recently touched expired entry, else the least recently touched.
            let victim = self.find_expired(s, records, now_ms).unwrap_or(s.oldest);
            let stale = s
                .entry(victim)
                .is_some_and(|e| self.entry_stale(s, e, records, now_ms));
            bump(if stale {
                &mut s.stats.timeouts
            } else {
                &mut s.stats.evictions
            });
            out.evicted = self.remove_entry(s, records, victim);
        }
        let entry = Entry::new(raw, tag, secs(now_ms), limits.timeout_s);
        let bound_s = expiry_bound_s(&entry, r, limits);
        match s.insert(entry, b) {
            Ok(_) => {
                s.horizon_s = s.horizon_s.min(bound_s);
                let floor = s.floor().max(received_bound(r));
                s.set_floor(floor);
                Ok(Ended::Done(if replaced {
                    Added::Replaced
                } else {
                    Added::Stored
                }))
            }
            // Unreachable: `N > 0` here, and room was made above. The reference is given back.
            Err(e) => {
                // No entry was replaced: there is none.
                out.released = self.handle(records, e);
                Ok(Ended::Done(Added::Dropped))
            }
        }
    }

    /// Makes a record from a NewSessionTicket, stores it unless [`CacheMode::NO_INTERNAL_STORE`], fires
    /// the new-session callback, and returns it for the connection (C5, C27).
    ///
    /// The record is made, and the first step of adding it taken, in one critical section.
    /// A ticket larger than the pool's slots is counted in `too_large`, an exhausted pool in `dropped`
    /// (C37, E1); both return the error and the connection goes on. A record dropped by the per-peer
    /// limit is still returned (C23). `new.owner` must be this cache's context (C24).
    pub fn new_session(
        &self,
        new: &NewSession<'_>,
        now_ms: u64,
    ) -> Result<Session<'p, P, T>, Error> {
        if new.owner != self.owner {
            return Err(Error::WrongOwner);
        }
        let store = !self.config.mode.contains(CacheMode::NO_INTERNAL_STORE);
        let mut adding = Adding::default();
        let mut out = AddOut::EMPTY;
        let mut first = None;
        let created = critical_section::with(|cs| {
            let created = self.pool.create(new);
            match &created {
                Ok(session) if store => {
                    first = Some(self.add_step_in(cs, session.id(), now_ms, &mut adding, &mut out));
                    if self.events.is_none() {
                        // No callback to fire first: release what the step gave up (an evicted
                        // or replaced entry) in this critical section.
                        drop(out.removed.take());
                        drop(out.released.take());
                        drop(out.evicted.take());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = self.locked(|s| match e {
                        Error::TicketTooLarge { .. } => bump(&mut s.stats.too_large),
                        Error::PoolExhausted => bump(&mut s.stats.dropped),
                        _ => {}
                    });
                }
            }
            created
        });
        let session = created?;
        if let Some(first) = first {
            // The connection keeps its record whatever the cache decides (C23).
            let _ = self.add_rest(session.id(), now_ms, &mut adding, &mut out, first);
        }
        if let Some(events) = self.events {
            events.new_session(&session);
        }
        Ok(session)
    }
}
