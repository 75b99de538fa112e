//! Writing: storing a record, consuming one before its ClientHello (C28), pruning, erasing.

use super::*;

impl<F: NorFlash, const SLOTS: usize, const BUF: usize> SessionStore<F, SLOTS, BUF> {
    /// After a NewSessionTicket: seals `session` and writes it to a free slot (E3: call it outside
    /// critical sections; it waits for flash).
    ///
    /// Used, not-resumable and already-expired records are not written ([`Stored::NotResumable`]),
    /// nor is a ticket already stored ([`Stored::AlreadyStored`]). When every slot is live, the
    /// record received first is replaced (`evicted`). The nonce is derived (E8) from 32 bytes of
    /// `rng`, the slot, the next write counter and the record itself, so it does not repeat even
    /// if the generator does ([`crate::seal`]); without the generator's output nothing is written
    /// ([`StoreError::Rng`]). `now_unix` is needed when the record's wall-clock receipt time is
    /// unknown (E6).
    ///
    /// Costs one item write: three `write` calls when the value's length is not a multiple of the
    /// word size, two when it is (see the README's wear table), plus page upkeep now and then.
    pub async fn store<'p, const N: usize, const T: usize, R: TryCryptoRng + ?Sized>(
        &mut self,
        session: &Session<'p, N, T>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut R,
    ) -> Result<Stored, StoreError<F::Error>> {
        const {
            assert!(BUF >= buffer_len(T), "BUF is smaller than buffer_len(T)");
        }
        if !self.loaded {
            return Err(StoreError::NotLoaded);
        }
        let info = session.info().map_err(StoreError::Session)?;
        if info.used || info.not_resumable {
            return Ok(Stored::NotResumable);
        }
        let result = self.seal_and_write(session, now_ms, now_unix, rng).await;
        self.buf.0.zeroize();
        result
    }

    /// [`SessionStore::store`] past its first checks: seals the record into the work buffer and
    /// writes it. A failure may leave the plaintext record in the buffer; the caller wipes it.
    async fn seal_and_write<const N: usize, const T: usize>(
        &mut self,
        session: &Session<'_, N, T>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut (impl TryCryptoRng + ?Sized),
    ) -> Result<Stored, StoreError<F::Error>> {
        // Serialise once in the clear to learn what the index needs, then forget the plaintext.
        let n = session
            .encode(&mut self.buf.0, now_ms, now_unix)
            .map_err(|e| match e {
                SessionError::WallClockUnknown => StoreError::WallClockUnknown,
                e => StoreError::Session(e),
            })?;
        let meta = match self.buf.0.get(..n).and_then(seal::summarize) {
            Some(summary) => Slot::of(SlotState::Live, &summary),
            None => return Err(StoreError::Corrupted),
        };
        self.buf.0.zeroize();

        if meta.expired(now_unix.unwrap_or(meta.received_unix), &self.limits) {
            return Ok(Stored::NotResumable);
        }
        if let Some(slot) = self.find(meta.owner, &meta.fingerprint).next() {
            return Ok(Stored::AlreadyStored { slot });
        }
        let now = now_unix.unwrap_or(meta.received_unix);
        let (slot, evicted) = self.pick_slot(now).ok_or(StoreError::Full)?;
        let counter = self
            .counter
            .checked_add(1)
            .ok_or(StoreError::CounterExhausted)?;
        let mut random = [0u8; RANDOM_LEN];
        rng.try_fill_bytes(&mut random)
            .map_err(|_| StoreError::Rng)?;
        self.set_state(slot, SlotState::Unknown);
        // Used from now on, whether or not the write completes: a value cut by a power failure
        // may be partly on flash, so its counter is not given to another record in this boot.
        self.counter = counter;
        let value = SealedWrite {
            cipher: &self.cipher,
            nonce_key: &self.nonce_key,
            session,
            slot,
            counter,
            random,
            now_ms,
            now_unix,
            failure: Cell::new(None),
        };
        let written = self.map.store_item(&mut self.buf.0, &slot, &value).await;
        if let Err(e) = written {
            return Err(match value.failure.take() {
                Some(session_error) => StoreError::Session(session_error),
                None => StoreError::from_map(e),
            });
        }
        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
            *s = Slot {
                order: self.next_order,
                ..meta
            };
        }
        self.next_order = self.next_order.saturating_add(1);
        Ok(Stored::Written { slot, evicted })
    }

    /// Writes `slot`'s tombstone, which carries the write counter (so that it survives even when
    /// every slot's newest value is a tombstone). While the write is in flight the slot is
    /// `Unknown`, and stays so if it fails.
    pub(super) async fn tombstone(&mut self, slot: u8) -> Result<(), StoreError<F::Error>> {
        self.set_state(slot, SlotState::Unknown);
        self.map
            .store_item(&mut self.buf.0, &slot, &Tombstone(self.counter))
            .await
            .map_err(StoreError::from_map)?;
        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
            *s = Slot::EMPTY;
        }
        Ok(())
    }

    /// Before a ClientHello that carries `session`'s ticket leaves: durably removes the record from
    /// flash (C28). When this returns `Ok`, no later boot loads the ticket again, whatever power
    /// does; when it returns `Err`, do not offer the ticket (fall back to a full handshake).
    ///
    /// Returns `Ok(true)` if the ticket was stored, `Ok(false)` if it was not (a session that only
    /// ever lived in RAM, or already consumed): nothing to remove, it may be offered. Slots left in
    /// doubt by an earlier failed write are tombstoned as well, since one of them might hold this
    /// ticket.
    ///
    /// Call it also when a stored session is invalidated (C10, C13, C15, C18), so that a reboot does
    /// not bring it back as resumable. Costs one tombstone per slot removed: three `write` calls
    /// with 4-byte words (header, one word of key, format and counter, the rest padded to a
    /// word), two with larger words, plus page upkeep now and then.
    pub async fn consume<const N: usize, const T: usize>(
        &mut self,
        session: &Session<'_, N, T>,
    ) -> Result<bool, StoreError<F::Error>> {
        const {
            assert!(BUF >= buffer_len(T), "BUF is smaller than buffer_len(T)");
        }
        if !self.loaded {
            return Err(StoreError::NotLoaded);
        }
        let owner = session.info().map_err(StoreError::Session)?.owner;
        let len = session
            .copy_ticket(&mut self.buf.0)
            .map_err(StoreError::Session)?;
        let fingerprint = seal::fingerprint(self.buf.0.get(..len).unwrap_or(&[]));
        self.buf.0.zeroize();

        let mut found = false;
        for i in 0..SLOTS {
            let Some(slot) = self.slots.get(i).copied() else {
                continue;
            };
            let ours = slot.state == SlotState::Live
                && slot.owner == owner
                && slot.fingerprint == fingerprint;
            if ours || slot.state == SlotState::Unknown {
                let key = u8::try_from(i).map_err(|_| StoreError::Corrupted)?;
                self.tombstone(key).await?;
                found |= ours;
            }
        }
        Ok(found)
    }

    /// Writes a tombstone over every record that can never be offered again: expired by the wall
    /// clock (C29, E6), unreadable or undecodable at load, or in doubt after a failed write. Returns
    /// how many slots were cleared. Loading already skips such records; pruning also removes their
    /// ciphertext from the live set, so the map drops it at its next page erase.
    pub async fn prune(&mut self, now_unix: u64) -> Result<usize, StoreError<F::Error>> {
        if !self.loaded {
            return Err(StoreError::NotLoaded);
        }
        let mut cleared = 0;
        for i in 0..SLOTS {
            let Some(slot) = self.slots.get(i).copied() else {
                continue;
            };
            let prunable = match slot.state {
                SlotState::Empty => false,
                SlotState::Live => slot.expired(now_unix, &self.limits),
                SlotState::Stale | SlotState::Unknown => true,
            };
            if prunable {
                let key = u8::try_from(i).map_err(|_| StoreError::Corrupted)?;
                self.tombstone(key).await?;
                cleared += 1;
            }
        }
        Ok(cleared)
    }

    /// Erases the whole range and starts with an empty index (for example after
    /// [`StoreError::Corrupted`]).
    ///
    /// Sectors are erased one by one. If power fails part-way, some records and some tombstones may
    /// survive; since the map is a ring, a surviving record could then have lost the tombstone that
    /// consumed it. Call this only when the image is already unreadable (or after
    /// [`StoreError::CounterExhausted`]), and call it again at the next boot if it did not return
    /// `Ok`.
    ///
    /// The write counter starts again from 0, as the next boot would find it on the blank range;
    /// nonces stay distinct through the generator's output and the record, both in their hash.
    pub async fn erase_all(&mut self) -> Result<(), StoreError<F::Error>> {
        self.loaded = false;
        self.map.erase_all().await.map_err(StoreError::from_map)?;
        self.slots = [Slot::EMPTY; SLOTS];
        self.counter = 0;
        self.loaded = true;
        Ok(())
    }
}
