//! C29: the limits are capped at 7 days wherever they are used (a record's own check:
//! `c29_chained_record_offerable_for_at_most_7_days` in `tests/rules.rs`).

use super::*;

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
}
