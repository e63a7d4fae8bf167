//! Values as text, exactly as SQL Server shows them: GUIDs in upper case,
//! `bit` as 0/1, binary as `0x` and upper-case hex, decimals with their
//! scale, date and time types to their full precision, strings byte for
//! byte. `None` is SQL NULL.

use chrono::{Duration, NaiveDate};
use tiberius::ColumnData;

/// A value as text; None for NULL.
pub fn text(data: &ColumnData<'_>) -> Option<String> {
    match data {
        ColumnData::U8(v) => v.map(|v| v.to_string()),
        ColumnData::I16(v) => v.map(|v| v.to_string()),
        ColumnData::I32(v) => v.map(|v| v.to_string()),
        ColumnData::I64(v) => v.map(|v| v.to_string()),
        ColumnData::F32(v) => v.map(|v| float(f64::from(v), v.to_string(), format!("{v:e}"))),
        ColumnData::F64(v) => v.map(|v| float(v, v.to_string(), format!("{v:e}"))),
        ColumnData::Bit(v) => v.map(|b| if b { "1" } else { "0" }.to_string()),
        ColumnData::String(v) => v.as_ref().map(|s| s.to_string()),
        ColumnData::Guid(v) => v.map(|g| g.hyphenated().to_string().to_uppercase()),
        ColumnData::Binary(v) => v.as_ref().map(|b| hex(b)),
        ColumnData::Numeric(v) => v.map(|n| decimal(n.value(), n.scale())),
        ColumnData::Xml(v) => v.as_ref().map(|x| x.to_string()),
        ColumnData::DateTime(v) => v.map(|d| {
            // 1/300 s ticks, shown rounded to milliseconds as SQL Server
            // does (.000, .003, .007).
            let ticks = u64::from(d.seconds_fragments());
            let ms = (ticks * 10 + 1) / 3;
            let day = day_from(1900, i64::from(d.days()));
            format!("{} {}", day, clock(ms / 1000, ms % 1000, 3))
        }),
        ColumnData::SmallDateTime(v) => v.map(|d| {
            let day = day_from(1900, i64::from(d.days()));
            format!(
                "{} {}",
                day,
                clock(u64::from(d.seconds_fragments()) * 60, 0, 0)
            )
        }),
        ColumnData::Date(v) => v.map(|d| day_from(1, i64::from(d.days())).to_string()),
        ColumnData::Time(v) => v.map(|t| time(t.increments(), t.scale())),
        ColumnData::DateTime2(v) => v.map(|d| {
            let day = day_from(1, i64::from(d.date().days()));
            format!("{} {}", day, time(d.time().increments(), d.time().scale()))
        }),
        ColumnData::DateTimeOffset(v) => v.map(|d| {
            // On the wire the value is UTC; SQL Server shows local time and
            // the offset.
            let dt2 = d.datetime2();
            let scale = dt2.time().scale();
            let per_minute = 60 * 10u64.pow(u32::from(scale));
            let minutes = i64::try_from(dt2.time().increments() / per_minute).unwrap_or(0)
                + i64::from(d.offset());
            let rest = dt2.time().increments() % per_minute;
            let days = i64::from(dt2.date().days()) + minutes.div_euclid(1440);
            let local = u64::try_from(minutes.rem_euclid(1440)).unwrap_or(0) * per_minute + rest;
            let off = d.offset();
            let sign = if off < 0 { '-' } else { '+' };
            let off = off.unsigned_abs();
            format!(
                "{} {} {sign}{:02}:{:02}",
                day_from(1, days),
                time(local, scale),
                off / 60,
                off % 60
            )
        }),
    }
}

/// `0x` and upper-case hex, as SQL Server shows binary.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// A float's shortest text that reads back as the same value; exponent
/// form for very large or small magnitudes.
fn float(v: f64, plain: String, exp: String) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e16).contains(&a) {
        exp
    } else {
        plain
    }
}

/// A scaled integer as a decimal with exactly `scale` digits after the
/// point (`decimal(9,2)` 5 is `5.00`).
pub fn decimal(value: i128, scale: u8) -> String {
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    let scale = usize::from(scale);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// The day `days` after 1 January of `year`.
fn day_from(year: i32, days: i64) -> NaiveDate {
    let base = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
    base.checked_add_signed(Duration::days(days))
        .unwrap_or(base)
}

/// `hh:mm:ss` and `digits` digits of fraction.
fn clock(seconds: u64, fraction: u64, digits: usize) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if digits == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}.{fraction:0digits$}")
    }
}

/// A `time(scale)` value: increments of 10^-scale seconds since midnight.
fn time(increments: u64, scale: u8) -> String {
    let per_second = 10u64.pow(u32::from(scale));
    clock(
        increments / per_second,
        increments % per_second,
        usize::from(scale),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use tiberius::numeric::Numeric;
    use tiberius::time::{Date, DateTime, DateTime2, DateTimeOffset, SmallDateTime, Time};

    fn t(d: ColumnData<'_>) -> String {
        text(&d).unwrap()
    }

    #[test]
    fn values_read_as_sql_server_shows_them() {
        let g = uuid::Uuid::parse_str("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap();
        assert_eq!(
            t(ColumnData::Guid(Some(g))),
            "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
        );
        assert_eq!(t(ColumnData::Bit(Some(true))), "1");
        assert_eq!(
            t(ColumnData::Binary(Some(Cow::Borrowed(&[0, 0xab])))),
            "0x00AB"
        );
        assert_eq!(t(ColumnData::Binary(Some(Cow::Borrowed(&[])))), "0x");
        assert_eq!(
            t(ColumnData::Numeric(Some(Numeric::new_with_scale(5, 2)))),
            "0.05"
        );
        assert_eq!(decimal(-12345, 2), "-123.45");
        assert_eq!(decimal(7, 0), "7");
        assert_eq!(t(ColumnData::F64(Some(0.1))), "0.1");
        assert_eq!(t(ColumnData::F64(Some(1e300))), "1e300");
        assert_eq!(
            t(ColumnData::String(Some(" a,\"b\"\r\n ".into()))),
            " a,\"b\"\r\n "
        );
        assert_eq!(text(&ColumnData::String(None)), None);
        assert_eq!(t(ColumnData::String(Some("".into()))), "");
    }

    #[test]
    fn dates_and_times_to_full_precision() {
        // 2024-02-29 is day 45349 after 1900-01-01.
        let days = (NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
            - NaiveDate::from_ymd_opt(1900, 1, 1).unwrap())
        .num_days() as i32;
        // 13:45:30 and 2/300 s: SQL Server shows .007.
        let ticks = (13 * 3600 + 45 * 60 + 30) * 300 + 2;
        assert_eq!(
            t(ColumnData::DateTime(Some(DateTime::new(days, ticks)))),
            "2024-02-29 13:45:30.007"
        );
        assert_eq!(
            t(ColumnData::SmallDateTime(Some(SmallDateTime::new(
                days as u16,
                61
            )))),
            "2024-02-29 01:01:00"
        );
        let d1 = (NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
            - NaiveDate::from_ymd_opt(1, 1, 1).unwrap())
        .num_days() as u32;
        assert_eq!(t(ColumnData::Date(Some(Date::new(d1)))), "2024-02-29");
        let tm = Time::new(12_345_678_901, 7);
        assert_eq!(t(ColumnData::Time(Some(tm))), "00:20:34.5678901");
        assert_eq!(
            t(ColumnData::DateTime2(Some(DateTime2::new(
                Date::new(d1),
                tm
            )))),
            "2024-02-29 00:20:34.5678901"
        );
        // 23:30 UTC at +01:00 is 00:30 the next day.
        let late = Time::new(23 * 3600 + 30 * 60, 0);
        let dto = DateTimeOffset::new(DateTime2::new(Date::new(d1), late), 60);
        assert_eq!(
            t(ColumnData::DateTimeOffset(Some(dto))),
            "2024-03-01 00:30:00 +01:00"
        );
        let west = DateTimeOffset::new(DateTime2::new(Date::new(d1), late), -330);
        assert_eq!(
            t(ColumnData::DateTimeOffset(Some(west))),
            "2024-02-29 18:00:00 -05:30"
        );
    }
}
