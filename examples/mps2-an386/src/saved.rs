//! Sessions that survive a reboot: `encore-store` over the emulator's host-file flash.
//!
//! - [`Store`]: the sealed session store on [`HostFlash`] (four 4 KiB sectors in
//!   a host file that outlives QEMU; emulator only). A real board passes its own
//!   flash driver and range instead.
//! - [`device_key`]: the device key, which the application supplies. On the
//!   emulator it is 32 bytes from a host file named by `-append key=PATH`, made
//!   by the host for the run; there is no default key.
//! - [`NewTickets`]: the context's new-session callback. Cache callbacks are
//!   synchronous and the store waits for flash (E3), so the callback only queues
//!   the new records' ids, and the application stores them from its task.
//! - [`Wear`] deltas per step, printed as `wear step=NAME writes=.. bytes=.. erases=..`.

use core::cell::Cell;
use core::ffi::CStr;
use core::mem::MaybeUninit;
use core::ops::Range;

use critical_section::Mutex;
use encore_board_mps2::host::{self, HostError};
use encore_board_mps2::host_flash::{HostFlash, CAPACITY};
use encore_board_mps2::println;
use encore_client::{CacheEvents, Session};
use encore_session::SessionId;
use encore_store::{DeviceKey, SessionStore, Wear};
use zeroize::Zeroize;

use crate::connection::{POOL_SLOTS, TICKET_CAPACITY};

/// The examples' session store: 8 slots, a work buffer for 256-byte tickets.
pub type Store = SessionStore<HostFlash>;

/// The whole host-file flash holds the store.
pub const STORE_RANGE: Range<u32> = 0..CAPACITY as u32;

/// The flash file used when the command line names none (in the directory QEMU runs in).
pub const DEFAULT_FLASH_PATH: &CStr = c"encore-sessions.flash";

/// Marker ids around the store's work at boot (`load_all`), before the ClientHello
/// (`consume`) and after the tickets arrived (`store`), for the instruction-count plugin.
pub mod markers {
    /// Before and after `load_all`.
    pub const LOAD: (u8, u8) = (3, 4);
    /// Before and after `consume`.
    pub const CONSUME: (u8, u8) = (5, 6);
    /// Before and after storing the new tickets.
    pub const STORE: (u8, u8) = (7, 8);
}

/// Longest path accepted in `-append` arguments.
const MAX_PATH: usize = 256;

/// Why the device key could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The command line names no key file (`key=PATH`): there is no default key.
    NotNamed,
    /// The host file could not be read.
    Host(HostError),
    /// The file does not hold exactly 32 bytes.
    WrongLength,
}

/// The value of `NAME=VALUE` on QEMU's `-append` text, copied into `out`.
pub fn arg<'o>(name: &str, out: &'o mut [u8]) -> Result<Option<&'o str>, HostError> {
    let mut line = [MaybeUninit::<u8>::uninit(); MAX_PATH * 3];
    let args = match host::appended_args(&mut line) {
        Ok(args) => args,
        // No command line at all (another emulator): nothing named.
        Err(_) => return Ok(None),
    };
    let Some(value) = args
        .split_ascii_whitespace()
        .find_map(|a| a.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    else {
        return Ok(None);
    };
    let dst = out.get_mut(..value.len()).ok_or(HostError::CommandLine)?;
    dst.copy_from_slice(value.as_bytes());
    core::str::from_utf8(dst)
        .map(Some)
        .map_err(|_| HostError::CommandLine)
}

/// `NAME=PATH` from the command line as a C string in `buf`, or `None`.
fn path_arg<'b>(
    name: &str,
    buf: &'b mut [u8; MAX_PATH + 1],
) -> Result<Option<&'b CStr>, HostError> {
    *buf = [0; MAX_PATH + 1];
    let len = match arg(name, &mut buf[..MAX_PATH])? {
        Some(p) => p.len(),
        None => return Ok(None),
    };
    let with_nul = buf.get(..=len).ok_or(HostError::CommandLine)?;
    CStr::from_bytes_with_nul(with_nul)
        .map(Some)
        .map_err(|_| HostError::CommandLine)
}

/// The device key from the host file named by `key=PATH` (exactly 32 bytes).
pub fn device_key() -> Result<DeviceKey, KeyError> {
    let mut path = [0u8; MAX_PATH + 1];
    let path = path_arg("key", &mut path)
        .map_err(KeyError::Host)?
        .ok_or(KeyError::NotNamed)?;
    // One byte more than a key, so that a longer file is refused rather than cut.
    let mut bytes = [0u8; 33];
    let read = host::read_file(path, &mut bytes)
        .map(|k| k.len())
        .map_err(|e| match e {
            HostError::TooLarge => KeyError::WrongLength,
            other => KeyError::Host(other),
        });
    let key = match read {
        Ok(32) => DeviceKey::from_slice(&bytes[..32]).ok_or(KeyError::WrongLength),
        Ok(_) => Err(KeyError::WrongLength),
        Err(e) => Err(e),
    };
    bytes.zeroize();
    key
}

/// The flash file named by `flash=PATH`, or [`DEFAULT_FLASH_PATH`].
pub fn open_flash() -> Result<HostFlash, FlashError> {
    let mut path = [0u8; MAX_PATH + 1];
    let named = path_arg("flash", &mut path).map_err(FlashError::Host)?;
    HostFlash::open(named.unwrap_or(DEFAULT_FLASH_PATH)).map_err(FlashError::Flash)
}

/// Why the flash could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// The command line could not be read.
    Host(HostError),
    /// The flash file could not be opened, or is not a flash image.
    Flash(encore_board_mps2::host_flash::HostFlashError),
}

/// Records made from new tickets that wait to be stored.
const QUEUE_LEN: usize = 4;

/// The context's new-session callback: queues the id of every record made from a
/// NewSessionTicket, for the application to store once the connection lets it (the
/// store waits for flash, which a synchronous callback must not do, E3).
///
/// Ids, not references: a queued record that was released in the meantime no longer
/// resolves (E2, a stale handle), and nothing is kept alive by the queue.
pub struct NewTickets {
    queue: Mutex<Cell<[Option<SessionId>; QUEUE_LEN]>>,
    overflow: Mutex<Cell<u32>>,
}

impl NewTickets {
    /// An empty queue.
    pub const fn new() -> Self {
        NewTickets {
            queue: Mutex::new(Cell::new([None; QUEUE_LEN])),
            overflow: Mutex::new(Cell::new(0)),
        }
    }

    /// The oldest queued id, removed from the queue.
    pub fn pop(&self) -> Option<SessionId> {
        critical_section::with(|cs| {
            let cell = self.queue.borrow(cs);
            let mut queue = cell.get();
            let first = queue.first().copied().flatten();
            queue.rotate_left(1);
            if let Some(last) = queue.last_mut() {
                *last = None;
            }
            cell.set(queue);
            first
        })
    }

    /// Records that arrived while the queue was full (not stored).
    pub fn overflow(&self) -> u32 {
        critical_section::with(|cs| self.overflow.borrow(cs).get())
    }
}

impl Default for NewTickets {
    fn default() -> Self {
        Self::new()
    }
}

impl CacheEvents<POOL_SLOTS, TICKET_CAPACITY> for NewTickets {
    fn new_session(&self, session: &Session<'_, POOL_SLOTS, TICKET_CAPACITY>) {
        let id = session.id();
        critical_section::with(|cs| {
            let cell = self.queue.borrow(cs);
            let mut queue = cell.get();
            match queue.iter_mut().find(|s| s.is_none()) {
                Some(free) => {
                    *free = Some(id);
                    cell.set(queue);
                }
                None => {
                    let o = self.overflow.borrow(cs);
                    o.set(o.get().saturating_add(1));
                }
            }
        });
    }
}

/// Prints what one step cost the flash: `wear step=NAME writes=.. bytes=.. erases=.. reads=..`.
pub fn print_wear(step: &str, before: Wear, after: Wear) {
    let spent = after - before;
    println!(
        "wear step={} writes={} bytes={} erases={} reads={}",
        step, spent.writes, spent.bytes_written, spent.erases, spent.reads
    );
}
