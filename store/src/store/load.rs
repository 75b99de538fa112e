//! Loading at boot: every sealed record opened, checked and handed to the caller (C29 clock rule, E8 old formats).

use super::*;

impl<F: NorFlash, const SLOTS: usize, const BUF: usize> SessionStore<F, SLOTS, BUF> {
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
    pub(super) fn load_one<'p, const N: usize, const T: usize>(
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
}
