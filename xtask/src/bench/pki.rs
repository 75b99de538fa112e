//! The benchmark PKI: chains made with the openssl CLI, kept under `bench/mps2-an386/pki`.

use super::*;

/// The key of one certificate of a benchmark chain, as `openssl genpkey` makes it.
#[derive(Clone, Copy)]
pub(super) enum KeyKind {
    P256,
    Rsa(u32),
}

impl KeyKind {
    pub(super) fn genpkey_args(self) -> Vec<String> {
        match self {
            KeyKind::P256 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-256".into(),
            ],
            KeyKind::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
        }
    }
}

/// One certificate chain of the benchmark PKI: the directory under `bench/mps2-an386/pki`
/// (empty for the P-256 chain at its top), the common-name prefix and the keys of root,
/// intermediate and leaf. Each certificate is signed with SHA-256 by its issuer's key
/// (ecdsa-with-SHA256 under a P-256 key, sha256WithRSAEncryption, PKCS#1 v1.5, under an RSA one).
pub(super) struct ChainSpec {
    pub(super) dir: &'static str,
    pub(super) name: &'static str,
    pub(super) keys: [KeyKind; 3],
}

/// P-256 throughout: the chain of every row but the RSA ones.
pub(super) const P256_CHAIN: ChainSpec = ChainSpec {
    dir: "",
    name: "Encore Bench",
    keys: [KeyKind::P256, KeyKind::P256, KeyKind::P256],
};
/// RSA-2048 throughout (the leaf signs CertificateVerify with RSA-PSS): a server such as an
/// MQTT broker with an RSA certificate.
pub(super) const RSA2048_CHAIN: ChainSpec = ChainSpec {
    dir: "rsa2048",
    name: "Encore Bench RSA-2048",
    keys: [KeyKind::Rsa(2048), KeyKind::Rsa(2048), KeyKind::Rsa(2048)],
};
/// An RSA-4096 root that signed a P-256 intermediate, which signed a P-256 leaf: one RSA
/// verification (the intermediate's certificate), the rest ECDSA P-256. The intermediate is
/// P-256 rather than P-384 so that the image needs no P-384 code, and so that the RSA-4096
/// signature is the only RSA in the chain.
pub(super) const RSA4096_ROOT_CHAIN: ChainSpec = ChainSpec {
    dir: "rsa4096-root",
    name: "Encore Bench RSA-4096",
    keys: [KeyKind::Rsa(4096), KeyKind::P256, KeyKind::P256],
};

/// The benchmark PKI: [`P256_CHAIN`] at the top of `dir`, [`RSA2048_CHAIN`] and
/// [`RSA4096_ROOT_CHAIN`] in subdirectories. Made with the openssl CLI once and committed in
/// `bench/mps2-an386/pki`: the certificates' signatures and the leaf keys set how long
/// verification takes, and the roots are built into the firmware, so one fixed PKI keeps the
/// images and the instruction counts the same on every machine. A chain is made again only
/// when its directory lacks its files.
pub(super) fn make_pki(dir: &Path) -> Result<PathBuf> {
    for chain in [P256_CHAIN, RSA2048_CHAIN, RSA4096_ROOT_CHAIN] {
        make_chain(&dir.join(chain.dir), &chain)?;
    }
    Ok(dir.to_path_buf())
}

/// Root → intermediate → leaf (the leaf's subjectAltName and CN both name the server) in
/// `dir`: `root.der` (the firmware's trust anchor), `root.pem`, `int.pem`, `leaf.pem` and
/// `leaf.key` (what `openssl s_server` serves and signs with).
pub(super) fn make_chain(dir: &Path, chain: &ChainSpec) -> Result {
    let done = ["root.der", "int.pem", "leaf.pem", "leaf.key"]
        .iter()
        .all(|f| dir.join(f).exists());
    if done {
        println!("PKI: reusing {}", dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let ossl = |args: &[&str]| -> Result {
        util::run(Command::new("openssl").current_dir(dir).args(args)).map(|_| ())
    };
    let ext = |name: &str, body: &str| -> Result {
        std::fs::write(dir.join(name), body).map_err(|e| format!("write {name}: {e}"))
    };
    for (key, kind) in ["root", "int", "leaf"].iter().zip(chain.keys) {
        let out = format!("{key}.key");
        let mut args = vec!["genpkey".to_string()];
        args.extend(kind.genpkey_args());
        args.extend(["-out".to_string(), out]);
        ossl(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    ext(
        "root.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
    )?;
    ext(
        "int.ext",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )?;
    ext(
        "leaf.ext",
        &format!("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:{SERVER_NAME}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"),
    )?;
    let root_cn = format!("/CN={} Root", chain.name);
    let int_cn = format!("/CN={} Intermediate", chain.name);
    let leaf_cn = format!("/CN={SERVER_NAME}");
    for (key, subject, issuer) in [
        ("root", &root_cn, None),
        ("int", &int_cn, Some("root")),
        ("leaf", &leaf_cn, Some("int")),
    ] {
        let (csr, ext, pem) = (
            format!("{key}.csr"),
            format!("{key}.ext"),
            format!("{key}.pem"),
        );
        ossl(&[
            "req",
            "-new",
            "-key",
            &format!("{key}.key"),
            "-subj",
            subject,
            "-out",
            &csr,
        ])?;
        let serial = match key {
            "root" => "1",
            "int" => "2",
            _ => "3",
        };
        let (ca, ca_key) = match issuer {
            Some(i) => (format!("{i}.pem"), format!("{i}.key")),
            None => (String::new(), String::new()),
        };
        let mut args = vec!["x509", "-req", "-in", &csr];
        if issuer.is_some() {
            args.extend(["-CA", &ca, "-CAkey", &ca_key]);
        } else {
            args.extend(["-signkey", "root.key"]);
        }
        args.extend([
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            &ext,
            "-set_serial",
            serial,
            "-out",
            &pem,
        ]);
        ossl(&args)?;
    }
    ossl(&[
        "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
    ])
}

pub(super) fn build_plugin(work: &Path) -> Result<PathBuf> {
    util::shared_lib(
        &root().join("tools/qemu-plugin/insncount.c"),
        &work.join("libinsncount.so"),
        &[],
    )
}

/// The preloaded library that pins s_server's random generator (`tools/pinned-rand`).
pub(super) fn build_pinned_rand(work: &Path) -> Result<PathBuf> {
    util::shared_lib(
        &root().join("tools/pinned-rand/pinned_rand.c"),
        &work.join("libpinnedrand.so"),
        &["-l:libcrypto.so.3"],
    )
}
