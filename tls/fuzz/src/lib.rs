//! Bodies of the encore-tls fuzz targets, one module per target (`fuzz_targets/` only calls
//! them). `tls/tests/fuzz_regressions.rs` includes these files with `#[path]` and replays
//! every saved crash under `cargo test`, so each module uses only what encore-tls's own tests
//! can use too: encore-tls, its test kit (`encore-testkit`: the scripted server's record and
//! message builders), rand_core, rustls-pki-types, p256, ed25519-dalek and std.

pub mod engine;
pub mod handshake;
pub mod keyed;
pub mod record;
