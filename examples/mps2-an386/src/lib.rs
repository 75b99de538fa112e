//! What the `resume`, `decline` and `reboot` firmware share.
//!
//! - [`trust`]: the CA certificate the host made for this run, read at boot
//!   through semihosting (emulator only; a real board keeps its anchors in flash);
//! - [`transport`]: embassy-net's `TcpSocket` as the client's transport, with a
//!   read timeout (a safety net against a server that stops answering);
//! - [`connection`]: one connection through `encore-client`, with markers
//!   around its handshake for the instruction-count plugin;
//! - [`setup`]: the trust anchor and the network, or a clear failure;
//! - [`saved`]: the session store on the emulator's host-file flash, the device
//!   key from the host, and the queue of new tickets to store.
#![no_std]
#![forbid(unsafe_code)]

pub mod connection;
pub mod saved;
pub mod setup;
pub mod transport;
pub mod trust;

/// The name the host's test certificate is issued for (subjectAltName and CN).
pub const SERVER_NAME: &str = "encore.test";

/// Id of the application context that owns the firmware's session records
/// (stable across reboots, CONTRACT "Decided — owner").
pub const CONTEXT_ID: encore_client::ContextId = encore_client::ContextId(1);

/// Marker ids around the handshake of connection `n` (1-based): `10·n + 1` right
/// before `connect`, `10·n + 2` when it returned (the client Finished was handed to
/// the socket). The xtask reads them from the instruction-count plugin.
pub const fn handshake_markers(n: u8) -> (u8, u8) {
    (n * 10 + 1, n * 10 + 2)
}

/// The line each connection sends once connected.
pub const LINE: &[u8] = b"hello from encore on mps2-an386\n";
