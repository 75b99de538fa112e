//! Certificates made with the openssl command line, for what rcgen cannot make: RSA-PSS and
//! SHA-1 signatures, 1024-bit RSA and Ed448 keys.

use super::*;

/// `openssl` signature options for RSASSA-PSS with a salt as long as the hash (RFC 8446
/// §4.2.3).
pub const PSS_SIGOPTS: [&str; 4] = [
    "-sigopt",
    "rsa_padding_mode:pss",
    "-sigopt",
    "rsa_pss_saltlen:digest",
];

/// Runs `openssl args` in `dir`, and fails the test unless it succeeds.
pub fn openssl_in(dir: &Path, args: &[&str]) {
    ensure_tool("openssl", "openssl");
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// Certificates made by the openssl command line in the private directory of a [`TestPki`]
/// (so servers may be started with it, and the directory goes with it). Each certificate
/// `NAME` leaves `NAME.key`, `NAME.pem` and `NAME.der` there; `leaf.ext` (a server
/// certificate for the name given to [`OpensslCerts::new`]) and `ca.ext` are the extension
/// files for [`OpensslCerts::issue`].
pub struct OpensslCerts {
    /// The test PKI whose directory holds the files.
    pub pki: TestPki,
}

impl OpensslCerts {
    /// A new directory, with a test PKI for `server_name` and the two extension files.
    pub fn new(server_name: &str) -> OpensslCerts {
        let pki = TestPki::generate(&[server_name]);
        let leaf = format!("subjectAltName=DNS:{server_name}\nextendedKeyUsage=serverAuth\n");
        let ca = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n";
        for (file, text) in [("leaf.ext", leaf.as_str()), ("ca.ext", ca)] {
            std::fs::write(pki.path(file), text).unwrap();
        }
        OpensslCerts { pki }
    }

    /// Runs `openssl args` in the directory.
    pub fn run(&self, args: &[&str]) {
        openssl_in(&self.pki.dir, args);
    }

    /// The path of `file` in the directory, as a string for command lines.
    pub fn path(&self, file: &str) -> String {
        crate::servers::path_str(&self.pki.path(file))
    }

    /// The DER of the PEM certificate `NAME.pem` (also written to `NAME.der`).
    pub fn der(&self, name: &str) -> Vec<u8> {
        let (pem, der) = (format!("{name}.pem"), format!("{name}.der"));
        self.run(&["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
        std::fs::read(self.pki.path(&der)).unwrap()
    }

    /// A self-signed CA `name` with a new `key` (an `-newkey` argument such as `rsa:4096`),
    /// signed with `digest` (`-sha256`), RSA-PSS when `pss`; its DER.
    pub fn root(&self, name: &str, key: &str, digest: &str, pss: bool) -> Vec<u8> {
        let (key_file, pem, subject) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN=Encore test {name}"),
        );
        let mut args = vec![
            "req",
            "-x509",
            "-newkey",
            key,
            "-nodes",
            "-keyout",
            &key_file,
            "-out",
            &pem,
            "-subj",
            &subject,
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            digest,
        ];
        if pss {
            args.extend(PSS_SIGOPTS);
        }
        self.run(&args);
        self.der(name)
    }

    /// `name` with a new `key`, issued by the CA `issuer` with `digest` (RSA-PSS when `pss`)
    /// and the extensions of `ext` (`ca.ext` or `leaf.ext`); its DER.
    pub fn issue(
        &self,
        name: &str,
        key: &str,
        issuer: &str,
        digest: &str,
        ext: &str,
        pss: bool,
    ) -> Vec<u8> {
        let (key_file, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let subject = format!("/CN=Encore test {name}");
        self.run(&[
            "req", "-newkey", key, "-nodes", "-keyout", &key_file, "-out", &csr, "-subj", &subject,
        ]);
        let (ca_pem, ca_key) = (format!("{issuer}.pem"), format!("{issuer}.key"));
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            ext,
            digest,
            "-out",
            &pem,
        ];
        if pss {
            args.extend(PSS_SIGOPTS);
        }
        self.run(&args);
        self.der(name)
    }
}
