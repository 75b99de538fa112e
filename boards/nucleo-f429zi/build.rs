//! `ENCORE_BUILD_UNIX`: the build time in Unix seconds, the lower bound the board's wall
//! clock starts from (`SOURCE_DATE_EPOCH` when set, for reproducible images).

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let unix = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    println!("cargo:rustc-env=ENCORE_BUILD_UNIX={unix}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
}
