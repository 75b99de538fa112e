//! The trust anchor compiled into the TLS examples: the CA certificate (DER) at the path in
//! `ENCORE_CA_DER` (relative to this directory, or absolute), by default `ca.der` here.
//! Without that file the image is built with no anchor, and the examples say so at boot.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=ENCORE_CA_DER");
    println!("cargo:rerun-if-changed=build.rs");
    let named = std::env::var_os("ENCORE_CA_DER").map(PathBuf::from);
    let path = named.clone().unwrap_or_else(|| PathBuf::from("ca.der"));
    println!("cargo:rerun-if-changed={}", path.display());
    let der = match std::fs::read(&path) {
        Ok(der) => der,
        Err(e) if named.is_some() => panic!("ENCORE_CA_DER={}: {e}", path.display()),
        // No default file: an image without an anchor (it builds; the examples refuse to run).
        Err(_) => Vec::new(),
    };
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("ca.der"), der).expect("write OUT_DIR/ca.der");
}
