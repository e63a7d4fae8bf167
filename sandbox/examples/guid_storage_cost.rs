//! Manual measurement (not a test: no timed assertions) of what the GUID
//! collation costs SQLite itself, outside the sandbox: undo's key-table
//! load, summary join and UPDATE join over ROWS rows (default 1,000,000),
//! once with GUIDs stored as the sandbox stored them until 2026-11-27
//! (hyphenated display text under a collation callback that checks both
//! texts and compares their bytes in SQL Server's order) and once stored as
//! 16-byte blobs already in SQL Server's order (bytes 10-15, 8-9, 7-6, 5-4,
//! 3-0), which SQLite compares with memcmp. The difference bounded what a
//! storage change could gain; the sandbox now stores the text of those
//! ordered bytes (see `engine::datatype`), compared with memcmp too. (The
//! callback here is a plain one registered through rusqlite, slower than
//! the sandbox's was; `undo_timing` measures the sandbox itself.)
//! `cargo run --release -p rgs-sandbox --example guid_storage_cost -- [ROWS]`

use rusqlite::{params, Connection};
use std::cmp::Ordering;
use std::time::Instant;

/// Display-text positions in SQL Server's comparison order.
const ORDER: [usize; 16] = [24, 26, 28, 30, 32, 34, 19, 21, 16, 14, 11, 9, 6, 4, 2, 0];

fn nibble(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// SQL Server's order of two GUID texts; other texts after GUIDs.
fn guid_cmp(a: &str, b: &str) -> Ordering {
    let key = |s: &str| -> Option<[u8; 16]> {
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let mut k = [0u8; 16];
        for (i, &p) in ORDER.iter().enumerate() {
            k[i] = nibble(b[p])? << 4 | nibble(b[p + 1])?;
        }
        Some(k)
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

fn main() -> rusqlite::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |r| r.parse().expect("ROWS"));
    let ids: Vec<uuid::Uuid> = (0..rows).map(|_| uuid::Uuid::new_v4()).collect();
    let pool = uuid::Uuid::new_v4();
    let text = |g: &uuid::Uuid| g.hyphenated().to_string().to_uppercase();
    let blob = |g: &uuid::Uuid| {
        let x = g.as_bytes();
        [10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0].map(|i| x[i])
    };
    for (label, ty, collate) in [
        ("text + GUID collation", "TEXT", " COLLATE GUID"),
        // Equality as the GUID order's, but not its order: what text
        // costs without the callback.
        ("text, BINARY (wrong order)", "TEXT", " COLLATE BINARY"),
        ("16-byte blob, BINARY", "BLOB", ""),
    ] {
        let conn = Connection::open_in_memory()?;
        conn.create_collation("GUID", guid_cmp)?;
        conn.execute_batch(&format!(
            "CREATE TABLE t (ID {ty} NOT NULL{collate} PRIMARY KEY, Owner {ty}{collate});
             CREATE TEMP TABLE k (ID {ty} NOT NULL{collate} PRIMARY KEY);"
        ))?;
        let load = |table: &str, owner: bool| -> rusqlite::Result<f64> {
            let t0 = Instant::now();
            let tx = conn.unchecked_transaction()?;
            let mut sorted = ids.clone();
            // In the key's own order, as the sandbox's bulk load sorts.
            if collate == " COLLATE BINARY" {
                sorted.sort_by_key(text);
            } else {
                sorted.sort_by_key(blob);
            }
            {
                let sql = if owner {
                    format!("INSERT INTO {table} VALUES (?1, ?2)")
                } else {
                    format!("INSERT INTO {table} VALUES (?1)")
                };
                let mut st = tx.prepare(&sql)?;
                for g in &sorted {
                    match (ty, owner) {
                        ("TEXT", true) => st.execute(params![text(g), text(&pool)])?,
                        ("TEXT", false) => st.execute(params![text(g)])?,
                        (_, true) => st.execute(params![blob(g).to_vec(), blob(&pool).to_vec()])?,
                        (_, false) => st.execute(params![blob(g).to_vec()])?,
                    };
                }
            }
            tx.commit()?;
            Ok(t0.elapsed().as_secs_f64())
        };
        let p1: rusqlite::types::Value = if ty == "TEXT" {
            text(&pool).into()
        } else {
            blob(&pool).to_vec().into()
        };
        let t_load = load("t", true)?;
        let k_load = load("k", false)?;
        let t0 = Instant::now();
        let (n, restorable): (i64, i64) = conn.query_row(
            "SELECT count(*), sum(CASE WHEN t.Owner = ?1 THEN 1 ELSE 0 END)
             FROM k LEFT JOIN t ON t.ID = k.ID",
            [&p1],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let summary = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let changed = conn.execute(
            "UPDATE t SET Owner = NULL WHERE Owner = ?1
             AND EXISTS (SELECT 1 FROM k WHERE k.ID = t.ID)",
            [&p1],
        )?;
        let update = t0.elapsed().as_secs_f64();
        println!(
            "{label:<28} load t {t_load:.3} s, load k {k_load:.3} s, summary {summary:.3} s ({n}, {restorable}), UPDATE {update:.3} s ({changed})"
        );
    }
    Ok(())
}
