//! Certificate chains for the servers the firmware meets, made with the openssl CLI: the
//! benchmark's fixed chains and the demo's throwaway one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{self, run, section, Result};

/// The name the demo's server certificate is issued for (the firmware's `SERVER_NAME`).
pub(crate) const SERVER_NAME: &str = "encore.test";

/// The key of one certificate of a chain, as `openssl genpkey` makes it.
#[derive(Clone, Copy)]
pub(crate) enum KeyKind {
    P256,
    Rsa(u32),
}

impl KeyKind {
    pub(crate) fn genpkey_args(self) -> Vec<String> {
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

/// One certificate chain: its directory below the PKI's (empty for a chain at the top), the
/// common-name prefix, the keys of root, intermediate and leaf, and how many days the
/// certificates are valid. Each certificate is signed with SHA-256 by its issuer's key
/// (ecdsa-with-SHA256 under a P-256 key, sha256WithRSAEncryption, PKCS#1 v1.5, under an RSA one).
pub(crate) struct ChainSpec {
    pub(crate) dir: &'static str,
    pub(crate) name: &'static str,
    pub(crate) keys: [KeyKind; 3],
    pub(crate) days: u32,
}

/// Root → intermediate → leaf (the leaf's subjectAltName and CN both name `server_name`) in
/// `dir`: `root.der` (the firmware's trust anchor), `root.pem`, `int.pem`, `leaf.pem` and
/// `leaf.key` (what `openssl s_server` serves and signs with).
pub(crate) fn make_chain(dir: &Path, chain: &ChainSpec, server_name: &str) -> Result {
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
        &format!("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:{server_name}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"),
    )?;
    let root_cn = format!("/CN={} Root", chain.name);
    let int_cn = format!("/CN={} Intermediate", chain.name);
    let leaf_cn = format!("/CN={server_name}");
    let days = chain.days.to_string();
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
            &days,
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

/// The throwaway PKI of one run: root CA → intermediate → server certificate, all P-256;
/// `chain.pem` is the server certificate followed by the intermediate (the one file the
/// servers that take a chain file want).
pub(crate) struct Pki {
    dir: PathBuf,
    pub(crate) ca_der: PathBuf,
}

impl Pki {
    pub(crate) fn make(dir: &Path) -> Result<Pki> {
        section("PKI: throwaway P-256 root, intermediate and server certificate");
        // A fresh chain for every run: nothing of an earlier one is reused.
        let _ = std::fs::remove_dir_all(dir);
        let chain = ChainSpec {
            dir: "",
            name: "Encore demo",
            keys: [KeyKind::P256, KeyKind::P256, KeyKind::P256],
            days: 2,
        };
        make_chain(dir, &chain, SERVER_NAME)?;
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"))
        };
        // Leaf and intermediate, for the servers that take the chain in one file.
        std::fs::write(dir.join("chain.pem"), read("leaf.pem")? + &read("int.pem")?)
            .map_err(|e| format!("chain.pem: {e}"))?;
        run(Command::new("openssl").current_dir(dir).args([
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "int.pem",
            "leaf.pem",
        ]))?;
        println!(
            "made {} (root, intermediate, server certificate for {SERVER_NAME})",
            dir.display()
        );
        Ok(Pki {
            dir: dir.to_path_buf(),
            ca_der: dir.join("root.der"),
        })
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}
