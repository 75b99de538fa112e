//! Async TLS 1.3 client connections that resume sessions, with the session contract of
//! OpenSSL's `SSL_set_session(3)` and no heap.
//!
//! - [`Context`] is OpenSSL's `SSL_CTX`: an application-chosen [`ContextId`], the TLS
//!   configuration, its own session cache over a static [`SessionPool`], a [`Clock`] (monotonic
//!   and wall time) and a random generator.
//! - [`Connection`] is OpenSSL's `SSL`: one server name over any embedded-io-async `Read + Write`
//!   transport, a [`Stream`] (embassy-net's `TcpSocket` on target, `StdTransport` on the host
//!   with the `std` feature), with caller-provided record buffers.
//!
//! Without a session set, `connect` takes the newest usable ticket for the same peer from the
//! context's cache (C26, C36), and every ticket the server sends becomes a record in the cache and
//! the connection's session (C5, C27). With [`Connection::set_session`] the application chooses;
//! [`Connection::session_reused`] tells whether the server accepted (C8).
//!
//! Rule numbers cited in these docs (C1–C37, E1–E8) refer to the session contract in
//! `docs/CONTRACT.md` at the root of the repository.
//!
//! Sessions survive reboots through a [`SessionSaver`] (`encore_store::SessionStore` with the
//! `store` feature): [`Connection::connect_with`] consumes the offered ticket on durable storage
//! before its ClientHello leaves and withdraws the offer if that fails (C28), and
//! [`Connection::await_tickets_with`] / [`Connection::save_tickets`] store every record the
//! connection's tickets made (C27). Both wait for flash outside critical sections (E3); cache
//! callbacks stay synchronous. At boot the application loads the store into its contexts'
//! caches.
//!
//! ```no_run
//! # #[cfg(feature = "std")]
//! # fn main() -> Result<(), encore_client::Error> {
//! use encore_cache::CacheConfig;
//! use encore_client::{block_on, Connection, Context, OsRng, StdClock, StdTransport};
//! use encore_session::{ContextId, SessionPool};
//! use encore_tls::ClientConfig;
//!
//! static POOL: SessionPool<8> = SessionPool::new();
//! let anchors = []; // the trust anchors of the server's chain
//! let ctx: Context<'_, _, _, 4, 8> = Context::new(
//!     ContextId(1), ClientConfig::new(&anchors), &POOL, CacheConfig::DEFAULT,
//!     StdClock::new(), OsRng,
//! );
//! // Record buffers: `ClientConfig::buffer_sizes` tells what a configuration needs.
//! let (mut rx, mut tx) = ([0u8; 16_709], [0u8; 4096]);
//! let io = StdTransport::connect("127.0.0.1:4433").map_err(|_| encore_client::Error::TransportClosed)?;
//! let mut conn = Connection::new(&ctx, "server.example", io, &mut rx, &mut tx);
//! block_on(conn.connect())?;
//! assert!(!conn.session_reused()); // a full handshake
//! block_on(conn.await_tickets(1))?; // tickets arrive after the handshake
//! block_on(conn.write(b"ping"))?;
//! let saved = conn.get1_session()?; // the newest ticket (C4, C5)
//! block_on(conn.shutdown())?; // close_notify: the session stays resumable (C11)
//! drop(conn);
//!
//! let io = StdTransport::connect("127.0.0.1:4433").map_err(|_| encore_client::Error::TransportClosed)?;
//! let (mut rx, mut tx) = ([0u8; 16_709], [0u8; 4096]);
//! let mut again = Connection::new(&ctx, "server.example", io, &mut rx, &mut tx);
//! again.set_session(saved.as_ref())?; // C1: one more reference; C35: same context and peer
//! block_on(again.connect())?;
//! assert!(again.session_reused()); // the server accepted the ticket (C8)
//! # Ok(()) }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
//!
//! A connected [`Connection`] is also an `embedded_io_async::{Read, Write}` stream (errors
//! implement `embedded_io_async::Error`), so libraries written against those traits, such as
//! MQTT and HTTP clients, run over it: connect, hand it to the library, then `shutdown`.
//!
//! The examples above block through `block_on` (feature `std`); firmware awaits the same
//! futures in its executor.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod context;
mod error;
pub mod glue;
mod io;
mod rng;
mod saver;
#[cfg(feature = "std")]
mod std_support;

pub use connection::{Connection, ConnectionStats, Phase, DEFAULT_HANDSHAKE_TIMEOUT_MS};
pub use context::{BadSessionRule, Context};
pub use error::Error;
pub use io::Stream;
pub use rng::SharedRng;
pub use saver::{SessionSaver, SAVE_QUEUE_LEN};
#[cfg(feature = "std")]
pub use std_support::{block_on, OsRng, StdClock, StdTransport};

pub use encore_cache::{CacheConfig, CacheEvents, CacheMode, CacheStats};
pub use encore_session::{
    Clock, ContextId, Limits, MonotonicClock, PeerId, Session, SessionPool, WallClock,
};
pub use encore_tls::{ClientConfig, HandshakeSummary, KeyExchangeMode, PskMode};

#[cfg(test)]
mod unit_tests;
