//! Counting every flash operation the store performs, so that wear can be stated and tested.

use core::ops::Sub;

use embedded_storage_async::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

/// Flash operations issued by the store, counted as the driver sees them.
///
/// `writes` counts calls to `NorFlash::write` (each programs one contiguous, word-aligned run),
/// `erases` counts erased sectors. Differences between two readings give the cost of the operations
/// in between (see the README's wear table, which tests check exactly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Wear {
    /// Calls to `write`.
    pub writes: u64,
    /// Bytes programmed (headers and padding included).
    pub bytes_written: u64,
    /// Sectors erased.
    pub erases: u64,
    /// Calls to `read`.
    pub reads: u64,
    /// Bytes read.
    pub bytes_read: u64,
}

impl Sub for Wear {
    type Output = Wear;

    /// The operations between two readings (saturating: never negative).
    fn sub(self, earlier: Wear) -> Wear {
        Wear {
            writes: self.writes.saturating_sub(earlier.writes),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
            erases: self.erases.saturating_sub(earlier.erases),
            reads: self.reads.saturating_sub(earlier.reads),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
        }
    }
}

/// The application's flash, with every operation counted. Operations are counted when issued, so a
/// failed or interrupted one counts too.
///
/// `hidden` makes a range read as erased (0xFF), so the store can ask what the map would hold
/// without one sector before it erases that sector (see `SessionStore::finish_interrupted_erase`).
pub(crate) struct CountingFlash<F> {
    pub(crate) inner: F,
    pub(crate) wear: Wear,
    pub(crate) hidden: Option<core::ops::Range<u32>>,
}

fn add(counter: &mut u64, n: usize) {
    *counter = counter.saturating_add(n as u64);
}

impl<F: ErrorType> ErrorType for CountingFlash<F> {
    type Error = F::Error;
}

impl<F: ReadNorFlash> ReadNorFlash for CountingFlash<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        add(&mut self.wear.reads, 1);
        add(&mut self.wear.bytes_read, bytes.len());
        self.inner.read(offset, bytes).await?;
        if let Some(hidden) = &self.hidden {
            let mut at = offset;
            for b in bytes.iter_mut() {
                if hidden.contains(&at) {
                    *b = 0xFF;
                }
                at = at.wrapping_add(1);
            }
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl<F: NorFlash> NorFlash for CountingFlash<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let sectors = (to.saturating_sub(from) as usize)
            .checked_div(F::ERASE_SIZE)
            .unwrap_or(0);
        add(&mut self.wear.erases, sectors);
        self.inner.erase(from, to).await
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        add(&mut self.wear.writes, 1);
        add(&mut self.wear.bytes_written, bytes.len());
        self.inner.write(offset, bytes).await
    }
}
