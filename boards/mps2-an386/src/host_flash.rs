//! A NOR flash kept in a host file, so that its contents outlive a QEMU restart.
//! **Emulator only.**
//!
//! The MPS2 AN386 as QEMU emulates it has no flash the firmware can program
//! (its 4 MiB "flash" is RAM loaded from the ELF at every start, and QEMU
//! gives this board no pflash device). [`HostFlash`] stands in for the
//! session-store sectors of a real board: every read, write and erase goes to a
//! file on the host through semihosting (`SYS_OPEN`, `SYS_SEEK`, `SYS_READ`,
//! `SYS_WRITE`, `SYS_FLEN`). QEMU writes to the file as the call happens, so the
//! bytes are on the host when the firmware exits, and the next boot reads them.
//!
//! It keeps the rules of real NOR flash, so that code tested against it does
//! not rely on what a real part would refuse:
//! - an erase covers whole [`SECTOR_SIZE`] sectors and sets every byte to `0xFF`;
//! - writes and reads are [`WORD_SIZE`]-aligned, in whole words;
//! - a word may be written only while it is erased (`embedded-storage`'s rule
//!   for flash that is not `MultiwriteNorFlash`): writing over programmed bits
//!   is refused with [`HostFlashError::NotErased`] and nothing is written.
//!
//! The geometry is fixed: [`SECTORS`] sectors of [`SECTOR_SIZE`] bytes
//! ([`CAPACITY`] bytes, a file of exactly that size). A real board uses its own
//! flash driver (embassy-stm32's `Flash` on the Nucleo-F429ZI) in its place.

use core::ffi::CStr;

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use semihosting::fs::File;
use semihosting::io::{Read, Seek, SeekFrom, Write};

/// Bytes per write and read word (as the STM32F4's 32-bit programming).
pub const WORD_SIZE: usize = 4;
/// Bytes per erase sector.
pub const SECTOR_SIZE: usize = 4096;
/// Sectors in the file.
pub const SECTORS: usize = 4;
/// Size of the flash, and of its host file.
pub const CAPACITY: usize = SECTOR_SIZE * SECTORS;

/// Bytes moved per semihosting call when checking, copying or erasing.
const CHUNK: usize = 256;

/// What a [`HostFlash`] operation refused or failed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HostFlashError {
    /// The host file could not be opened or created.
    Open,
    /// The host file exists with a size other than [`CAPACITY`] (not a flash image).
    WrongSize {
        /// Bytes in the file.
        len: usize,
    },
    /// An offset or length is not a multiple of the word (write, read) or the
    /// sector (erase).
    NotAligned,
    /// The range goes past [`CAPACITY`].
    OutOfBounds,
    /// A word to be written is not erased (NOR flash cannot set bits back to 1
    /// without an erase); nothing was written.
    NotErased {
        /// Offset of the first word that was not erased.
        offset: u32,
    },
    /// The host refused a seek, read or write.
    Io,
}

impl NorFlashError for HostFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            HostFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            HostFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// Counts of the operations a [`HostFlash`] carried out (each is one or more
/// semihosting calls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostFlashOps {
    /// `write` calls that programmed flash.
    pub writes: u32,
    /// Bytes programmed.
    pub bytes_written: u32,
    /// Sectors erased.
    pub sectors_erased: u32,
    /// `read` calls.
    pub reads: u32,
}

/// A [`CAPACITY`]-byte NOR flash in a host file (emulator only; see the module docs).
pub struct HostFlash {
    file: File,
    ops: HostFlashOps,
}

impl HostFlash {
    /// Opens the flash image at `path` (relative to the directory QEMU runs
    /// in, or absolute). A missing file is created fully erased (`0xFF`), as a
    /// new part leaves the factory; an existing file must be exactly
    /// [`CAPACITY`] bytes.
    pub fn open(path: &CStr) -> Result<Self, HostFlashError> {
        let existing = File::options().read(true).write(true).open(path);
        let (file, created) = match existing {
            Ok(file) => (file, false),
            Err(_) => {
                let file = File::options()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(path)
                    .map_err(|_| HostFlashError::Open)?;
                (file, true)
            }
        };
        let mut flash = HostFlash {
            file,
            ops: HostFlashOps::default(),
        };
        if created {
            flash.fill_erased(0, CAPACITY)?;
        }
        let len = flash.file.metadata().map_err(|_| HostFlashError::Io)?.len();
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len != CAPACITY {
            return Err(HostFlashError::WrongSize { len });
        }
        Ok(flash)
    }

    /// Operations carried out since [`HostFlash::open`] (a new part counts no
    /// erase for its initial fill).
    pub fn ops(&self) -> HostFlashOps {
        self.ops
    }

    fn check_range(offset: u32, len: usize, align: usize) -> Result<usize, HostFlashError> {
        let start = usize::try_from(offset).map_err(|_| HostFlashError::OutOfBounds)?;
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(HostFlashError::NotAligned);
        }
        match start.checked_add(len) {
            Some(end) if end <= CAPACITY => Ok(start),
            _ => Err(HostFlashError::OutOfBounds),
        }
    }

    fn seek(&mut self, at: usize) -> Result<(), HostFlashError> {
        self.file
            .seek(SeekFrom::Start(at as u64))
            .map(|_| ())
            .map_err(|_| HostFlashError::Io)
    }

    fn read_at(&mut self, at: usize, out: &mut [u8]) -> Result<(), HostFlashError> {
        self.seek(at)?;
        self.file.read_exact(out).map_err(|_| HostFlashError::Io)
    }

    fn write_at(&mut self, at: usize, data: &[u8]) -> Result<(), HostFlashError> {
        self.seek(at)?;
        self.file.write_all(data).map_err(|_| HostFlashError::Io)
    }

    /// Sets `len` bytes from `at` to `0xFF`.
    fn fill_erased(&mut self, at: usize, len: usize) -> Result<(), HostFlashError> {
        let ones = [0xFFu8; CHUNK];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(CHUNK);
            self.write_at(at + done, ones.get(..n).ok_or(HostFlashError::Io)?)?;
            done += n;
        }
        Ok(())
    }
}

impl ErrorType for HostFlash {
    type Error = HostFlashError;
}

impl ReadNorFlash for HostFlash {
    const READ_SIZE: usize = WORD_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), HostFlashError> {
        let at = Self::check_range(offset, bytes.len(), WORD_SIZE)?;
        self.ops.reads = self.ops.reads.saturating_add(1);
        self.read_at(at, bytes)
    }

    fn capacity(&self) -> usize {
        CAPACITY
    }
}

impl NorFlash for HostFlash {
    const WRITE_SIZE: usize = WORD_SIZE;
    const ERASE_SIZE: usize = SECTOR_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), HostFlashError> {
        let len = to.checked_sub(from).ok_or(HostFlashError::OutOfBounds)? as usize;
        let at = Self::check_range(from, len, SECTOR_SIZE)?;
        self.fill_erased(at, len)?;
        let sectors = u32::try_from(len / SECTOR_SIZE).unwrap_or(u32::MAX);
        self.ops.sectors_erased = self.ops.sectors_erased.saturating_add(sectors);
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), HostFlashError> {
        let at = Self::check_range(offset, bytes.len(), WORD_SIZE)?;
        // Every word must be erased before anything is programmed, so a refused
        // write leaves the flash as it was.
        let mut current = [0u8; CHUNK];
        let mut checked = 0;
        while checked < bytes.len() {
            let n = (bytes.len() - checked).min(CHUNK);
            let old = current.get_mut(..n).ok_or(HostFlashError::Io)?;
            self.read_at(at + checked, old)?;
            if let Some(word) = old
                .chunks(WORD_SIZE)
                .position(|w| w.iter().any(|&b| b != 0xFF))
            {
                let bad = at + checked + word * WORD_SIZE;
                return Err(HostFlashError::NotErased {
                    offset: u32::try_from(bad).unwrap_or(u32::MAX),
                });
            }
            checked += n;
        }
        self.write_at(at, bytes)?;
        self.ops.writes = self.ops.writes.saturating_add(1);
        self.ops.bytes_written = self
            .ops
            .bytes_written
            .saturating_add(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        Ok(())
    }
}
