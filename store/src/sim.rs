//! A simulated NOR flash with power-cut injection, and deterministic generators and records, for
//! tests of code that keeps sessions on flash (feature `sim`; never part of a firmware).
//!
//! [`SimFlash`] is the strictest flash the store claims to work on: it programs only erased
//! words, erases whole sectors, and can lose power at any word programmed or any sector erased,
//! leaving what a real part leaves (a word with only some of its bits cleared; a sector partly
//! erased). The store's own tests cut power at every such step (`tests/power_cut.rs`), the
//! client's tests reboot over it, and the fuzz target loads arbitrary images from it.
//!
//! Everything here lives in fixed arrays: no heap, `no_std` like the rest of the crate.
//!
//! ```
//! use embassy_futures::block_on;
//! use encore_session::{ContextId, SessionPool};
//! use encore_store::sim::{session, Cut, SimError, SimFlash, TestRng, T0};
//! use encore_store::{DeviceKey, SessionStore, StoreError};
//!
//! type Flash = SimFlash<4, 1024, 3>;
//! let pool: SessionPool<4> = SessionPool::new();
//! let key = DeviceKey::new([0x42; 32]);
//! let mut flash = Flash::new();
//! // The first word programmed loses power.
//! flash.cut_at(0);
//! let mut store = SessionStore::<_, 3>::new(&mut flash, 0..Flash::SIZE, &key).unwrap();
//! block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
//! let s = session(&pool, 1, ContextId(7), T0, 7200).unwrap();
//! assert_eq!(
//!     block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))),
//!     Err(StoreError::Flash(SimError::PowerCut))
//! );
//! drop(store);
//! assert_eq!(flash.cut_in(), Some(Cut::Write));
//! // Reboot: power back, nothing was stored.
//! flash.power_on();
//! let mut store = SessionStore::<_, 3>::new(&mut flash, 0..Flash::SIZE, &key).unwrap();
//! assert_eq!(block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap().loaded, 0);
//! ```

use core::convert::Infallible;
use core::ops::Range;

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use encore_session::{ContextId, Error, NewSession, PeerId, Session, SessionPool, TLS13};
use rand_core::{utils, TryCryptoRng, TryRng};

/// Why the simulated flash refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimError {
    /// Power failed during this operation.
    PowerCut,
    /// Power is off (after a cut, until [`SimFlash::power_on`]).
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
    /// Programming a word.
    Write,
    /// Erasing a sector.
    Erase,
}

/// A NOR flash of `SECTORS` sectors of `SECTOR` bytes, programmed in `WORD`-byte words, held in
/// RAM (`SECTOR * SECTORS` bytes inside the value).
///
/// - Erase sets a whole sector to 0xFF; a write may only program erased words and programs whole
///   words at aligned offsets; reads are word-aligned too.
/// - Power-cut injection: every word programmed and every sector erased is one *step*, counted
///   from 0 by [`steps`](Self::steps). After [`cut_at(k)`](Self::cut_at), step `k` is
///   interrupted: a word being programmed ends with only some of its bits cleared; a sector being
///   erased ends as [`EraseCut`] says. That operation fails with [`SimError::PowerCut`] and every
///   later one with [`SimError::PowerOff`] until [`power_on`](Self::power_on).
/// - What an interrupted step leaves comes from a deterministic generator
///   ([`seed_noise`](Self::seed_noise)), so a failing case replays exactly.
#[derive(Clone)]
pub struct SimFlash<const WORD: usize, const SECTOR: usize, const SECTORS: usize> {
    sectors: [[u8; SECTOR]; SECTORS],
    cut_at: Option<u64>,
    steps: u64,
    erase_steps: u64,
    cut_in: Option<Cut>,
    off: bool,
    noise: u64,
    erase_cut: EraseCut,
}

impl<const WORD: usize, const SECTOR: usize, const SECTORS: usize> Default
    for SimFlash<WORD, SECTOR, SECTORS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const WORD: usize, const SECTOR: usize, const SECTORS: usize> SimFlash<WORD, SECTOR, SECTORS> {
    /// Bytes of flash: the end of the range a store may be given.
    pub const SIZE: u32 = (SECTOR * SECTORS) as u32;

    /// An erased flash with power on and no cut pending; interrupted erases leave an
    /// [`EraseCut::Prefix`].
    pub const fn new() -> Self {
        SimFlash {
            sectors: [[0xFF; SECTOR]; SECTORS],
            cut_at: None,
            steps: 0,
            erase_steps: 0,
            cut_in: None,
            off: false,
            noise: 0x9E37_79B9_7F4A_7C15,
            erase_cut: EraseCut::Prefix,
        }
    }

    /// A flash holding `image` (padded with 0xFF or cut to size), as a fresh boot finds it.
    pub fn with_image(image: &[u8]) -> Self {
        let mut f = Self::new();
        for (d, s) in f.bytes_mut().iter_mut().zip(image) {
            *d = *s;
        }
        f
    }

    /// The whole flash content.
    pub fn bytes(&self) -> &[u8] {
        self.sectors.as_flattened()
    }

    /// The whole flash content, to edit as someone with the chip in hand could.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.sectors.as_flattened_mut()
    }

    /// Power fails during step `step` (counted as [`steps`](Self::steps) counts, so
    /// `cut_at(flash.steps())` cuts the very next one).
    pub fn cut_at(&mut self, step: u64) {
        self.cut_at = Some(step);
    }

    /// What an erase cut from now on leaves.
    pub fn set_erase_cut(&mut self, erase_cut: EraseCut) {
        self.erase_cut = erase_cut;
    }

    /// Seeds the generator of what interrupted steps leave: each seed gives another partial
    /// word or sector.
    pub fn seed_noise(&mut self, seed: u64) {
        self.noise = seed;
    }

    /// Power comes back: no cut pending.
    pub fn power_on(&mut self) {
        self.off = false;
        self.cut_at = None;
    }

    /// Whether power is off (a cut happened and [`power_on`](Self::power_on) was not called).
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Steps taken: words programmed plus sectors erased, interrupted ones included.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Sectors erased, interrupted ones included.
    pub fn erase_steps(&self) -> u64 {
        self.erase_steps
    }

    /// What the last cut interrupted, if power was cut.
    pub fn cut_in(&self) -> Option<Cut> {
        self.cut_in
    }

    /// Deterministic garbage for interrupted steps.
    fn next_noise(&mut self) -> u64 {
        splitmix64(&mut self.noise)
    }

    /// A random offset below `n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_noise() % n as u64) as usize
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

    /// The byte range of an operation at `offset` of `len` bytes, aligned to `align`.
    fn range(&self, offset: u32, len: usize, align: usize) -> Result<Range<usize>, SimError> {
        if self.off {
            return Err(SimError::PowerOff);
        }
        let offset = offset as usize;
        if !offset.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(SimError::NotAligned);
        }
        match offset.checked_add(len) {
            Some(end) if end <= SECTOR * SECTORS => Ok(offset..end),
            _ => Err(SimError::OutOfBounds),
        }
    }

    /// The word at byte `at` (word-aligned, checked by [`range`](Self::range)).
    fn word(&mut self, at: usize) -> Result<&mut [u8], SimError> {
        self.bytes_mut()
            .get_mut(at..at + WORD)
            .ok_or(SimError::OutOfBounds)
    }

    /// Leaves sector `index` as an erase interrupted by a cut does.
    fn interrupt_erase(&mut self, index: usize) -> Result<(), SimError> {
        let start = index * SECTOR;
        match self.erase_cut {
            EraseCut::Prefix => {
                let erased = self.below(SECTOR);
                let word = (start + erased) / WORD * WORD;
                let noise = self.next_noise().to_le_bytes();
                let sector = self.sectors.get_mut(index).ok_or(SimError::OutOfBounds)?;
                sector.iter_mut().take(erased).for_each(|b| *b = 0xFF);
                // Erasing sets bits; the word it stopped in has some of them set.
                for (b, n) in self.word(word)?.iter_mut().zip(noise.iter().cycle()) {
                    *b |= n;
                }
            }
            EraseCut::Scattered(bits) => {
                for _ in 0..bits {
                    let at = start + self.below(SECTOR);
                    let bit = self.next_noise() % 8;
                    if let Some(b) = self.bytes_mut().get_mut(at) {
                        *b |= 1 << bit;
                    }
                }
            }
        }
        Ok(())
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
        let range = self.range(offset, bytes.len(), WORD)?;
        let from = self.bytes().get(range).ok_or(SimError::OutOfBounds)?;
        bytes.copy_from_slice(from);
        Ok(())
    }

    fn capacity(&self) -> usize {
        SECTOR * SECTORS
    }
}

impl<const WORD: usize, const SECTOR: usize, const SECTORS: usize> NorFlash
    for SimFlash<WORD, SECTOR, SECTORS>
{
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        let len = to.checked_sub(from).ok_or(SimError::OutOfBounds)?;
        let range = self.range(from, len as usize, SECTOR)?;
        for index in range.start / SECTOR..range.end / SECTOR {
            self.erase_steps += 1;
            if self.step() {
                self.cut_in = Some(Cut::Erase);
                self.interrupt_erase(index)?;
                return Err(SimError::PowerCut);
            }
            let sector = self.sectors.get_mut(index).ok_or(SimError::OutOfBounds)?;
            sector.fill(0xFF);
        }
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        let range = self.range(offset, bytes.len(), WORD)?;
        for (at, data) in range.step_by(WORD).zip(bytes.chunks(WORD)) {
            if self.word(at)?.iter().any(|b| *b != 0xFF) {
                return Err(SimError::NotErased);
            }
            if self.step() {
                self.cut_in = Some(Cut::Write);
                let noise = self.next_noise().to_le_bytes();
                // Programming only clears bits; an interrupted word has some of them cleared.
                for ((b, d), n) in self
                    .word(at)?
                    .iter_mut()
                    .zip(data)
                    .zip(noise.iter().cycle())
                {
                    *b &= d | n;
                }
                return Err(SimError::PowerCut);
            }
            self.word(at)?.copy_from_slice(data);
        }
        Ok(())
    }
}

/// SplitMix64: the next value of the sequence whose state is `state`. Every seed, 0 included,
/// gives a full-period sequence.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Deterministic bytes (splitmix64 from the seed inside) for nonces in tests only; devices use
/// their hardware generator.
#[derive(Debug, Clone)]
pub struct TestRng(pub u64);

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(splitmix64(&mut self.0))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        utils::fill_bytes_via_next_word(dst, || self.try_next_u64())
    }
}

impl TryCryptoRng for TestRng {}

/// A generator that gives this byte for every byte it is asked for, as a broken or badly seeded
/// one would: nonces must not repeat all the same (E8).
#[derive(Debug, Clone, Copy)]
pub struct RepeatingRng(pub u8);

impl TryRng for RepeatingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(self.0);
        Ok(())
    }
}

impl TryCryptoRng for RepeatingRng {}

/// A generator that always fails, as a broken hardware generator would.
#[derive(Debug, Clone, Copy)]
pub struct BrokenRng;

/// The error of [`BrokenRng`] (and of any test generator that is told to fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Wall-clock time (Unix seconds) of the tests' first handshake.
pub const T0: u64 = 1_800_000_000;

/// Bytes of a test ticket: an OpenSSL ticket with a SHA-256 suite.
pub const TICKET_LEN: usize = 192;

/// The peer identity of every test record: `device.example`, ALPN `mqtt`.
pub fn peer() -> PeerId {
    PeerId::new("device.example", &[b"mqtt"], &[7; 16])
}

/// Ticket bytes of test ticket `id`. The first byte is `id` (see [`id_of`]).
pub fn ticket_bytes(id: u8) -> [u8; TICKET_LEN] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(31) ^ id)
}

/// The resumption PSK of test ticket `id` (SHA-256 suite).
pub fn psk_bytes(id: u8) -> [u8; 32] {
    [id ^ 0x5A; 32]
}

/// The id a test ticket was made with, recovered from its bytes (0 for no bytes).
pub fn id_of(ticket: &[u8]) -> u8 {
    ticket.first().copied().unwrap_or(0)
}

/// A record as a NewSessionTicket would make it: TLS 1.3, TLS_AES_128_GCM_SHA256, the bytes of
/// [`ticket_bytes`] and [`psk_bytes`] for `id`, received at `received_unix` (monotonic 1 s) from
/// a server that authenticated itself then, with a server lifetime of `lifetime_s`, for
/// [`peer`], owned by `owner`.
pub fn session<'p, const N: usize>(
    pool: &'p SessionPool<N>,
    id: u8,
    owner: ContextId,
    received_unix: u64,
    lifetime_s: u32,
) -> Result<Session<'p, N>, Error> {
    pool.create(&NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk: &psk_bytes(id),
        ticket: &ticket_bytes(id),
        lifetime_s,
        age_add: 0x1000_0000 | u32::from(id),
        max_early_data: 0,
        received_ms: 1_000,
        received_unix: Some(received_unix),
        auth_age_ms: 0,
        peer: peer(),
        owner,
    })
}
