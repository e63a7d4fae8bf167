//! Round trips do not grow with the number of tables (issue 10): the
//! sandbox counts every request (SQL batch, RPC, transaction manager
//! request) after login, so a change that adds a round trip per table fails
//! here. Counts, never times.

mod common;
use common::*;
use rgs_sandbox::Sandbox;

/// Requests `args` sends to `sb` (after login; all connections).
fn requests(sb: &Sandbox, args: &[&str], code: i32) -> u64 {
    let before = sb.requests();
    tool(sb).args(args).assert().code(code);
    sb.requests() - before
}

/// Adds `n` object tables with a few rows without an owner each, as a
/// larger deployment (or a later product version) would have.
fn add_tables(sb: &Sandbox, n: usize) {
    for i in 0..n {
        let t = format!("[dbo].[ExtraObjects{i:02}]");
        sb.query(&format!(
            "CREATE TABLE {t} ([ID] uniqueidentifier NOT NULL PRIMARY KEY, [Name] nvarchar(256) NOT NULL, [OwnerPoolId] uniqueidentifier NULL)"
        ))
        .unwrap();
        for j in 0..3 {
            sb.query(&format!(
                "INSERT INTO {t} ([ID], [Name], [OwnerPoolId]) VALUES (NEWID(), N'extra {i} {j}', NULL)"
            ))
            .unwrap();
        }
    }
}

fn story(sb: &Sandbox) -> [u64; 4] {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let j = j.to_str().unwrap();
    let check = requests(sb, &["check"], 3);
    let dry = requests(sb, &["fix", "--dry-run"], 0);
    let fix = requests(sb, &["fix", "--yes", "--no-snapshot", "--journal", j], 0);
    let undo = requests(sb, &["undo", "--yes", "--journal", j], 0);
    [check, dry, fix, undo]
}

/// The snapshot `fix` writes beside its journal by default reads every
/// changed table in one batch: a fixed cost, whatever the tables.
fn snapshot_cost(sb: &Sandbox) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let with = requests(sb, &["fix", "--yes", "--journal", a.to_str().unwrap()], 0);
    requests(sb, &["undo", "--yes", "--journal", a.to_str().unwrap()], 0);
    let without = requests(
        sb,
        &[
            "fix",
            "--yes",
            "--no-snapshot",
            "--journal",
            b.to_str().unwrap(),
        ],
        0,
    );
    with - without
}

#[test]
fn the_migrated_scenario_takes_a_fixed_number_of_round_trips() {
    let sb = sandbox("migrated");
    let [check, dry, fix, undo] = story(&sb);
    // Issue 10 asks for at most 3, 3 and 6; these are what the tool takes
    // now, so that a change adding a round trip fails here.
    assert!(check <= 2, "check sent {check} requests");
    assert!(dry <= 2, "fix --dry-run sent {dry} requests");
    assert!(fix <= 5, "fix --yes sent {fix} requests");
    // 30 rows: one chunk of keys.
    assert!(undo <= 7, "undo --yes sent {undo} requests");
    let snapshot = snapshot_cost(&sb);
    assert!(snapshot <= 4, "the snapshot took {snapshot} requests");
}

#[test]
fn thirty_tables_take_as_many_round_trips_as_six() {
    let sb = sandbox("migrated");
    add_tables(&sb, 24);
    let [check, dry, fix, undo] = story(&sb);
    // Issue 10 asks for at most 3, 3 and 6; these are what the tool takes
    // now, so that a change adding a round trip fails here.
    assert!(check <= 2, "check sent {check} requests");
    assert!(dry <= 2, "fix --dry-run sent {dry} requests");
    assert!(fix <= 5, "fix --yes sent {fix} requests");
    assert!(undo <= 7, "undo --yes sent {undo} requests");
    // Whatever the number of tables: one batch reads them all.
    let snapshot = snapshot_cost(&sb);
    assert!(snapshot <= 4, "the snapshot took {snapshot} requests");
}
