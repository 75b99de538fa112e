//! Copies the benchmark PKI's root certificate (DER) into the build: from `pki/` next to this
//! file (committed; `cargo xtask bench` made it with the openssl CLI), or from the directory
//! named by `ENCORE_BENCH_PKI`.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=ENCORE_BENCH_PKI");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = match env::var_os("ENCORE_BENCH_PKI") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("pki")
        }
    };
    let path = dir.join("root.der");
    println!("cargo:rerun-if-changed={}", path.display());
    let root = match fs::read(&path) {
        Ok(der) => der,
        Err(e) => {
            // A build without the PKI still links (sizes, clippy); its full handshakes fail.
            println!(
                "cargo:warning=no {} ({e}): the image trusts no root",
                path.display()
            );
            Vec::new()
        }
    };
    fs::write(out.join("root.der"), root).expect("write root.der");
}
