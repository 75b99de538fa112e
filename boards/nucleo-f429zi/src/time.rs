//! The TLS client's clock on this board.
//!
//! Monotonic time is embassy-time's (the STM32 timer driver). Wall-clock time is the RTC's,
//! clocked by the 32.768 kHz LSE crystal: the calendar lives in the backup domain, so it keeps
//! counting across a reset (and across a power loss while VBAT stays powered). That is what
//! lets ticket ages span a reset: a record stored in one boot is not later than the next
//! boot's clock, so the store does not hold it back (C29).
//!
//! At boot, [`start_rtc`] sets an RTC that reads earlier than the firmware's build time
//! ([`BUILD_UNIX`]: never set, or lost with its backup domain) to the build time. Until the
//! application sets the real time ([`set_unix`], from SNTP for example) the clock is then a
//! lower bound of the real time, which certificate checks accept (E6).
//!
//! Re-entering the RTC's initialisation mode at each boot (embassy-stm32 applies the
//! prescalers) drops the fraction of the current second: the clock loses under a second per
//! reset.

use embassy_stm32::rtc::{DateTime, DayOfWeek, Rtc, RtcError, RtcTimeProvider};
use embassy_sync::once_lock::OnceLock;

/// Unix seconds at build time: `SOURCE_DATE_EPOCH` when set, otherwise the build's clock.
pub const BUILD_UNIX: u64 = parse_u64(env!("ENCORE_BUILD_UNIX"));

const fn parse_u64(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut value = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u64;
        i += 1;
    }
    value
}

/// Read access to the RTC's calendar, once [`start_rtc`] has run.
static RTC_TIME: OnceLock<RtcTimeProvider> = OnceLock::new();

/// Why the RTC could not be set.
#[derive(Debug, Clone, PartialEq, Eq, defmt::Format)]
pub enum SetTimeError {
    /// The time is outside the years the RTC's calendar holds (2000 to 2099).
    OutOfRange(u64),
    /// The RTC rejected the date and time.
    Rtc(RtcError),
}

/// Makes the RTC the wall clock of every [`BoardClock`], and sets it to [`BUILD_UNIX`] when it
/// reads earlier than that (or cannot be read). Called once by [`crate::Board::init`].
pub fn start_rtc(rtc: &mut Rtc, time: RtcTimeProvider) -> Result<(), SetTimeError> {
    let behind = time
        .now()
        .map_or(true, |t| unix_from_datetime(&t) < BUILD_UNIX);
    // A second call finds the provider in place already; both read the same RTC.
    let _ = RTC_TIME.init(time);
    if behind {
        set_unix(rtc, BUILD_UNIX)?;
    }
    Ok(())
}

/// Sets the RTC to `unix` (Unix seconds, UTC), the real time from SNTP or another trusted
/// source. Every [`BoardClock`] reads it from then on, and it survives a reset.
pub fn set_unix(rtc: &mut Rtc, unix: u64) -> Result<(), SetTimeError> {
    let t = datetime_from_unix(unix).ok_or(SetTimeError::OutOfRange(unix))?;
    rtc.set_datetime(t).map_err(SetTimeError::Rtc)
}

/// The RTC's time in Unix seconds; `None` before [`start_rtc`] or when the read fails.
pub fn rtc_unix() -> Option<u64> {
    let t = RTC_TIME.try_get()?.now().ok()?;
    Some(unix_from_datetime(&t))
}

const SECS_PER_DAY: u64 = 86_400;
/// Days from 1970-01-01 to 2000-01-01, the first day the RTC can hold.
const DAYS_TO_2000: u64 = 10_957;
/// Days in the 400-year Gregorian cycle.
const DAYS_PER_400_YEARS: u64 = 146_097;

/// Days since 1970-01-01 of a proleptic Gregorian date, counting years from March so that
/// the leap day is the last day of its year.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let year_of_era = y % 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days from 0000-03-01 to 1970-01-01.
    era * DAYS_PER_400_YEARS + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`] for days on or after 2000-01-01: (year, month, day).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / DAYS_PER_400_YEARS;
    let day_of_era = z % DAYS_PER_400_YEARS;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * m + 2) / 5 + 1;
    let month = if m < 10 { m + 3 } else { m - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds of an RTC date and time (UTC; the RTC holds 2000 to 2099, so the day count
/// never underflows).
fn unix_from_datetime(t: &DateTime) -> u64 {
    let days = days_from_civil(
        u64::from(t.year()).max(2000),
        u64::from(t.month()),
        u64::from(t.day()),
    );
    days * SECS_PER_DAY
        + u64::from(t.hour()) * 3_600
        + u64::from(t.minute()) * 60
        + u64::from(t.second())
}

/// The RTC date and time of `unix`, or `None` outside 2000-01-01 to 2099-12-31.
fn datetime_from_unix(unix: u64) -> Option<DateTime> {
    let days = unix / SECS_PER_DAY;
    if days < DAYS_TO_2000 {
        return None;
    }
    let (year, month, day) = civil_from_days(days);
    if year > 2099 {
        return None;
    }
    let secs = unix % SECS_PER_DAY;
    // 1970-01-01 was a Thursday.
    let day_of_week = match (days + 3) % 7 {
        0 => DayOfWeek::Monday,
        1 => DayOfWeek::Tuesday,
        2 => DayOfWeek::Wednesday,
        3 => DayOfWeek::Thursday,
        4 => DayOfWeek::Friday,
        5 => DayOfWeek::Saturday,
        _ => DayOfWeek::Sunday,
    };
    DateTime::from(
        u16::try_from(year).ok()?,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
        day_of_week,
        u8::try_from(secs / 3_600).ok()?,
        u8::try_from(secs / 60 % 60).ok()?,
        u8::try_from(secs % 60).ok()?,
        0,
    )
    .ok()
}

/// The client's clock: embassy-time's milliseconds since boot, and the RTC as wall clock.
///
/// Before [`start_rtc`] has run (or if a read fails) the wall clock falls back to the build
/// time plus the time since boot, the lower bound the board had without an RTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoardClock {
    _private: (),
}

impl BoardClock {
    /// The board's clock.
    pub fn new() -> Self {
        BoardClock { _private: () }
    }
}

impl encore_session::MonotonicClock for BoardClock {
    fn now_ms(&self) -> u64 {
        embassy_time::Instant::now().as_millis()
    }
}

impl encore_session::WallClock for BoardClock {
    fn now_unix(&self) -> Option<u64> {
        let since_boot = embassy_time::Instant::now().as_secs();
        Some(rtc_unix().unwrap_or(BUILD_UNIX.saturating_add(since_boot)))
    }
}
