//! Cryptography of the TLS 1.3 client: transcript hash, key schedule, record protection, key
//! exchange and certificate checks.
//!
//! Every primitive comes from RustCrypto (hashes, HMAC, HKDF, AEADs, X25519, P-256/P-384, Ed25519)
//! and X.509 path validation from rustls-webpki; this module only arranges them the way RFC 8446
//! requires. Nothing here allocates (E1), nothing reachable from network input panics (E4), and
//! every secret lives in a [`Secret`] that is wiped when dropped.
//!
//! Always built: what RFC 8446 §9.1 makes mandatory (TLS_AES_128_GCM_SHA256, secp256r1 key
//! exchange, ecdsa_secp256r1_sha256). The other algorithms are cargo features, all on by
//! default (see the [crate documentation](crate#cargo-features)): `x25519`, `chacha20`,
//! `sha384` (TLS_AES_256_GCM_SHA384 and SHA-384 signatures), `p384` and `ed25519`. A feature
//! that is off removes its algorithm from what is offered and accepted: `ALL` and `OFFERED`
//! lists leave it out, `from_u16` does not know its code point, and the enum variants stay
//! (so code matching on them builds in every configuration) but are refused where used.
//!
//! RSA (PKCS#1 v1.5 and RSA-PSS certificate signatures, RSA-PSS CertificateVerify, moduli of
//! 2048 to 4096 bits) only with the `rsa` cargo feature; like everything here it needs no heap
//! (fixed-width integers on the stack, see the `rsa` module). Without it RSA schemes are
//! neither offered nor accepted.

mod cert;
mod kx;
#[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
mod p256_cm4;
mod record;
#[cfg(feature = "rsa")]
mod rsa;
mod schedule;
mod sig;
mod signer;
mod transcript;

pub use cert::{
    anchor_from_der, trust_fingerprint, verify_server_chain, CertError,
    INSECURE_NO_VERIFY_FINGERPRINT, MAX_INTERMEDIATES,
};
pub(crate) use kx::KeyShare;
pub use kx::{KeyExchange, P256Key};
pub use record::{RecordProtection, TAG_LEN};
#[cfg(feature = "rsa")]
pub use rsa::{verify_rsa, MAX_MODULUS_BITS, MIN_MODULUS_BITS};
pub use schedule::{
    derive_secret, finished_verify_data, hkdf_expand_label, next_traffic_secret, resumption_psk,
    KeySchedule, Stage,
};
pub use sig::{
    certificate_verify_content, verify_certificate_verify, verify_client_certificate_verify,
    CERTIFICATE_VERIFY_CONTENT_MAX, WEBPKI_ALGORITHMS,
};
pub use signer::{ClientCertSigner, P256Signer};
pub use transcript::Transcript;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Largest hash output used by the supported suites (SHA-384).
pub const MAX_HASH_LEN: usize = 48;

/// Hash function of a TLS 1.3 cipher suite; it drives HKDF, HMAC and the transcript hash.
///
/// The session records' own type: the table from suite to hash is
/// [`HashAlg::of_suite`], in one place for the records and the engine (C31), and
/// [`HashAlg::output_len`] is `Hash.length` of RFC 8446 §7.1.
pub use encore_session::HashAlgorithm as HashAlg;

/// Whether this build implements the hash (SHA-384 needs the `sha384` feature). The
/// derivations refuse one it does not: empty secrets, empty hashes or an error.
pub const fn hash_supported(hash: HashAlg) -> bool {
    match hash {
        HashAlg::Sha256 => true,
        HashAlg::Sha384 => cfg!(feature = "sha384"),
    }
}

/// Number of suites this build supports.
const SUITE_COUNT: usize =
    1 + cfg!(feature = "sha384") as usize + cfg!(feature = "chacha20") as usize;

/// Number of groups this build supports.
const GROUP_COUNT: usize = 1 + cfg!(feature = "x25519") as usize;

/// TLS 1.3 cipher suites this client offers (RFC 8446 §B.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CipherSuite {
    /// TLS_AES_128_GCM_SHA256 (0x1301).
    Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (0x1302); only with the `sha384` cargo feature.
    Aes256GcmSha384,
    /// TLS_CHACHA20_POLY1305_SHA256 (0x1303); only with the `chacha20` cargo feature.
    Chacha20Poly1305Sha256,
}

impl CipherSuite {
    /// Every suite this build supports, in the client's order of preference.
    pub const ALL: [CipherSuite; SUITE_COUNT] = [
        CipherSuite::Aes128GcmSha256,
        #[cfg(feature = "sha384")]
        CipherSuite::Aes256GcmSha384,
        #[cfg(feature = "chacha20")]
        CipherSuite::Chacha20Poly1305Sha256,
    ];

    /// Whether this build implements the suite (its cargo feature is on). A configuration
    /// may list suites it does not; the engine skips them.
    pub const fn is_supported(self) -> bool {
        match self {
            CipherSuite::Aes128GcmSha256 => true,
            CipherSuite::Aes256GcmSha384 => cfg!(feature = "sha384"),
            CipherSuite::Chacha20Poly1305Sha256 => cfg!(feature = "chacha20"),
        }
    }

    /// Hash of the suite; a resumption PSK may only be used with suites of its hash (C31).
    /// Read from the records' table ([`HashAlg::of_suite`]), which knows every suite here
    /// (a unit test checks it).
    pub const fn hash(self) -> HashAlg {
        match HashAlg::of_suite(self.to_u16()) {
            Some(hash) => hash,
            // Not reached: every variant is in the table.
            None => HashAlg::Sha256,
        }
    }

    /// AEAD key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            CipherSuite::Aes128GcmSha256 => 16,
            CipherSuite::Aes256GcmSha384 | CipherSuite::Chacha20Poly1305Sha256 => 32,
        }
    }
}

/// Key exchange groups (RFC 8446 §4.2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NamedGroup {
    /// x25519 (0x001d); only with the `x25519` cargo feature.
    X25519,
    /// secp256r1 (0x0017).
    Secp256r1,
}

impl NamedGroup {
    /// Every group this build supports, in the client's order of preference: X25519 first,
    /// except with the `p256-cm4` backend on Arm, where P-256 comes first because it costs
    /// less there (on the emulated Cortex-M4, a full handshake took 3.73 M instructions with a
    /// P-256 key share against 6.14 M with X25519, a psk_dhe_ke resumption 1.35 M against
    /// 3.73 M; `cargo xtask bench`), for 33 more bytes in each direction.
    pub const ALL: [NamedGroup; GROUP_COUNT] = [
        #[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
        NamedGroup::Secp256r1,
        #[cfg(feature = "x25519")]
        NamedGroup::X25519,
        #[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
        NamedGroup::Secp256r1,
    ];

    /// Whether this build implements the group (X25519 needs the `x25519` feature). A
    /// configuration may list groups it does not; the engine skips them.
    pub const fn is_supported(self) -> bool {
        match self {
            NamedGroup::X25519 => cfg!(feature = "x25519"),
            NamedGroup::Secp256r1 => true,
        }
    }

    /// Length of the key_share public value (X25519: 32, P-256 uncompressed point: 65).
    pub const fn public_key_len(self) -> usize {
        match self {
            NamedGroup::X25519 => 32,
            NamedGroup::Secp256r1 => 65,
        }
    }
}

/// Signature schemes (RFC 8446 §4.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignatureScheme {
    /// ecdsa_secp256r1_sha256 (0x0403).
    EcdsaSecp256r1Sha256,
    /// ecdsa_secp384r1_sha384 (0x0503); only with the `p384` cargo feature.
    EcdsaSecp384r1Sha384,
    /// ed25519 (0x0807); only with the `ed25519` cargo feature.
    Ed25519,
    /// rsa_pss_rsae_sha256 (0x0804).
    RsaPssRsaeSha256,
    /// rsa_pss_rsae_sha384 (0x0805).
    RsaPssRsaeSha384,
    /// rsa_pss_rsae_sha512 (0x0806).
    RsaPssRsaeSha512,
    /// rsa_pkcs1_sha256 (0x0401); certificates only, never CertificateVerify in TLS 1.3.
    RsaPkcs1Sha256,
    /// rsa_pkcs1_sha384 (0x0501); certificates only.
    RsaPkcs1Sha384,
    /// rsa_pkcs1_sha512 (0x0601); certificates only.
    RsaPkcs1Sha512,
}

/// What [`SignatureScheme::OFFERED`] lists: the schemes this build checks in a CertificateVerify.
const HANDSHAKE_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::EcdsaSecp256r1Sha256,
    #[cfg(feature = "p384")]
    SignatureScheme::EcdsaSecp384r1Sha384,
    #[cfg(feature = "ed25519")]
    SignatureScheme::Ed25519,
    #[cfg(feature = "rsa")]
    SignatureScheme::RsaPssRsaeSha256,
    #[cfg(feature = "rsa")]
    SignatureScheme::RsaPssRsaeSha384,
    #[cfg(feature = "rsa")]
    SignatureScheme::RsaPssRsaeSha512,
];

/// The schemes checked in certificates only (TLS 1.3 forbids them in a CertificateVerify).
const CERTIFICATE_ONLY_SCHEMES: &[SignatureScheme] = &[
    #[cfg(feature = "rsa")]
    SignatureScheme::RsaPkcs1Sha256,
    #[cfg(feature = "rsa")]
    SignatureScheme::RsaPkcs1Sha384,
    #[cfg(feature = "rsa")]
    SignatureScheme::RsaPkcs1Sha512,
];

/// `a` followed by `b`, as an array of their total length `N`.
const fn concat_schemes<const N: usize>(
    a: &[SignatureScheme],
    b: &[SignatureScheme],
) -> [SignatureScheme; N] {
    let mut out = [SignatureScheme::EcdsaSecp256r1Sha256; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < a.len() { a[i] } else { b[i - a.len()] };
        i += 1;
    }
    out
}

impl SignatureScheme {
    /// The scheme's name in RFC 8446 §4.2.3 (`ecdsa_secp256r1_sha256`, ...), for messages.
    pub const fn name(self) -> &'static str {
        match self {
            SignatureScheme::EcdsaSecp256r1Sha256 => "ecdsa_secp256r1_sha256",
            SignatureScheme::EcdsaSecp384r1Sha384 => "ecdsa_secp384r1_sha384",
            SignatureScheme::Ed25519 => "ed25519",
            SignatureScheme::RsaPssRsaeSha256 => "rsa_pss_rsae_sha256",
            SignatureScheme::RsaPssRsaeSha384 => "rsa_pss_rsae_sha384",
            SignatureScheme::RsaPssRsaeSha512 => "rsa_pss_rsae_sha512",
            SignatureScheme::RsaPkcs1Sha256 => "rsa_pkcs1_sha256",
            SignatureScheme::RsaPkcs1Sha384 => "rsa_pkcs1_sha384",
            SignatureScheme::RsaPkcs1Sha512 => "rsa_pkcs1_sha512",
        }
    }

    /// Schemes offered in `signature_algorithms`: what this build can check in a
    /// CertificateVerify (RFC 8446 §4.2.3). ECDSA P-384 only with the `p384` feature,
    /// Ed25519 only with `ed25519`, RSA-PSS only with `rsa`.
    pub const OFFERED: &'static [SignatureScheme] = HANDSHAKE_SCHEMES;

    /// Schemes offered in `signature_algorithms_cert`: what this build can check in a
    /// certificate signature. The features of [`OFFERED`](Self::OFFERED) apply, and RSA
    /// PKCS#1 v1.5 comes with `rsa`.
    pub const OFFERED_CERT: &'static [SignatureScheme] =
        &concat_schemes::<{ HANDSHAKE_SCHEMES.len() + CERTIFICATE_ONLY_SCHEMES.len() }>(
            HANDSHAKE_SCHEMES,
            CERTIFICATE_ONLY_SCHEMES,
        );

    /// Whether TLS 1.3 allows this scheme in a CertificateVerify (RFC 8446 §4.4.3 forbids
    /// RSASSA-PKCS1-v1_5 there).
    pub const fn allowed_in_certificate_verify(self) -> bool {
        !matches!(
            self,
            SignatureScheme::RsaPkcs1Sha256
                | SignatureScheme::RsaPkcs1Sha384
                | SignatureScheme::RsaPkcs1Sha512
        )
    }
}

/// Writes `from_u16` and `to_u16` of a wire enum from one table of code points, so that
/// the two directions cannot disagree. With `filter`, `from_u16` also refuses what the named
/// method rejects (a variant this build does not implement).
macro_rules! code_points {
    ($ty:ident $(, filter $keep:ident)? { $($variant:ident = $value:literal,)+ }) => {
        impl $ty {
            #[doc = concat!("The `", stringify!($ty), "` of a wire code point; `None` for one this build does not know.")]
            pub const fn from_u16(v: u16) -> Option<Self> {
                let this = match v {
                    $($value => $ty::$variant,)+
                    _ => return None,
                };
                $(if !this.$keep() {
                    return None;
                })?
                Some(this)
            }

            /// Wire code point.
            pub const fn to_u16(self) -> u16 {
                match self {
                    $($ty::$variant => $value,)+
                }
            }
        }
    };
}

code_points!(CipherSuite, filter is_supported {
    Aes128GcmSha256 = 0x1301,
    Aes256GcmSha384 = 0x1302,
    Chacha20Poly1305Sha256 = 0x1303,
});

code_points!(NamedGroup, filter is_supported {
    X25519 = 0x001d,
    Secp256r1 = 0x0017,
});

code_points!(SignatureScheme {
    EcdsaSecp256r1Sha256 = 0x0403,
    EcdsaSecp384r1Sha384 = 0x0503,
    Ed25519 = 0x0807,
    RsaPssRsaeSha256 = 0x0804,
    RsaPssRsaeSha384 = 0x0805,
    RsaPssRsaeSha512 = 0x0806,
    RsaPkcs1Sha256 = 0x0401,
    RsaPkcs1Sha384 = 0x0501,
    RsaPkcs1Sha512 = 0x0601,
});

/// A key-schedule secret, traffic secret or hash output of up to 48 bytes.
///
/// Fixed-size so that it needs no heap (E1); the bytes are wiped when it is dropped, so a
/// secret never lingers on the stack or in a session slot after use.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret {
    bytes: [u8; MAX_HASH_LEN],
    len: u8,
}

/// A hash output (transcript hash, Finished verify_data, PSK binder). Not secret in itself, but
/// kept in the same wiped container because verify_data and binders are derived from secrets.
pub type Digest = Secret;

impl Secret {
    /// The empty value (length 0).
    pub const fn empty() -> Self {
        Secret {
            bytes: [0; MAX_HASH_LEN],
            len: 0,
        }
    }

    /// Copy `bytes` in; fails with [`CryptoError::SecretTooLong`] beyond 48 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut s = Secret::empty();
        s.fill(bytes)?;
        Ok(s)
    }

    /// Replaces the value with `bytes` where it lies (E7: no copy of the old or the new value
    /// is made outside this place); fails with [`CryptoError::SecretTooLong`] beyond 48
    /// bytes, leaving the value empty.
    pub(crate) fn set_from_slice(&mut self, bytes: &[u8]) -> Result<(), CryptoError> {
        self.zeroize();
        self.fill(bytes)
    }

    /// Copies `bytes` over the start of the value, which holds nothing yet (empty or wiped).
    fn fill(&mut self, bytes: &[u8]) -> Result<(), CryptoError> {
        let dst = self
            .bytes
            .get_mut(..bytes.len())
            .ok_or(CryptoError::SecretTooLong)?;
        dst.copy_from_slice(bytes);
        self.len = bytes.len() as u8;
        Ok(())
    }

    /// Wipes the value and lends its whole place (48 bytes) to be written in place; the
    /// length is then set with [`Secret::set_len`] (E7: the value is made where it stays).
    pub(crate) fn spare_mut(&mut self) -> &mut [u8] {
        self.zeroize();
        &mut self.bytes
    }

    /// Sets the length after [`Secret::spare_mut`] (clamped to 48 bytes).
    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len.min(MAX_HASH_LEN) as u8;
    }

    /// Zero-filled value of `len` bytes (at most 48; longer is clamped).
    pub(crate) fn zeroed(len: usize) -> Self {
        Secret {
            bytes: [0; MAX_HASH_LEN],
            len: len.min(MAX_HASH_LEN) as u8,
        }
    }

    /// The meaningful bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        let len = usize::from(self.len);
        self.bytes.get_mut(..len).unwrap_or(&mut [])
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Constant-time equality, for comparing Finished verify_data and binders: a timing
    /// difference must not tell an attacker how many leading bytes of a forgery were right.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        ct_eq(self.as_bytes(), other)
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.as_bytes(), other.as_bytes())
    }
}

impl Eq for Secret {}

/// Constant-time comparison of two byte strings (lengths are not secret).
///
/// An empty value on either side is never equal to anything, not even to another empty value:
/// an expected Finished or binder that could not be computed (a failed derivation leaves an empty
/// [`Secret`]) must not accept an empty message body as a match.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.is_empty() || b.is_empty() || a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}

/// What went wrong in a cryptographic operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CryptoError {
    /// The peer's key_share is not a valid point for the group, or the shared secret is the
    /// all-zero value (RFC 8446 §7.4.2; answer with illegal_parameter).
    BadKeyShare,
    /// A record failed authentication (answer with bad_record_mac, RFC 8446 §5.2).
    DecryptFailed,
    /// The record sequence number would wrap (RFC 8446 §5.3); a KeyUpdate or a new
    /// connection is needed.
    RecordOverflow,
    /// A signature did not verify (answer with decrypt_error, RFC 8446 §4.4.3).
    BadSignature,
    /// The signature scheme is unknown, not compiled in, or not allowed where it was used.
    UnsupportedScheme,
    /// The key exchange group is not compiled in (its cargo feature is off).
    UnsupportedGroup,
    /// The cipher suite, or its hash, is not compiled in (its cargo feature is off).
    UnsupportedSuite,
    /// The certificate chain was rejected.
    Certificate(CertError),
    /// The random number generator failed.
    Rng,
    /// A byte string is longer than a [`Secret`] holds (48 bytes).
    SecretTooLong,
    /// An input has a length the operation cannot accept (a secret shorter than the hash,
    /// an HKDF output too long, a label or context over 255 bytes).
    BadLength,
    /// A key (PKCS#8 or raw scalar) could not be parsed.
    BadKey,
    /// An output buffer is too small.
    BufferTooSmall,
}

impl From<CertError> for CryptoError {
    fn from(e: CertError) -> Self {
        CryptoError::Certificate(e)
    }
}

impl core::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CryptoError::BadKeyShare => f.write_str("invalid key share"),
            CryptoError::DecryptFailed => f.write_str("record authentication failed"),
            CryptoError::RecordOverflow => f.write_str("record sequence number exhausted"),
            CryptoError::BadSignature => f.write_str("signature verification failed"),
            CryptoError::UnsupportedScheme => f.write_str("unsupported signature scheme"),
            CryptoError::UnsupportedGroup => f.write_str("key exchange group not built in"),
            CryptoError::UnsupportedSuite => f.write_str("cipher suite or hash not built in"),
            CryptoError::Certificate(e) => write!(f, "certificate verification failed: {e}"),
            CryptoError::Rng => f.write_str("random number generator failed"),
            CryptoError::SecretTooLong => f.write_str("secret longer than 48 bytes"),
            CryptoError::BadLength => f.write_str("invalid input length"),
            CryptoError::BadKey => f.write_str("invalid private key"),
            CryptoError::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

#[cfg(test)]
mod suite_table_tests {
    use super::*;

    /// C31: the records' suite-to-hash table knows every suite this engine has, with the
    /// hash its key schedule uses.
    #[test]
    fn c31_every_suite_has_its_hash_in_the_records_table() {
        let all = [
            (CipherSuite::Aes128GcmSha256, HashAlg::Sha256),
            (CipherSuite::Aes256GcmSha384, HashAlg::Sha384),
            (CipherSuite::Chacha20Poly1305Sha256, HashAlg::Sha256),
        ];
        for (suite, hash) in all {
            assert_eq!(HashAlg::of_suite(suite.to_u16()), Some(hash));
            assert_eq!(suite.hash(), hash);
        }
    }
}
