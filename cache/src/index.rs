//! The cache's fixed-capacity index: entries, the touch-order list, the peer and ticket hash
//! chains, and the expiry bound. Everything here runs inside the cache's critical sections.

use core::num::NonZeroU32;

use encore_session::{Limits, PeerId, RawSession, SessionId, SessionRecord, SEVEN_DAYS_S};

use crate::config::CacheStats;

/// One cached reference (16 bytes): the record's slot index and generation (the reference, as a
/// [`RawSession`] would hold it), a match tag, and the entry's time and timeout.
///
/// The tag lets a chain walk skip entries without reading their records: its high byte is a byte of
/// the record's peer id and its low byte a digest of its ticket bytes, so two records with the same
/// peer (or the same ticket) always have equal high (or low) bytes. Only entries whose tag matches
/// are compared in full against their record. It fills what would otherwise be padding.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) index: u16,
    pub(crate) tag: u16,
    pub(crate) generation: NonZeroU32,
    pub(crate) time_s: u32,
    pub(crate) timeout_s: u32,
}

/// High byte of an entry's tag. A peer id is a SHA-256 prefix, so any one of its bytes spreads
/// peers evenly.
pub(crate) fn peer_tag(peer: &PeerId) -> u8 {
    peer.0[0]
}

/// A digest of the ticket's length and of its first and last 8 bytes (a ticket's leading bytes are
/// often a server's fixed key name, its trailing bytes an AEAD tag). Its top byte is the low byte of
/// an entry's tag, other bits pick the ticket's hash chain.
pub(crate) fn ticket_digest(ticket: &[u8]) -> u64 {
    let (head, tail) = match (ticket.first_chunk::<8>(), ticket.last_chunk::<8>()) {
        (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
        // Shorter than 8 bytes: all of it, as both words.
        _ => {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(ticket) {
                *d = *s;
            }
            let w = u64::from_le_bytes(w);
            (w, w)
        }
    };
    // A full 64-bit mix (every output bit depends on every input bit), as tickets often differ in
    // a few bytes only.
    let mut z = head ^ tail.rotate_left(29) ^ ticket.len() as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn ticket_tag(digest: u64) -> u8 {
    (digest >> 56) as u8
}

pub(crate) fn tag_of(peer: &PeerId, digest: u64) -> u16 {
    u16::from_be_bytes([peer_tag(peer), ticket_tag(digest)])
}

impl Entry {
    /// Takes over the reference `raw` stands for.
    pub(crate) fn new(raw: RawSession, tag: u16, time_s: u32, timeout_s: u32) -> Self {
        let id = raw.id();
        // The entry now stands for the reference; `RawSession` has no drop to skip.
        let _ = raw.into_bits();
        Entry {
            index: id.index(),
            tag,
            generation: NonZeroU32::new(id.generation()).unwrap_or(NonZeroU32::MIN),
            time_s,
            timeout_s,
        }
    }

    pub(crate) fn id(&self) -> SessionId {
        SessionId::new(self.index, self.generation)
    }

    /// Gives up the entry's reference as a [`RawSession`]. Every entry's parts form a valid raw id,
    /// so this is `None` never.
    pub(crate) fn into_raw(self) -> Option<RawSession> {
        RawSession::from_bits((u64::from(self.generation.get()) << 16) | u64::from(self.index))
    }

    pub(crate) fn timed_out(&self, now_s: u32) -> bool {
        u64::from(now_s) >= u64::from(self.time_s) + u64::from(self.timeout_s)
    }

    /// The first second at which the entry has timed out (saturated, so never later than that).
    pub(crate) fn timeout_at_s(&self) -> u32 {
        self.time_s.saturating_add(self.timeout_s)
    }

    pub(crate) fn may_be_peer(&self, peer_tag: u8) -> bool {
        self.tag.to_be_bytes()[0] == peer_tag
    }

    pub(crate) fn may_have_ticket(&self, ticket_tag: u8) -> bool {
        self.tag.to_be_bytes()[1] == ticket_tag
    }
}

/// No entry: the end of a list or chain. Never a slot number, as `N < u16::MAX`.
pub(crate) const NIL: u16 = u16::MAX;

/// An entry slot's links (8 bytes): its neighbours in touch order, and the next entry in its peer's
/// and its ticket's hash chains. A free slot's `newer` is the next free slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) older: u16,
    pub(crate) newer: u16,
    pub(crate) peer_next: u16,
    pub(crate) ticket_next: u16,
}

impl Link {
    const NONE: Link = Link {
        older: NIL,
        newer: NIL,
        peer_next: NIL,
        ticket_next: NIL,
    };
}

/// Which hash chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    Peer,
    Ticket,
}

/// The buckets of a record's peer and ticket chains.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Buckets {
    pub(crate) peer: usize,
    pub(crate) ticket: usize,
}

pub(crate) fn peer_bucket<const N: usize>(peer: &PeerId) -> usize {
    // Other bytes than the tag byte, so that entries sharing a bucket are told apart by their tag.
    let b = peer.0;
    let h = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    h.checked_rem(N).unwrap_or(0)
}

pub(crate) fn ticket_bucket<const N: usize>(digest: u64) -> usize {
    (digest as u32 as usize).checked_rem(N).unwrap_or(0)
}

pub(crate) fn buckets_of<const N: usize, const T: usize>(r: &SessionRecord<T>) -> Buckets {
    Buckets {
        peer: peer_bucket::<N>(&r.peer()),
        ticket: ticket_bucket::<N>(ticket_digest(r.ticket())),
    }
}

/// The monotonic time (ms) from which `r` is past one of its C29 time limits under `limits`, given
/// `now_ms` is not before its receipt.
pub(crate) fn record_deadline_ms<const T: usize>(r: &SessionRecord<T>, limits: &Limits) -> i64 {
    if r.lifetime_s() == 0 {
        return i64::MIN;
    }
    let cap_s = r.lifetime_s().min(limits.timeout_s).min(SEVEN_DAYS_S);
    let auth_left_s = i64::from(limits.max_auth_age_s) - i64::from(r.auth_age_at_receipt_s());
    r.received_ms()
        .saturating_add(i64::from(cap_s).min(auth_left_s).saturating_mul(1000))
}

/// The first whole second of the monotonic clock at which `e` (of record `r`) may be expired: before
/// it, and not before the record's receipt, it is not.
pub(crate) fn expiry_bound_s<const T: usize>(
    e: &Entry,
    r: &SessionRecord<T>,
    limits: &Limits,
) -> u32 {
    let record_s = u32::try_from(record_deadline_ms(r, limits).max(0) / 1000).unwrap_or(u32::MAX);
    e.timeout_at_s().min(record_s)
}

/// A monotonic time as whole seconds and the milliseconds past them, saturated to `u32` seconds
/// (136 years); ordered as the time.
pub(crate) fn split_ms(ms: u64) -> (u32, u16) {
    match u32::try_from(ms / 1000) {
        Ok(s) => (s, (ms % 1000) as u16),
        Err(_) => (u32::MAX, 999),
    }
}

/// The record's receipt as [`split_ms`] (one before this boot as 0): `now_ms` is not before the
/// receipt if `split_ms(now_ms)` is not below it.
pub(crate) fn received_bound<const T: usize>(r: &SessionRecord<T>) -> (u32, u16) {
    split_ms(u64::try_from(r.received_ms()).unwrap_or(0))
}

/// An entry slot: the entry, if any, beside its links, so that a walk reads one place per entry.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) entry: Option<Entry>,
    pub(crate) link: Link,
}

impl Slot {
    const FREE: Slot = Slot {
        entry: None,
        link: Link::NONE,
    };
}

/// The cache's entries and their index. Entries never move: `slots[i].entry` is `Some` exactly for
/// the slots in the touch-order list, and each such slot is in one peer chain and one ticket chain.
pub(crate) struct State<const N: usize> {
    pub(crate) slots: [Slot; N],
    /// First entry of each peer bucket's chain, most recently touched first.
    pub(crate) peer_heads: [u16; N],
    /// First entry of each ticket bucket's chain.
    pub(crate) ticket_heads: [u16; N],
    /// Least and most recently touched entries.
    pub(crate) oldest: u16,
    pub(crate) newest: u16,
    /// First free slot that was used before; slots from `fresh` on were never used.
    pub(crate) free: u16,
    pub(crate) fresh: u16,
    pub(crate) len: u16,
    /// No entry is expired at `now_ms` if `now_ms` is not before `(floor_s, floor_sub_ms)` (the
    /// latest receipt of a cached record, see [`split_ms`]) and `now_s < horizon_s` (the earliest
    /// [`expiry_bound_s`] of a cached entry). Both are bounds: kept on every add and re-time,
    /// recomputed when a walk finds no expired entry.
    pub(crate) horizon_s: u32,
    pub(crate) floor_s: u32,
    pub(crate) floor_sub_ms: u16,
    pub(crate) stats: CacheStats,
}

/// Walks a list through `next`, at most `N` steps (so that a broken link can never loop).
pub(crate) struct Walk<'a, const N: usize> {
    pub(crate) state: &'a State<N>,
    pub(crate) at: u16,
    pub(crate) steps: usize,
    /// The chain followed, or the touch-order list (towards newer) if `None`.
    pub(crate) chain: Option<Chain>,
}

impl<'a, const N: usize> Iterator for Walk<'a, N> {
    type Item = (u16, &'a Entry);

    fn next(&mut self) -> Option<Self::Item> {
        while self.at != NIL && self.steps < N {
            let i = self.at;
            self.steps += 1;
            let l = self.state.link(i);
            self.at = match self.chain {
                None => l.newer,
                Some(Chain::Peer) => l.peer_next,
                Some(Chain::Ticket) => l.ticket_next,
            };
            if let Some(e) = self.state.entry(i) {
                return Some((i, e));
            }
        }
        None
    }
}

impl<const N: usize> State<N> {
    pub(crate) const fn new() -> Self {
        State {
            slots: [Slot::FREE; N],
            peer_heads: [NIL; N],
            ticket_heads: [NIL; N],
            oldest: NIL,
            newest: NIL,
            free: NIL,
            fresh: 0,
            len: 0,
            horizon_s: u32::MAX,
            floor_s: 0,
            floor_sub_ms: 0,
            stats: CacheStats {
                hits: 0,
                misses: 0,
                timeouts: 0,
                evictions: 0,
                full: 0,
                too_large: 0,
                dropped: 0,
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() >= N
    }

    pub(crate) fn entry(&self, i: u16) -> Option<&Entry> {
        self.slots.get(usize::from(i))?.entry.as_ref()
    }

    pub(crate) fn entry_mut(&mut self, i: u16) -> Option<&mut Entry> {
        self.slots.get_mut(usize::from(i))?.entry.as_mut()
    }

    pub(crate) fn link(&self, i: u16) -> Link {
        self.slots
            .get(usize::from(i))
            .map_or(Link::NONE, |s| s.link)
    }

    pub(crate) fn link_mut(&mut self, i: u16) -> Option<&mut Link> {
        self.slots.get_mut(usize::from(i)).map(|s| &mut s.link)
    }

    /// Entries from the least recently touched on.
    pub(crate) fn iter(&self) -> Walk<'_, N> {
        Walk {
            state: self,
            at: self.oldest,
            steps: 0,
            chain: None,
        }
    }

    pub(crate) fn head(&self, c: Chain, b: usize) -> u16 {
        let heads = match c {
            Chain::Peer => &self.peer_heads,
            Chain::Ticket => &self.ticket_heads,
        };
        heads.get(b).copied().unwrap_or(NIL)
    }

    pub(crate) fn set_head(&mut self, c: Chain, b: usize, i: u16) {
        let heads = match c {
            Chain::Peer => &mut self.peer_heads,
            Chain::Ticket => &mut self.ticket_heads,
        };
        if let Some(h) = heads.get_mut(b) {
            *h = i;
        }
    }

    pub(crate) fn next_in(&self, c: Chain, i: u16) -> u16 {
        let l = self.link(i);
        match c {
            Chain::Peer => l.peer_next,
            Chain::Ticket => l.ticket_next,
        }
    }

    pub(crate) fn set_next_in(&mut self, c: Chain, i: u16, next: u16) {
        if let Some(l) = self.link_mut(i) {
            match c {
                Chain::Peer => l.peer_next = next,
                Chain::Ticket => l.ticket_next = next,
            }
        }
    }

    /// The entries of bucket `b`'s chain, in chain order.
    pub(crate) fn chain(&self, c: Chain, b: usize) -> Walk<'_, N> {
        Walk {
            state: self,
            at: self.head(c, b),
            steps: 0,
            chain: Some(c),
        }
    }

    pub(crate) fn chain_push(&mut self, c: Chain, b: usize, i: u16) {
        let head = self.head(c, b);
        self.set_next_in(c, i, head);
        self.set_head(c, b, i);
    }

    /// Takes `i` out of bucket `b`'s chain; false if it is not there.
    pub(crate) fn chain_unlink(&mut self, c: Chain, b: usize, i: u16) -> bool {
        let next = self.next_in(c, i);
        let mut at = self.head(c, b);
        if at == i {
            self.set_head(c, b, next);
            return true;
        }
        for _ in 0..N {
            if at == NIL {
                break;
            }
            let after = self.next_in(c, at);
            if after == i {
                self.set_next_in(c, at, next);
                return true;
            }
            at = after;
        }
        false
    }

    /// Takes `i` out of its chain in bucket `b` if given and it is there, else out of whichever
    /// chain holds it (only if its record could not be read, which cannot happen while the entry
    /// holds its reference).
    pub(crate) fn chain_remove(&mut self, c: Chain, b: Option<usize>, i: u16) {
        if b.is_some_and(|b| self.chain_unlink(c, b, i)) {
            return;
        }
        for b in 0..N {
            if self.chain_unlink(c, b, i) {
                return;
            }
        }
    }

    pub(crate) fn lru_push(&mut self, i: u16) {
        let newest = self.newest;
        if let Some(l) = self.link_mut(i) {
            l.older = newest;
            l.newer = NIL;
        }
        match self.link_mut(newest) {
            Some(l) => l.newer = i,
            None => self.oldest = i,
        }
        self.newest = i;
    }

    pub(crate) fn lru_unlink(&mut self, i: u16) {
        let Link { older, newer, .. } = self.link(i);
        match self.link_mut(older) {
            Some(l) => l.newer = newer,
            None => self.oldest = newer,
        }
        match self.link_mut(newer) {
            Some(l) => l.older = older,
            None => self.newest = older,
        }
    }

    pub(crate) fn alloc(&mut self) -> Option<u16> {
        if self.free != NIL {
            let i = self.free;
            self.free = self.link(i).newer;
            Some(i)
        } else if usize::from(self.fresh) < N {
            let i = self.fresh;
            self.fresh += 1;
            Some(i)
        } else {
            None
        }
    }

    /// Stores `e` as the most recently touched entry; gives it back if every slot is taken.
    pub(crate) fn insert(&mut self, e: Entry, b: Buckets) -> Result<u16, Entry> {
        let Some(i) = self.alloc() else {
            return Err(e);
        };
        match self.slots.get_mut(usize::from(i)) {
            Some(slot) => slot.entry = Some(e),
            None => return Err(e),
        }
        self.lru_push(i);
        self.chain_push(Chain::Peer, b.peer, i);
        self.chain_push(Chain::Ticket, b.ticket, i);
        self.len += 1;
        Ok(i)
    }

    /// Takes entry `i` out of the cache and its index.
    pub(crate) fn remove(&mut self, i: u16, b: Option<Buckets>) -> Option<Entry> {
        let e = self.slots.get_mut(usize::from(i))?.entry.take()?;
        self.lru_unlink(i);
        self.chain_remove(Chain::Peer, b.map(|b| b.peer), i);
        self.chain_remove(Chain::Ticket, b.map(|b| b.ticket), i);
        let free = self.free;
        if let Some(l) = self.link_mut(i) {
            *l = Link {
                newer: free,
                ..Link::NONE
            };
        }
        self.free = i;
        self.len = self.len.saturating_sub(1);
        if self.len == 0 {
            self.horizon_s = u32::MAX;
            self.set_floor((0, 0));
        }
        Some(e)
    }

    /// Makes entry `i`, in peer bucket `peer_bucket`, the most recently touched.
    pub(crate) fn touch(&mut self, i: u16, peer_bucket: usize) {
        self.lru_unlink(i);
        self.lru_push(i);
        self.chain_remove(Chain::Peer, Some(peer_bucket), i);
        self.chain_push(Chain::Peer, peer_bucket, i);
    }

    /// True if no entry can be expired at `now_ms` (see [`State::horizon_s`]).
    pub(crate) fn surely_unexpired(&self, now_ms: u64) -> bool {
        split_ms(now_ms) >= self.floor() && secs(now_ms) < self.horizon_s
    }

    pub(crate) fn floor(&self) -> (u32, u16) {
        (self.floor_s, self.floor_sub_ms)
    }

    pub(crate) fn set_floor(&mut self, (s, ms): (u32, u16)) {
        self.floor_s = s;
        self.floor_sub_ms = ms;
    }
}

pub(crate) fn secs(now_ms: u64) -> u32 {
    u32::try_from(now_ms / 1000).unwrap_or(u32::MAX)
}

pub(crate) fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}
