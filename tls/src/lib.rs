//! A sans-I/O TLS 1.3 client engine for `no_std` targets, built so that a microcontroller can
//! resume sessions (RFC 8446 §2.2) instead of paying for a full handshake.
//!
//! - [`wire`]: the codec, checked views over records and handshake messages (E4).
//! - [`client`]: the engine. The caller moves bytes between a socket and the engine's
//!   buffers, and receives [`client::Event`]s; no heap (E1).
//! - [`crypto`]: the cryptographic seam (RustCrypto primitives, rustls-webpki paths).
//!
//! The engine does not know about session caches: it takes a
//! [`client::ResumptionOffer`] (the ticket and PSK, borrowed from wherever they are kept,
//! such as a pool's record, and copied once into its own place) and reports each ticket as a [`client::NewTicket`] with the
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
//! | `x25519` | X25519 key exchange, offered first (second, after P-256, with `p256-cm4` on Arm) | 7.5 KiB |
//! | `chacha20` | TLS_CHACHA20_POLY1305_SHA256 | 3.0 KiB |
//! | `sha384` | TLS_AES_256_GCM_SHA384 (SHA-384 transcript, HKDF, Finished), ECDSA with SHA-384 in certificates | 36.5 KiB |
//! | `p384` | ECDSA P-384 certificates and ecdsa_secp384r1_sha384 (turns on `sha384`) | 19.4 KiB more than `sha384` |
//! | `ed25519` | Ed25519 certificates and CertificateVerify | 41.0 KiB |
//! | `x25519-base-table` (not default) | a precomputed base-point table: an X25519 key share in 0.56 M instead of 1.61 M instructions | 29.6 KiB more than `x25519` |
//! | `p256-cm4` (not default; Cortex-M4/M33 only) | P-256 key shares and agreement, ECDSA P-256 verification (chain and CertificateVerify) and the client-certificate signer on `p256-cm4`'s Cortex-M4 assembly instead of RustCrypto's `p256`; P-256 becomes the first group offered | 2.5 KiB less than RustCrypto's P-256 |
//! | `rsa` (not default) | RSA certificates (PKCS#1 v1.5 and PSS, SHA-256/384/512) and rsa_pss_rsae_* CertificateVerify, 2048–4096-bit keys, no heap | 55.3 KiB (27.9 KiB more than every default feature, which already link SHA-512) |
//! | `insecure-no-verify` (not default) | skipping server authentication, for lab setups | |
//!
//! Each figure is what the feature adds to an image with only the mandatory algorithms
//! (`thumbv7em-none-eabihf`, `opt-level = "s"`, LTO; the `tls/size` probe, whose image with
//! every default feature is 173 KiB and with none 98 KiB). They overlap: SHA-512 is shared
//! by `sha384` and `ed25519` (its compression function alone is 26 KiB), the Curve25519 field
//! by `x25519` and `ed25519`, so with both, the second costs much less (with every other
//! default feature on, `ed25519` adds 8.3 KiB). Without `p256-cm4`, P-256 comes from
//! RustCrypto's `p256` 0.13, the faster of its generations on Cortex-M4; P-384 from `p384`
//! 0.14, whose arithmetic is about 120 KiB smaller than 0.13's unrolled code. A client for
//! servers with P-256 certificates, such as the benchmark image, can keep `x25519`, `chacha20`
//! and `p256-cm4` only: 106 KiB.
//!
//! `p256-cm4` is the Cortex-M4 firmware's choice: on the emulated Cortex-M4 (`cargo xtask
//! bench`, BENCHMARKS.md at the root of the repository) a full handshake that verifies a
//! three-certificate P-256 chain and key-exchanges with P-256 takes 3.73 M instructions
//! instead of 44.8 M, and a psk_dhe_ke resumption with P-256 1.35 M instead of 11.3 M, for
//! slightly less flash, since the assembly replaces most of RustCrypto's field arithmetic (its
//! point decoding stays). With it, P-256 costs fewer instructions than X25519 on that core, so
//! [`crypto::NamedGroup::ALL`] puts P-256 first on Arm. It is Arm-only: the assembly needs the
//! Armv7E-M DSP instructions (Cortex-M4, Cortex-M33), so not Cortex-M0 or M3; on targets that
//! are not 32-bit Arm (the host) the feature changes nothing and RustCrypto's `p256` stays. The
//! crate's functions are safe to call, so this crate keeps `forbid(unsafe_code)`.
//!
//! `rsa` is not default because of its flash: most of it is three fixed-width instantiations
//! of the `crypto-bigint` arithmetic (2048, 3072 and 4096 bits, so a 2048-bit key never pays
//! for 4096-bit work) and SHA-512, which a firmware that only meets ECDSA servers would carry
//! for nothing. On the emulated Cortex-M4 (`bench-rsa` in `bench/mps2-an386`), one RSA-2048
//! verification takes 1.46 M instructions (PKCS#1 v1.5) or 1.49 M (PSS) and 8.4 KiB of stack;
//! RSA-4096, 5.61 M / 5.67 M and 16.0 KiB; an ECDSA P-256 verification there takes 11.1 M and
//! 2.6 KiB on RustCrypto's `p256`, 0.70 M with `p256-cm4`. With `rsa`, the benchmark image
//! grows by 57 KiB. A full handshake there (P-256 key exchange, `p256-cm4`) takes 6.36 M
//! instructions and an 18.6 KiB stack peak against an RSA-2048 root, intermediate and leaf
//! (RSA-PSS CertificateVerify), and 8.81 M and 26.2 KiB with a P-256 leaf and intermediate
//! under an RSA-4096 root, against 3.73 M and 12.5 KiB with a P-256 chain; the resumption after
//! it verifies no signature and costs the same as with the P-256 chain (1.34 M). Why
//! `crypto-bigint` rather than the `rsa` crates is in the `crypto::rsa` module source
//! documentation.
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
