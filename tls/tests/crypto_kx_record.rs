//! Key exchange (RFC 8446 §4.2.8, §7.4) and record protection (§5.2–§5.3) of the crypto layer.

use encore_testkit as common;

use common::OsRandom;
use encore_tls::crypto::{
    CipherSuite, CryptoError, HashAlg, KeyExchange, NamedGroup, RecordProtection, Secret,
    Transcript,
};

/// A fresh key share of `group` from the operating system's generator.
fn share(group: NamedGroup) -> KeyExchange {
    KeyExchange::generate(group, &mut OsRandom).unwrap()
}

/// Two fresh key shares of `group`, each agreeing with the other's public key on the same
/// secret: one of the public keys, and the secret's length.
fn agreed(group: NamedGroup) -> (Vec<u8>, usize) {
    let (a, b) = (share(group), share(group));
    assert_eq!(a.group(), group);
    let (pa, pb) = (a.public_key(), b.public_key());
    assert_eq!(pa.len(), pb.len());
    assert_ne!(pa, pb);
    let sa = a.agree(&pb).unwrap();
    assert_eq!(sa.as_bytes(), b.agree(&pa).unwrap().as_bytes());
    (pa.to_vec(), sa.len())
}

#[test]
fn x25519_both_sides_agree() {
    let (public, secret_len) = agreed(NamedGroup::X25519);
    assert_eq!(public.len(), 32);
    assert_eq!(secret_len, 32);
}

#[test]
fn p256_both_sides_agree_with_uncompressed_points() {
    let (public, secret_len) = agreed(NamedGroup::Secp256r1);
    assert_eq!(public.len(), 65);
    assert_eq!(public[0], 0x04);
    assert_eq!(secret_len, 32);
}

#[test]
fn x25519_rejects_small_order_points_and_bad_lengths() {
    // RFC 8446 §7.4.2: the all-zero shared secret (peer point of small order) is refused.
    let mut one = [0u8; 32];
    one[0] = 1;
    for peer in [&[0u8; 32][..], &one, &[9u8; 31]] {
        assert_eq!(
            share(NamedGroup::X25519).agree(peer).unwrap_err(),
            CryptoError::BadKeyShare,
            "{peer:?}"
        );
    }
}

#[test]
fn p256_rejects_off_curve_compressed_and_short_points() {
    let good = share(NamedGroup::Secp256r1).public_key();
    // Off the curve: flip a bit of y.
    let mut off = good.clone();
    off[64] ^= 1;
    // Compressed form is not allowed in TLS 1.3 (RFC 8446 §4.2.8.2).
    let mut compressed = vec![0x02 | (good[64] & 1)];
    compressed.extend_from_slice(&good[1..33]);
    for peer in [&off[..], &compressed, &good[..64], &[]] {
        assert_eq!(
            share(NamedGroup::Secp256r1).agree(peer).unwrap_err(),
            CryptoError::BadKeyShare,
            "{peer:?}"
        );
    }
}

/// A generator that always fails, as a broken hardware TRNG would.
struct FailingRng;
impl rand_core::TryRng for FailingRng {
    type Error = std::io::Error;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Err(std::io::Error::other("trng"))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Err(std::io::Error::other("trng"))
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
        Err(std::io::Error::other("trng"))
    }
}
impl rand_core::TryCryptoRng for FailingRng {}

#[test]
fn rng_failure_is_an_error_not_a_panic() {
    for g in NamedGroup::ALL {
        assert_eq!(
            KeyExchange::generate(g, &mut FailingRng).unwrap_err(),
            CryptoError::Rng
        );
    }
}

#[test]
fn group_suite_and_scheme_code_points_round_trip() {
    for g in NamedGroup::ALL {
        assert_eq!(NamedGroup::from_u16(g.to_u16()), Some(g));
    }
    assert_eq!(NamedGroup::X25519.to_u16(), 0x001d);
    assert_eq!(NamedGroup::Secp256r1.to_u16(), 0x0017);
    assert_eq!(NamedGroup::from_u16(0x0018), None);
    let codes: Vec<u16> = CipherSuite::ALL.iter().map(|s| s.to_u16()).collect();
    assert_eq!(codes, [0x1301, 0x1302, 0x1303]);
    for s in CipherSuite::ALL {
        assert_eq!(CipherSuite::from_u16(s.to_u16()), Some(s));
    }
    assert_eq!(CipherSuite::from_u16(0x1304), None);
    assert_eq!(CipherSuite::Aes256GcmSha384.hash(), HashAlg::Sha384);
    assert_eq!(CipherSuite::Chacha20Poly1305Sha256.hash(), HashAlg::Sha256);
    assert_eq!(HashAlg::Sha384.output_len(), 48);
    use encore_tls::crypto::SignatureScheme as S;
    for (s, code) in [
        (S::EcdsaSecp256r1Sha256, 0x0403),
        (S::EcdsaSecp384r1Sha384, 0x0503),
        (S::Ed25519, 0x0807),
        (S::RsaPssRsaeSha256, 0x0804),
        (S::RsaPssRsaeSha384, 0x0805),
        (S::RsaPssRsaeSha512, 0x0806),
        (S::RsaPkcs1Sha256, 0x0401),
        (S::RsaPkcs1Sha384, 0x0501),
        (S::RsaPkcs1Sha512, 0x0601),
    ] {
        assert_eq!(s.to_u16(), code);
        assert_eq!(S::from_u16(code), Some(s));
    }
    // Without the `rsa` feature only what can be verified is offered.
    #[cfg(not(feature = "rsa"))]
    assert_eq!(
        S::OFFERED,
        &[S::EcdsaSecp256r1Sha256, S::EcdsaSecp384r1Sha384, S::Ed25519]
    );
    assert!(!S::RsaPkcs1Sha256.allowed_in_certificate_verify());
    assert!(S::RsaPssRsaeSha256.allowed_in_certificate_verify());
}

fn secret_for(suite: CipherSuite, fill: u8) -> Vec<u8> {
    vec![fill; suite.hash().output_len()]
}

const AAD: [u8; 5] = [0x17, 0x03, 0x03, 0x00, 0x20];

#[test]
fn record_round_trip_per_suite() {
    for suite in CipherSuite::ALL {
        let secret = secret_for(suite, 0x42);
        let mut w = RecordProtection::new(suite, &secret).unwrap();
        let mut r = RecordProtection::new(suite, &secret).unwrap();
        for i in 0..3u8 {
            let plain: Vec<u8> = (0..16u8).map(|b| b ^ i).collect();
            let mut buf = plain.clone();
            let tag = w.encrypt(&AAD, &mut buf).unwrap();
            assert_ne!(buf, plain, "{suite:?}");
            r.decrypt(&AAD, &mut buf, &tag).unwrap();
            assert_eq!(buf, plain, "{suite:?}");
        }
        assert_eq!(w.sequence(), 3);
        assert_eq!(r.sequence(), 3);
        assert_eq!(w.suite(), suite);
    }
}

#[test]
fn record_same_plaintext_differs_per_sequence_number() {
    // RFC 8446 §5.3: the nonce is the IV XOR the sequence number.
    let secret = secret_for(CipherSuite::Aes128GcmSha256, 7);
    let mut w = RecordProtection::new(CipherSuite::Aes128GcmSha256, &secret).unwrap();
    let mut a = [1u8; 8];
    let mut b = [1u8; 8];
    let ta = w.encrypt(&AAD, &mut a).unwrap();
    let tb = w.encrypt(&AAD, &mut b).unwrap();
    assert_ne!(a, b);
    assert_ne!(ta, tb);
    // A reader that skipped a record cannot decrypt the next one.
    let mut r = RecordProtection::new(CipherSuite::Aes128GcmSha256, &secret).unwrap();
    assert_eq!(
        r.decrypt(&AAD, &mut b, &tb).unwrap_err(),
        CryptoError::DecryptFailed
    );
    assert_eq!(r.sequence(), 0);
}

#[test]
fn record_tampering_fails_per_suite() {
    for suite in CipherSuite::ALL {
        let secret = secret_for(suite, 0x99);
        let mut w = RecordProtection::new(suite, &secret).unwrap();
        let mut buf = *b"attack at dawn!!";
        let tag = w.encrypt(&AAD, &mut buf).unwrap();

        // Flipped ciphertext bit.
        let mut r = RecordProtection::new(suite, &secret).unwrap();
        let mut c = buf;
        c[3] ^= 0x01;
        assert_eq!(
            r.decrypt(&AAD, &mut c, &tag).unwrap_err(),
            CryptoError::DecryptFailed
        );
        // Flipped tag bit.
        let mut bad_tag = tag;
        bad_tag[15] ^= 0x80;
        let mut c = buf;
        assert_eq!(
            r.decrypt(&AAD, &mut c, &bad_tag).unwrap_err(),
            CryptoError::DecryptFailed
        );
        // Other header (the AAD binds the record length and type).
        let mut aad = AAD;
        aad[4] = 0x21;
        let mut c = buf;
        assert_eq!(
            r.decrypt(&aad, &mut c, &tag).unwrap_err(),
            CryptoError::DecryptFailed
        );
        // Wrong key.
        let mut other = RecordProtection::new(suite, &secret_for(suite, 0x98)).unwrap();
        let mut c = buf;
        assert_eq!(
            other.decrypt(&AAD, &mut c, &tag).unwrap_err(),
            CryptoError::DecryptFailed
        );
        // Failures did not advance the sequence; the genuine record still decrypts.
        assert_eq!(r.sequence(), 0);
        let mut c = buf;
        r.decrypt(&AAD, &mut c, &tag).unwrap();
        assert_eq!(&c, b"attack at dawn!!");
    }
}

#[test]
fn record_sequence_number_never_wraps() {
    // RFC 8446 §5.3: the sequence number must not wrap; the last value is refused.
    let suite = CipherSuite::Chacha20Poly1305Sha256;
    let secret = secret_for(suite, 1);
    let mut w = RecordProtection::new(suite, &secret)
        .unwrap()
        .with_sequence(u64::MAX - 2);
    let mut r = RecordProtection::new(suite, &secret)
        .unwrap()
        .with_sequence(u64::MAX - 2);
    for _ in 0..2 {
        let mut b = [5u8; 4];
        let t = w.encrypt(&AAD, &mut b).unwrap();
        r.decrypt(&AAD, &mut b, &t).unwrap();
        assert_eq!(b, [5u8; 4]);
    }
    assert_eq!(w.sequence(), u64::MAX);
    let mut b = [5u8; 4];
    assert_eq!(
        w.encrypt(&AAD, &mut b).unwrap_err(),
        CryptoError::RecordOverflow
    );
    assert_eq!(b, [5u8; 4], "nothing was encrypted");
    assert_eq!(
        r.decrypt(&AAD, &mut b, &[0; 16]).unwrap_err(),
        CryptoError::RecordOverflow
    );
    assert_eq!(w.sequence(), u64::MAX);
}

#[test]
fn record_rejects_secret_of_the_wrong_length() {
    assert_eq!(
        RecordProtection::new(CipherSuite::Aes256GcmSha384, &[0u8; 32]).unwrap_err(),
        CryptoError::BadLength
    );
    assert_eq!(
        RecordProtection::new(CipherSuite::Aes128GcmSha256, &[]).unwrap_err(),
        CryptoError::BadLength
    );
}

#[test]
fn transcript_runs_both_hashes_until_selected() {
    let mut t = Transcript::new();
    t.update(b"abc");
    assert_eq!(t.selected(), None);
    // SHA-256("abc") and SHA-384("abc") (FIPS 180-2 examples).
    assert_eq!(
        t.hash_of(HashAlg::Sha256).as_bytes(),
        &hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")[..]
    );
    assert_eq!(
        t.hash_of(HashAlg::Sha384).as_bytes(),
        &hex("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")[..]
    );
    t.select(HashAlg::Sha384);
    assert_eq!(t.selected(), Some(HashAlg::Sha384));
    assert_eq!(t.current_hash().len(), 48);
    // The dropped hash is gone: asking for it gives the empty value, not a wrong digest.
    assert!(t.hash_of(HashAlg::Sha256).is_empty());
    // current_hash does not consume: the same value twice, then the transcript goes on.
    assert_eq!(t.current_hash(), t.current_hash());
    let before = t.current_hash();
    t.update(b"d");
    assert_ne!(t.current_hash(), before);
}

#[test]
fn secret_from_slice_bounds() {
    assert_eq!(Secret::from_slice(&[1u8; 48]).unwrap().len(), 48);
    assert_eq!(
        Secret::from_slice(&[1u8; 49]).unwrap_err(),
        CryptoError::SecretTooLong
    );
    assert!(Secret::from_slice(&[]).unwrap().is_empty());
    let s = Secret::from_slice(&[7u8; 32]).unwrap();
    assert!(s.ct_eq(&[7u8; 32]));
    assert!(!s.ct_eq(&[7u8; 31]));
    assert_eq!(format!("{s:?}"), "Secret(32 bytes)");
}

#[test]
fn hkdf_expand_label_rejects_unusable_lengths() {
    use encore_tls::crypto::{derive_secret, finished_verify_data, hkdf_expand_label};
    let secret = [1u8; 32];
    let mut out = [0u8; 32];
    assert_eq!(
        hkdf_expand_label(HashAlg::Sha256, &secret, b"key", &[], &mut out),
        Ok(())
    );
    // Label over 255 bytes once prefixed with "tls13 ".
    assert_eq!(
        hkdf_expand_label(HashAlg::Sha256, &secret, &[b'a'; 250], &[], &mut out),
        Err(CryptoError::BadLength)
    );
    // Context over 255 bytes.
    assert_eq!(
        hkdf_expand_label(HashAlg::Sha256, &secret, b"key", &[0u8; 256], &mut out),
        Err(CryptoError::BadLength)
    );
    // Output over 255 * Hash.length.
    let mut big = vec![0u8; 255 * 32 + 1];
    assert_eq!(
        hkdf_expand_label(HashAlg::Sha256, &secret, b"key", &[], &mut big),
        Err(CryptoError::BadLength)
    );
    // A secret shorter than the hash is not a PRK.
    assert_eq!(
        hkdf_expand_label(HashAlg::Sha384, &secret, b"key", &[], &mut out),
        Err(CryptoError::BadLength)
    );
    // The infallible helpers signal the same misuse with an empty value.
    assert!(derive_secret(HashAlg::Sha384, &secret, b"derived", &[]).is_empty());
    assert!(finished_verify_data(HashAlg::Sha384, &secret, &[0u8; 48]).is_empty());
    assert_eq!(
        derive_secret(HashAlg::Sha384, &[1u8; 48], b"derived", &[]).len(),
        48
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
