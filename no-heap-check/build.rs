//! Puts `memory.x`, next to this script, where cortex-m-rt's `link.x` looks for it. (No
//! dependency of this crate leaves a `memory.x` of its own on the linker's search path, so
//! this folder can serve as it is; the mps2-an386 board's script explains when it cannot.)

fn main() {
    println!("cargo:rustc-link-search={}", env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=memory.x");
}
