//! Puts `memory.x`, next to this script, where cortex-m-rt's `link.x` looks for it.

fn main() {
    println!("cargo:rustc-link-search={}", env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=memory.x");
}
