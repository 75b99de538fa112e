//! BENCHMARKS.md and its plot.

use super::*;

pub(super) struct Image {
    pub(super) name: &'static str,
    pub(super) runs: Vec<ImageRun>,
    pub(super) sizes: Sizes,
}

pub(super) struct Report<'a> {
    pub(super) images: &'a [Image],
    pub(super) profiles: &'a [Profile],
    pub(super) host: Option<&'a HostBench>,
    pub(super) reused: usize,
    pub(super) runs: usize,
    /// The emulator every image ran on (`QEMU 10.0.2`).
    pub(super) qemu: &'a str,
    pub(super) emulators: Option<&'a EmulatorCheck>,
    /// [`SAME_ALGORITHMS_IMAGE`], then embedded-tls's image.
    pub(super) flash_split: &'a [FlashSplit; 2],
}

pub(super) fn mi(n: u64) -> String {
    format!("{:.3} M", n as f64 / 1e6)
}

pub(super) fn kb(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

pub(super) fn ms(n: u64) -> String {
    format!("{:.1}", n as f64 / MCU_HZ * 1e3)
}

pub(super) fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

/// `a - b` in millions of instructions, with its sign.
pub(super) fn mi_delta(a: u64, b: u64) -> String {
    if a >= b {
        format!("+{}", mi(a - b))
    } else {
        format!("−{}", mi(b - a))
    }
}

/// `a - b` in bytes, with its sign.
pub(super) fn bytes_delta(a: u64, b: u64) -> String {
    if a >= b {
        format!("+{} B", a - b)
    } else {
        format!("−{} B", b - a)
    }
}

/// The servers of [`RSA_CHAINS_IMAGE`]: the suffix of its handshake names, and the chain as
/// the report describes it.
pub(super) const RSA_CHAIN_ROWS: [(&str, &str); 3] = [
    (
        "p256-chain",
        "P-256 → P-256 → P-256 (ECDSA throughout)",
    ),
    (
        "rsa2048-chain",
        "RSA-2048 → RSA-2048 → RSA-2048 (PKCS#1 v1.5 certificate signatures, RSA-PSS CertificateVerify)",
    ),
    (
        "rsa4096-root-chain",
        "RSA-4096 → P-256 → P-256 (the intermediate's certificate signed with RSA-4096, PKCS#1 v1.5; ECDSA below it)",
    ),
];
/// The full handshake and the resumption of [`RSA_CHAINS_IMAGE`], and `bench-encore`'s rows
/// they are compared with.
pub(super) const RSA_CHAIN_HANDSHAKES: [&str; 2] =
    ["full-verify-p256/aes128gcm", "psk_dhe_ke-p256/aes128gcm"];

impl Report<'_> {
    pub(super) fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }

    /// Each region with its median instruction count over the runs, and the largest relative
    /// spread between runs.
    pub(super) fn regions(&self, image: &Image) -> Vec<(Region, f64)> {
        let Some(first) = image.runs.first() else {
            return Vec::new();
        };
        first
            .regions
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let mut counts: Vec<u64> = image
                    .runs
                    .iter()
                    .filter_map(|run| run.regions.get(k).map(|x| x.instructions))
                    .collect();
                counts.sort_unstable();
                let min = counts.first().copied().unwrap_or(0);
                let max = counts.last().copied().unwrap_or(0);
                let spread = if min == 0 {
                    0.0
                } else {
                    (max - min) as f64 / min as f64
                };
                let mut median = r.clone();
                median.instructions = counts.get(counts.len() / 2).copied().unwrap_or(0);
                (median, spread)
            })
            .collect()
    }

    /// The median region `name` of `image`.
    pub(super) fn region(&self, image: &str, name: &str) -> Option<Region> {
        let img = self.image(image)?;
        self.regions(img)
            .into_iter()
            .map(|(r, _)| r)
            .find(|r| r.name == name)
    }

    pub(super) fn instructions(&self, image: &str, name: &str) -> Option<u64> {
        self.region(image, name).map(|r| r.instructions)
    }

    /// The deepest stack of handshake `name` of `image` (painted before its connection).
    pub(super) fn handshake_stack(&self, image: &str, name: &str) -> Option<u64> {
        self.image(image)?
            .runs
            .first()?
            .handshake_stacks
            .get(name)
            .map(|b| *b as u64)
    }

    pub(super) fn stack_peak(&self, image: &str) -> Option<u64> {
        self.image(image)?
            .runs
            .first()?
            .stack_peak
            .map(|p| p as u64)
    }

    /// The profiled window `label` (`encore psk_ke/aes128gcm`).
    pub(super) fn profile(&self, label: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.label == label)
    }

    /// The `n` largest functions of a profiled window: "`f` 0.231 M (52 %), …".
    pub(super) fn profile_text(&self, label: &str, n: usize) -> Option<String> {
        let p = self.profile(label)?;
        let top: Vec<String> = p
            .top
            .iter()
            .take(n)
            .map(|(k, f)| {
                format!(
                    "`{}` {} ({:.0} %)",
                    short_function(f),
                    mi(*k),
                    100.0 * *k as f64 / p.total.max(1) as f64
                )
            })
            .collect();
        Some(top.join(", "))
    }

    pub(super) fn markdown(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "### Handshakes on mps2-an386 (Cortex-M4F, {}), against openssl s_server over UART 0\n",
            self.qemu
        );
        let _ = writeln!(t, "| stack | handshake / suite | instructions | ms at 168 MHz (lower bound) | wire bytes (sent + received) | run-to-run spread |");
        let _ = writeln!(t, "|---|---|---:|---:|---:|---:|");
        for name in [
            "bench-embedded-tls",
            "bench-encore",
            TABLE_IMAGE,
            RUSTCRYPTO_IMAGE,
            RSA_CHAINS_IMAGE,
        ] {
            let Some(img) = self.image(name) else {
                continue;
            };
            for (r, spread) in self.regions(img) {
                if !reported(name, &r) {
                    continue;
                }
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} ({} + {}) | {:.4} % |",
                    r.stack,
                    r.name,
                    r.cost_cells(),
                    r.wire(),
                    r.sent,
                    r.received,
                    spread * 100.0
                );
            }
        }
        let _ = writeln!(t, "\n### Images\n");
        let _ = writeln!(t, "| image | flash (vectors + .text + .rodata + .data) | .text | .rodata | static RAM (.data + .bss + .uninit) | stack peak (painted) |");
        let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|");
        for img in self
            .images
            .iter()
            .filter(|i| i.name != "bench-crypto" && i.name != RSA_IMAGE)
        {
            let peak = img.runs.first().and_then(|r| r.stack_peak);
            let _ = writeln!(
                t,
                "| {} | {} ({} B) | {} | {} | {} ({} B) | {} |",
                img.name,
                kb(img.sizes.flash),
                img.sizes.flash,
                kb(img.sizes.text),
                kb(img.sizes.rodata),
                kb(img.sizes.ram),
                img.sizes.ram,
                peak.map(|p| format!("{p} B")).unwrap_or_else(|| "-".into()),
            );
        }
        if let Some(enc) = self.image("bench-encore").and_then(|i| i.runs.first()) {
            if let (Some(e), Some(i), Some(s)) = (enc.entry_size, enc.index_size, enc.slot_size) {
                let _ = writeln!(t, "\nSession memory on the target (thumbv7em): {e} B per cache entry and {i} B of cache index per entry, {s} B per pool slot (256-byte ticket capacity): {} B per cached session.", e + i + s);
            }
        }
        t.push_str(&self.rsa());
        t.push_str(&self.rsa_handshakes());
        if let Some(img) = self.image("bench-crypto") {
            let _ = writeln!(
                t,
                "\n### Primitives alone (bench-crypto: encore-tls's crypto, and the P-256 code embedded-tls links)\n"
            );
            let _ = writeln!(
                t,
                "| library | operation | instructions | ms at 168 MHz (lower bound) |"
            );
            let _ = writeln!(t, "|---|---|---:|---:|");
            for (r, _) in self.regions(img) {
                let _ = writeln!(t, "| {} | {} | {} |", r.stack, r.name, r.cost_cells());
            }
        }
        if let Some(h) = self.host {
            let _ = writeln!(t, "\n### Session cache on the host (criterion, mean time per operation; allocations per operation)\n");
            let _ = writeln!(t, "| operation | capacity | Encore `SessionCache` | rustls `ClientSessionMemoryCache` | speed-up | allocations Encore / rustls |");
            let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|");
            for op in ["lookup", "take", "insert", "evict"] {
                for cap in [8usize, 64, 256] {
                    let key = |c: &str| (op.to_string(), c.to_string(), cap);
                    let (Some(e), Some(r)) =
                        (h.time_ns.get(&key("encore")), h.time_ns.get(&key("rustls")))
                    else {
                        continue;
                    };
                    let ae = h.allocs.get(&key("encore")).copied().unwrap_or(f64::NAN);
                    let ar = h.allocs.get(&key("rustls")).copied().unwrap_or(f64::NAN);
                    let _ = writeln!(
                        t,
                        "| {op} | {cap} | {e:.1} ns | {r:.1} ns | {:.2}× | {ae} / {ar} |",
                        r / e
                    );
                }
            }
        }
        t
    }

    /// Runs that disagree by more than [`MAX_SPREAD`] fail the command. Both sides repeat
    /// themselves (the client's generator has a fixed seed, the server's is pinned), so every
    /// handshake, full ones included, sees the same bytes in every run.
    pub(super) fn check_spread(&self) -> Result {
        let mut worst = (0.0f64, String::new());
        for img in self.images {
            for (r, spread) in self.regions(img) {
                if spread >= worst.0 {
                    worst = (spread, format!("{} {}", r.stack, r.name));
                }
            }
        }
        println!(
            "largest run-to-run spread over {} runs: {:.4} % ({})",
            self.runs,
            worst.0 * 100.0,
            worst.1,
        );
        if worst.0 > MAX_SPREAD {
            return Err(format!(
                "instruction counts of {} differ by {:.4} % between runs (limit {:.1} %)",
                worst.1,
                worst.0 * 100.0,
                MAX_SPREAD * 100.0
            ));
        }
        Ok(())
    }

    pub(super) fn document(&self, table: &str, svg: &str) -> String {
        let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let rustc = output(Command::new("rustc").arg("--version"))
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let qemu = self.qemu;
        let mut d = String::new();
        let _ = writeln!(d, "# Benchmarks\n");
        let _ = writeln!(d, "Produced by `cargo xtask bench` on {date} ({rustc}, {qemu}, {} runs per image; instruction counts are the median of the runs). Regenerate with the same command; it rewrites this file and the plot.\n", self.runs);
        let _ = writeln!(d, "![instructions per handshake]({svg})\n");
        d.push_str(&self.like_for_like());
        let _ = writeln!(d);
        d.push_str(&self.targets());
        let _ = writeln!(d, "\n## How it is measured\n");
        let _ = writeln!(d, "- Firmware `bench/mps2-an386` (release: opt-level \"s\", LTO, one codegen unit) on QEMU's `mps2-an386` (Cortex-M4F), {qemu}. The server is `openssl s_server` (OpenSSL 3.0) on 127.0.0.1 with a throwaway P-256 PKI (root → intermediate → leaf; the leaf's subjectAltName and CN both name `{SERVER_NAME}`) made once with the openssl CLI and committed under `bench/mps2-an386/pki` (certificate signatures and the leaf key set how long verification takes, so the PKI is fixed for every machine). Encore's server also has `-allow_no_dhe_kex` (for psk_ke) and issues 2 tickets; embedded-tls's PSK handshake uses a second s_server with `-nocert -psk_identity {PSK_IDENTITY} -psk …`. Two more s_servers (2 tickets each) serve the chains with RSA in them, committed beside it: `pki/{}` (RSA-2048 root, intermediate and leaf) and `pki/{}` (an RSA-4096 root, a P-256 intermediate and a P-256 leaf); every certificate is signed with SHA-256.", RSA2048_CHAIN.dir, RSA4096_ROOT_CHAIN.dir);
        let _ = writeln!(d, "- The emulator: `p256-cm4`'s `mul288x288` uses `ldm.w` with a single register, an encoding ARMv7-M leaves UNPREDICTABLE; Cortex-M4 silicon executes it, QEMU 8 and later execute it, and Debian 12's own QEMU 7.2 takes the HardFault. `cargo xtask` therefore installs `qemu-system-arm` from Debian 12's bookworm-backports (QEMU 10.0) when the candidate is older than 8. {}", match self.emulators {
            Some(e) => {
                let same = e.rows.iter().filter(|r| r.new == r.old).count();
                let most = e.rows.iter().map(|r| r.new.abs_diff(r.old)).max().unwrap_or(0);
                if same == e.rows.len() {
                    format!("The emulator's version does not change the counts: the RustCrypto-only images, run on {} and on {}, count the same instructions in {same} of {} windows (the last table below).", self.qemu, e.old, e.rows.len())
                } else {
                    format!("The emulator's version does not change the work counted: the RustCrypto-only images, run on {} and on {}, count the same instructions in {same} of {} windows, and the others differ by at most {most} instructions, spent on values read from the emulated clock (the last table below).", self.qemu, e.old, e.rows.len())
                }
            }
            None => "`cargo xtask bench --old-qemu PATH` checks that the emulator's version does not change the counts (the last table below).".to_string(),
        });
        let _ = writeln!(d, "- Bytes travel over UART 0, which QEMU connects to a relay in the xtask that holds the TCP connections: no IP stack, and the relay answers a read only once the server's whole flight has arrived.");
        let _ = writeln!(d, "- **Instructions** are counted exactly by the project's QEMU plugin between markers around each handshake (from building the ClientHello to handing the client Finished to the link; for Encore also taking the ticket from the session cache), **minus the instructions spent inside the UART link** (bracketed by markers of their own: waiting, interrupts, copying frames). Encore's engine calls and every primitive of `bench-crypto` and `bench-rsa` run with interrupts masked, and the SysTick interrupt that came due meanwhile runs after them between markers that are subtracted too; embedded-tls runs its whole handshake inside one call, so a SysTick interrupt (about 430 instructions, 10 per second of host time) can land in its count; in Encore's windows one can still land in the short stretches between engine calls (taking the ticket from the cache, handing bytes over), rarely. What remains is the TLS stack's own work. The client's generator has a fixed seed, and the server's is pinned by a preloaded library (`tools/pinned-rand`) that makes OpenSSL's random generator a fixed sequence restarted at every accepted connection: each connection sees the same server random, key share and ECDSA nonce, so a full handshake verifies the same CertificateVerify signature in every run (ECDSA verification time depends on the signature: the `ecdsa-verify-other-signature` rows below). The pin is for measurement only: it makes the server's keys predictable.");
        let _ = writeln!(d, "- **ms at 168 MHz** assumes one cycle per instruction: a lower bound (flash wait states and multi-cycle instructions only add).");
        let _ = writeln!(d, "- **Wire bytes** are counted at the link: every TLS record byte in both directions from the first ClientHello byte to the client Finished (NewSessionTicket records and close_notify excluded).");
        let _ = writeln!(d, "- **Flash** and **static RAM** come from the ELF section headers. Both stacks' buffers live in their executor task (in .bss): embedded-tls 16,640 B read + 4,096 B write; Encore 18,693 B receive + 1,024 B transmit, plus a 4-slot session pool and a 4-entry cache. The stack peak is found by painting. The 4 KiB UART receive ring and the board support are in both images.");
        let _ = writeln!(d, "- P-256: encore-tls's `p256-cm4` feature runs ECDSA verification (the chain and CertificateVerify) and the P-256 key share and agreement on `p256-cm4` 0.4's Cortex-M4 assembly; `bench-encore` has it on (as the Cortex-M4 firmware does by default), and `{RUSTCRYPTO_IMAGE}` is the same firmware without it, on RustCrypto's `p256` 0.13 as on every other target and as embedded-tls (the `encore+rustcrypto-p256` rows). With the feature, encore-tls's default group order on Arm puts P-256 before X25519, because it is the cheaper key exchange there; the bench firmware names its groups itself: X25519 first in the rows without a suffix, P-256 alone in the `-p256` rows. `p256-differential` (`cargo xtask test`) checks the two backends against each other on the emulated core.");
        let _ = writeln!(d, "- embedded-tls 0.19 offers only P-256 for key exchange and AES-GCM suites, and cannot resume a session: its external-PSK handshake (psk_dhe_ke) is the nearest equivalent of a resumption.");
        let _ = writeln!(d, "- `bench-encore` is built with encore-tls's `x25519`, `chacha20` and `p256-cm4` features only (what a firmware for P-256 servers needs), and built again as `{TABLE_IMAGE}` with the opt-in `x25519-base-table` (curve25519-dalek's precomputed base-point table: a faster X25519 key share for more flash); the `encore+x25519-table` rows are that image's X25519 handshakes. It is also built with `p256-cm4` alone as `{SAME_ALGORITHMS_IMAGE}`, with the algorithms embedded-tls's image has, for its size only (not run), and with `rsa` added as `{RSA_CHAINS_IMAGE}`, which trusts one root per server and measures the full handshake and a psk_dhe_ke resumption (P-256 key share, AES-128-GCM) against the P-256 chain and the two chains with RSA in them (the `encore+rsa` rows, named after their chain).");
        let _ = writeln!(d, "- Server-side proof of resumption: `openssl s_server` reported {} resumed connections (`Reused session-id`) over all runs.\n", self.reused);
        let _ = writeln!(d, "## All measurements\n");
        let _ = writeln!(d, "{table}");
        let _ = writeln!(d, "{}", self.where_it_goes());
        let _ = writeln!(d, "{}", self.where_the_flash_goes());
        let _ = writeln!(d, "{}", self.emulator_check());
        d
    }

    /// A horizontal bar chart of instructions per handshake, written by hand (no plotting crate).
    pub(super) fn svg(&self) -> String {
        let mut bars: Vec<(String, u64, &str)> = Vec::new();
        for (image, color) in [
            ("bench-embedded-tls", "#c0504d"),
            ("bench-encore", "#4f81bd"),
            (TABLE_IMAGE, "#9bbb59"),
            (RUSTCRYPTO_IMAGE, "#8c8c8c"),
            (RSA_CHAINS_IMAGE, "#8064a2"),
        ] {
            if let Some(img) = self.image(image) {
                for (r, _) in self
                    .regions(img)
                    .into_iter()
                    .filter(|(r, _)| reported(image, r))
                    .filter(|(r, _)| image != RSA_CHAINS_IMAGE || r.name.contains("@rsa"))
                {
                    bars.push((format!("{} {}", r.stack, r.name), r.instructions, color));
                }
            }
        }
        let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
        let (label_w, bar_w, row_h, top) = (400.0, 520.0, 26.0, 50.0);
        let height = top + row_h * bars.len() as f64 + 54.0;
        let width = label_w + bar_w + 120.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="10" y="22" font-size="15" font-weight="bold">Instructions per TLS 1.3 handshake on a Cortex-M4F (mps2-an386, {}), transport excluded</text>"#,
            self.qemu
        );
        for (i, (label, n, color)) in bars.iter().enumerate() {
            let y = top + row_h * i as f64;
            let w = (*n as f64 / max * bar_w).max(1.0);
            let _ = writeln!(
                s,
                r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text>"#,
                label_w - 8.0,
                y + 16.0,
                label
            );
            let _ = writeln!(
                s,
                r#"<rect x="{label_w}" y="{y:.0}" width="{w:.1}" height="{:.0}" fill="{color}"/>"#,
                row_h - 6.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.0}">{:.2} M</text>"#,
                label_w + w + 6.0,
                y + 16.0,
                *n as f64 / 1e6
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="10" y="{:.0}" fill="#555">red: embedded-tls 0.19; blue: Encore (P-256 on p256-cm4); green: Encore with the X25519 base-point table; grey: Encore with P-256 on RustCrypto p256;</text>"##,
            height - 26.0
        );
        let _ = writeln!(
            s,
            r##"<text x="10" y="{:.0}" fill="#555">purple: Encore with the rsa feature against the chains with RSA in them (P-256 key exchange). Produced by cargo xtask bench.</text>"##,
            height - 10.0
        );
        let _ = writeln!(s, "</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_function_names() {
        assert_eq!(
            short_function("crypto_bigint::uint::mul::karatsuba::widening_mul_fixed"),
            "karatsuba::widening_mul_fixed"
        );
        assert_eq!(
            short_function("<&curve25519_dalek::backend::serial::u32::field::FieldElement2625 as core::ops::arith::Mul>::mul"),
            "FieldElement2625::mul"
        );
        assert_eq!(
            short_function("primeorder::projective::ProjectivePoint<C>::to_affine"),
            "ProjectivePoint::to_affine"
        );
        assert_eq!(short_function("__aeabi_memcpy4"), "__aeabi_memcpy4");
        assert_eq!(
            after_fields("      920924   2.1% <a as b>::c d", 2),
            "<a as b>::c d"
        );
    }

    #[test]
    fn crates_of_symbols() {
        assert_eq!(crate_of("sha2::sha256::compress256"), "sha2");
        assert_eq!(
            crate_of("<&curve25519_dalek::backend::serial::u32::field::FieldElement2625 as core::ops::arith::Mul>::mul"),
            "curve25519_dalek"
        );
        assert_eq!(crate_of("<&T as core::fmt::Debug>::fmt"), "core");
        assert_eq!(
            crate_of("encore_tls::client::state::negotiated::<impl encore_tls::client::state::Negotiated>::encrypted_extensions"),
            "encore_tls"
        );
        assert_eq!(
            crate_of("embassy_executor::raw::TaskStorage<F>::poll"),
            TASK
        );
        assert_eq!(crate_of(".Lanon.71f2e9.7"), "unnamed constants");
        assert_eq!(crate_of("P256_mulmod"), "p256_cm4");
        assert_eq!(crate_of("__aeabi_memcpy4"), "compiler_builtins");
    }

    #[test]
    fn criterion_mean() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.5,"standard_error":0.1},"median":{"point_estimate":9.0}}"#;
        assert_eq!(json_mean(json), Some(2.5));
    }

    #[test]
    fn windows_subtract_the_link() {
        let marks = "marker 0 10\nmarker 1 100\nmarker 10 150\nmarker 11 250\nmarker 12 300\nmarker 13 310\nmarker 2 400\n";
        let stdout = "handshake encore psk_ke/aes128gcm 417 153 ok\nhandshake-stack psk_ke/aes128gcm 96 bytes\nstack peak: 100 bytes\n";
        let run = parse_run(stdout, marks).unwrap();
        // 400 - 100 - (250 - 150) - (310 - 300)
        assert_eq!(run.regions[0].instructions, 190);
        assert_eq!((run.regions[0].sent, run.regions[0].received), (417, 153));
        assert_eq!(run.stack_peak, Some(100));
        assert_eq!(run.handshake_stacks.get("psk_ke/aes128gcm"), Some(&96));
    }
}
