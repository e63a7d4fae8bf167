//! Times reading a journal the way `undo` does: `Journal::open` (every
//! line checked against the digest chain, rows counted) and one pass of
//! `Journal::rows` (every row read again and typed). For measuring by hand
//! (issue 10), never in a test:
//! `cargo run --release --example journal_timing -- JOURNAL [ROUNDS]`.

use rgs_repair::journal::Journal;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: journal_timing JOURNAL [ROUNDS]"));
    let rounds: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    for round in 1..=rounds {
        let at = Instant::now();
        let j = Journal::open(&path, false)?;
        let opened = at.elapsed();
        let at = Instant::now();
        let mut n = 0usize;
        for r in j.rows(&path)? {
            r?;
            n += 1;
        }
        let streamed = at.elapsed();
        println!(
            "round {round}: open {:.3} s ({} rows counted), rows {:.3} s ({n} rows read)",
            opened.as_secs_f64(),
            j.row_count(),
            streamed.as_secs_f64()
        );
    }
    Ok(())
}
