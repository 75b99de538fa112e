//! The CA certificate of this run, from the host.
//!
//! `cargo xtask demo` makes a throwaway CA for every run and boots the firmware
//! with `-append ca=PATH` (the DER file). Without `-append`, the file `ca.der`
//! in the directory QEMU runs in is read.

use core::ffi::CStr;
use core::mem::MaybeUninit;

use encore_board_mps2::host::{self, HostError};
use encore_tls::crypto::{anchor_from_der, CertError};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use static_cell::{ConstStaticCell, StaticCell};

/// Largest CA certificate accepted (a P-256 CA certificate is about 500 bytes).
pub const MAX_CA_LEN: usize = 2048;

/// The file read when the command line names none.
pub const DEFAULT_CA_PATH: &CStr = c"ca.der";

/// Longest path accepted in `ca=PATH`.
const MAX_PATH: usize = 256;

/// Reads the CA certificate (DER) named by `ca=PATH` on the command line into `buf`.
pub fn load_ca(buf: &mut [u8; MAX_CA_LEN]) -> Result<&[u8], HostError> {
    let mut line = [MaybeUninit::<u8>::uninit(); MAX_PATH + 64];
    let mut path_buf = [0u8; MAX_PATH + 1];
    let named = match host::appended_args(&mut line) {
        Ok(args) => args
            .split_ascii_whitespace()
            .find_map(|arg| arg.strip_prefix("ca=")),
        // No command line at all (another emulator): use the default file.
        Err(_) => None,
    };
    let path = match named {
        Some(p) => {
            let dst = path_buf.get_mut(..p.len()).ok_or(HostError::CommandLine)?;
            dst.copy_from_slice(p.as_bytes());
            CStr::from_bytes_until_nul(&path_buf).map_err(|_| HostError::CommandLine)?
        }
        None => DEFAULT_CA_PATH,
    };
    host::read_file(path, buf)
}

/// Why the CA certificate could not become a trust anchor.
#[derive(Debug)]
pub enum TrustError {
    /// Reading the file from the host failed.
    Host(HostError),
    /// The file is not a usable CA certificate.
    Certificate(CertError),
    /// [`anchors`] was called a second time; the anchor is loaded once per boot.
    AlreadyLoaded,
}

/// The DER bytes and the certificate view the anchor borrows from: both live for the whole run,
/// so the anchor is `'static` and can be shared by every connection.
static CA: ConstStaticCell<[u8; MAX_CA_LEN]> = ConstStaticCell::new([0; MAX_CA_LEN]);
static CA_DER: StaticCell<CertificateDer<'static>> = StaticCell::new();

/// The anchor made from them, for the whole run too.
static ANCHORS: StaticCell<[TrustAnchor<'static>; 1]> = StaticCell::new();

/// Reads this run's CA certificate from the host ([`load_ca`]) and makes it the one trust
/// anchor.
pub fn anchors() -> Result<&'static [TrustAnchor<'static>], TrustError> {
    let buf = CA.try_take().ok_or(TrustError::AlreadyLoaded)?;
    let der = load_ca(buf).map_err(TrustError::Host)?;
    let cert = CA_DER
        .try_init(CertificateDer::from(der))
        .ok_or(TrustError::AlreadyLoaded)?;
    let anchor = anchor_from_der(cert).map_err(TrustError::Certificate)?;
    let anchors = ANCHORS
        .try_init([anchor])
        .ok_or(TrustError::AlreadyLoaded)?;
    Ok(anchors)
}
