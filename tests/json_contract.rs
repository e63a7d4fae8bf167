//! `--format json` as a contract: every document validates against its
//! published schema (`schemas/`), carries `schema_version`, has the same keys
//! whatever the outcome, writes GUIDs in upper case, and an error is a
//! document too.

mod common;
use common::*;
use std::collections::BTreeSet;

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn doc(sb: &rgs_sandbox::Sandbox, args: &[&str], code: i32) -> serde_json::Value {
    let out = tool(sb)
        .args(["--format", "json"])
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    json(&out)
}

#[test]
fn fix_documents_keep_their_keys_whatever_the_outcome() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let dry = valid("fix", doc(&sb, &["fix", "--dry-run"], 0));
    let done = valid(
        "fix",
        doc(&sb, &["fix", "--yes", "--journal", j.to_str().unwrap()], 0),
    );
    let nothing = valid("fix", doc(&sb, &["fix", "--yes"], 0));
    assert_eq!(dry["schema_version"], 1);
    assert_eq!(
        (
            dry["outcome"].as_str(),
            done["outcome"].as_str(),
            nothing["outcome"].as_str()
        ),
        (Some("dry_run"), Some("committed"), Some("nothing_to_do"))
    );
    assert_eq!(keys(&dry), keys(&done));
    assert_eq!(keys(&done), keys(&nothing));
    assert_eq!(done["rows_changed"], 30);
    assert!(nothing["plan"].is_null());
    let pool = dry["plan"]["pool"]["id"].as_str().unwrap();
    assert_eq!(pool, pool.to_uppercase(), "GUIDs in upper case");
    // The journal writes GUIDs the same way.
    let jv = journal(&j);
    let id = jv["pool"]["id"]["value"].as_str().unwrap();
    assert_eq!(id, pool);
}

#[test]
fn undo_documents_list_their_rows_and_keep_their_keys() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    fix_yes(&sb, &j);
    let jp = j.to_str().unwrap();
    let dry = valid("undo", doc(&sb, &["undo", "--dry-run", "--journal", jp], 0));
    let done = valid("undo", doc(&sb, &["undo", "--yes", "--journal", jp], 0));
    assert_eq!(keys(&dry), keys(&done));
    assert_eq!(dry["rows"].as_array().unwrap().len(), 30);
    assert!(dry["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["state"] == "put_back"));
    assert_eq!(
        (dry["restored"].as_u64(), done["restored"].as_u64()),
        (Some(0), Some(30))
    );
    assert!(done["undo_journal"].as_str().unwrap().contains(".undo-"));
}

#[test]
fn an_error_is_a_json_document_with_the_same_exit_code() {
    let sb = sandbox("migrated");
    for (args, code, kind) in [
        (
            vec!["fix", "--dry-run", "--table", "NoSuchTable"],
            2,
            "usage",
        ),
        (vec!["fix"], 4, "not_done"),
    ] {
        let e = valid("error", doc(&sb, &args, code));
        assert_eq!(e["error"]["code"], kind, "{e}");
        assert_eq!(e["error"]["exit_code"], code);
        assert_eq!(e["command"], "fix");
    }
    let out = tool(&sb)
        .env("RGS_PASSWORD", "wrong-password")
        .args(["--format", "json", "check"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let e = valid("error", json(&out));
    assert!(
        e["error"]["message"].as_str().unwrap().contains("18456"),
        "{e}"
    );
}
