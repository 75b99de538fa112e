//! Sessions that survive a reboot: `encore-store` over the emulator's host-file flash.
//!
//! - [`Store`]: the sealed session store on [`HostFlash`] (four 4 KiB sectors in
//!   a host file that outlives QEMU; emulator only). A real board passes its own
//!   flash driver and range instead.
//! - [`device_key`]: the device key, which the application supplies. On the
//!   emulator it is 32 bytes from a host file named by `-append key=PATH`, made
//!   by the host for the run; there is no default key.
//! - [`ClientStore`]: the store as the client drives it (`SessionSaver`):
//!   `Connection::connect_with` consumes the offered ticket on flash before the
//!   ClientHello leaves (C28), `Connection::save_tickets` stores every record the
//!   connection's tickets made; this wrapper marks and measures both steps.
//! - [`Wear`] deltas per step, printed as `wear step=NAME writes=.. bytes=.. erases=..`.

use core::ffi::CStr;
use core::mem::MaybeUninit;
use core::ops::Range;

use encore_board_mps2::host::{self, HostError};
use encore_board_mps2::host_flash::{HostFlash, HostFlashError, CAPACITY};
use encore_board_mps2::marker::marker;
use encore_board_mps2::println;
use encore_client::{Session, SessionSaver};
use encore_store::{DeviceKey, SessionStore, StoreError, Wear};
use rand_core::TryCryptoRng;
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

/// Prints what one step cost the flash: `wear step=NAME writes=.. bytes=.. erases=.. reads=..`.
pub fn print_wear(step: &str, before: Wear, after: Wear) {
    let spent = after - before;
    println!(
        "wear step={} writes={} bytes={} erases={} reads={}",
        step, spent.writes, spent.bytes_written, spent.erases, spent.reads
    );
}

/// The store as `encore-client` drives it, with the firmware's markers and wear
/// figures around each step (the client calls it outside critical sections, E3).
///
/// - `consume` (inside `connect_with`, only when a ticket is offered): markers
///   [`markers::CONSUME`] around the flash work, then the handshake's begin marker
///   again, so the handshake's instruction count starts where the ClientHello is
///   built; its result and wear are kept for the boot's report.
/// - `save` (inside `save_tickets`): counts written, skipped and failed records.
pub struct ClientStore<'s> {
    store: &'s mut Store,
    hello_marker: u8,
    /// What `consume` returned, if the connection offered a ticket.
    pub consumed: Option<Result<bool, StoreError<HostFlashError>>>,
    /// Flash work of that `consume`.
    pub consume_wear: Wear,
    /// Flash work of storing the connection's records (set by `connection::run`).
    pub store_wear: Wear,
    /// Records written by `save`.
    pub written: usize,
    /// Records `save` had nothing to write for (stored already, no longer resumable).
    pub skipped: usize,
    /// Records `save` failed to write.
    pub failed: usize,
}

impl<'s> ClientStore<'s> {
    /// Wraps `store` for one connection whose handshake begins at `hello_marker`.
    pub fn new(store: &'s mut Store, hello_marker: u8) -> Self {
        ClientStore {
            store,
            hello_marker,
            consumed: None,
            consume_wear: Wear::default(),
            store_wear: Wear::default(),
            written: 0,
            skipped: 0,
            failed: 0,
        }
    }

    /// Flash operations issued so far.
    pub fn wear(&mut self) -> Wear {
        self.store.wear()
    }
}

impl SessionSaver<POOL_SLOTS, TICKET_CAPACITY> for ClientStore<'_> {
    type Error = StoreError<HostFlashError>;

    async fn consume(
        &mut self,
        session: &Session<'_, POOL_SLOTS, TICKET_CAPACITY>,
    ) -> Result<bool, Self::Error> {
        let before = self.store.wear();
        marker(markers::CONSUME.0);
        let consumed = SessionStore::consume(self.store, session).await;
        marker(markers::CONSUME.1);
        self.consume_wear = self.store.wear() - before;
        self.consumed = Some(consumed);
        marker(self.hello_marker);
        consumed
    }

    async fn save<R: TryCryptoRng + ?Sized>(
        &mut self,
        session: &Session<'_, POOL_SLOTS, TICKET_CAPACITY>,
        now_ms: u64,
        now_unix: Option<u64>,
        rng: &mut R,
    ) -> Result<bool, Self::Error> {
        let saved = SessionSaver::<POOL_SLOTS, TICKET_CAPACITY>::save(
            &mut *self.store,
            session,
            now_ms,
            now_unix,
            rng,
        )
        .await;
        match saved {
            Ok(true) => self.written += 1,
            Ok(false) => self.skipped += 1,
            Err(e) => {
                println!("store: failed ({:?})", e);
                self.failed += 1;
            }
        }
        saved
    }
}
