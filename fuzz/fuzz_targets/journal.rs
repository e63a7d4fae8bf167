#![no_main]
//! `undo` reads journals a user hands it: any bytes must give a journal or
//! a clear refusal, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(j) = rgs_repair::journal::Journal::parse(text) {
            // What parses must be consistent enough for undo to use.
            for t in &j.tables {
                assert!(!t.key_columns.is_empty());
                assert!(t.rows.iter().all(|r| r.key.len() == t.key_columns.len()));
            }
        }
    }
});
