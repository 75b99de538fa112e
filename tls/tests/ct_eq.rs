//! `ct_eq`, the comparison of Finished verify_data and PSK binders (RFC 8446 §4.4.4, §4.2.11.2).

use encore_tls::crypto::{ct_eq, Secret};

/// E7: an empty value on either side never compares equal, so an expected Finished or binder
/// that could not be computed (an empty `Secret`) cannot accept an empty forgery.
#[test]
fn e7_ct_eq_refuses_an_empty_expected_value() {
    assert!(!ct_eq(&[], &[]));
    assert!(!ct_eq(&[], &[0]));
    assert!(!ct_eq(&[0], &[]));
    let empty = Secret::empty();
    assert!(!empty.ct_eq(&[]));
    assert!(!empty.ct_eq(&[0; 32]));

    // Non-empty values: equal only when every byte and the length match.
    assert!(ct_eq(&[0], &[0]));
    assert!(ct_eq(&[7; 48], &[7; 48]));
    assert!(!ct_eq(&[7; 48], &[7; 47]));
    let mut last = [7u8; 32];
    last[31] ^= 0x80;
    assert!(!ct_eq(&[7; 32], &last));
    let mut first = [7u8; 32];
    first[0] ^= 0x01;
    assert!(!ct_eq(&[7; 32], &first));
}
