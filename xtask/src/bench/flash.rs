//! Where the flash goes, from the ELF symbol sizes.

use super::*;

/// An image's flash split by the crate that defined each symbol (`nm -C -S`: functions,
/// read-only data and initial values of data), after inlining and LTO.
pub(super) struct FlashSplit {
    pub(super) image: String,
    /// The image's flash from the section headers.
    pub(super) flash: u64,
    /// Bytes that sized symbols cover (alignment padding and unsized labels are the rest).
    pub(super) named: u64,
    pub(super) by_crate: BTreeMap<String, u64>,
}

/// What a firmware's async task holds once the executor's `poll` has inlined it.
pub(super) const TASK: &str = "the firmware's async task (inlined code)";

impl FlashSplit {
    pub(super) fn of(elf: &Path) -> Result<FlashSplit> {
        let nm = output(
            Command::new("nm")
                .args(["-C", "-S", "--defined-only"])
                .arg(elf),
        )?;
        let mut by_crate = BTreeMap::new();
        let mut named = 0;
        for line in nm.lines() {
            let f: Vec<&str> = line.splitn(4, ' ').collect();
            let [_, size, kind, name] = f.as_slice() else {
                continue;
            };
            if !matches!(*kind, "T" | "t" | "R" | "r" | "D" | "d") {
                continue;
            }
            let Ok(size) = u64::from_str_radix(size, 16) else {
                continue;
            };
            named += size;
            *by_crate.entry(crate_of(name)).or_insert(0) += size;
        }
        Ok(FlashSplit {
            image: image_name(elf),
            flash: elf_sizes(elf)?.flash,
            named,
            by_crate,
        })
    }

    /// The `n` largest crates, largest first.
    pub(super) fn largest(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .by_crate
            .iter()
            .map(|(c, b)| (c.as_str(), *b))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    pub(super) fn bytes(&self, krate: &str) -> u64 {
        self.by_crate.get(krate).copied().unwrap_or(0)
    }
}

/// The crate a demangled symbol belongs to: its first path segment; for `<Type as Trait>::f`
/// the type's crate, or the trait's when the type is generic or primitive.
pub(super) fn crate_of(name: &str) -> String {
    if name.contains("TaskStorage") && name.ends_with("::poll") {
        return TASK.into();
    }
    if name.starts_with(".L") || name.starts_with("anon.") {
        return "unnamed constants".into();
    }
    if name.starts_with("P256_") {
        return "p256_cm4".into();
    }
    if name == "__INTERRUPTS" || name == "__RESET_VECTOR" || name == "__EXCEPTIONS" {
        return "vector table".into();
    }
    let path_crate = |path: &str| -> Option<String> {
        let path = path
            .trim_start_matches(['&', '*', '[', '(', ' '])
            .trim_start_matches("mut ")
            .trim_start_matches("const ")
            .trim_start_matches("dyn ");
        let head = path.split(['<', ' ', ';', ']', ')']).next()?;
        let (krate, _) = head.split_once("::")?;
        Some(krate.to_string())
    };
    if let Some((ty, tr, _)) = super::firmware::qualified_path(name) {
        if let Some(k) = path_crate(ty).or_else(|| path_crate(tr)) {
            return k;
        }
    }
    if let Some(k) = path_crate(name) {
        return k;
    }
    if name.starts_with("__") || name.starts_with("mem") {
        return "compiler_builtins".into();
    }
    "other symbols".into()
}
