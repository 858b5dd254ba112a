//! ISO-8601 timestamps: reading the ones messages carry and writing the ones
//! the store keeps. Stored times are UTC with milliseconds
//! (`2026-12-06T10:00:00.000Z`), so they sort as text and SQLite's date
//! functions read them. Pure; no clock except `now_ms`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads an ISO-8601 date or date-time: `YYYY-MM-DD`, optionally followed by
/// `T` (or a space) and `HH:MM`, `:SS`, a fraction of a second, and `Z` or
/// an offset `±HH:MM` / `±HHMM` / `±HH`. A date-time without an offset is
/// read as UTC (the collector cannot know the sender's zone). Returns
/// milliseconds since the epoch, or `None` when the text is not such a date.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let mut p = Cursor { b, i: 0 };
    let year = p.digits(4)?;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if p.done() {
        return Some(days * 86_400_000);
    }
    match p.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    let mut second = 0;
    let mut millis = 0;
    if p.peek() == Some(b':') {
        p.i += 1;
        second = p.digits(2)?;
        if matches!(p.peek(), Some(b'.' | b',')) {
            p.i += 1;
            // Any number of digits; the first three are milliseconds.
            let start = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                if p.i - start < 3 {
                    millis = millis * 10 + i64::from(b[p.i] - b'0');
                }
                p.i += 1;
            }
            let len = p.i - start;
            if len == 0 {
                return None;
            }
            for _ in len..3 {
                millis *= 10;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_minutes = match p.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = p.digits(2)?;
            let om = if p.done() {
                0
            } else {
                if p.peek() == Some(b':') {
                    p.i += 1;
                }
                p.digits(2)?
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        Some(_) => return None,
    };
    if !p.done() {
        return None;
    }
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Writes milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`
/// (years outside 0 to 9999 as `+YYYYYY`/`-YYYYYY`, as JavaScript does).
pub fn format_utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    // Written digit by digit: this runs once or twice per stored event.
    let mut out = Vec::with_capacity(24);
    if (0..=9999).contains(&year) {
        push_digits(&mut out, year, 4);
    } else {
        return format!(
            "{}{:06}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            if year < 0 { '-' } else { '+' },
            year.abs(),
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
        );
    }
    out.push(b'-');
    push_digits(&mut out, month, 2);
    out.push(b'-');
    push_digits(&mut out, day, 2);
    out.push(b'T');
    push_digits(&mut out, in_day / 3_600_000, 2);
    out.push(b':');
    push_digits(&mut out, in_day / 60_000 % 60, 2);
    out.push(b':');
    push_digits(&mut out, in_day / 1000 % 60, 2);
    out.push(b'.');
    push_digits(&mut out, in_day % 1000, 3);
    out.push(b'Z');
    String::from_utf8(out).unwrap_or_default()
}

fn push_digits(out: &mut Vec<u8>, value: i64, width: u32) {
    for power in (0..width).rev() {
        out.push(b'0' + (value / 10i64.pow(power) % 10) as u8);
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let digits = self.b.get(self.i..self.i + n)?;
        let mut value = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(d - b'0');
        }
        self.i += n;
        Some(value)
    }
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }
    fn next(&mut self) -> Option<u8> {
        let byte = *self.b.get(self.i)?;
        self.i += 1;
        Some(byte)
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_sdk_format_and_common_variants() {
        let t = 1_796_551_200_000; // 2026-12-06T10:00:00Z
        assert_eq!(parse_iso8601("2026-12-06T10:00:00.000Z"), Some(t));
        assert_eq!(parse_iso8601("2026-12-06T10:00:00Z"), Some(t));
        assert_eq!(parse_iso8601("2026-12-06T10:00Z"), Some(t));
        assert_eq!(parse_iso8601("2026-12-06T11:00:00+01:00"), Some(t));
        assert_eq!(parse_iso8601("2026-12-06T05:30:00-0430"), Some(t));
        assert_eq!(parse_iso8601("2026-12-06T12:00:00+02"), Some(t));
        assert_eq!(parse_iso8601("2026-12-06 10:00:00"), Some(t));
        assert_eq!(parse_iso8601("2026-12-06T10:00:00.123456Z"), Some(t + 123));
        assert_eq!(parse_iso8601("2026-12-06T10:00:00.5Z"), Some(t + 500));
        assert_eq!(parse_iso8601("2026-12-06"), Some(t - 10 * 3_600_000));
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for text in [
            "",
            "yesterday",
            "1796551200000",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-12-06T24:00:00Z",
            "2026-12-06T10:60:00Z",
            "2026-12-06T10:00:00.Z",
            "2026-12-06T10:00:00Zjunk",
            "2026-12-06T10",
            "26-12-06",
            "２０２６-12-06",
        ] {
            assert_eq!(parse_iso8601(text), None, "{text:?}");
        }
        assert!(parse_iso8601("2024-02-29T00:00:00Z").is_some());
    }

    proptest! {
        #[test]
        fn formatting_then_reading_gives_the_same_instant(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            let text = format_utc(ms);
            prop_assert_eq!(parse_iso8601(&text), Some(ms), "{}", text);
        }

        #[test]
        fn reading_never_panics(text in "\\PC{0,40}") {
            let _ = parse_iso8601(&text);
        }
    }
}
