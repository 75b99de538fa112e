//! Puts this board's `memory.x` on the linker search path, for cortex-m-rt's `link.x`.
//!
//! The file is copied into this crate's out directory rather than found in this folder:
//! systick-timer's build script leaves a `memory.x` of its own in its out directory, and the
//! linker takes the first `memory.x` on its search path. Cargo puts this crate's out
//! directory before systick-timer's, and this folder after it.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
