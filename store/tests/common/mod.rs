//! Test support: a simulated NOR flash with power-cut injection, deterministic randomness, and
//! records to store.
#![allow(dead_code)]

use core::convert::Infallible;

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use encore_session::{ContextId, NewSession, PeerId, Session, SessionPool, TLS13};
use encore_store::Wear;
use rand_core::{TryCryptoRng, TryRng};

/// Why the simulated flash refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimError {
    /// Power failed during this operation.
    PowerCut,
    /// Power is off (after a cut, until `power_on`).
    PowerOff,
    /// Offset or length not a multiple of the word (write, read) or sector (erase).
    NotAligned,
    /// Outside the flash.
    OutOfBounds,
    /// A write to a word that is not erased: NOR flash only clears bits, and a plain `NorFlash`
    /// must not program a word twice.
    NotErased,
}

impl NorFlashError for SimError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SimError::NotAligned => NorFlashErrorKind::NotAligned,
            SimError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// A NOR flash of `SECTORS` sectors of `SECTOR` bytes, programmed in `WORD`-byte words.
///
/// - Erase sets a whole sector to 0xFF; a write may only program erased words and programs whole
///   words at aligned offsets.
/// - Power-cut injection: every word programmed and every sector erased is one step. With
///   `cut_at = Some(k)`, step `k` (from 0) is interrupted: a word being programmed ends with only
///   some of its bits cleared; a sector being erased ends erased up to a random byte, that byte's
///   word partly erased (random bits set), the rest unchanged. The operation then fails with
///   `PowerCut` and every later one with `PowerOff` until `power_on`.
pub struct SimFlash<const WORD: usize, const SECTOR: usize, const SECTORS: usize> {
    pub bytes: Vec<u8>,
    pub cut_at: Option<u64>,
    /// Steps taken: words programmed plus sectors erased (interrupted ones included).
    pub steps: u64,
    /// Sectors erased (interrupted ones included).
    pub erase_steps: u64,
    /// What the cut interrupted.
    pub cut_in: Option<Cut>,
    pub off: bool,
    pub garble: u64,
    /// What an interrupted erase leaves.
    pub erase_cut: EraseCut,
}

/// What an interrupted sector erase leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EraseCut {
    /// Erased from the sector start up to a random byte, that byte's word partly erased, the rest
    /// unchanged (the order in which the flash data structure's markers detect it).
    Prefix,
    /// The sector keeps its content except for this many random bits set to 1 across it (an erase
    /// cut at its very beginning on a part that erases all cells at once).
    Scattered(u32),
}

/// The kind of step a power cut interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    Write,
    Erase,
}

impl<const WORD: usize, const SECTOR: usize, const SECTORS: usize> SimFlash<WORD, SECTOR, SECTORS> {
    pub const SIZE: u32 = (SECTOR * SECTORS) as u32;

    pub fn new() -> Self {
        SimFlash {
            bytes: vec![0xFF; SECTOR * SECTORS],
            cut_at: None,
            steps: 0,
            erase_steps: 0,
            cut_in: None,
            off: false,
            garble: 0x9E37_79B9_7F4A_7C15,
            erase_cut: EraseCut::Prefix,
        }
    }

    /// A flash holding `image` (padded with 0xFF or cut to size).
    pub fn with_image(image: &[u8]) -> Self {
        let mut f = Self::new();
        for (d, s) in f.bytes.iter_mut().zip(image) {
            *d = *s;
        }
        f
    }

    /// Power comes back: no cut pending.
    pub fn power_on(&mut self) {
        self.off = false;
        self.cut_at = None;
    }

    fn next_garble(&mut self) -> u64 {
        // xorshift64*: deterministic garbage for interrupted steps.
        let mut x = self.garble;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.garble = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Counts one step; true if power fails during it.
    fn step(&mut self) -> bool {
        let cut = self.cut_at == Some(self.steps);
        self.steps += 1;
        if cut {
            self.off = true;
        }
        cut
    }

    fn check(&self, offset: u32, len: usize, align: usize) -> Result<usize, SimError> {
        if self.off {
            return Err(SimError::PowerOff);
        }
        let offset = offset as usize;
        if !offset.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(SimError::NotAligned);
        }
        if offset + len > self.bytes.len() {
            return Err(SimError::OutOfBounds);
        }
        Ok(offset)
    }
}

impl<const WORD: usize, const SECTOR: usize, const SECTORS: usize> ErrorType
    for SimFlash<WORD, SECTOR, SECTORS>
{
    type Error = SimError;
}

impl<const WORD: usize, const SECTOR: usize, const SECTORS: usize> ReadNorFlash
    for SimFlash<WORD, SECTOR, SECTORS>
{
    const READ_SIZE: usize = WORD;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        let at = self.check(offset, bytes.len(), WORD)?;
        bytes.copy_from_slice(&self.bytes[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl<const WORD: usize, const SECTOR: usize, const SECTORS: usize> NorFlash
    for SimFlash<WORD, SECTOR, SECTORS>
{
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        if to < from {
            return Err(SimError::OutOfBounds);
        }
        let start = self.check(from, (to - from) as usize, SECTOR)?;
        for sector in (start..to as usize).step_by(SECTOR) {
            self.erase_steps += 1;
            if self.step() {
                self.cut_in = Some(Cut::Erase);
                match self.erase_cut {
                    EraseCut::Prefix => {
                        let erased = (self.next_garble() % SECTOR as u64) as usize;
                        self.bytes[sector..sector + erased].fill(0xFF);
                        let word = (sector + erased) / WORD * WORD;
                        for b in &mut self.bytes[word..word + WORD] {
                            *b |= self.garble as u8;
                            self.garble = self.garble.rotate_left(8);
                        }
                    }
                    EraseCut::Scattered(bits) => {
                        for _ in 0..bits {
                            let at = (self.next_garble() % SECTOR as u64) as usize;
                            let bit = self.next_garble() % 8;
                            self.bytes[sector + at] |= 1 << bit;
                        }
                    }
                }
                return Err(SimError::PowerCut);
            }
            self.bytes[sector..sector + SECTOR].fill(0xFF);
        }
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        let start = self.check(offset, bytes.len(), WORD)?;
        for (i, word) in bytes.chunks(WORD).enumerate() {
            let at = start + i * WORD;
            if self.bytes[at..at + WORD].iter().any(|b| *b != 0xFF) {
                return Err(SimError::NotErased);
            }
            if self.step() {
                self.cut_in = Some(Cut::Write);
                let noise = self.next_garble().to_le_bytes();
                for (j, b) in self.bytes[at..at + WORD].iter_mut().enumerate() {
                    // Programming only clears bits; an interrupted word has some of them cleared.
                    *b &= word[j] | noise[j % 8];
                }
                return Err(SimError::PowerCut);
            }
            self.bytes[at..at + WORD].copy_from_slice(word);
        }
        Ok(())
    }
}

/// Deterministic bytes for nonces in tests only; devices use their hardware RNG.
pub struct TestRng(pub u64);

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

/// An RNG that always fails, as a broken hardware RNG would.
pub struct BrokenRng;

#[derive(Debug)]
pub struct RngFailed;

impl core::fmt::Display for RngFailed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("rng failed")
    }
}

impl core::error::Error for RngFailed {}

impl TryRng for BrokenRng {
    type Error = RngFailed;
    fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
        Err(RngFailed)
    }
    fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
        Err(RngFailed)
    }
    fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> Result<(), RngFailed> {
        Err(RngFailed)
    }
}

impl TryCryptoRng for BrokenRng {}

/// Wall-clock time of the tests' first handshake.
pub const T0: u64 = 1_800_000_000;

pub fn peer() -> PeerId {
    PeerId::new("device.example", &[b"mqtt"], &[7; 16])
}

/// Ticket bytes of test ticket `id`: 192 bytes (an OpenSSL ticket with a SHA-256 suite).
pub fn ticket_bytes(id: u8) -> Vec<u8> {
    (0..192u16)
        .map(|i| (i as u8).wrapping_mul(31) ^ id)
        .collect()
}

pub fn psk_bytes(id: u8) -> [u8; 32] {
    [id ^ 0x5A; 32]
}

/// A record as a NewSessionTicket would make it: ticket `id`, received at `received_unix`, with a
/// server lifetime of `lifetime_s`, owned by `owner`.
pub fn ticket<'p, const N: usize>(
    pool: &'p SessionPool<N>,
    id: u8,
    owner: ContextId,
    received_unix: u64,
    lifetime_s: u32,
) -> Session<'p, N> {
    let ticket = ticket_bytes(id);
    let psk = psk_bytes(id);
    pool.create(&NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk: &psk,
        ticket: &ticket,
        lifetime_s,
        age_add: 0x1000_0000 | u32::from(id),
        max_early_data: 0,
        received_ms: 1_000,
        received_unix: Some(received_unix),
        auth_age_ms: 0,
        peer: peer(),
        owner,
    })
    .unwrap()
}

/// The ticket bytes of a session.
pub fn ticket_of<const N: usize>(s: &Session<'_, N>) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = s.copy_ticket(&mut buf).unwrap();
    buf[..n].to_vec()
}

pub fn psk_of<const N: usize>(s: &Session<'_, N>) -> Vec<u8> {
    let mut buf = [0u8; 48];
    let n = s.copy_psk(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// The id a test ticket was made with, recovered from its bytes.
pub fn id_of(ticket: &[u8]) -> u8 {
    ticket[0]
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
