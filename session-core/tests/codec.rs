//! Serialised form: round trip, clocks (E6) and malformed input (E4).

use encore_session::codec::{max_encoded_len, FORMAT_VERSION, MAGIC, MAX_ENCODED_LEN};
use encore_session::{ContextId, DecodeError, Error, NewSession, PeerId, SessionPool, TLS13};

fn params(ticket: &[u8]) -> NewSession<'_> {
    NewSession {
        version: TLS13,
        cipher_suite: 0x1302,
        psk: &[0x33; 48],
        ticket,
        lifetime_s: 86_400,
        age_add: 0xA1B2_C3D4,
        max_early_data: 16_384,
        received_ms: 50_000,
        received_unix: Some(1_800_000_000),
        auth_age_ms: 3_600_000,
        peer: PeerId([0x5C; 16]),
        owner: ContextId(0x0102_0304),
    }
}

fn encoded(pool: &SessionPool<2>) -> ([u8; 400], usize) {
    let s = pool.create(&params(&[0xEE; 192])).unwrap();
    s.mark_used().unwrap();
    let mut buf = [0u8; 400];
    let n = s.encode(&mut buf, 60_000, None).unwrap();
    (buf, n)
}

#[test]
fn round_trip_keeps_payload_owner_peer_flags_and_times() {
    let pool: SessionPool<2> = SessionPool::new();
    let (buf, n) = encoded(&pool);
    assert_eq!(n, 61 + 48 + 2 + 192);
    assert_eq!(&buf[..4], &MAGIC);
    assert_eq!(buf[4], FORMAT_VERSION);
    assert_eq!(buf[5], 0b10); // used
    assert_eq!(u16::from_be_bytes([buf[6], buf[7]]) as usize, n - 8);
    // Rebooted: monotonic clock at 2 s, wall clock 100 s after receipt.
    let back = pool.decode(&buf[..n], 2_000, Some(1_800_000_100)).unwrap();
    let info = back.info().unwrap();
    assert_eq!(info.received_ms, 2_000 - 100_000);
    assert_eq!(info.received_unix, Some(1_800_000_000));
    assert_eq!(info.auth_age_s, 3600);
    assert_eq!(
        back.with(|r| r.auth_unix()).unwrap(),
        Some(1_800_000_000 - 3600)
    );
    assert_eq!(
        (info.version, info.cipher_suite, info.lifetime_s),
        (TLS13, 0x1302, 86_400)
    );
    assert_eq!((info.age_add, info.max_early_data), (0xA1B2_C3D4, 16_384));
    assert_eq!(
        (info.peer, info.owner),
        (PeerId([0x5C; 16]), ContextId(0x0102_0304))
    );
    assert!(info.used && !info.not_resumable);
    let mut t = [0u8; 256];
    assert_eq!(back.copy_ticket(&mut t).unwrap(), 192);
    assert!(t[..192].iter().all(|b| *b == 0xEE));
    // Age after reload: 100 s plus the 2 s since boot.
    assert_eq!(back.with(|r| r.age_ms(2_000)).unwrap(), Some(100_000));
    assert_eq!(max_encoded_len(256), 367);
}

/// E6: the wall-clock receipt time is derived when it was unknown at receipt, and without any wall
/// clock encoding and decoding fail closed.
#[test]
fn e6_wall_clock_needed_to_encode_and_decode() {
    let pool: SessionPool<2> = SessionPool::new();
    let s = pool
        .create(&NewSession {
            received_unix: None,
            ..params(&[1; 10])
        })
        .unwrap();
    let mut buf = [0u8; 400];
    assert_eq!(
        s.encode(&mut buf, 60_000, None),
        Err(Error::WallClockUnknown)
    );
    let n = s.encode(&mut buf, 60_000, Some(1_900_000_010)).unwrap();
    assert_eq!(&buf[44..52], &1_900_000_000u64.to_be_bytes()); // 10 s old
    assert_eq!(&buf[52..60], &(1_900_000_000u64 - 3600).to_be_bytes());
    drop(s);
    assert_eq!(
        pool.decode(&buf[..n], 0, None).unwrap_err(),
        Error::WallClockUnknown
    );
    assert_eq!(
        pool.decode(&buf[..n], 0, Some(1_899_999_999)).unwrap_err(),
        Error::ClockBehindRecord
    );
    assert_eq!(pool.in_use(), 0);
    assert_eq!(
        s_encode_small(&pool),
        Err(Error::BufferTooSmall {
            needed: 61 + 48 + 2 + 192
        })
    );
}

fn s_encode_small(pool: &SessionPool<2>) -> Result<usize, Error> {
    let s = pool.create(&params(&[0xEE; 192])).unwrap();
    s.encode(&mut [0u8; 100], 0, None)
}

/// E4: every malformation is a typed error; no prefix or single-byte change panics.
#[test]
fn e4_malformed_input_is_an_error() {
    let pool: SessionPool<2> = SessionPool::new();
    let (buf, n) = encoded(&pool);
    let good = &buf[..n];
    let now = Some(1_800_000_100);
    let dec = |b: &[u8]| pool.decode(b, 0, now).map(|_| ()).unwrap_err();
    assert_eq!(dec(&[]), Error::Decode(DecodeError::Truncated));
    assert_eq!(dec(&good[..7]), Error::Decode(DecodeError::Truncated));
    assert_eq!(
        dec(&good[..n - 1]),
        Error::Decode(DecodeError::LengthMismatch)
    );
    let mut v = good.to_vec();
    v[0] = b'X';
    assert_eq!(dec(&v), Error::Decode(DecodeError::BadMagic));
    let mut v = good.to_vec();
    v[4] = 2;
    assert_eq!(dec(&v), Error::Decode(DecodeError::UnsupportedFormat(2)));
    let mut v = good.to_vec();
    v[5] = 0b100;
    assert_eq!(dec(&v), Error::Decode(DecodeError::InvalidField));
    let mut v = good.to_vec();
    v.push(0);
    assert_eq!(dec(&v), Error::Decode(DecodeError::LengthMismatch));
    let mut v = good.to_vec();
    v[60] = 49; // PSK length
    assert_eq!(dec(&v), Error::Decode(DecodeError::InvalidField));
    let mut v = good.to_vec();
    v[60] = 47; // PSK length one short: the ticket length no longer matches the bytes
    assert_eq!(dec(&v), Error::Decode(DecodeError::LengthMismatch));
    let mut v = good.to_vec();
    v[44..52].copy_from_slice(&0u64.to_be_bytes()); // receipt time zero
    assert_eq!(dec(&v), Error::Decode(DecodeError::InvalidField));
    let mut v = good.to_vec();
    v[52..60].copy_from_slice(&1_800_000_001u64.to_be_bytes()); // authenticated after receipt
    assert_eq!(dec(&v), Error::Decode(DecodeError::InvalidField));
    // A ticket larger than the pool's slot.
    let small: SessionPool<1, 64> = SessionPool::new();
    assert_eq!(
        small.decode(good, 0, now).unwrap_err(),
        Error::TicketTooLarge {
            len: 192,
            capacity: 64
        }
    );
    for cut in 0..n {
        assert!(pool.decode(&good[..cut], 0, now).is_err());
    }
    for i in 0..n {
        for x in [0x00, 0x01, 0x80, 0xFF] {
            let mut v = good.to_vec();
            v[i] ^= x;
            let _ = pool.decode(&v, 0, now);
        }
    }
    // Only the original record (held by nobody now) and nothing else was left behind.
    assert_eq!(pool.in_use(), 0);
}

/// E4: the length field is a u16, so a record too long for it (possible with `T` near 65 535) is an
/// error at encoding, never a truncated length that would not decode. The longest ticket that fits
/// (65 535 − 53 − 48 − 2 = 65 432 bytes with a 48-byte PSK) still round-trips.
#[test]
fn e4_ticket_too_long_for_the_length_field_is_not_encoded() {
    static POOL: SessionPool<1, 65_535> = SessionPool::new();
    assert_eq!(MAX_ENCODED_LEN, 65_543);
    let mut buf = vec![0u8; max_encoded_len(65_535)];
    let big = vec![0xEE; 65_535];
    for len in [65_535, 65_433] {
        let s = POOL.create(&params(&big[..len])).unwrap();
        assert_eq!(
            s.encode(&mut buf, 60_000, None),
            Err(Error::TicketTooLarge {
                len,
                capacity: 65_432
            })
        );
    }
    let fits = POOL.create(&params(&big[..65_432])).unwrap();
    let n = fits.encode(&mut buf, 60_000, None).unwrap();
    assert_eq!(n, MAX_ENCODED_LEN);
    assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), u16::MAX);
    drop(fits);
    let back = POOL.decode(&buf[..n], 1_000, Some(1_800_000_010)).unwrap();
    assert_eq!(back.info().unwrap().ticket_len, 65_432);
}
