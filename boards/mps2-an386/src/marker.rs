//! Instruction-count markers.
//!
//! [`marker`] calls `encore_marker`, a function that does nothing but load
//! byte `id` of the `ENCORE_MARKER_IDS` table. The project's QEMU plugin
//! (`tools/qemu-plugin`) watches both symbols and prints
//! `marker <id> <instructions executed so far>` each time, so the difference
//! between two markers is the exact instruction count of the code between
//! them. Without the plugin a marker costs a few instructions.

/// Conventional ids, so that every firmware brackets its work the same way.
pub mod id {
    pub use encore_markers::{BEGIN, BOOT, END};
}

/// Records `id` with the current instruction count (when the plugin runs).
#[inline(always)]
pub fn marker(id: u8) {
    crate::hw::encore_marker(id);
}
