//! Emulator-only randomness: a ChaCha20 generator seeded by the host.
//!
//! QEMU's MPS2 boards have no random number generator. [`EmulatorRng`] takes
//! a 256-bit seed from the host through semihosting (the host's
//! `/dev/urandom`, or a seed file for reproducible runs) and expands it with
//! ChaCha20. Anyone who can read the host file, or the semihosting traffic,
//! knows every key it produces: it exists for the emulator and is never used
//! on a real board, where the hardware RNG is used instead.

use core::convert::Infallible;
use core::ffi::CStr;

use chacha20::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use semihosting::io::Read;

/// The host's entropy device, read through semihosting `SYS_OPEN`/`SYS_READ`.
pub const HOST_ENTROPY: &CStr = c"/dev/urandom";

/// The seed could not be read from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SeedError {
    /// The host refused to open the file (missing, or semihosting disabled).
    Open,
    /// The file held fewer than 32 bytes, or a read failed.
    Read,
}

/// ChaCha20 CSPRNG seeded from the host. Emulator only; see the module docs.
pub struct EmulatorRng {
    inner: ChaCha20Rng,
}

impl EmulatorRng {
    /// Seeds from the host's `/dev/urandom`.
    pub fn from_host_entropy() -> Result<Self, SeedError> {
        Self::from_host_file(HOST_ENTROPY)
    }

    /// Seeds from the first 32 bytes of a host file (a path relative to the
    /// directory QEMU runs in, or absolute). A fixed file gives the same key
    /// shares on every run, which makes instruction counts repeatable.
    pub fn from_host_file(path: &CStr) -> Result<Self, SeedError> {
        let mut file = semihosting::fs::File::open(path).map_err(|_| SeedError::Open)?;
        let mut seed = [0u8; 32];
        file.read_exact(&mut seed).map_err(|_| SeedError::Read)?;
        Ok(Self::from_seed(seed))
    }

    /// A generator from a known seed: for tests and reproducible runs only.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            inner: ChaCha20Rng::from_seed(seed),
        }
    }
}

impl TryRng for EmulatorRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.try_fill_bytes(dst)
    }
}

impl TryCryptoRng for EmulatorRng {}
