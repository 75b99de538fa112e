//! The report's comparison tables: like for like against embedded-tls, RSA, where the flash and the instructions go, the emulator check.

use super::*;

impl Report<'_> {
    /// Full handshakes (and the resumptions after them) against the chains with RSA in them,
    /// beside the P-256 chain, with what each costs more than `bench-encore` against it.
    pub(super) fn rsa_handshakes(&self) -> String {
        let mut t = String::new();
        let Some(img) = self.image(RSA_CHAINS_IMAGE) else {
            return t;
        };
        let Some(plain) = self.image("bench-encore") else {
            return t;
        };
        let _ = writeln!(t, "\n### Full handshakes with RSA in the chain\n");
        let _ = writeln!(t, "`{RSA_CHAINS_IMAGE}` is `bench-encore` built with encore-tls's `rsa` feature and three trust anchors, one per server: it meets an `openssl s_server` per chain (root → intermediate → leaf, made with the openssl CLI under `bench/mps2-an386/pki`), with a P-256 key share and TLS_AES_128_GCM_SHA256, for a full handshake that verifies the chain and the CertificateVerify signature, then a psk_dhe_ke resumption with one of its tickets, which verifies no signature and so needs no RSA. Each row is compared with `bench-encore` (no `rsa`) against the P-256 chain. The stack peak is the deepest the stack went during that handshake, painted before its connection (bytes below the top of the stack, so the firmware's own frames are included, as in the image table).\n");
        if let (Some(a), Some(b)) = (
            self.region(
                RSA_CHAINS_IMAGE,
                &format!("{}@p256-chain", RSA_CHAIN_HANDSHAKES[0]),
            ),
            self.region("bench-encore", RSA_CHAIN_HANDSHAKES[0]),
        ) {
            let _ = writeln!(t, "With `rsa` the ClientHello also lists the RSA signature schemes ({} bytes more sent in every handshake), so the P-256 chain is measured again in the RSA image. The full handshake with an RSA chain receives more too: RSA keys and signatures make larger certificates, and an RSA-2048 CertificateVerify signature is 256 bytes against about 72 for ECDSA P-256.\n", a.sent.saturating_sub(b.sent));
        }
        let _ = writeln!(t, "| server's chain: root → intermediate → leaf | image | handshake | instructions | ms at 168 MHz | wire bytes (sent + received) | stack peak | flash of the image | against `bench-encore`, P-256 chain: instructions, wire bytes, stack |");
        let _ = writeln!(t, "|---|---|---|---:|---:|---:|---:|---:|---|");
        let row = |t: &mut String, chain: &str, image: &Image, name: &str, reference: bool| {
            let Some(r) = self.region(image.name, name) else {
                return;
            };
            let stack = self.handshake_stack(image.name, name);
            let base_name = name.split('@').next().unwrap_or(name);
            let versus = match (reference, self.region("bench-encore", base_name)) {
                (true, _) => "the reference".to_string(),
                (false, Some(b)) => format!(
                    "{}, {}, {}",
                    mi_delta(r.instructions, b.instructions),
                    bytes_delta(r.wire() as u64, b.wire() as u64),
                    match (stack, self.handshake_stack("bench-encore", base_name)) {
                        (Some(a), Some(b)) => bytes_delta(a, b),
                        _ => "-".into(),
                    }
                ),
                (false, None) => "-".into(),
            };
            let kind = if base_name.starts_with("full") {
                "full, chain verified"
            } else {
                "psk_dhe_ke resumption"
            };
            let _ = writeln!(
                t,
                "| {chain} | {} | {kind} | {} | {} ({} + {}) | {} | {} | {versus} |",
                image.name,
                r.cost_cells(),
                r.wire(),
                r.sent,
                r.received,
                stack
                    .map(|b| format!("{b} B"))
                    .unwrap_or_else(|| "-".into()),
                kb(image.sizes.flash),
            );
        };
        for name in RSA_CHAIN_HANDSHAKES {
            row(&mut t, RSA_CHAIN_ROWS[0].1, plain, name, true);
        }
        for (suffix, chain) in RSA_CHAIN_ROWS {
            for name in RSA_CHAIN_HANDSHAKES {
                row(&mut t, chain, img, &format!("{name}@{suffix}"), false);
            }
        }
        if let Some(verdict) = self.rsa_stack_verdict() {
            let _ = writeln!(t, "\n{verdict}");
        }
        t
    }

    /// Leads the report: the rows where both stacks do the same work (P-256 ECDHE,
    /// TLS_AES_128_GCM_SHA256, the same server and PKI), then Encore's rows that embedded-tls
    /// has no counterpart for, each saying why.
    pub(super) fn like_for_like(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "## Encore beside embedded-tls, like for like\n");
        let _ = writeln!(t, "Both stacks key-exchange with P-256 (ECDHE), use TLS_AES_128_GCM_SHA256 and meet the same `openssl s_server` with the same certificate chain (3 certificates, P-256, verified). Encore on its Cortex-M4 backend (`p256-cm4`, the default on this core) and on RustCrypto's `p256` 0.13, the P-256 code embedded-tls links:\n");
        let _ = writeln!(t, "| | Encore, `p256-cm4` | Encore, RustCrypto `p256` | embedded-tls 0.19 | Encore (`p256-cm4`) / embedded-tls |");
        let _ = writeln!(t, "|---|---:|---:|---:|---:|");
        let et = "bench-embedded-tls";
        for (label, ours, theirs) in [
            (
                "full handshake, chain verified",
                "full-verify-p256/aes128gcm",
                "full-verify/aes128gcm",
            ),
            (
                "resumption with a P-256 key exchange (Encore: session ticket, psk_dhe_ke; embedded-tls: external PSK, psk_dhe_ke)",
                "psk_dhe_ke-p256/aes128gcm",
                "external-psk/aes128gcm",
            ),
        ] {
            let a = self.region("bench-encore", ours);
            let b = self.region(RUSTCRYPTO_IMAGE, ours);
            let c = self.region(et, theirs);
            // One row per measure: each image's cell, and Encore over embedded-tls.
            let mut row = |what: &str, show: &dyn Fn(&Region) -> String, of: fn(&Region) -> u64| {
                let cell = |r: &Option<Region>| r.as_ref().map(show).unwrap_or_else(|| "-".into());
                let versus = match (&a, &c) {
                    (Some(a), Some(c)) => ratio(of(a), of(c)),
                    _ => "-".into(),
                };
                let _ = writeln!(
                    t,
                    "| {label}: {what} | {} | {} | {} | {versus} |",
                    cell(&a),
                    cell(&b),
                    cell(&c)
                );
            };
            row(
                "instructions (ms at 168 MHz)",
                &|r| format!("{} ({} ms)", mi(r.instructions), ms(r.instructions)),
                |r| r.instructions,
            );
            row(
                "wire bytes",
                &|r| format!("{} B", r.wire()),
                |r| r.wire() as u64,
            );
        }
        if let (Some(same), Some(theirs)) = (self.image(SAME_ALGORITHMS_IMAGE), self.image(et)) {
            let _ = writeln!(
                t,
                "| flash, with the algorithms embedded-tls's image has (P-256, AES-128-GCM) | {} | - | {} | {} |",
                kb(same.sizes.flash),
                kb(theirs.sizes.flash),
                ratio(same.sizes.flash, theirs.sizes.flash)
            );
        }
        if let (Some(a), Some(b), Some(c)) = (
            self.image("bench-encore"),
            self.image(RUSTCRYPTO_IMAGE),
            self.image(et),
        ) {
            let _ = writeln!(
                t,
                "| static RAM | {} | {} | {} | {} |",
                kb(a.sizes.ram),
                kb(b.sizes.ram),
                kb(c.sizes.ram),
                ratio(a.sizes.ram, c.sizes.ram)
            );
            let (pa, pb, pc) = (
                self.stack_peak("bench-encore").unwrap_or(0),
                self.stack_peak(RUSTCRYPTO_IMAGE).unwrap_or(0),
                self.stack_peak(et).unwrap_or(0),
            );
            let _ = writeln!(
                t,
                "| stack peak (painted) | {pa} B | {pb} B | {pc} B | {} |",
                ratio(pa, pc)
            );
            let _ = writeln!(
                t,
                "| static RAM + stack peak | {} | {} | {} | {} |",
                kb(a.sizes.ram + pa),
                kb(b.sizes.ram + pb),
                kb(c.sizes.ram + pc),
                ratio(a.sizes.ram + pa, c.sizes.ram + pc)
            );
        }
        let _ = writeln!(t, "\nembedded-tls cannot resume a session from a ticket. Its PSK row is an external PSK, a key both sides were given beforehand (`-psk` on the server); its handshake does the same work as Encore's ticket resumption with psk_dhe_ke (one P-256 key exchange, a PSK binder, no certificate), which makes it the nearest comparison, not the same feature. On RustCrypto's `p256` the two stacks are within about 1 % of each other; the lead comes from the Cortex-M4 backend, which embedded-tls does not have.\n");

        let _ = writeln!(
            t,
            "### Encore handshakes without an embedded-tls counterpart\n"
        );
        let _ = writeln!(
            t,
            "| Encore handshake / suite | instructions | ms at 168 MHz | wire bytes | why embedded-tls has no row |"
        );
        let _ = writeln!(t, "|---|---:|---:|---:|---|");
        if let Some(img) = self.image("bench-encore") {
            for (r, _) in self.regions(img) {
                if r.name.ends_with("-p256/aes128gcm") {
                    continue;
                }
                let mut why = Vec::new();
                if r.name.starts_with("psk_ke") {
                    why.push("psk_ke: no key exchange at all; embedded-tls resumes no tickets and always does an (EC)DHE");
                } else if !r.name.contains("-p256") {
                    why.push("X25519 key share: embedded-tls offers only P-256");
                    if r.name.starts_with("psk_dhe_ke") {
                        why.push("a ticket resumption, which embedded-tls cannot do");
                    }
                }
                if r.name.ends_with("chacha20poly1305") {
                    why.push("ChaCha20-Poly1305: embedded-tls has only AES-GCM");
                }
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} |",
                    r.name,
                    r.cost_cells(),
                    r.wire(),
                    why.join("; ")
                );
            }
        }
        t
    }

    /// RSA verification alone (`bench-rsa`), and what the `rsa` feature adds to `bench-encore`.
    pub(super) fn rsa(&self) -> String {
        let mut t = String::new();
        let Some(img) = self.image(RSA_IMAGE) else {
            return t;
        };
        let stacks = img.runs.first().map(|r| &r.op_stacks);
        let _ = writeln!(
            t,
            "\n### RSA signature verification (bench-rsa: encore-tls's `rsa` feature, no heap)\n"
        );
        let _ = writeln!(t, "One verification of a fixed signature over a 64-byte message (SHA-256), with interrupts masked; the stack column is what the one verification used, painted just before it. The firmware also checks that a flipped bit, the other padding, another message and a short signature are refused. For comparison, ECDSA P-256 verification in the same harness on RustCrypto's `p256` 0.13, and on `p256-cm4` (from bench-crypto).\n");
        let _ = writeln!(
            t,
            "| key | padding / scheme | instructions | ms at 168 MHz (lower bound) | stack for the operation |"
        );
        let _ = writeln!(t, "|---|---|---:|---:|---:|");
        for (r, _) in self.regions(img) {
            let (key, scheme) = match r.name.split('-').collect::<Vec<_>>().as_slice() {
                [k, "pkcs1", "sha256", "verify"] => (
                    k.replace("rsa", "RSA-"),
                    "RSASSA-PKCS1-v1_5, SHA-256".to_string(),
                ),
                [k, "pss", "sha256", "verify"] => {
                    (k.replace("rsa", "RSA-"), "RSASSA-PSS, SHA-256".to_string())
                }
                ["p256", "ecdsa", "verify"] => (
                    "P-256".to_string(),
                    "ECDSA, SHA-256 digest (RustCrypto `p256` 0.13)".to_string(),
                ),
                _ => ("-".to_string(), r.name.clone()),
            };
            let stack = stacks
                .and_then(|s| s.get(&r.name))
                .map(|b| format!("{b} B"))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(t, "| {key} | {scheme} | {} | {stack} |", r.cost_cells());
        }
        if let Some(img) = self.image("bench-crypto") {
            if let Some((r, _)) = self
                .regions(img)
                .into_iter()
                .find(|(r, _)| r.stack == "p256-cm4" && r.name == "ecdsa-verify")
            {
                let _ = writeln!(
                    t,
                    "| P-256 | ECDSA, SHA-256 digest (`p256-cm4`, bench-crypto) | {} | - |",
                    r.cost_cells()
                );
            }
        }
        if let (Some(with), Some(without)) =
            (self.image(RSA_CHAINS_IMAGE), self.image("bench-encore"))
        {
            // The RSA image also holds the roots of the two RSA chains, as its trust anchors.
            let pki = root().join(FIRMWARE_DIR).join("pki");
            let roots: u64 = [RSA2048_CHAIN.dir, RSA4096_ROOT_CHAIN.dir]
                .iter()
                .filter_map(|d| std::fs::metadata(pki.join(d).join("root.der")).ok())
                .map(|m| m.len())
                .sum();
            let more = with.sizes.flash.saturating_sub(without.sizes.flash);
            let _ = writeln!(
                t,
                "\nFlash: `{RSA_CHAINS_IMAGE}`, `bench-encore` built with the `rsa` feature (RSA certificate chains and RSA-PSS CertificateVerify accepted, 2048–4096-bit keys), is {} against {}, {} more, of which {roots} B are the two RSA root certificates it trusts besides the P-256 one: RSA verification costs {} of flash, and {} B of static RAM.",
                kb(with.sizes.flash),
                kb(without.sizes.flash),
                kb(more),
                kb(more.saturating_sub(roots)),
                with.sizes.ram as i64 - without.sizes.ram as i64
            );
        }
        t
    }

    /// The crates behind the flash of the same-algorithms image and of embedded-tls's.
    pub(super) fn where_the_flash_goes(&self) -> String {
        let [ours, theirs] = self.flash_split;
        let mut w = String::new();
        let _ = writeln!(w, "### Where the flash goes\n");
        let _ = writeln!(w, "Symbol sizes (`nm -C -S`: functions, read-only data, initial values of data) of `{}` (P-256 and AES-128-GCM, like embedded-tls's image) and `{}`, summed by the crate that defined each symbol, after inlining and LTO: code inlined into a caller counts for the caller's crate. The firmware's async task is a single `poll` function into which the executor inlines the application (for embedded-tls, most of its handshake). Sized symbols cover {} of {}'s {} and {} of {}'s {}.\n",
            ours.image, theirs.image, kb(ours.named), ours.image, kb(ours.flash), kb(theirs.named), theirs.image, kb(theirs.flash));
        let _ = writeln!(w, "| crate | {} | {} |", ours.image, theirs.image);
        let _ = writeln!(w, "|---|---:|---:|");
        let mut crates: Vec<&str> = ours
            .largest(14)
            .into_iter()
            .chain(theirs.largest(10))
            .map(|(c, _)| c)
            .collect();
        crates.sort_by_key(|c| std::cmp::Reverse(ours.bytes(c).max(theirs.bytes(c))));
        crates.dedup();
        let (mut shown_a, mut shown_b) = (0, 0);
        for c in &crates {
            let (a, b) = (ours.bytes(c), theirs.bytes(c));
            shown_a += a;
            shown_b += b;
            let cell = |n: u64| if n == 0 { "-".to_string() } else { kb(n) };
            let _ = writeln!(w, "| {c} | {} | {} |", cell(a), cell(b));
        }
        let _ = writeln!(
            w,
            "| every other crate | {} | {} |",
            kb(ours.named - shown_a),
            kb(theirs.named - shown_b)
        );
        w
    }

    /// The same ELFs counted on the bench's emulator and on an older one.
    pub(super) fn emulator_check(&self) -> String {
        let mut w = String::new();
        let _ = writeln!(w, "### The same images on two emulators\n");
        let Some(e) = self.emulators else {
            let _ = writeln!(w, "Not repeated in this run: `cargo xtask bench --old-qemu PATH` runs `{PORTABLE_CRYPTO_IMAGE}` and `{RUSTCRYPTO_IMAGE}` (RustCrypto's P-256 only, which QEMU 7.2 can execute) on a `qemu-system-arm` older than 8 as well, and lists both counts of every window.");
            return w;
        };
        let same = e.rows.iter().filter(|r| r.new == r.old).count();
        let differ: Vec<String> = e
            .rows
            .iter()
            .filter(|r| r.new != r.old)
            .map(|r| format!("{} by {} instructions", r.what, r.new.abs_diff(r.old)))
            .collect();
        let _ = write!(w, "`{PORTABLE_CRYPTO_IMAGE}` (bench-crypto without `p256-cm4`) and `{RUSTCRYPTO_IMAGE}` (the handshakes on RustCrypto's P-256), each ELF run once on {} and once on {} under the same plugin: {same} of {} windows count the same number of instructions.", self.qemu, e.old, e.rows.len());
        if !differ.is_empty() {
            let _ = write!(w, " Different: {}. The handshake images read the emulated clock, which follows host time, between engine calls (the ticket's receipt time and age, then divided and obfuscated); QEMU 7.2's plugin takes a callback per instruction and runs slower, so those values, and the instructions spent on them, can differ by a few.", differ.join(", "));
        }
        let _ = writeln!(w, "\n");
        let _ = writeln!(
            w,
            "| image | window | {} | {} | difference |",
            self.qemu, e.old
        );
        let _ = writeln!(w, "|---|---|---:|---:|---:|");
        for r in &e.rows {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                r.image,
                r.what,
                r.new,
                r.old,
                r.new as i64 - r.old as i64
            );
        }
        w
    }

    /// The largest functions of each handshake, from the profiling run.
    pub(super) fn where_it_goes(&self) -> String {
        let mut w = String::new();
        if self.profiles.is_empty() {
            return w;
        }
        let _ = writeln!(w, "### Where the instructions go\n");
        let _ = writeln!(w, "One more run of each image under `bench/mps2-an386/profile/funcprof.c`, a QEMU plugin that charges every instruction to the function containing it (after inlining and LTO), with the same windows as above. The five largest functions of each handshake:\n");
        let _ = writeln!(
            w,
            "| handshake | instructions | largest functions (share) |"
        );
        let _ = writeln!(w, "|---|---:|---|");
        for p in self
            .profiles
            .iter()
            .filter(|p| !p.label.ends_with("@p256-chain"))
        {
            let top: Vec<String> = p
                .top
                .iter()
                .take(5)
                .map(|(n, f)| {
                    format!(
                        "`{}` {:.0} %",
                        short_function(f),
                        100.0 * *n as f64 / p.total.max(1) as f64
                    )
                })
                .collect();
            let _ = writeln!(w, "| {} | {} | {} |", p.label, mi(p.total), top.join(", "));
        }
        w
    }
}
