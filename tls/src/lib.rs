//! A sans-I/O TLS 1.3 client engine for `no_std` targets, built so that a microcontroller can
//! resume sessions (RFC 8446 §2.2) instead of paying for a full handshake.
//!
//! - [`wire`]: the codec, checked views over records and handshake messages (E4).
//! - [`client`]: the engine. The caller moves bytes between a socket and the engine's
//!   buffers, and receives [`client::Event`]s; no heap (E1).
//! - [`crypto`]: the cryptographic seam (RustCrypto primitives, rustls-webpki paths).
//!
//! The engine does not know about session caches: it takes a
//! [`client::ResumptionOffer`] and reports each ticket as a [`client::NewTicket`] with the
//! resumption PSK already derived (RFC 8446 §4.6.1).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod crypto;
pub mod wire;

pub use client::{
    ClientConfig, Connection, Error, Event, HandshakeSummary, KeyExchangeMode, NewTicket, PskMode,
    ResumptionOffer,
};
