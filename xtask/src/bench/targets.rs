//! The targets the report states, met or missed, with what the profile shows is left.

use super::*;

/// Targets, in instructions (exact counts on the emulated Cortex-M4) and bytes.
pub(super) const TARGET_FULL: u64 = 8_000_000;
pub(super) const TARGET_PSK_DHE: u64 = 2_000_000;
pub(super) const TARGET_PSK: u64 = 400_000;
pub(super) const TARGET_FLASH: u64 = 110 * 1024;
pub(super) const TARGET_CACHE_SPEEDUP: f64 = 2.0;
pub(super) const TARGET_RSA2048_VERIFY: u64 = 2_000_000;
/// Stack a full handshake with RSA in the chain may use beyond the P-256 one's.
pub(super) const TARGET_RSA_EXTRA_STACK: u64 = 8 * 1024;

impl Report<'_> {
    /// The stack target for RSA chains: each full handshake of [`RSA_CHAINS_IMAGE`] against
    /// `bench-encore`'s full handshake against the P-256 chain, plus
    /// [`TARGET_RSA_EXTRA_STACK`]. Returns (met for every chain, the sentence).
    pub(super) fn rsa_stack_target(&self) -> Option<(bool, String, String)> {
        let full = RSA_CHAIN_HANDSHAKES[0];
        let base = self.handshake_stack("bench-encore", full)?;
        let limit = base + TARGET_RSA_EXTRA_STACK;
        let mut all = true;
        let mut measured = Vec::new();
        let mut margins = Vec::new();
        for (suffix, _) in &RSA_CHAIN_ROWS[1..] {
            let Some(b) = self.handshake_stack(RSA_CHAINS_IMAGE, &format!("{full}@{suffix}"))
            else {
                continue;
            };
            all &= b <= limit;
            let what = match *suffix {
                "rsa2048-chain" => "RSA-2048 chain",
                _ => "RSA-4096 root",
            };
            measured.push(format!("{what} {b} B ({})", bytes_delta(b, base)));
            margins.push(if b <= limit {
                format!("{what}: met, {} B to spare", limit - b)
            } else {
                format!("{what}: missed by {} B", b - limit)
            });
        }
        if measured.is_empty() {
            return None;
        }
        Some((all, measured.join(", "), margins.join("; ")))
    }

    pub(super) fn rsa_stack_verdict(&self) -> Option<String> {
        let full = RSA_CHAIN_HANDSHAKES[0];
        let base = self.handshake_stack("bench-encore", full)?;
        let limit = base + TARGET_RSA_EXTRA_STACK;
        let (_, _, margins) = self.rsa_stack_target()?;
        let mut v = format!(
            "Stack target (a full handshake with RSA in the chain at most 8 KiB above the P-256 chain's {base} B, so at most {limit} B): {margins}."
        );
        // Where the RSA verification sits: the handshake's peak minus what one verification
        // uses on its own (bench-rsa's stack column).
        let ops = self.image(RSA_IMAGE)?.runs.first()?.op_stacks.clone();
        let parts: Vec<(String, u64, u64)> = [
            ("rsa2048-chain", "rsa2048-pss-sha256-verify", "RSA-2048"),
            (
                "rsa4096-root-chain",
                "rsa4096-pkcs1-sha256-verify",
                "RSA-4096",
            ),
        ]
        .iter()
        .filter_map(|(chain, op, what)| {
            let peak = self.handshake_stack(RSA_CHAINS_IMAGE, &format!("{full}@{chain}"))?;
            let own = *ops.get(*op)? as u64;
            Some((what.to_string(), own, peak.saturating_sub(own)))
        })
        .collect();
        if let [(_, own2048, above2048), (_, own4096, above4096)] = parts.as_slice() {
            let depth = if above2048 == above4096 {
                format!("both leave {above2048} B, the depth at which the handshake verifies a signature")
            } else {
                format!("they leave {above2048} B and {above4096} B, the depths at which the handshake verifies a signature")
            };
            let _ = write!(
                v,
                " Less what one verification uses alone in `bench-rsa` ({own2048} B for RSA-2048, {own4096} B for RSA-4096), {depth}: the RSA arithmetic's own stack is the difference."
            );
            if above4096 + own4096 > limit {
                let _ = write!(
                    v,
                    " For the RSA-4096 root to meet the target, its verification would have to fit in {} B.",
                    limit.saturating_sub(*above4096)
                );
            }
        }
        Some(v)
    }

    /// The targets, each with the measured value, whether it is met and, when it is not, by
    /// how much and what the function profile shows is left.
    pub(super) fn targets(&self) -> String {
        let mut g = String::new();
        let _ = writeln!(g, "## Targets\n");
        let _ = writeln!(g, "| target | measured | met | margin, and what is left |");
        let _ = writeln!(g, "|---|---|---|---|");
        let yes = |ok: bool| if ok { "yes" } else { "no" };
        let over = |v: u64, limit: u64, unit: fn(u64) -> String| {
            if v <= limit {
                format!("{} under", unit(limit - v))
            } else {
                format!(
                    "over by {} ({:.0} %)",
                    unit(v - limit),
                    100.0 * (v - limit) as f64 / limit as f64
                )
            }
        };
        let enc = |name: &str| self.instructions("bench-encore", name);

        // Full handshake: every group and suite of the bench image.
        let fulls: Vec<(String, u64)> = [
            "full-verify-p256/aes128gcm",
            "full-verify/aes128gcm",
            "full-verify/chacha20poly1305",
        ]
        .iter()
        .filter_map(|n| enc(n).map(|v| (n.to_string(), v)))
        .collect();
        if let Some(worst) = fulls.iter().map(|(_, v)| *v).max() {
            let listed: Vec<String> = fulls
                .iter()
                .map(|(n, v)| format!("{n} {}", mi(*v)))
                .collect();
            let _ = writeln!(
                g,
                "| full handshake, chain of 3 verified, ≤ 8 M instructions | {} | {} | slowest row: {} |",
                listed.join(", "),
                yes(worst <= TARGET_FULL),
                over(worst, TARGET_FULL, mi)
            );
        }

        // psk_dhe_ke: P-256 is the default first group on Cortex-M4 with `p256-cm4`.
        if let (Some(p), Some(x)) = (
            enc("psk_dhe_ke-p256/aes128gcm"),
            enc("psk_dhe_ke/aes128gcm"),
        ) {
            let table = self.instructions(TABLE_IMAGE, "psk_dhe_ke/aes128gcm");
            let mut left = format!("P-256: {}.", over(p, TARGET_PSK_DHE, mi));
            if x > TARGET_PSK_DHE {
                let _ = write!(
                    left,
                    " X25519 {}{}; its profile: {}.",
                    over(x, TARGET_PSK_DHE, mi),
                    table
                        .map(|t| format!(" ({} with the opt-in base-point table)", mi(t)))
                        .unwrap_or_default(),
                    self.profile_text("encore psk_dhe_ke/aes128gcm", 4)
                        .unwrap_or_default()
                );
            }
            let _ = writeln!(
                g,
                "| psk_dhe_ke resumption ≤ 2.0 M instructions | P-256 (the first group on Cortex-M4) {}; X25519 {} (AES-128-GCM) | {} | {left} |",
                mi(p),
                mi(x),
                if p <= TARGET_PSK_DHE && x <= TARGET_PSK_DHE {
                    "yes"
                } else if p <= TARGET_PSK_DHE {
                    "yes with P-256, the default on Cortex-M4; no with X25519"
                } else {
                    "no"
                }
            );
        }

        if let Some(a) = enc("psk_ke/aes128gcm") {
            let mut left = over(a, TARGET_PSK, mi);
            if a > TARGET_PSK {
                let _ = write!(
                    left,
                    ". Profile: {}",
                    self.profile_text("encore psk_ke/aes128gcm", 5)
                        .unwrap_or_default()
                );
                if let Some(p) = self.profile("encore psk_ke/aes128gcm") {
                    if let Some((n, _)) = p.top.iter().find(|(_, f)| f.contains("compress256")) {
                        let _ = write!(
                            left,
                            ". SHA-256 (transcript, HKDF key schedule, binder and Finished HMACs) is the bulk: the miss is {:.0} % of its work",
                            100.0 * (a - TARGET_PSK) as f64 / (*n).max(1) as f64
                        );
                    }
                }
            }
            let chacha = enc("psk_ke/chacha20poly1305")
                .map(|c| format!(" (ChaCha20-Poly1305: {})", mi(c)))
                .unwrap_or_default();
            let _ = writeln!(
                g,
                "| psk_ke resumption with AES-128-GCM ≤ 0.40 M instructions | {}{chacha} | {} | {left} |",
                mi(a),
                yes(a <= TARGET_PSK)
            );
        }

        if let (Some(same), Some(theirs)) = (
            self.image(SAME_ALGORITHMS_IMAGE),
            self.image("bench-embedded-tls"),
        ) {
            let f = same.sizes.flash;
            let mut left = over(f, TARGET_FLASH, kb);
            if f > TARGET_FLASH {
                let top: Vec<String> = self.flash_split[0]
                    .largest(6)
                    .into_iter()
                    .map(|(c, b)| format!("{c} {}", kb(b)))
                    .collect();
                let _ = write!(
                    left,
                    ". Largest parts (symbol sizes, see below): {}",
                    top.join(", ")
                );
            }
            let _ = writeln!(
                g,
                "| flash ≤ 110 KiB with the algorithms embedded-tls's image has (P-256, AES-128-GCM) | {} (embedded-tls {}) | {} | {left} |",
                kb(f),
                kb(theirs.sizes.flash),
                yes(f <= TARGET_FLASH)
            );
        }

        if let (Some(p1), Some(pss)) = (
            self.instructions(RSA_IMAGE, "rsa2048-pkcs1-sha256-verify"),
            self.instructions(RSA_IMAGE, "rsa2048-pss-sha256-verify"),
        ) {
            let worst = p1.max(pss);
            let _ = writeln!(
                g,
                "| RSA-2048 verification ≤ 2 M instructions | PKCS#1 v1.5 {}, PSS {} (SHA-256) | {} | slower one: {} |",
                mi(p1),
                mi(pss),
                yes(worst <= TARGET_RSA2048_VERIFY),
                over(worst, TARGET_RSA2048_VERIFY, mi)
            );
        }
        if let (Some(base), Some((met, measured, margins))) = (
            self.handshake_stack("bench-encore", RSA_CHAIN_HANDSHAKES[0]),
            self.rsa_stack_target(),
        ) {
            let _ = writeln!(
                g,
                "| stack of a full handshake with RSA in the chain ≤ 8 KiB more than with the P-256 chain ({base} B) | {measured} | {} | {margins} |",
                yes(met)
            );
        }

        if let Some(h) = self.host {
            let mut ratios: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
            let mut allocs = 0.0f64;
            for ((op, cache, cap), t) in &h.time_ns {
                if cache != "encore" {
                    continue;
                }
                if let Some(r) = h.time_ns.get(&(op.clone(), "rustls".into(), *cap)) {
                    let e = ratios.entry(op.as_str()).or_insert((f64::INFINITY, 0.0f64));
                    e.0 = e.0.min(r / t);
                    e.1 = e.1.max(r / t);
                }
                allocs = allocs.max(
                    h.allocs
                        .get(&(op.clone(), cache.clone(), *cap))
                        .copied()
                        .unwrap_or(0.0),
                );
            }
            let slowest = ratios.values().map(|r| r.0).fold(f64::INFINITY, f64::min);
            let listed: Vec<String> = ratios
                .iter()
                .map(|(op, (lo, hi))| format!("{op} {lo:.2}–{hi:.2}×"))
                .collect();
            let short: Vec<String> = ratios
                .iter()
                .filter(|(_, (lo, _))| *lo < TARGET_CACHE_SPEEDUP)
                .map(|(op, (lo, _))| format!("{op} ({lo:.2}×)"))
                .collect();
            let left = if short.is_empty() {
                "every operation at 2× or more".to_string()
            } else {
                format!("below 2×: {}", short.join(", "))
            };
            let _ = writeln!(
                g,
                "| cache operations ≥ 2× faster than rustls's memory cache, every operation and capacity | {} | {} | {left} |",
                listed.join(", "),
                yes(slowest >= TARGET_CACHE_SPEEDUP)
            );
            let _ = writeln!(
                g,
                "| cache operations without allocations | at most {allocs} per operation | {} | |",
                yes(allocs == 0.0)
            );
        }

        if let (Some(a), Some(b)) = (self.image("bench-encore"), self.image("bench-embedded-tls")) {
            let pa = self.stack_peak("bench-encore").unwrap_or(0);
            let pb = self.stack_peak("bench-embedded-tls").unwrap_or(0);
            let _ = writeln!(
                g,
                "| RAM ≤ embedded-tls's | static {} against {}; with the stack peak {} against {} | {} | |",
                kb(a.sizes.ram),
                kb(b.sizes.ram),
                kb(a.sizes.ram + pa),
                kb(b.sizes.ram + pb),
                yes(a.sizes.ram <= b.sizes.ram && a.sizes.ram + pa <= b.sizes.ram + pb)
            );
        }
        if let Some(img) = self.image("bench-encore") {
            let resumed: Vec<Region> = self
                .regions(img)
                .into_iter()
                .map(|(r, _)| r)
                .filter(|r| r.name.starts_with("psk"))
                .collect();
            let listed: Vec<String> = resumed
                .iter()
                .map(|r| format!("{} {} B", r.name, r.wire()))
                .collect();
            let over: Vec<&str> = resumed
                .iter()
                .filter(|r| r.wire() > 700)
                .map(|r| r.name.as_str())
                .collect();
            let _ = writeln!(
                g,
                "| resumed handshake against openssl ≤ 700 wire bytes | {} | {} | {} |",
                listed.join(", "),
                if over.is_empty() {
                    "yes"
                } else if over.iter().all(|n| n.contains("-p256")) {
                    "with X25519 yes; with a P-256 key share no"
                } else {
                    "no"
                },
                if over.is_empty() {
                    String::new()
                } else {
                    format!(
                        "over: {} (a P-256 key share is 65 bytes each way against 32 for X25519)",
                        over.join(", ")
                    )
                }
            );
        }
        g
    }
}
