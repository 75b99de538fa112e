//! Section sizes of a firmware image, read from its ELF32 section headers (no binutils needed),
//! for the demo's and the benchmark's size lines.

use std::path::Path;

use crate::util::Result;

/// Where RAM starts on the boards the firmware runs on: a section at or above it is RAM.
const RAM_BASE: u64 = 0x2000_0000;

/// The sizes of one image's allocated sections.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageSize {
    /// Everything the image puts in flash: the vector table, .text, .rodata and the initial
    /// values of .data.
    pub flash: u64,
    /// The vector table.
    pub vectors: u64,
    pub text: u64,
    pub rodata: u64,
    /// .data: in RAM, with its initial values in flash.
    pub data: u64,
    /// .bss and .uninit.
    pub bss: u64,
    /// Everything in RAM: .data, .bss and .uninit (statics, the executor's task, buffers held
    /// by tasks).
    pub ram: u64,
}

/// Reads the section sizes of the little-endian ELF32 file `elf`.
pub fn image_size(elf: &Path) -> Result<ImageSize> {
    let b = std::fs::read(elf).map_err(|e| format!("read {}: {e}", elf.display()))?;
    let bad = || format!("{}: not a little-endian ELF32 file", elf.display());
    let u16_at = |o: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            b.get(o..o + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |o: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            b.get(o..o + 4)?.try_into().ok()?,
        )))
    };
    if b.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1][..]) {
        return Err(bad());
    }
    let shoff = u32_at(0x20).ok_or_else(bad)? as usize;
    let shentsize = u16_at(0x2e).ok_or_else(bad)? as usize;
    let shnum = u16_at(0x30).ok_or_else(bad)? as usize;
    let shstrndx = u16_at(0x32).ok_or_else(bad)? as usize;
    let sh = |i: usize, field: usize| u32_at(shoff + i * shentsize + field);
    let strtab = sh(shstrndx, 0x10).ok_or_else(bad)? as usize;
    let name_of = |i: usize| -> Option<String> {
        let off = strtab + sh(i, 0)? as usize;
        let rest = b.get(off..)?;
        let end = rest.iter().position(|c| *c == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    const SHF_ALLOC: u64 = 2;
    const SHT_NOBITS: u64 = 8;
    let mut s = ImageSize::default();
    for i in 0..shnum {
        let (Some(kind), Some(flags), Some(addr), Some(size)) =
            (sh(i, 0x04), sh(i, 0x08), sh(i, 0x0c), sh(i, 0x14))
        else {
            return Err(bad());
        };
        if flags & SHF_ALLOC == 0 || size == 0 {
            continue;
        }
        let name = name_of(i).ok_or_else(bad)?;
        if addr >= RAM_BASE {
            s.ram += size;
            if kind == SHT_NOBITS {
                s.bss += size;
            } else {
                s.flash += size;
                s.data += size;
            }
        } else {
            s.flash += size;
            match name.as_str() {
                ".vector_table" => s.vectors += size,
                ".text" => s.text += size,
                ".rodata" => s.rodata += size,
                _ => {}
            }
        }
    }
    Ok(s)
}
