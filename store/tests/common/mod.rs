//! Test support: the crate's simulated flash, generators and test records
//! (`encore_store::sim`), what the tests read back from records, and a model of the map's
//! writes.
#![allow(dead_code)]

use encore_session::{ContextId, Session, SessionPool};
pub use encore_store::sim::*;
use encore_store::Wear;

/// [`session`] from a pool with room.
pub fn ticket<'p, const N: usize>(
    pool: &'p SessionPool<N>,
    id: u8,
    owner: ContextId,
    received_unix: u64,
    lifetime_s: u32,
) -> Session<'p, N> {
    session(pool, id, owner, received_unix, lifetime_s).unwrap()
}

/// The ticket bytes of a session.
pub fn ticket_of<const N: usize>(s: &Session<'_, N>) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = s.copy_ticket(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// The PSK bytes of a session.
pub fn psk_of<const N: usize>(s: &Session<'_, N>) -> Vec<u8> {
    let mut buf = [0u8; 48];
    let n = s.copy_psk(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// An independent model of the map's documented write pattern (sequential-storage 8, "Inner
/// workings for map"): items are appended to the open sector; a full sector is closed (end
/// marker), the next one gets its start marker, and if the sector after that holds data, the
/// items in it that are still the newest value of their key are copied over and it is erased.
pub struct RingModel {
    pub sectors: usize,
    room: usize,
    word: usize,
    /// Per sector: items as (key, data length, write number); `None` while erased.
    content: Vec<Option<Vec<(u8, usize, u64)>>>,
    active: Option<usize>,
    counter: u64,
    pub wear: Wear,
}

impl RingModel {
    pub fn new(sectors: usize, sector_size: usize, word: usize) -> Self {
        RingModel {
            sectors,
            room: sector_size - 2 * word,
            word,
            content: vec![None; sectors],
            active: None,
            counter: 0,
            wear: Wear::default(),
        }
    }

    fn item_len(&self, data: usize) -> usize {
        8usize.next_multiple_of(self.word) + data.next_multiple_of(self.word)
    }

    /// Header, the word-aligned part of the data, and the rest padded to a word.
    fn program(&mut self, sector: usize, key: u8, data: usize) {
        let aligned = data / self.word * self.word;
        self.wear.writes += 1 + u64::from(aligned > 0) + u64::from(data > aligned);
        self.wear.bytes_written += self.item_len(data) as u64;
        self.counter += 1;
        let c = self.counter;
        self.content[sector].as_mut().unwrap().push((key, data, c));
    }

    fn used(&self, sector: usize) -> usize {
        let items = self.content[sector].as_ref().unwrap();
        items.iter().map(|(_, d, _)| self.item_len(*d)).sum()
    }

    fn marker(&mut self) {
        self.wear.writes += 1;
        self.wear.bytes_written += self.word as u64;
    }

    fn newest(&self, key: u8) -> u64 {
        self.content
            .iter()
            .flatten()
            .flatten()
            .filter(|(k, _, _)| *k == key)
            .map(|(_, _, c)| *c)
            .max()
            .unwrap()
    }

    pub fn write(&mut self, key: u8, data: usize) {
        let mut sector = match self.active {
            Some(s) => s,
            None => {
                self.content[0] = Some(Vec::new());
                self.marker();
                0
            }
        };
        loop {
            if self.used(sector) + self.item_len(data) <= self.room {
                self.program(sector, key, data);
                self.active = Some(sector);
                return;
            }
            // Close this sector, open the next one, empty the one after it.
            self.marker();
            let next = (sector + 1) % self.sectors;
            assert!(self.content[next].is_none());
            self.content[next] = Some(Vec::new());
            self.marker();
            let source = (next + 1) % self.sectors;
            if let Some(items) = self.content[source].clone() {
                for (k, d, c) in items {
                    if self.newest(k) == c {
                        self.program(next, k, d);
                    }
                }
                self.content[source] = None;
                self.wear.erases += 1;
            }
            sector = next;
        }
    }
}
