//! Files and the command line of the host, through semihosting (emulator only).
//!
//! The emulator has no storage of its own that the host can fill before boot,
//! so configuration that changes from run to run (a freshly made CA
//! certificate, a seed) is read from host files at boot. QEMU passes
//! `-append TEXT` to the firmware as the semihosting command line
//! (`SYS_GET_CMDLINE`), after the kernel's file name, which lets the host name
//! those files per run. A real board has neither: it carries its trust anchors
//! in flash.

use core::ffi::CStr;
use core::mem::MaybeUninit;

use semihosting::io::Read;

/// A host file or the command line could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HostError {
    /// The host refused to open the file (missing, or semihosting disabled).
    Open,
    /// A read failed.
    Read,
    /// The file is larger than the buffer given; nothing partial is returned.
    TooLarge,
    /// The command line is not valid UTF-8, or longer than the buffer.
    CommandLine,
}

/// Reads a whole host file (relative to the directory QEMU runs in, or
/// absolute) into `buf` and returns the bytes read.
pub fn read_file<'b>(path: &CStr, buf: &'b mut [u8]) -> Result<&'b [u8], HostError> {
    let mut file = semihosting::fs::File::open(path).map_err(|_| HostError::Open)?;
    let mut len = 0;
    loop {
        let Some(rest) = buf.get_mut(len..) else {
            return Err(HostError::TooLarge);
        };
        if rest.is_empty() {
            // Full: the file fits only if nothing is left to read.
            let mut probe = [0u8; 1];
            return match file.read(&mut probe) {
                Ok(0) => buf.get(..len).ok_or(HostError::Read),
                Ok(_) => Err(HostError::TooLarge),
                Err(_) => Err(HostError::Read),
            };
        }
        match file.read(rest) {
            Ok(0) => return buf.get(..len).ok_or(HostError::Read),
            Ok(n) => len += n,
            Err(_) => return Err(HostError::Read),
        }
    }
}

/// The text QEMU was given with `-append`, or `""` when there was none.
///
/// The semihosting command line is the kernel's file name, a space, then the
/// appended text; the file name is dropped here. `buf` holds the whole line.
pub fn appended_args(buf: &mut [MaybeUninit<u8>]) -> Result<&str, HostError> {
    let line = semihosting::sys::arm_compat::sys_get_cmdline_uninit(buf)
        .map_err(|_| HostError::CommandLine)?;
    let line = core::str::from_utf8(line).map_err(|_| HostError::CommandLine)?;
    Ok(match line.trim().split_once(' ') {
        Some((_, rest)) => rest.trim(),
        None => "",
    })
}
