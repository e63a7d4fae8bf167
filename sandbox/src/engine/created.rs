//! Database creation times (`sys.databases.create_date`): the product
//! records them as part of a database's identity, so each database gets
//! its own, kept in its file, and never shares one with another database
//! this process created.

use super::catalog::META_TABLE;
use super::datatype::{format_datetime, parse_datetime};
use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension};
use std::sync::atomic::{AtomicI64, Ordering};

/// `sbx_meta` kind of the database's own entries.
const KIND: &str = "database";
/// `sbx_meta` name of the creation time.
const NAME: &str = "create_date";

/// `datetime` ticks per second: SQL Server keeps datetime in 1/300 s.
const TICKS_PER_SEC: i64 = 300;

/// The last creation time handed out, in ticks since 1970: two databases
/// created within one tick (3.33 ms) are nudged apart, since a plan that
/// names one must never match the other.
static LAST_TICK: AtomicI64 = AtomicI64::new(i64::MIN);

/// The millisecond SQL Server shows for a tick within its second
/// (.000, .003, .007, .010...).
fn tick_millis(tick_in_second: i64) -> i64 {
    (tick_in_second * 10 + 1) / 3
}

/// A datetime made of ticks since 1970.
fn from_ticks(ticks: i64) -> NaiveDateTime {
    let secs = ticks.div_euclid(TICKS_PER_SEC);
    let ms = tick_millis(ticks.rem_euclid(TICKS_PER_SEC));
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
        + chrono::Duration::milliseconds(ms)
}

/// Now, on the server's local clock as SQL Server's `create_date` is, as
/// a datetime value distinct from every other one this process made.
fn fresh_time() -> NaiveDateTime {
    let now = chrono::Local::now().naive_local().and_utc();
    let now_ticks = now.timestamp_millis() * TICKS_PER_SEC / 1000;
    let prev = LAST_TICK
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now_ticks.max(last.saturating_add(1)))
        })
        .unwrap_or(i64::MIN);
    from_ticks(now_ticks.max(prev.saturating_add(1)))
}

/// The database's creation time, recorded now if the file has none yet.
pub(crate) fn database_created(conn: &Connection) -> rusqlite::Result<NaiveDateTime> {
    let stored: Option<String> = conn
        .query_row(
            &format!("SELECT value FROM {META_TABLE} WHERE kind = ?1 AND name = ?2"),
            [KIND, NAME],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(dt) = stored.as_deref().and_then(parse_datetime) {
        return Ok(dt);
    }
    let dt = fresh_time();
    conn.execute(
        &format!("DELETE FROM {META_TABLE} WHERE kind = ?1 AND name = ?2"),
        [KIND, NAME],
    )?;
    conn.execute(
        &format!("INSERT INTO {META_TABLE} (kind, name, value) VALUES (?1, ?2, ?3)"),
        [KIND, NAME, &format_datetime(&dt)],
    )?;
    Ok(dt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn times_are_datetime_values_and_distinct() {
        let a = fresh_time();
        let b = fresh_time();
        assert!(b > a);
        for t in [a, b] {
            let ms = t.nanosecond() / 1_000_000;
            assert_eq!(t.nanosecond() % 1_000_000, 0);
            assert!(matches!(ms % 10, 0 | 3 | 7), "{t}");
        }
        assert_eq!(tick_millis(1), 3);
        assert_eq!(tick_millis(2), 7);
        assert_eq!(tick_millis(299), 997);
    }
}
