//! The same images on an older QEMU, to show the counts do not depend on the emulator.

use super::*;

/// `QEMU 10.0.2`, from `qemu-system-arm --version` (the one on the `PATH`, or `qemu`).
pub(super) fn qemu_version(qemu: Option<&Path>) -> Result<String> {
    let mut cmd = Command::new(qemu.unwrap_or(Path::new("qemu-system-arm")));
    let text = output(cmd.arg("--version"))?;
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .ok_or_else(|| format!("no version in `qemu-system-arm --version`: {text}"))?;
    Ok(format!("QEMU {version}"))
}

/// One window of an image counted on both emulators.
pub(super) struct EmulatorRow {
    pub(super) image: &'static str,
    pub(super) what: String,
    pub(super) new: u64,
    pub(super) old: u64,
}

/// The same ELFs on the emulator the bench uses and on an older one (`--old-qemu`).
pub(super) struct EmulatorCheck {
    pub(super) old: String,
    pub(super) rows: Vec<EmulatorRow>,
}
