//! C29: the limits are capped at 7 days wherever they are used.

use super::*;
use crate::SessionPool;

const WEEK_MS: u64 = SEVEN_DAYS_S as u64 * 1000;

/// C29: neither the timeout nor the authentication maximum can be configured above 7 days:
/// `Limits::clamped` caps both, and `ticket_offerable` (so every claim) applies it.
#[test]
fn c29_max_auth_age_capped_at_7_days() {
    let wide = Limits {
        timeout_s: u32::MAX,
        max_auth_age_s: u32::MAX,
    };
    assert_eq!(
        wide.clamped(),
        Limits {
            timeout_s: SEVEN_DAYS_S,
            max_auth_age_s: SEVEN_DAYS_S
        }
    );
    let narrow = Limits {
        timeout_s: 60,
        max_auth_age_s: 3600,
    };
    assert_eq!(narrow.clamped(), narrow);
    let week_and_a_second = Limits {
        timeout_s: 7200,
        max_auth_age_s: SEVEN_DAYS_S + 1,
    };
    assert_eq!(
        ticket_offerable(0, WEEK_MS - 1, 7200, &week_and_a_second),
        Ok(())
    );
    assert_eq!(
        ticket_offerable(0, WEEK_MS, 7200, &week_and_a_second),
        Err(Unresumable::AuthenticationTooOld)
    );
    assert_eq!(
        ticket_offerable(0, WEEK_MS, 7200, &wide),
        Err(Unresumable::AuthenticationTooOld)
    );

    // A record from a chain of resumptions, authenticated 7 days minus 1 s before its receipt:
    // offerable for one more second under any configured maximum.
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool
        .create(&NewSession {
            version: TLS13,
            cipher_suite: 0x1301,
            psk: &[1; 32],
            ticket: &[2; 16],
            lifetime_s: SEVEN_DAYS_S,
            age_add: 0,
            max_early_data: 0,
            received_ms: 0,
            received_unix: None,
            auth_age_ms: WEEK_MS - 1000,
            peer: PeerId([3; 16]),
            owner: ContextId(1),
        })
        .unwrap();
    assert_eq!(s.with(|r| r.offerable(999, &wide)).unwrap(), Ok(()));
    assert_eq!(
        s.with(|r| r.offerable(1000, &wide)).unwrap(),
        Err(Unresumable::AuthenticationTooOld)
    );
}
