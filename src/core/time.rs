//! Wall-clock arithmetic on milliseconds since the Unix epoch: ISO 8601
//! formatting for `timestamp`/`sentAt`, and parsing of HTTP dates for
//! `Retry-After`. Pure functions; the caller supplies every instant.

/// Milliseconds since 1970-01-01T00:00:00Z, as the browser's `Date.now()`.
pub type Millis = u64;

const MS_PER_DAY: u64 = 86_400_000;

/// Appends `ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (always 24 bytes for years 0..=9999).
pub fn push_iso8601(out: &mut String, ms: Millis) {
    let days = ms / MS_PER_DAY;
    let in_day = ms % MS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    let year = year.min(9999);
    let mut buf = [0u8; 24];
    write_digits(&mut buf[0..4], year);
    buf[4] = b'-';
    write_digits(&mut buf[5..7], month);
    buf[7] = b'-';
    write_digits(&mut buf[8..10], day);
    buf[10] = b'T';
    write_digits(&mut buf[11..13], in_day / 3_600_000);
    buf[13] = b':';
    write_digits(&mut buf[14..16], in_day / 60_000 % 60);
    buf[16] = b':';
    write_digits(&mut buf[17..19], in_day / 1000 % 60);
    buf[19] = b'.';
    write_digits(&mut buf[20..23], in_day % 1000);
    buf[23] = b'Z';
    out.push_str(core::str::from_utf8(&buf).unwrap_or_default());
}

/// Length in bytes of every timestamp `push_iso8601` writes.
pub const ISO8601_LEN: usize = 24;

fn write_digits(slot: &mut [u8], mut value: u64) {
    for b in slot.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since the epoch to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since the epoch; `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y % 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110
/// requires senders to use, into epoch milliseconds.
pub fn parse_http_date(text: &str) -> Option<Millis> {
    let text = text.trim();
    let rest = text.split_once(", ").map_or(text, |(_, rest)| rest);
    let mut parts = rest.split_ascii_whitespace();
    let day = parse_number(parts.next()?, 1, 31)?;
    let month = month_number(parts.next()?)?;
    let year = parse_number(parts.next()?, 1970, 9999)?;
    let mut clock = parts.next()?.split(':');
    let hour = parse_number(clock.next()?, 0, 23)?;
    let minute = parse_number(clock.next()?, 0, 59)?;
    let second = parse_number(clock.next()?, 0, 60)?;
    if clock.next().is_some() || parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some(days * MS_PER_DAY + (hour * 3600 + minute * 60 + second) * 1000)
}

fn parse_number(text: &str, min: u64, max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = text.parse::<u64>().ok()?;
    (min..=max).contains(&value).then_some(value)
}

fn month_number(name: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|m| *m == name)
        .map(|index| index as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(ms: Millis) -> String {
        let mut out = String::new();
        push_iso8601(&mut out, ms);
        out
    }

    #[test]
    fn formats_the_epoch() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn formats_milliseconds_and_leap_days() {
        // 2024-02-29T23:59:59.999Z
        assert_eq!(iso(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(iso(1_709_251_200_000), "2024-03-01T00:00:00.000Z");
    }

    #[test]
    fn every_timestamp_has_the_fixed_length() {
        for ms in [
            0,
            1,
            999,
            86_399_999,
            4_102_444_800_000,
            253_402_300_799_999,
        ] {
            assert_eq!(iso(ms).len(), ISO8601_LEN);
        }
    }

    #[test]
    fn parses_the_rfc_example_date() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
    }

    #[test]
    fn http_date_round_trips_through_civil_days() {
        for days in [0u64, 59, 365, 10_957, 19_782, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days));
        }
    }

    #[test]
    fn rejects_malformed_http_dates() {
        for bad in [
            "",
            "tomorrow",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }
}
