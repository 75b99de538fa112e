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
//!
//! Rule numbers cited in these docs (C1–C37, E1–E8) refer to the session contract in
//! `docs/CONTRACT.md` at the root of the repository.
//!
//! # Cargo features
//!
//! What RFC 8446 §9.1 makes mandatory is always built: TLS_AES_128_GCM_SHA256, secp256r1
//! (P-256) key exchange and ecdsa_secp256r1_sha256 (P-256 certificates signed with
//! ecdsa-with-SHA256, and CertificateVerify). Every other algorithm is a feature, all on by
//! default. A firmware that knows which algorithms its servers use can set
//! `default-features = false` and list only those; an algorithm that is off is neither offered
//! nor accepted (a server that insists on it fails the handshake with an alert, and a
//! configuration or session naming it is refused with an error, never a panic).
//!
//! | feature | adds | flash on Cortex-M4 |
//! |---|---|---:|
//! | `x25519` | X25519 key exchange, offered first | 7.5 KiB |
//! | `chacha20` | TLS_CHACHA20_POLY1305_SHA256 | 3.0 KiB |
//! | `sha384` | TLS_AES_256_GCM_SHA384 (SHA-384 transcript, HKDF, Finished), ECDSA with SHA-384 in certificates | 36.5 KiB |
//! | `p384` | ECDSA P-384 certificates and ecdsa_secp384r1_sha384 (turns on `sha384`) | 19.4 KiB more than `sha384` |
//! | `ed25519` | Ed25519 certificates and CertificateVerify | 41.0 KiB |
//! | `x25519-base-table` (not default) | a precomputed base-point table: an X25519 key share in 0.56 M instead of 1.61 M instructions | 29.6 KiB more than `x25519` |
//! | `rsa` (not default) | RSA PKCS#1 v1.5 certificates, RSA-PSS; **needs `alloc`** | |
//! | `insecure-no-verify` (not default) | skipping server authentication, for lab setups | |
//!
//! Each figure is what the feature adds to an image with only the mandatory algorithms
//! (`thumbv7em-none-eabihf`, `opt-level = "s"`, LTO; the `tls/size` probe, whose image with
//! every default feature is 173 KiB and with none 98 KiB). They overlap: SHA-512 is shared
//! by `sha384` and `ed25519` (its compression function alone is 26 KiB), the Curve25519 field
//! by `x25519` and `ed25519`, so with both, the second costs much less (with every other
//! default feature on, `ed25519` adds 8.3 KiB). P-256 comes from RustCrypto's `p256` 0.13,
//! whose arithmetic is the faster on Cortex-M4; P-384 from `p384` 0.14, whose arithmetic is
//! about 120 KiB smaller than 0.13's unrolled code. A client for servers with P-256
//! certificates, such as the benchmark image, can keep `x25519` and `chacha20` only: 109 KiB.
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
