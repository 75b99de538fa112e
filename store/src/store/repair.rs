//! Repairs after a power cut: refusing empty items, finishing an interrupted erase, erasing unmarked sectors.

use super::*;

impl<F: NorFlash, const SLOTS: usize, const BUF: usize> SessionStore<F, SLOTS, BUF> {
    /// [`StoreError::Corrupted`] if an item with no data bytes appears anywhere in the range
    /// (see [`EMPTY_ITEM_HEADER`]): loading such an image would panic inside the map. Items start
    /// at word-aligned offsets, so every aligned offset is checked; reads overlap by a header so
    /// that none straddles two reads unseen.
    pub(super) async fn refuse_empty_items(&mut self) -> Result<(), StoreError<F::Error>> {
        let range = self.map.flash_range();
        let word = Self::word();
        let read = F::READ_SIZE.max(1);
        let chunk = BUF - BUF % read;
        let overlap = ITEM_HEADER.next_multiple_of(read).next_multiple_of(word);
        let advance = u32::try_from(chunk.saturating_sub(overlap) / word * word)
            .map_err(|_| StoreError::Corrupted)?;
        if advance == 0 {
            return Err(StoreError::Geometry(GeometryError::WordTooLarge));
        }
        let mut at = range.start;
        while at < range.end {
            let len = chunk.min((range.end - at) as usize);
            let part = self.buf.0.get_mut(..len).ok_or(StoreError::Corrupted)?;
            self.map
                .flash()
                .read(at, part)
                .await
                .map_err(StoreError::Flash)?;
            let found = part
                .windows(ITEM_HEADER)
                .step_by(word)
                .any(|w| w == EMPTY_ITEM_HEADER);
            if found {
                self.buf.0.zeroize();
                return Err(StoreError::Corrupted);
            }
            if len < chunk {
                break;
            }
            at = at.saturating_add(advance);
        }
        self.buf.0.zeroize();
        Ok(())
    }

    /// Whether the word at `address` is a set page marker (at least 4 of its bits are 0, the rule of
    /// `sequential-storage` 8).
    pub(super) async fn marker_set(&mut self, address: u32) -> Result<bool, StoreError<F::Error>> {
        let read = F::READ_SIZE.max(1);
        let word = self.buf.0.get_mut(..read).ok_or(StoreError::Corrupted)?;
        self.map
            .flash()
            .read(address, word)
            .await
            .map_err(StoreError::Flash)?;
        let zeros: u32 = word.iter().map(|b| b.count_zeros()).sum();
        Ok(zeros >= MARKER_ZERO_BITS)
    }

    /// Finishes the erase of a sector whose live items were all copied before power failed.
    ///
    /// In a healthy map the sector after the open one is erased. When it is not, either copying
    /// its live items into the open sector was interrupted, or the erase that follows the copy was.
    /// The map cannot tell the two apart: at its next write it erases the open sector and copies
    /// again from the old one. After an interrupted erase the old sector may be damaged while
    /// still looking intact (its markers survive, a few bits do not); copying from it again would
    /// lose the good copies, and a damaged tombstone would let the record it consumed come back.
    ///
    /// So the store asks first: with the old sector read as erased, is every slot's newest value
    /// the same? If so, the copy was complete and the old sector holds nothing the map needs: it
    /// erases it, as the interrupted erase would have. If not, the copy was interrupted and the old
    /// sector is intact (its erase never started): the map's own repair is right. Returns the
    /// number of sectors erased (0 or 1).
    pub(super) async fn finish_interrupted_erase(&mut self) -> Result<usize, StoreError<F::Error>> {
        let range = self.map.flash_range();
        let sector = u32::try_from(F::ERASE_SIZE).map_err(|_| StoreError::Corrupted)?;
        let read = u32::try_from(F::READ_SIZE.max(1)).map_err(|_| StoreError::Corrupted)?;
        let sectors = range.end.saturating_sub(range.start) / sector.max(1);
        let mut open_sector = None;
        for i in 0..sectors {
            let start = range.start + i * sector;
            if self.marker_set(start).await? && !self.marker_set(start + sector - read).await? {
                open_sector = Some(i);
                break;
            }
        }
        let Some(open_sector) = open_sector else {
            return Ok(0);
        };
        let old = range.start + (open_sector + 1) % sectors * sector;
        if !self.marker_set(old).await? {
            return Ok(0);
        }
        let with_old = self.newest_digests().await;
        self.map.flash().hidden = Some(old..old + sector);
        let without_old = self.newest_digests().await;
        self.map.flash().hidden = None;
        if with_old? != without_old? {
            return Ok(0);
        }
        self.map
            .flash()
            .erase(old, old + sector)
            .await
            .map_err(StoreError::Flash)?;
        Ok(1)
    }

    /// For each slot, a digest of its newest value (`None`: never written).
    pub(super) async fn newest_digests(
        &mut self,
    ) -> Result<[Option<[u8; FINGERPRINT_LEN]>; SLOTS], StoreError<F::Error>> {
        let mut newest = [None; SLOTS];
        let mut items = self
            .map
            .fetch_all_items(&mut self.buf.0)
            .await
            .map_err(StoreError::from_map)?;
        while let Some((key, value)) = items
            .next::<&[u8]>(&mut self.buf.0)
            .await
            .map_err(StoreError::from_map)?
        {
            if let Some(n) = newest.get_mut(usize::from(key)) {
                *n = Some(seal::fingerprint(value));
            }
        }
        Ok(newest)
    }

    /// Erases again every sector whose start marker is not set but which is not blank.
    ///
    /// `sequential-storage` sets a sector's start marker before it writes anything else into it, and
    /// treats a sector without one as erased and ready to write. A power cut during an erase, or
    /// while the marker itself was being written, can leave such a sector with stray programmed
    /// bits; writing into it would fail or produce garbage. Erasing it loses nothing: no data was
    /// ever committed to a sector without a start marker.
    pub(super) async fn erase_unmarked_sectors(&mut self) -> Result<usize, StoreError<F::Error>> {
        let range = self.map.flash_range();
        let sector = F::ERASE_SIZE;
        let read = F::READ_SIZE.max(1);
        let chunk = BUF - BUF % read;
        if chunk == 0 || sector % read != 0 {
            return Err(StoreError::Geometry(GeometryError::WordTooLarge));
        }
        let mut repaired = 0;
        let mut start = range.start;
        while start < range.end {
            let end = start.saturating_add(u32::try_from(sector).unwrap_or(u32::MAX));
            let flash = self.map.flash();
            let marker = self.buf.0.get_mut(..read).ok_or(StoreError::Corrupted)?;
            flash.read(start, marker).await.map_err(StoreError::Flash)?;
            let zeros: u32 = marker.iter().map(|b| b.count_zeros()).sum();
            if zeros < MARKER_ZERO_BITS {
                let mut blank = true;
                let mut at = start;
                while at < end && blank {
                    let len = chunk.min((end - at) as usize);
                    let part = self.buf.0.get_mut(..len).ok_or(StoreError::Corrupted)?;
                    flash.read(at, part).await.map_err(StoreError::Flash)?;
                    blank = part.iter().all(|b| *b == 0xFF);
                    at = at.saturating_add(len as u32);
                }
                if !blank {
                    flash.erase(start, end).await.map_err(StoreError::Flash)?;
                    repaired += 1;
                }
            }
            start = end;
        }
        self.buf.0.zeroize();
        Ok(repaired)
    }
}
