//! UTC timestamps as MCPS writes them: `YYYY-MM-DDTHH:MM:SS[.f…]Z`.
//!
//! The reference reads timestamps with Python's `datetime.fromisoformat`, which accepts many
//! shapes, any UTC offset, and offset-less values it then interprets in the *verifier's* local
//! time zone. That flexibility is what lets an attacker move trailing characters of a signed
//! timestamp into the nonce (the boundary-shift replay). [`Timestamp::parse`] therefore accepts
//! only one shape: a UTC timestamp ending in `Z`, with an optional fraction of one to six digits.
//! Times are kept as microseconds since the Unix epoch; every check takes "now" explicitly.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// A UTC instant with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// The instant `micros` microseconds after 1970-01-01T00:00:00Z.
    #[must_use]
    pub const fn from_unix_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// The instant `seconds` seconds after the epoch (saturating).
    #[must_use]
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self {
            micros: seconds.saturating_mul(MICROS_PER_SECOND),
        }
    }

    /// Microseconds since the epoch.
    #[must_use]
    pub const fn unix_micros(self) -> i64 {
        self.micros
    }

    /// The current time from the system clock.
    ///
    /// Verification never calls this itself; pass the result (or any other instant) explicitly.
    #[must_use]
    pub fn now() -> Self {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
        };
        Self { micros }
    }

    /// This instant plus `duration` (saturating).
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self {
            micros: self.micros.saturating_add(duration_micros(duration)),
        }
    }

    /// This instant minus `duration` (saturating).
    #[must_use]
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Self {
            micros: self.micros.saturating_sub(duration_micros(duration)),
        }
    }

    /// Parses a strict UTC timestamp: `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.fZ` with one
    /// to six fraction digits. Years 0001 to 9999; no leap seconds; upper-case `T` and `Z` only.
    ///
    /// # Errors
    ///
    /// [`Error::BadTimestamp`] describing the first problem.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let b = text.as_bytes();
        let Some(body) = text.strip_suffix('Z') else {
            return Err(Error::BadTimestamp("not a utc timestamp ending in `Z`"));
        };
        if body.len() < 19 {
            return Err(Error::BadTimestamp("too short"));
        }
        let shape_ok = b.get(4) == Some(&b'-')
            && b.get(7) == Some(&b'-')
            && b.get(10) == Some(&b'T')
            && b.get(13) == Some(&b':')
            && b.get(16) == Some(&b':');
        if !shape_ok {
            return Err(Error::BadTimestamp("not of the form `YYYY-MM-DDTHH:MM:SS`"));
        }
        let field = |range: std::ops::Range<usize>| -> Result<i64, Error> {
            let digits = body.get(range).unwrap_or_default();
            if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
                return Err(Error::BadTimestamp("not of the form `YYYY-MM-DDTHH:MM:SS`"));
            }
            digits
                .parse()
                .map_err(|_| Error::BadTimestamp("not of the form `YYYY-MM-DDTHH:MM:SS`"))
        };
        let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
        let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
        if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(Error::BadTimestamp("date out of range"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(Error::BadTimestamp("time out of range"));
        }
        let fraction = body.get(19..).unwrap_or_default();
        let micros_part = if fraction.is_empty() {
            0
        } else {
            let digits = fraction.strip_prefix('.').ok_or(Error::BadTimestamp(
                "unexpected characters after the seconds",
            ))?;
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|d| d.is_ascii_digit())
            {
                return Err(Error::BadTimestamp("fraction must be 1 to 6 digits"));
            }
            let value: i64 = digits
                .parse()
                .map_err(|_| Error::BadTimestamp("fraction must be 1 to 6 digits"))?;
            let scale = 10_i64.pow(6 - u32::try_from(digits.len()).unwrap_or(6));
            value * scale
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
        Ok(Self {
            micros: seconds * MICROS_PER_SECOND + micros_part,
        })
    }

    /// The RFC 3339 form with exactly six fraction digits: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    ///
    /// # Errors
    ///
    /// [`Error::BadTimestamp`] if the instant is outside years 0001 to 9999.
    pub fn to_rfc3339_micros(self) -> Result<String, Error> {
        let seconds = self.micros.div_euclid(MICROS_PER_SECOND);
        let micros = self.micros.rem_euclid(MICROS_PER_SECOND);
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        if !(1..=9999).contains(&year) {
            return Err(Error::BadTimestamp("year out of range"));
        }
        Ok(format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_rfc3339_micros() {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "@{}us", self.micros),
        }
    }
}

/// A duration in whole microseconds, saturating at `i64::MAX`.
pub(crate) fn duration_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reference_shapes() {
        let t = Timestamp::parse("2026-11-22T16:05:23.250000Z").unwrap();
        assert_eq!(t.unix_micros(), 1_795_363_523_250_000);
        assert_eq!(
            t.to_rfc3339_micros().unwrap(),
            "2026-11-22T16:05:23.250000Z"
        );
        let whole = Timestamp::parse("2026-11-22T16:05:23Z").unwrap();
        assert_eq!(whole.unix_micros(), 1_795_363_523_000_000);
        assert_eq!(Timestamp::parse("2026-11-22T16:05:23.25Z").unwrap(), t);
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z")
                .unwrap()
                .unix_micros(),
            0
        );
        assert_eq!(
            Timestamp::parse("1969-12-31T23:59:59.999999Z")
                .unwrap()
                .unix_micros(),
            -1
        );
        assert_eq!(
            Timestamp::parse("2024-02-29T00:00:00Z")
                .unwrap()
                .to_rfc3339_micros()
                .unwrap(),
            "2024-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "2026-11-22T16:05:23.250000",
            "2026-11-22T17:05:23.250000+01:00",
            "2026-11-22T16:05:23.250000+00:00",
            "2026-11-22T16:05:23.2500",
            "2026-11-22T16:05",
            "2026-11-22 16:05:23Z",
            "2026-11-22t16:05:23z",
            "2026-11-22T16:05:23.Z",
            "2026-11-22T16:05:23.1234567Z",
            "2026-11-22T16:05:60Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "+026-11-22T16:05:23Z",
            "2026-11-22T16:05:2 Z",
            "Z",
            "",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
