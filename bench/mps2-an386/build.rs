//! Copies the benchmark PKI's root certificate (DER) into the build, from the directory named by
//! `ENCORE_BENCH_PKI` (`cargo xtask bench` makes it with the openssl CLI under target/).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=ENCORE_BENCH_PKI");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let root = match env::var_os("ENCORE_BENCH_PKI") {
        Some(dir) => {
            let path = PathBuf::from(dir).join("root.der");
            println!("cargo:rerun-if-changed={}", path.display());
            fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        }
        None => {
            // A build without the PKI still links (sizes, clippy); its full handshakes fail.
            println!("cargo:warning=ENCORE_BENCH_PKI is not set: the image trusts no root");
            Vec::new()
        }
    };
    fs::write(out.join("root.der"), root).expect("write root.der");
}
