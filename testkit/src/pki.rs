//! Test certificates: a fresh PKI per test, as DER in memory and PEM files on disk.

use super::*;

/// One certificate with its private key (PKCS#8 DER).
#[derive(Clone)]
pub struct CertAndKey {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

/// A complete test PKI, generated fresh.
///
/// Files in [`dir`](TestPki::dir): `ca.pem`, `int.pem`, `leaf.pem`, `leaf.key`, `chain.pem`
/// (leaf + intermediate), `p384.pem`/`.key`/`-chain.pem`, `ed25519.pem`/`.key`/`-chain.pem`,
/// `expired.pem`/`.key`/`-chain.pem`, `client-ca.pem`, `client.pem`, `client.key`,
/// `client-chain.pem`; with [`RsaChains`] also `rsa-ca.pem`, `rsa-int.pem`,
/// `rsa2048.pem`/`.key`/`-chain.pem`, `mixed-int.pem` and `mixed.pem`/`.key`/`-chain.pem`.
/// The directory is removed on drop.
pub struct TestPki {
    pub dir: PathBuf,
    /// Names in every leaf's subjectAltName (the requested names plus `127.0.0.1`); the first
    /// one is also the subject CN.
    pub names: Vec<String>,
    pub ca_der: Vec<u8>,
    pub int_der: Vec<u8>,
    /// P-256 leaf.
    pub leaf: CertAndKey,
    pub p384_leaf: CertAndKey,
    pub ed25519_leaf: CertAndKey,
    /// P-256 leaf valid only in the year 2000.
    pub expired_leaf: CertAndKey,
    /// Root of the client certificates (a different CA from the server's).
    pub client_ca_der: Vec<u8>,
    /// P-256 client certificate for mutual TLS (EKU clientAuth), issued by the client CA.
    pub client: CertAndKey,
    /// RSA chains under their own root; only from [`TestPki::generate_with_rsa`].
    pub rsa: Option<RsaChains>,
}

/// Chains under an RSA-4096 root, the shapes servers on the Internet present: an RSA-2048 leaf
/// (its CertificateVerify is RSA-PSS) and an ECDSA P-256 leaf whose intermediate the RSA root
/// signed. Keys come from the `openssl` CLI (rcgen's ring backend signs with RSA keys but does
/// not make them), certificates from rcgen.
pub struct RsaChains {
    /// Self-signed RSA-4096 root (sha384WithRSAEncryption).
    pub root_der: Vec<u8>,
    /// RSA-2048 intermediate, signed by the root (sha384WithRSAEncryption).
    pub int_der: Vec<u8>,
    /// RSA-2048 leaf, signed by the RSA intermediate (sha256WithRSAEncryption).
    pub leaf: CertAndKey,
    /// ECDSA P-256 intermediate, signed by the RSA-4096 root (sha384WithRSAEncryption).
    pub p256_int_der: Vec<u8>,
    /// ECDSA P-256 leaf, signed by the P-256 intermediate (ecdsa-with-SHA256).
    pub p256_leaf: CertAndKey,
}

/// RSA private keys of the test PKI (PKCS#8 DER), made once per test process: an RSA-4096 key
/// takes the openssl CLI a second or more.
struct RsaKeys {
    root4096: Vec<u8>,
    int2048: Vec<u8>,
    leaf2048: Vec<u8>,
}

fn rsa_keys() -> &'static RsaKeys {
    static KEYS: OnceLock<RsaKeys> = OnceLock::new();
    KEYS.get_or_init(|| RsaKeys {
        root4096: openssl_rsa_key(4096),
        int2048: openssl_rsa_key(2048),
        leaf2048: openssl_rsa_key(2048),
    })
}

/// A fresh RSA private key of `bits` bits from `openssl genpkey`, as PKCS#8 DER.
pub fn openssl_rsa_key(bits: u32) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    ensure_tool("openssl", "openssl");
    let bits_opt = format!("rsa_keygen_bits:{bits}");
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", &bits_opt])
        .output()
        .expect("run openssl genpkey");
    assert!(out.status.success(), "openssl genpkey: {out:?}");
    rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(&out.stdout)
        .expect("PKCS#8 PEM from openssl genpkey")
        .secret_pkcs8_der()
        .to_vec()
}

/// An rcgen key pair over an RSA PKCS#8 key, signing with `alg` (an `rcgen::PKCS_RSA_*`).
fn rsa_key_pair(pkcs8: &[u8], alg: &'static rcgen::SignatureAlgorithm) -> KeyPair {
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8);
    KeyPair::from_pkcs8_der_and_sign_algo(&der, alg).expect("RSA key pair")
}

fn dn(params: &mut CertificateParams, cn: &str) {
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Encore test");
}

fn leaf_params(names: &[String], eku: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut p = CertificateParams::new(names.to_vec()).expect("leaf names");
    dn(
        &mut p,
        names.first().map(String::as_str).unwrap_or("localhost"),
    );
    p.is_ca = IsCa::NoCa;
    p.extended_key_usages = vec![eku];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    dn(&mut p, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    p
}

fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl TestPki {
    /// Generate the PKI for the server names `names` (DNS names; `127.0.0.1` is always added).
    pub fn generate(names: &[&str]) -> TestPki {
        Self::generate_inner(names, false)
    }

    /// [`generate`](Self::generate), plus the [`RsaChains`] (needs the `openssl` CLI).
    pub fn generate_with_rsa(names: &[&str]) -> TestPki {
        Self::generate_inner(names, true)
    }

    fn generate_inner(names: &[&str], with_rsa: bool) -> TestPki {
        let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        if !all.iter().any(|n| n == "127.0.0.1") {
            all.push("127.0.0.1".to_string());
        }
        let p256 = &rcgen::PKCS_ECDSA_P256_SHA256;

        let root = CertifiedIssuer::self_signed(
            ca_params("Encore Test Root CA"),
            KeyPair::generate_for(p256).expect("root key"),
        )
        .expect("root");
        let int = CertifiedIssuer::signed_by(
            ca_params("Encore Test Intermediate CA"),
            KeyPair::generate_for(p256).expect("int key"),
            &root,
        )
        .expect("intermediate");

        let issue = |alg: &'static rcgen::SignatureAlgorithm, params: CertificateParams| {
            let key = KeyPair::generate_for(alg).expect("leaf key");
            let cert = params.signed_by(&key, &int).expect("leaf");
            CertAndKey {
                cert_der: cert.der().to_vec(),
                key_der: key.serialize_der(),
            }
        };
        let server_auth = || leaf_params(&all, ExtendedKeyUsagePurpose::ServerAuth);
        let leaf = issue(p256, server_auth());
        let p384_leaf = issue(&rcgen::PKCS_ECDSA_P384_SHA384, server_auth());
        let ed25519_leaf = issue(&rcgen::PKCS_ED25519, server_auth());
        let mut expired = server_auth();
        expired.not_before = rcgen::date_time_ymd(2000, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let expired_leaf = issue(p256, expired);

        let client_root = CertifiedIssuer::self_signed(
            ca_params("Encore Test Client CA"),
            KeyPair::generate_for(p256).expect("client ca key"),
        )
        .expect("client ca");
        let client_key = KeyPair::generate_for(p256).expect("client key");
        let client_cert = leaf_params(
            &["encore-device".to_string()],
            ExtendedKeyUsagePurpose::ClientAuth,
        )
        .signed_by(&client_key, &client_root)
        .expect("client cert");
        let client = CertAndKey {
            cert_der: client_cert.der().to_vec(),
            key_der: client_key.serialize_der(),
        };

        let rsa = with_rsa.then(|| {
            let keys = rsa_keys();
            let root = CertifiedIssuer::self_signed(
                ca_params("Encore Test RSA Root CA"),
                rsa_key_pair(&keys.root4096, &rcgen::PKCS_RSA_SHA384),
            )
            .expect("RSA root");
            let int = CertifiedIssuer::signed_by(
                ca_params("Encore Test RSA Intermediate CA"),
                rsa_key_pair(&keys.int2048, &rcgen::PKCS_RSA_SHA256),
                &root,
            )
            .expect("RSA intermediate");
            let leaf_key = rsa_key_pair(&keys.leaf2048, &rcgen::PKCS_RSA_SHA256);
            let leaf_cert = server_auth().signed_by(&leaf_key, &int).expect("RSA leaf");
            let p256_int = CertifiedIssuer::signed_by(
                ca_params("Encore Test ECDSA Intermediate CA under RSA"),
                KeyPair::generate_for(p256).expect("mixed int key"),
                &root,
            )
            .expect("P-256 intermediate under RSA");
            let p256_key = KeyPair::generate_for(p256).expect("mixed leaf key");
            let p256_cert = server_auth()
                .signed_by(&p256_key, &p256_int)
                .expect("P-256 leaf under RSA");
            RsaChains {
                root_der: root.der().to_vec(),
                int_der: int.der().to_vec(),
                leaf: CertAndKey {
                    cert_der: leaf_cert.der().to_vec(),
                    key_der: keys.leaf2048.clone(),
                },
                p256_int_der: p256_int.der().to_vec(),
                p256_leaf: CertAndKey {
                    cert_der: p256_cert.der().to_vec(),
                    key_der: p256_key.serialize_der(),
                },
            }
        });

        let dir = std::env::temp_dir().join(format!("encore-pki-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).expect("create pki dir");
        let pki = TestPki {
            dir,
            names: all,
            ca_der: root.der().to_vec(),
            int_der: int.der().to_vec(),
            leaf,
            p384_leaf,
            ed25519_leaf,
            expired_leaf,
            client_ca_der: client_root.der().to_vec(),
            client,
            rsa,
        };
        pki.write_files();
        pki
    }

    fn write_files(&self) {
        let cert = |d: &[u8]| pem("CERTIFICATE", d);
        let key = |d: &[u8]| pem("PRIVATE KEY", d);
        let int = cert(&self.int_der);
        let mut files: Vec<(String, String)> = vec![
            ("ca.pem".into(), cert(&self.ca_der)),
            ("int.pem".into(), int.clone()),
            ("client-ca.pem".into(), cert(&self.client_ca_der)),
            ("client.pem".into(), cert(&self.client.cert_der)),
            ("client.key".into(), key(&self.client.key_der)),
            ("client-chain.pem".into(), cert(&self.client.cert_der)),
        ];
        let mut kinds = vec![
            LeafKind::P256,
            LeafKind::P384,
            LeafKind::Ed25519,
            LeafKind::Expired,
        ];
        if let Some(rsa) = &self.rsa {
            files.push(("rsa-ca.pem".into(), cert(&rsa.root_der)));
            kinds.extend([LeafKind::Rsa2048, LeafKind::P256UnderRsa4096]);
        }
        for kind in kinds {
            let ck = self.leaf_of(kind);
            let stem = kind.stem();
            let int = cert(self.intermediate_of(kind));
            files.push((format!("{stem}.pem"), cert(&ck.cert_der)));
            files.push((format!("{stem}.key"), key(&ck.key_der)));
            files.push((kind.chain_file(), format!("{}{}", cert(&ck.cert_der), int)));
            if kind.intermediate_file() != "int.pem" {
                files.push((kind.intermediate_file().into(), int));
            }
        }
        for (name, text) in files {
            std::fs::write(self.dir.join(name), text).expect("write pem");
        }
    }

    /// Path of one of the PEM files.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The leaf of the given kind. The RSA kinds need [`TestPki::generate_with_rsa`].
    pub fn leaf_of(&self, kind: LeafKind) -> &CertAndKey {
        match kind {
            LeafKind::P256 => &self.leaf,
            LeafKind::P384 => &self.p384_leaf,
            LeafKind::Ed25519 => &self.ed25519_leaf,
            LeafKind::Expired => &self.expired_leaf,
            LeafKind::Rsa2048 => &self.rsa_chains().leaf,
            LeafKind::P256UnderRsa4096 => &self.rsa_chains().p256_leaf,
        }
    }

    /// The intermediate (DER) that issued the leaf of the given kind.
    pub fn intermediate_of(&self, kind: LeafKind) -> &[u8] {
        match kind {
            LeafKind::Rsa2048 => &self.rsa_chains().int_der,
            LeafKind::P256UnderRsa4096 => &self.rsa_chains().p256_int_der,
            _ => &self.int_der,
        }
    }

    /// The root (DER) a client must trust for the leaf of the given kind.
    pub fn root_of(&self, kind: LeafKind) -> &[u8] {
        match kind {
            LeafKind::Rsa2048 | LeafKind::P256UnderRsa4096 => &self.rsa_chains().root_der,
            _ => &self.ca_der,
        }
    }

    fn rsa_chains(&self) -> &RsaChains {
        self.rsa
            .as_ref()
            .expect("the RSA leaves need TestPki::generate_with_rsa")
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Which server leaf a server presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    P256,
    P384,
    Ed25519,
    Expired,
    /// RSA-2048 leaf under an RSA-2048 intermediate and the RSA-4096 root ([`RsaChains`]).
    Rsa2048,
    /// ECDSA P-256 leaf under a P-256 intermediate that the RSA-4096 root signed
    /// ([`RsaChains`]).
    P256UnderRsa4096,
}

impl LeafKind {
    /// File stem of the leaf's PEM files (`<stem>.pem`, `<stem>.key`).
    pub fn stem(self) -> &'static str {
        match self {
            LeafKind::P256 => "leaf",
            LeafKind::P384 => "p384",
            LeafKind::Ed25519 => "ed25519",
            LeafKind::Expired => "expired",
            LeafKind::Rsa2048 => "rsa2048",
            LeafKind::P256UnderRsa4096 => "mixed",
        }
    }

    /// File of the leaf followed by the intermediate.
    pub fn chain_file(self) -> String {
        match self {
            LeafKind::P256 => "chain.pem".to_string(),
            other => format!("{}-chain.pem", other.stem()),
        }
    }

    /// File of the intermediate that issued the leaf.
    pub fn intermediate_file(self) -> &'static str {
        match self {
            LeafKind::Rsa2048 => "rsa-int.pem",
            LeafKind::P256UnderRsa4096 => "mixed-int.pem",
            _ => "int.pem",
        }
    }
}
