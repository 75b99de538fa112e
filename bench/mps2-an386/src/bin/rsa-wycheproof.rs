//! encore-tls's heap-free RSA verification (`verify_rsa`, the `rsa` feature) on the emulated
//! Cortex-M4F, over the same Wycheproof vectors as the host test `tls/tests/crypto_rsa.rs`:
//! every RSASSA-PKCS1-v1_5 and RSASSA-PSS test with a 2048- to 4096-bit key and SHA-256/384/512
//! (PSS: MGF1 over the same hash, salt as long as the hash), 3,118 cases baked into the image
//! by build.rs. The rules are the host test's: a valid signature is accepted, an invalid one
//! refused as `BadSignature`, and an "acceptable" one (a DigestInfo without the NULL
//! parameters) refused too, since the DigestInfo is rebuilt and compared whole.
//!
//! Prints one line per Wycheproof file, one per mismatch (file, tcId, expected, got) and a
//! summary; exit status 0 only when every case met its expected result and the counts are the
//! host test's (R12).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_mps2::console::{exit, exit_code, exit_passed};
use encore_board_mps2::{println, Board};
use encore_tls::crypto::{verify_rsa, CryptoError, SignatureScheme};

/// Wycheproof's expected result for a test.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Valid,
    Invalid,
    /// Allowed either way by Wycheproof; refused here, as on the host.
    Acceptable,
}

/// One Wycheproof test: its tcId, the message and the signature.
struct WycheproofCase {
    id: u16,
    msg: &'static [u8],
    sig: &'static [u8],
    expect: Expect,
}

/// One test group: a key (DER `RSAPublicKey`) and the scheme its tests use.
struct WycheproofGroup {
    scheme: SignatureScheme,
    key: &'static [u8],
    cases: &'static [WycheproofCase],
}

/// One Wycheproof file (`TestName` of the `wycheproof` crate).
struct WycheproofSet {
    name: &'static str,
    groups: &'static [WycheproofGroup],
}

static SETS: &[WycheproofSet] = include!(concat!(env!("OUT_DIR"), "/wycheproof-rsa.rs"));

/// The host test's counts, PKCS#1 v1.5 and PSS together (valid 68 + 514, invalid 2253 + 274,
/// acceptable 9 + 0): a build that baked fewer cases fails too.
const EXPECTED: Counts = Counts {
    valid_accepted: 582,
    invalid_refused: 2527,
    acceptable_refused: 9,
    mismatches: 0,
};

/// What the runs counted.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    valid_accepted: u32,
    invalid_refused: u32,
    acceptable_refused: u32,
    mismatches: u32,
}

impl Counts {
    fn total(&self) -> u32 {
        self.valid_accepted + self.invalid_refused + self.acceptable_refused + self.mismatches
    }

    fn add(&mut self, other: &Counts) {
        self.valid_accepted += other.valid_accepted;
        self.invalid_refused += other.invalid_refused;
        self.acceptable_refused += other.acceptable_refused;
        self.mismatches += other.mismatches;
    }
}

fn run(set: &WycheproofSet) -> Counts {
    let mut counts = Counts::default();
    for group in set.groups {
        for case in group.cases {
            let got = verify_rsa(group.scheme, group.key, case.msg, case.sig);
            let counter = match (case.expect, got) {
                (Expect::Valid, Ok(())) => &mut counts.valid_accepted,
                (Expect::Invalid, Err(CryptoError::BadSignature)) => &mut counts.invalid_refused,
                (Expect::Acceptable, Err(CryptoError::BadSignature)) => {
                    &mut counts.acceptable_refused
                }
                (expect, got) => {
                    println!(
                        "mismatch: {} #{}: expected {:?}, got {:?}",
                        set.name, case.id, expect, got
                    );
                    &mut counts.mismatches
                }
            };
            *counter += 1;
        }
    }
    println!(
        "{}: {} cases, {} valid accepted, {} invalid refused, {} acceptable refused, {} mismatches",
        set.name,
        counts.total(),
        counts.valid_accepted,
        counts.invalid_refused,
        counts.acceptable_refused,
        counts.mismatches
    );
    counts
}

#[cortex_m_rt::entry]
fn main() -> ! {
    if Board::init().is_err() {
        exit(exit_code::BOARD_INIT)
    }
    let mut all = Counts::default();
    for set in SETS {
        all.add(&run(set));
    }
    println!(
        "rsa wycheproof: {} cases, {} valid accepted, {} invalid refused, {} acceptable refused, {} mismatches",
        all.total(),
        all.valid_accepted,
        all.invalid_refused,
        all.acceptable_refused,
        all.mismatches
    );
    if all.mismatches == 0 && all != EXPECTED {
        println!(
            "expected {} cases: {} valid, {} invalid, {} acceptable",
            EXPECTED.total(),
            EXPECTED.valid_accepted,
            EXPECTED.invalid_refused,
            EXPECTED.acceptable_refused
        );
    }
    exit_passed(all == EXPECTED)
}
