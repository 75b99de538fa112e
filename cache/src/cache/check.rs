//! The index consistency check the tests run after every step.

use super::*;

impl<'p, const N: usize, const P: usize, const T: usize> SessionCache<'p, N, P, T> {
    /// Checks that the index is consistent: every entry is in the touch-order list once, in the
    /// chains of its record's peer and ticket buckets once, and nowhere else; the free slots are
    /// exactly the unused ones; the expiry bound holds. For tests: it reads every record.
    pub fn check_index(&self, now_ms: u64) -> Result<(), &'static str> {
        self.locked_with_records(|s, records| self.check_index_in(s, records, now_ms))
            .unwrap_or(Err("busy"))
    }

    fn check_index_in(
        &self,
        s: &State<N>,
        records: &Records<'_, T>,
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let live = s.slots.iter().filter(|e| e.entry.is_some()).count();
        if live != s.len() || s.iter().count() != live {
            return Err("length or touch-order list");
        }
        // The list backwards reaches the same entries.
        let mut back = 0;
        let mut at = s.newest;
        let mut prev = NIL;
        while at != NIL && back <= N {
            if s.link(at).newer != prev {
                return Err("touch-order back link");
            }
            back += 1;
            prev = at;
            at = s.link(at).older;
        }
        if back != live || prev != s.oldest && live > 0 {
            return Err("touch-order list backwards");
        }
        for (i, e) in s.iter() {
            let r = records.get(e.id()).ok_or("entry without a live record")?;
            let b = buckets_of::<N, T>(r);
            for (c, bucket) in [(Chain::Peer, b.peer), (Chain::Ticket, b.ticket)] {
                if s.chain(c, bucket).filter(|(j, _)| *j == i).count() != 1 {
                    return Err("entry not once in its chain");
                }
            }
            if e.tag != tag_of(&r.peer(), ticket_digest(r.ticket())) {
                return Err("tag");
            }
            let limits = &self.config.limits;
            if s.surely_unexpired(now_ms) && self.expired(e, r, now_ms) {
                return Err("expiry bound");
            }
            if expiry_bound_s(e, r, limits) < s.horizon_s || received_bound(r) > s.floor() {
                return Err("expiry bound above an entry's");
            }
        }
        let chained: usize = (0..N)
            .map(|b| s.chain(Chain::Peer, b).count() + s.chain(Chain::Ticket, b).count())
            .sum();
        if chained != 2 * live {
            return Err("chains hold other entries");
        }
        // Peer chains: a peer's entries in touch order, most recent first.
        for (i, e) in s.iter() {
            let Some(r) = records.get(e.id()) else {
                continue;
            };
            let peer = r.peer();
            let bucket = peer_bucket::<N>(&peer);
            let newer_in_chain = s
                .chain(Chain::Peer, bucket)
                .take_while(|(j, _)| *j != i)
                .filter(|(_, o)| records.get(o.id()).is_some_and(|o| o.peer() == peer))
                .count();
            let newer_in_list = {
                let mut n = 0;
                let mut at = s.link(i).newer;
                while at != NIL && n <= N {
                    if s.entry(at)
                        .and_then(|o| records.get(o.id()))
                        .is_some_and(|o| o.peer() == peer)
                    {
                        n += 1;
                    }
                    at = s.link(at).newer;
                }
                n
            };
            if newer_in_chain != newer_in_list {
                return Err("peer chain out of touch order");
            }
        }
        let mut free = 0;
        let mut at = s.free;
        while at != NIL && free <= N {
            if s.entry(at).is_some() {
                return Err("live entry in the free list");
            }
            free += 1;
            at = s.link(at).newer;
        }
        if free + live != usize::from(s.fresh) {
            return Err("free list");
        }
        if s.slots
            .iter()
            .skip(usize::from(s.fresh))
            .any(|e| e.entry.is_some())
        {
            return Err("entry beyond the used slots");
        }
        Ok(())
    }
}
