//! uniqueidentifier values are stored in one form whatever path wrote them
//! (see `engine::datatype`'s `guid` module): keys, joins and ORDER BY
//! compare that form bytewise, so a value written in another form would
//! silently fail to match its own key. Also: a database file made by an
//! earlier sandbox, which stored another form, is refused.

mod common;

use common::*;
use rgs_sandbox::engine::Engine;
use rgs_sandbox::types::{SqlType, Value};

/// Whether `s` is the stored form: 12-4-4-4-8 uppercase hex digits.
fn is_stored_form(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if [12, 17, 22, 27].contains(&i) {
                c == b'-'
            } else {
                c.is_ascii_digit() || (b'A'..=b'F').contains(&c)
            }
        })
}

/// Every value of every uniqueidentifier column in the SQLite file at
/// `path`, with its table, column and SQLite type.
fn stored_guids(path: &std::path::Path) -> Vec<(String, String, String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1) WHERE type = 'uniqueidentifier'")
            .unwrap()
            .query_map([&t], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for c in columns {
            let sql = format!(
                "SELECT typeof(\"{c}\"), CAST(\"{c}\" AS TEXT) FROM \"{t}\" WHERE \"{c}\" IS NOT NULL"
            );
            let mut st = conn.prepare(&sql).unwrap();
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .unwrap();
            for row in rows {
                let (ty, v) = row.unwrap();
                out.push((t.clone(), c.clone(), ty, v));
            }
        }
    }
    out
}

#[test]
fn every_write_path_stores_the_one_form_and_finds_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rgsconfig.sqlite");
    let e = Engine::new().unwrap();
    assert!(e.attach_database("rgsconfig", Some(&path)).unwrap());
    e.run_script("rgsconfig", &read("sql/fixtures/schema.sql"))
        .unwrap();
    e.run_script("rgsconfig", &read("sql/fixtures/migrated.sql"))
        .unwrap();
    rgs_sandbox::scenario::add_extra_objects(&e, "rgsconfig", 5).unwrap();
    rgs_sandbox::scenario::add_extra_tables(&e, "rgsconfig", 2).unwrap();
    let mut s = session(&e);
    ok(
        &mut s,
        "CREATE TABLE dbo.G (ID uniqueidentifier NOT NULL DEFAULT NEWID() PRIMARY KEY, \
         Other uniqueidentifier NULL, Note nvarchar(60) NULL)",
        &[],
    );
    // A literal in lowercase, one in braces, a typed parameter, a GUID
    // sent as text, the default, a CAST from a string, a CONVERT from
    // bytes, an INSERT ... SELECT and an UPDATE from another column.
    ok(
        &mut s,
        "INSERT INTO dbo.G (ID, Note) VALUES ('6f9619ff-8b86-d011-b42d-00c04fc964ff', N'lower'), \
         ('{00000000-0000-0000-0000-000000000001}', N'braces')",
        &[],
    );
    ok(
        &mut s,
        "INSERT INTO dbo.G (ID, Other, Note) VALUES (@P1, @P2, N'params')",
        &[
            param(
                "@P1",
                SqlType::UniqueIdentifier,
                Value::Guid(guid("01000000-0000-0000-0000-000000000000")),
            ),
            param(
                "@P2",
                SqlType::UniqueIdentifier,
                Value::Text("00000000-0000-0000-0100-000000000000".into()),
            ),
        ],
    );
    ok(&mut s, "INSERT INTO dbo.G (Note) VALUES (N'default')", &[]);
    ok(
        &mut s,
        "INSERT INTO dbo.G (ID, Other, Note) SELECT CAST(N'00000000-0000-0000-0000-000000000100' AS uniqueidentifier), \
         CONVERT(uniqueidentifier, 0xFF19966F868B11D0B42D00C04FC96400), N'cast'",
        &[],
    );
    ok(
        &mut s,
        "INSERT INTO dbo.G (ID, Other, Note) SELECT a.ID, a.OwnerPoolId, N'copied' FROM dbo.AgentGroups a \
         WHERE a.OwnerPoolId IS NOT NULL",
        &[],
    );
    ok(
        &mut s,
        "UPDATE dbo.G SET Other = ID WHERE Other IS NULL",
        &[],
    );
    // A GUID assigned to a string column is its display text.
    ok(
        &mut s,
        "INSERT INTO dbo.G (Other, Note) SELECT ID, ID FROM dbo.G WHERE Note = N'lower'",
        &[],
    );
    let stored = stored_guids(&path);
    assert!(stored.len() > 40, "{stored:?}");
    let odd: Vec<_> = stored
        .iter()
        .filter(|(_, _, ty, v)| ty != "text" || !is_stored_form(v))
        .collect();
    assert!(odd.is_empty(), "not in the stored form: {odd:?}");

    // Found by a literal in any case, in SQL Server's order, and shown as
    // SQL Server shows a GUID.
    assert_eq!(
        scalar(
            &e,
            "SELECT Note FROM dbo.G WHERE ID = '6F9619FF-8B86-D011-B42D-00C04FC964FF'"
        ),
        Value::Text("lower".into())
    );
    // Found by a parameter, typed or sent as text (bound as they come,
    // with no conversion in the statement).
    for value in [
        Value::Guid(guid("6F9619FF-8B86-D011-B42D-00C04FC964FF")),
        Value::Text("6f9619ff-8b86-d011-b42d-00c04fc964ff".into()),
    ] {
        let rs = one(
            &mut s,
            "SELECT Note FROM dbo.G WHERE ID = @P1",
            &[param("@P1", SqlType::UniqueIdentifier, value.clone())],
        );
        assert_eq!(
            rs.rows,
            vec![vec![Value::Text("lower".into())]],
            "{value:?}"
        );
    }
    // A variable, set from text.
    let rs = one(
        &mut s,
        "DECLARE @g uniqueidentifier = '6f9619ff-8b86-d011-b42d-00c04fc964ff'; \
         DECLARE @t nvarchar(36); SET @t = N'6f9619ff-8b86-d011-b42d-00c04fc964ff'; \
         SELECT Note FROM dbo.G WHERE ID = @g AND ID = @t",
        &[],
    );
    assert_eq!(rs.rows, vec![vec![Value::Text("lower".into())]]);
    assert_eq!(
        scalar(
            &e,
            "SELECT CAST(ID AS nvarchar(36)) FROM dbo.G WHERE Note = N'lower'"
        ),
        Value::Text("6F9619FF-8B86-D011-B42D-00C04FC964FF".into())
    );
    assert_eq!(
        scalar(
            &e,
            "SELECT Note FROM dbo.G WHERE Other = '6F9619FF-8B86-D011-B42D-00C04FC964FF' AND ID <> Other"
        ),
        Value::Text("6F9619FF-8B86-D011-B42D-00C04FC964FF".into())
    );
    // String functions and LIKE see the display text, as SQL Server
    // converts a GUID for them.
    for (sql, want) in [
        (
            "SELECT Note FROM dbo.G WHERE ID LIKE '6F9619FF-%'",
            Value::Text("lower".into()),
        ),
        (
            "SELECT Note FROM dbo.G WHERE ID LIKE '%-00c04fc964ff'",
            Value::Text("lower".into()),
        ),
        (
            "SELECT LEFT(ID, 8) FROM dbo.G WHERE Note = N'lower'",
            Value::Text("6F9619FF".into()),
        ),
        (
            "SELECT LOWER(ID) FROM dbo.G WHERE Note = N'lower'",
            Value::Text("6f9619ff-8b86-d011-b42d-00c04fc964ff".into()),
        ),
        (
            "SELECT LEN(ID) FROM dbo.G WHERE Note = N'lower'",
            Value::Int(36),
        ),
        (
            "SELECT REPLACE(ID, '-', '') FROM dbo.G WHERE Note = N'lower'",
            Value::Text("6F9619FF8B86D011B42D00C04FC964FF".into()),
        ),
        (
            "SELECT CHARINDEX('D011', ID) FROM dbo.G WHERE Note = N'lower'",
            Value::Int(15),
        ),
        (
            "SELECT QUOTENAME(ID) FROM dbo.G WHERE Note = N'lower'",
            Value::Text("[6F9619FF-8B86-D011-B42D-00C04FC964FF]".into()),
        ),
    ] {
        assert_eq!(scalar(&e, sql), want, "{sql}");
    }
    // A GUID meets text as a GUID wherever they meet (the text converted,
    // as SQL Server converts it), in any case.
    let lower = || Value::Text("lower".into());
    for (sql, want) in [
        ("SELECT CASE ID WHEN '6f9619ff-8b86-d011-b42d-00c04fc964ff' THEN N'lower' ELSE N'no' END FROM dbo.G WHERE Note = N'lower'", lower()),
        ("SELECT CASE WHEN ID = N'6f9619ff-8b86-d011-b42d-00c04fc964ff' THEN N'lower' ELSE N'no' END FROM dbo.G WHERE Note = N'lower'", lower()),
        ("SELECT COUNT(*) FROM dbo.G WHERE NULLIF(ID, '6f9619ff-8b86-d011-b42d-00c04fc964ff') IS NULL", Value::Int(1)),
        ("SELECT Note FROM dbo.G WHERE ISNULL(ID, '00000000-0000-0000-0000-000000000000') = '6F9619FF-8B86-D011-B42D-00C04FC964FF'", lower()),
        ("SELECT Note FROM dbo.G WHERE COALESCE(NULL, ID) = '6f9619ff-8b86-d011-b42d-00c04fc964ff'", lower()),
        ("SELECT Note FROM dbo.G WHERE ID IN (SELECT N'6f9619ff-8b86-d011-b42d-00c04fc964ff')", lower()),
        ("SELECT COUNT(*) FROM (SELECT ID FROM dbo.G WHERE Note = N'lower' INTERSECT SELECT '6f9619ff-8b86-d011-b42d-00c04fc964ff') AS x", Value::Int(1)),
        ("SELECT COUNT(*) FROM (SELECT ID FROM dbo.G WHERE Note = N'lower' UNION SELECT '6f9619ff-8b86-d011-b42d-00c04fc964ff') AS x", Value::Int(1)),
        ("SELECT COUNT(*) FROM (SELECT '6f9619ff-8b86-d011-b42d-00c04fc964ff' AS g EXCEPT SELECT ID FROM dbo.G) AS x", Value::Int(0)),
        ("SELECT Note FROM dbo.G WHERE ID IN ('6f9619ff-8b86-d011-b42d-00c04fc964ff', '00000000-0000-0000-0000-000000000009')", lower()),
        ("SELECT Note FROM dbo.G WHERE ID BETWEEN '6F9619FF-8B86-D011-B42D-00C04FC964FE' AND '6f9619ff-8b86-d011-b42d-00c04fc96500'", lower()),
    ] {
        assert_eq!(scalar(&e, sql), want, "{sql}");
    }
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.G g JOIN dbo.G h ON h.Other = g.ID WHERE g.Note = N'params'"
        ),
        Value::Int(0)
    );
    let ordered = e
        .query(
            "rgsconfig",
            "SELECT ID FROM dbo.G WHERE Note IN (N'braces', N'params', N'cast', N'lower') ORDER BY ID",
        )
        .unwrap();
    let ids: Vec<Value> = ordered.rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        ids,
        [
            "01000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000100",
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
        ]
        .map(|g| Value::Guid(guid(g)))
    );
}

#[test]
fn a_database_file_of_an_earlier_sandbox_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.create_collation("GUID", |a: &str, b: &str| a.cmp(b))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE \"dbo.T\" (\"ID\" uniqueidentifier NOT NULL COLLATE GUID);
             INSERT INTO \"dbo.T\" VALUES ('6F9619FF-8B86-D011-B42D-00C04FC964FF');",
        )
        .unwrap();
    }
    let e = Engine::new().unwrap();
    let err = e.attach_database("rgsconfig", Some(&path)).unwrap_err();
    assert!(
        err.to_string().contains("earlier version of the sandbox"),
        "{err}"
    );
}
