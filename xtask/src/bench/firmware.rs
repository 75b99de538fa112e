//! One firmware run under QEMU with the counting plugin, and the function profile.

use super::*;

/// A measured region of one run: a handshake or a primitive.
#[derive(Clone, Debug)]
pub(super) struct Region {
    pub(super) stack: String,
    pub(super) name: String,
    /// Instructions between the markers, minus those inside the UART link.
    pub(super) instructions: u64,
    pub(super) sent: usize,
    pub(super) received: usize,
    pub(super) ok: bool,
}

impl Region {
    /// Its cost as two table cells: instructions in millions, then milliseconds at 168 MHz.
    pub(super) fn cost_cells(&self) -> String {
        format!("{} | {}", mi(self.instructions), ms(self.instructions))
    }

    /// Bytes on the wire, both ways.
    pub(super) fn wire(&self) -> usize {
        self.sent + self.received
    }
}

pub(super) struct ImageRun {
    pub(super) regions: Vec<Region>,
    pub(super) stack_peak: Option<usize>,
    /// Stack each `op` needed on its own (`op-stack <operation> <bytes> bytes`), painted just
    /// before it.
    pub(super) op_stacks: BTreeMap<String, usize>,
    /// The deepest stack of each handshake (`handshake-stack <name> <bytes> bytes`), painted
    /// before its connection: bytes below the top of the stack, like `stack_peak`.
    pub(super) handshake_stacks: BTreeMap<String, usize>,
    pub(super) entry_size: Option<usize>,
    pub(super) index_size: Option<usize>,
    pub(super) slot_size: Option<usize>,
}

/// Runs `elf` once under the counting plugin, on `qemu` (a `qemu-system-arm` binary) or on the
/// one on the `PATH`.
pub(super) fn run_image(
    elf: &Path,
    plugin: &Path,
    ports: &Ports,
    work: &Path,
    i: usize,
    qemu: Option<&Path>,
) -> Result<ImageRun> {
    let name = image_name(elf);
    let markers = work.join(format!("{name}.{i}.markers"));
    let stdout = run_qemu(elf, &plugin.to_string_lossy(), &markers, ports, work, qemu)?;
    let marks = std::fs::read_to_string(&markers)
        .map_err(|e| format!("read {}: {e}", markers.display()))?;
    parse_run(&stdout, &marks).map_err(|e| format!("{name}: {e}\n{stdout}"))
}

pub(super) fn image_name(elf: &Path) -> String {
    elf.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("image")
        .to_string()
}

/// Whether a handshake of `image` appears in the tables: every one, except that the
/// [`TABLE_IMAGE`] variant shows only the handshakes that make an X25519 key share.
pub(super) fn reported(image: &str, r: &Region) -> bool {
    image != TABLE_IMAGE || r.name.starts_with("full-verify/") || r.name.starts_with("psk_dhe_ke/")
}

/// Boots `elf` with the relay on UART 0 and `plugin` (a path, with extra arguments after
/// commas) writing to `plugin_out`; returns the firmware's standard output. `qemu` replaces the
/// `qemu-system-arm` on the `PATH` (its directory goes first on the runner's `PATH`).
pub(super) fn run_qemu(
    elf: &Path,
    plugin: &str,
    plugin_out: &Path,
    ports: &Ports,
    work: &Path,
    qemu: Option<&Path>,
) -> Result<String> {
    let (uart_port, relay) = start_relay(*ports)?;
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("examples/mps2-an386/run-qemu.sh"))
        .arg(elf)
        .current_dir(work)
        .env("ENCORE_UART_PORT", uart_port.to_string())
        .env("ENCORE_QEMU_PLUGIN", plugin)
        .env("ENCORE_PLUGIN_OUT", plugin_out)
        .env("ENCORE_TIMEOUT", "300");
    if let Some(dir) = qemu.and_then(Path::parent) {
        let mut path = std::ffi::OsString::from(dir);
        if let Some(rest) = std::env::var_os("PATH") {
            path.push(":");
            path.push(rest);
        }
        cmd.env("PATH", path);
    }
    let shown = util::show(&cmd);
    let out = cmd
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let relay_result = relay.join().unwrap_or(Err("relay panicked".into()));
    if !out.status.success() {
        return Err(format!(
            "`{shown}` failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    relay_result?;
    Ok(stdout)
}

/// One measured window split by function: its label, its total, and its largest functions
/// (instructions, function).
pub(super) struct Profile {
    pub(super) label: String,
    pub(super) total: u64,
    pub(super) top: Vec<(u64, String)>,
}

/// Runs the handshake images once under `bench/mps2-an386/profile/funcprof.c`, which splits each
/// measured window (transport excluded, as in the table) by function.
pub(super) fn profile(elf_dir: &Path, ports: &Ports, work: &Path) -> Result<Vec<Profile>> {
    // The plugin API header it shares with insncount.c.
    let include = format!("-I{}", root().join("tools/qemu-plugin").display());
    let so = util::shared_lib(
        &root().join(FIRMWARE_DIR).join("profile/funcprof.c"),
        &work.join("libfuncprof.so"),
        &[&include],
    )?;
    let mut profiles = Vec::new();
    for (name, elf) in [
        ("bench-embedded-tls", elf_dir.join("bench-embedded-tls")),
        ("bench-encore", elf_dir.join("bench-encore")),
        (RSA_CHAINS_IMAGE, work.join(RSA_CHAINS_IMAGE)),
    ] {
        let nm = output(
            Command::new("nm")
                .args(["-C", "-S", "--defined-only"])
                .arg(&elf),
        )?;
        let mut syms = String::new();
        for line in nm.lines() {
            let f: Vec<&str> = line.splitn(4, ' ').collect();
            if let [addr, size, kind, fname] = f.as_slice() {
                if matches!(*kind, "T" | "t") {
                    let _ = writeln!(syms, "{addr} {size} {fname}");
                }
            }
        }
        let syms_path = work.join(format!("{name}.syms"));
        std::fs::write(&syms_path, syms).map_err(|e| format!("write syms: {e}"))?;
        let report = work.join(format!("{name}.profile"));
        let plugin = format!("{},syms={},top=12", so.display(), syms_path.display());
        let stdout = run_qemu(&elf, &plugin, &report, ports, work, None)?;
        let mut names = stdout
            .lines()
            .filter(|l| l.starts_with("handshake "))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            });
        let text = std::fs::read_to_string(&report)
            .map_err(|e| format!("read {}: {e}", report.display()))?;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let ["window", _, total] = f.as_slice() {
                profiles.push(Profile {
                    label: names.next().unwrap_or_default(),
                    total: total.parse().unwrap_or(0),
                    top: Vec::new(),
                });
            } else if let (Some(p), [count, _share, ..]) = (profiles.last_mut(), f.as_slice()) {
                // `<count> <share>% <function name with spaces>`
                let func = after_fields(line, 2).to_string();
                p.top.push((count.parse().unwrap_or(0), func));
            }
        }
    }
    Ok(profiles)
}

/// What follows the first `n` whitespace-separated fields of `line`.
pub(super) fn after_fields(line: &str, n: usize) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest
}

/// A function name shortened for the tables: generic arguments dropped, the last two path
/// segments kept (`FieldElement::multiply`); a trait method as `Type::method`.
pub(super) fn short_function(name: &str) -> String {
    fn strip_generics(s: &str) -> String {
        let mut out = String::new();
        let mut depth = 0usize;
        for c in s.chars() {
            match c {
                '<' => depth += 1,
                '>' => depth = depth.saturating_sub(1),
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    }
    fn last_segments(path: &str, n: usize) -> String {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        parts[parts.len().saturating_sub(n)..].join("::")
    }
    if let Some((ty, _, method)) = qualified_path(name) {
        let ty = strip_generics(ty.trim_start_matches('&'));
        let method = strip_generics(method);
        return format!("{}::{}", last_segments(&ty, 1), last_segments(&method, 1));
    }
    last_segments(&strip_generics(name), 2)
}

/// A demangled `<Type as Trait>::rest` split at the `>` that closes the first `<`:
/// `(Type, Trait, ::rest)`, with an empty `Trait` for `<Type>::rest`. `None` for a name that
/// does not start with `<` or never closes it.
pub(super) fn qualified_path(name: &str) -> Option<(&str, &str, &str)> {
    let inner = name.strip_prefix('<')?;
    let mut depth = 1usize;
    for (i, c) in inner.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    let (ty, tr) = inner[..i].split_once(" as ").unwrap_or((&inner[..i], ""));
                    return Some((ty, tr, &inner[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// Pairs the k-th measured window of the plugin's output with the k-th `handshake` or `op`
/// line of the firmware.
pub(super) fn parse_run(stdout: &str, marks: &str) -> Result<ImageRun> {
    let mut windows = Vec::new();
    let (mut begin, mut io_begin, mut io_total) = (None::<u64>, None::<u64>, 0u64);
    for line in marks.lines() {
        let mut f = line.split_whitespace();
        if f.next() != Some("marker") {
            continue;
        }
        let (Some(id), Some(count)) = (
            f.next().and_then(|v| v.parse::<u8>().ok()),
            f.next().and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        use encore_markers::bench as m;
        match id {
            m::HANDSHAKE_BEGIN | m::OP_BEGIN => {
                begin = Some(count);
                io_total = 0;
            }
            m::IO_BEGIN | m::DEFERRED_BEGIN => io_begin = Some(count),
            m::IO_END | m::DEFERRED_END => {
                if let Some(b) = io_begin.take() {
                    io_total += count - b;
                }
            }
            m::HANDSHAKE_END | m::OP_END => {
                if let Some(b) = begin.take() {
                    windows.push((count - b).saturating_sub(io_total));
                }
            }
            _ => {}
        }
    }
    let mut regions = Vec::new();
    let mut stack_peak = None;
    let mut op_stacks = BTreeMap::new();
    let mut handshake_stacks = BTreeMap::new();
    let (mut entry_size, mut index_size, mut slot_size) = (None, None, None);
    for line in stdout.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["handshake", stack, name, sent, received, ok] => regions.push(Region {
                stack: stack.to_string(),
                name: name.to_string(),
                instructions: 0,
                sent: sent.parse().unwrap_or(0),
                received: received.parse().unwrap_or(0),
                ok: *ok == "ok",
            }),
            ["op", stack, name, ok] => regions.push(Region {
                stack: stack.to_string(),
                name: name.to_string(),
                instructions: 0,
                sent: 0,
                received: 0,
                ok: *ok == "ok",
            }),
            ["stack", "peak:", n, "bytes"] => stack_peak = n.parse().ok(),
            ["op-stack", name, n, "bytes"] => {
                if let Ok(n) = n.parse() {
                    op_stacks.insert(name.to_string(), n);
                }
            }
            ["handshake-stack", name, n, "bytes"] => {
                if let Ok(n) = n.parse() {
                    handshake_stacks.insert(name.to_string(), n);
                }
            }
            ["sizes", "entry", e, "index", i, "slot", s] => {
                entry_size = e.parse().ok();
                index_size = i.parse().ok();
                slot_size = s.parse().ok();
            }
            _ => {}
        }
    }
    if regions.len() != windows.len() {
        return Err(format!(
            "{} reported regions but {} marker windows",
            regions.len(),
            windows.len()
        ));
    }
    for (r, w) in regions.iter_mut().zip(windows) {
        r.instructions = w;
    }
    if let Some(bad) = regions.iter().find(|r| !r.ok) {
        return Err(format!("{} {} failed", bad.stack, bad.name));
    }
    Ok(ImageRun {
        regions,
        stack_peak,
        op_stacks,
        handshake_stacks,
        entry_size,
        index_size,
        slot_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_paths_split_where_the_first_bracket_closes() {
        let mul = "<p256::FieldElement as core::ops::Mul<&p256::FieldElement>>::mul";
        assert_eq!(
            qualified_path(mul),
            Some((
                "p256::FieldElement",
                "core::ops::Mul<&p256::FieldElement>",
                "::mul"
            ))
        );
        assert_eq!(qualified_path("<[u8]>::len"), Some(("[u8]", "", "::len")));
        assert_eq!(qualified_path("core::fmt::write"), None);
        assert_eq!(qualified_path("<unclosed"), None);
        assert_eq!(short_function(mul), "FieldElement::mul");
        assert_eq!(
            short_function("encore_tls::crypto::sha::compress<T>"),
            "sha::compress"
        );
    }
}
