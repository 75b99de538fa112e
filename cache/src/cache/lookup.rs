//! Finding records: `lookup`, `take` and `take_for_connect` (C26, C28, C36).

use super::*;

impl<'p, const N: usize, const P: usize, const T: usize> SessionCache<'p, N, P, T> {
    /// A new reference to the peer's most recently touched entry, which stays cached; its stale
    /// entries are removed first. Counts a hit or a miss. The record is not claimed: to offer it,
    /// use [`Session::claim`] (or [`SessionCache::take`]), which refuses it if another holder
    /// offered it first (C28). In [`CacheMode::UPDATE_TIME_ON_USE`] a hit
    /// sets the entry's time to now and makes it most recently touched.
    pub fn lookup(&self, peer: &PeerId, now_ms: u64) -> Option<Session<'p, P, T>> {
        let update = self.config.mode.contains(CacheMode::UPDATE_TIME_ON_USE);
        // The entry removed, or the reference found.
        let mut out = None;
        // Each round removes one stale entry (callback outside the critical section) or ends.
        for _ in 0..=N {
            let step = self.locked_with_records(|s, records| {
                let i = match self.scan_peer(s, records, peer, now_ms, None) {
                    Err(stale) => return self.remove_stale_at(s, records, stale, &mut out),
                    Ok(Some(i)) => i,
                    Ok(None) => {
                        bump(&mut s.stats.misses);
                        return Ended::Done(());
                    }
                };
                let Some(Ok(found)) = s.entry(i).map(|e| self.pool.acquire_in(records, e.id()))
                else {
                    bump(&mut s.stats.misses);
                    return Ended::Done(());
                };
                out = Some(found);
                bump(&mut s.stats.hits);
                if update {
                    if let Some(e) = s.entry_mut(i) {
                        e.time_s = secs(now_ms);
                        // The new time may be earlier than the old one (set by `set_time`, or
                        // read from the clock by another task before this one): keep the bound.
                        let at = e.timeout_at_s();
                        s.horizon_s = s.horizon_s.min(at);
                    }
                    s.touch(i, peer_bucket::<N>(peer));
                }
                Ended::Done(())
            });
            match step {
                Ok(Ended::Removed) => self.finish_removal(out.take()),
                Ok(Ended::Done(())) => return out,
                Err(_) => return None,
            }
        }
        // Only reachable if remove callbacks keep adding stale entries for this peer.
        let _ = self.locked(|s| bump(&mut s.stats.misses));
        None
    }

    /// Moves the peer's most recently touched entry usable with `offered_suites` (C31) out of the
    /// cache to offer it (C36): claims it (C7 check and unused → used in one step, C28), counts a
    /// hit, fires no remove callback. The peer's stale entries are removed first. `None` (a miss)
    /// when nothing fits.
    ///
    /// The returned record was claimed by this call with [`Session::claim`] at `now_ms` under
    /// [`CacheConfig::limits`]: no other holder of it (a connection it is set on, another cache
    /// lookup) offers it, and checking [`Session::resumable`] on it afterwards reports
    /// [`encore_session::Unresumable::Used`]. The [`Offer`] beside it is what that claim read
    /// (suite, obfuscated age), in the same critical section. A candidate that another holder
    /// claimed first is removed like any stale entry (a timeout, with the remove callback), and
    /// the next one is tried.
    pub fn take(
        &self,
        peer: &PeerId,
        now_ms: u64,
        offered_suites: &[u16],
    ) -> Option<(Session<'p, P, T>, Offer)> {
        self.take_with(peer, now_ms, offered_suites, |_, _| ())
            .map(|(session, offer, ())| (session, offer))
    }

    /// [`SessionCache::take`], and `read` of the record taken and of its [`Offer`] inside the
    /// critical section of its claim ([`Session::claim_with`]): a connection copies the ticket
    /// and the PSK into its engine there. `read` runs once, for the record taken, and must not
    /// use the cache or the pool.
    pub fn take_with<R>(
        &self,
        peer: &PeerId,
        now_ms: u64,
        offered_suites: &[u16],
        mut read: impl FnMut(&SessionRecord<T>, &Offer) -> R,
    ) -> Option<(Session<'p, P, T>, Offer, R)> {
        let limits = self.config.limits;
        // The entry removed, or the one taken.
        let mut out = None;
        // What the claim of the one taken read, and what `read` returned.
        let mut claimed = None;
        // Each round removes one entry (a stale one, or a candidate claimed elsewhere) or ends.
        for _ in 0..=N {
            let step = self.locked_with_records(|s, records| {
                let i = match self.scan_peer(s, records, peer, now_ms, Some(offered_suites)) {
                    Err(stale) => {
                        bump(&mut s.stats.timeouts);
                        out = self.remove_entry(s, records, stale);
                        return Take::Stale;
                    }
                    Ok(Some(i)) => i,
                    Ok(None) => {
                        bump(&mut s.stats.misses);
                        return Take::Miss;
                    }
                };
                let b = s
                    .entry(i)
                    .and_then(|e| records.get(e.id()))
                    .map(buckets_of::<N, T>);
                let Some(e) = s.remove(i, b) else {
                    bump(&mut s.stats.misses);
                    return Take::Miss;
                };
                if !e.timed_out(secs(now_ms)) {
                    // `read` runs only for the candidate claimed.
                    claimed = records
                        .claim_with(e.id(), now_ms, &limits, offered_suites, &mut read)
                        .ok();
                }
                out = self.handle(records, e);
                if claimed.is_none() {
                    bump(&mut s.stats.timeouts);
                    return Take::Stale;
                }
                // The entry's reference moves to the caller; it held one, so this cannot fail.
                if out.is_some() {
                    bump(&mut s.stats.hits);
                    Take::Hit
                } else {
                    bump(&mut s.stats.misses);
                    Take::Miss
                }
            });
            match step {
                Ok(Take::Hit) => return out.zip(claimed).map(|(s, (o, r))| (s, o, r)),
                Ok(Take::Stale) => self.finish_removal(out.take()),
                Ok(Take::Miss) | Err(_) => return None,
            }
        }
        // Only reachable if other tasks keep adding candidates that are claimed at once elsewhere.
        let _ = self.locked(|s| bump(&mut s.stats.misses));
        None
    }

    /// [`SessionCache::take`] as `connect` uses it: finds nothing, and counts nothing, in
    /// [`CacheMode::NO_INTERNAL_LOOKUP`] (C26).
    pub fn take_for_connect(
        &self,
        peer: &PeerId,
        now_ms: u64,
        offered_suites: &[u16],
    ) -> Option<(Session<'p, P, T>, Offer)> {
        self.take_for_connect_with(peer, now_ms, offered_suites, |_, _| ())
            .map(|(session, offer, ())| (session, offer))
    }

    /// [`SessionCache::take_for_connect`] with `read` as in [`SessionCache::take_with`].
    pub fn take_for_connect_with<R>(
        &self,
        peer: &PeerId,
        now_ms: u64,
        offered_suites: &[u16],
        read: impl FnMut(&SessionRecord<T>, &Offer) -> R,
    ) -> Option<(Session<'p, P, T>, Offer, R)> {
        if self.config.mode.contains(CacheMode::NO_INTERNAL_LOOKUP) {
            return None;
        }
        self.take_with(peer, now_ms, offered_suites, read)
    }
}
