//! E4 by property: arbitrary bytes, and valid records with arbitrary edits, decode to a record or to
//! an error, never a panic; whatever decodes re-encodes to the same bytes and leaves no slot behind.

use encore_session::{ContextId, NewSession, PeerId, SessionPool, TLS13};
use proptest::prelude::*;

const NOW_UNIX: u64 = u32::MAX as u64 + 86_400;

fn check(pool: &SessionPool<2>, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(s) = pool.decode(bytes, 1_000, Some(NOW_UNIX)) {
        let mut out = [0u8; 400];
        let n = s.encode(&mut out, 1_000, Some(NOW_UNIX)).unwrap();
        prop_assert_eq!(&out[..n], bytes);
    }
    prop_assert_eq!(pool.in_use(), 0);
    Ok(())
}

fn valid(ticket_len: usize, psk_len: usize) -> Vec<u8> {
    let pool: SessionPool<1> = SessionPool::new();
    let ticket = vec![0x77; ticket_len];
    let psk = vec![0x55; psk_len];
    let s = pool
        .create(&NewSession {
            version: TLS13,
            cipher_suite: 0x1301,
            psk: &psk,
            ticket: &ticket,
            lifetime_s: 100,
            age_add: 1,
            max_early_data: 2,
            received_ms: 0,
            received_unix: Some(1_800_000_000),
            auth_age_ms: 5_000,
            peer: PeerId([1; 16]),
            owner: ContextId(4),
        })
        .unwrap();
    let mut out = [0u8; 400];
    let n = s.encode(&mut out, 0, None).unwrap();
    out[..n].to_vec()
}

proptest! {
    #[test]
    fn e4_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let pool: SessionPool<2> = SessionPool::new();
        check(&pool, &bytes)?;
    }

    #[test]
    fn e4_edited_valid_records(
        ticket_len in 0..=256usize,
        psk_len in 0..=48usize,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let pool: SessionPool<2> = SessionPool::new();
        let mut bytes = valid(ticket_len, psk_len);
        check(&pool, &bytes)?;
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(c) = cut {
            let len = c.index(bytes.len() + 1);
            bytes.truncate(len);
        }
        check(&pool, &bytes)?;
    }
}
