//! Sessions that survive a reboot: `encore-store` over the emulator's host-file flash.
//!
//! - [`Store`]: the sealed session store on [`HostFlash`] (four 4 KiB sectors in
//!   a host file that outlives QEMU; emulator only). A real board passes its own
//!   flash driver and range instead.
//! - [`device_key`]: the device key, which the application supplies. On the
//!   emulator it is 32 bytes from a host file named by `-append key=PATH`, made
//!   by the host for the run; there is no default key.
//! - [`arg`]: the values on QEMU's `-append` text (`phase=`, `kex=`, paths).
//!
//! The store as the client drives it and loading it at boot are the shared
//! [`encore_examples_common::saved`].

use core::ffi::CStr;
use core::mem::MaybeUninit;
use core::ops::Range;

use encore_board_mps2::host::{self, HostError};
use encore_board_mps2::host_flash::{HostFlash, CAPACITY};
pub use encore_examples_common::saved::{load_into_cache, markers, print_wear};
use encore_store::DeviceKey;
use static_cell::StaticCell;
use zeroize::Zeroize;

use crate::Mps2;

/// The examples' session store on the host-file flash: 8 slots, a work buffer for 256-byte
/// tickets.
pub type Store = encore_examples_common::saved::Store<Mps2>;
/// The store as the client drives it, on this board.
pub type ClientStore<'s> = encore_examples_common::saved::ClientStore<'s, Mps2>;

/// The whole host-file flash holds the store.
pub const STORE_RANGE: Range<u32> = 0..CAPACITY as u32;

/// The flash file used when the command line names none (in the directory QEMU runs in).
pub const DEFAULT_FLASH_PATH: &CStr = c"encore-sessions.flash";

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
pub fn open_flash() -> Result<HostFlash, OpenFlashError> {
    let mut path = [0u8; MAX_PATH + 1];
    let named = path_arg("flash", &mut path).map_err(OpenFlashError::Host)?;
    HostFlash::open(named.unwrap_or(DEFAULT_FLASH_PATH)).map_err(OpenFlashError::Flash)
}

/// Why the flash could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFlashError {
    /// The command line could not be read.
    Host(HostError),
    /// The flash file could not be opened, or is not a flash image.
    Flash(encore_board_mps2::host_flash::HostFlashError),
}

/// The session store on the flash named by `flash=PATH`, sealed under the device key
/// named by `key=PATH`. A failure is reported as a start-up failure of `firmware`
/// ([`crate::setup::failed`]), which ends the program.
///
/// Never inlined: the store is built in this function's frame, which is gone before the
/// first handshake.
#[inline(never)]
pub fn open_store(firmware: &str) -> &'static mut Store {
    static STORE: StaticCell<Store> = StaticCell::new();
    let key = match device_key() {
        Ok(k) => k,
        Err(e) => crate::setup::failed(firmware, "device key (key=PATH)", e),
    };
    let flash = match open_flash() {
        Ok(f) => f,
        Err(e) => crate::setup::failed(firmware, "flash (flash=PATH)", e),
    };
    match Store::new(flash, STORE_RANGE, &key) {
        Ok(s) => encore_examples_common::saved::keep::<Mps2>(firmware, &STORE, s),
        Err(e) => crate::setup::failed(firmware, "session store", e),
    }
}
