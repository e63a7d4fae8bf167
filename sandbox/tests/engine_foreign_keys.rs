//! FOREIGN KEY constraints: declared in CREATE TABLE, checked as SQL Server
//! checks them at creation, shown in sys.foreign_keys / sys.foreign_key_columns
//! with the ids OBJECT_ID and sys.columns give, kept across sessions and
//! dropped with their table; a referenced table cannot be dropped.

mod common;

use common::*;

const TABLES: &str = "
    CREATE TABLE dbo.P (ID uniqueidentifier NOT NULL, Code int NOT NULL,
        CONSTRAINT PK_P PRIMARY KEY (ID), CONSTRAINT UQ_P_Code UNIQUE (Code));
    CREATE TABLE [dbo].[C] (
        [Pad] int NULL,
        [PId] uniqueidentifier NOT NULL,
        [Code] int NULL REFERENCES dbo.P (Code),
        CONSTRAINT [FK_C_P] FOREIGN KEY ([PId]) REFERENCES [dbo].[P] ([ID]));";

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn keys_are_listed_with_sql_servers_ids() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let mut s = session(&e);
    ok(&mut s, TABLES, &[]);
    let rs = one(
        &mut s,
        "SELECT fk.name, fk.object_id, fk.parent_object_id, fk.referenced_object_id, fk.is_disabled,
                OBJECT_ID(N'dbo.C'), OBJECT_ID(N'dbo.P'), OBJECT_ID(N'dbo.FK_C_P', N'F'), fk.type_desc
         FROM sys.foreign_keys AS fk WHERE fk.name = N'FK_C_P'",
        &[],
    );
    assert_eq!(rs.rows.len(), 1);
    let r = &rs.rows[0];
    assert_eq!(r[0], t("FK_C_P"));
    assert_eq!(r[1], r[7], "object_id is OBJECT_ID's");
    assert_eq!(r[2], r[5]);
    assert_eq!(r[3], r[6]);
    assert_eq!(r[4], Value::Bit(false));
    assert_eq!(r[8], t("FOREIGN_KEY_CONSTRAINT"));
    // Columns by sys.columns' column_id, on both sides.
    let rs = one(
        &mut s,
        "SELECT fk.name, pc.name, rc.name, fkc.constraint_column_id
         FROM sys.foreign_keys AS fk
         JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
         JOIN sys.columns AS pc ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
         JOIN sys.columns AS rc ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
         ORDER BY pc.name",
        &[],
    );
    let got: Vec<_> = rs
        .rows
        .iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (t("Code"), t("Code"), Value::Int(1)),
            (t("PId"), t("ID"), Value::Int(1)),
        ]
    );
    let unnamed = &rs.rows[0][0];
    assert!(
        matches!(unnamed, Value::Text(n) if n.starts_with("FK__C__Code__")),
        "{unnamed:?}"
    );
    // A foreign key is an object: sys.objects lists it, its name is taken.
    let rs = one(
        &mut s,
        "SELECT COUNT(*) FROM sys.objects WHERE type = 'F' AND parent_object_id = OBJECT_ID(N'dbo.C')",
        &[],
    );
    assert_eq!(rs.rows[0][0], Value::Int(2));
    let err = fails(&mut s, "CREATE TABLE dbo.FK_C_P (A int)");
    assert_eq!(err.number, 2714);
    // Another session (and so a catalog read from the file) sees the same.
    let mut s2 = session(&e);
    let rs = one(&mut s2, "SELECT COUNT(*) FROM sys.foreign_key_columns", &[]);
    assert_eq!(rs.rows[0][0], Value::Int(2));
}

#[test]
fn a_referenced_table_cannot_be_dropped_and_keys_go_with_their_table() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let mut s = session(&e);
    ok(&mut s, TABLES, &[]);
    let err = fails(&mut s, "DROP TABLE dbo.P");
    assert_eq!(
        (err.number, err.message.as_str()),
        (
            3726,
            "Could not drop object 'dbo.P' because it is referenced by a FOREIGN KEY constraint."
        )
    );
    ok(&mut s, "DROP TABLE dbo.C; DROP TABLE dbo.P", &[]);
    let rs = one(&mut s, "SELECT COUNT(*) FROM sys.foreign_keys", &[]);
    assert_eq!(rs.rows[0][0], Value::Int(0));
}

#[test]
fn bad_keys_get_sql_servers_errors_and_create_nothing() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let mut s = session(&e);
    ok(
        &mut s,
        "CREATE TABLE dbo.P (ID int NOT NULL, N int NULL, CONSTRAINT PK_P PRIMARY KEY (ID))",
        &[],
    );
    for (sql, number) in [
        ("CREATE TABLE dbo.C (A int, CONSTRAINT F1 FOREIGN KEY (A) REFERENCES dbo.Nope (ID))", 1767),
        ("CREATE TABLE dbo.C (A int, CONSTRAINT F1 FOREIGN KEY (B) REFERENCES dbo.P (ID))", 1769),
        ("CREATE TABLE dbo.C (A int, CONSTRAINT F1 FOREIGN KEY (A) REFERENCES dbo.P (Nope))", 1770),
        ("CREATE TABLE dbo.C (A int, B int, CONSTRAINT F1 FOREIGN KEY (A, B) REFERENCES dbo.P (ID))", 8139),
        ("CREATE TABLE dbo.C (A int, CONSTRAINT F1 FOREIGN KEY (A) REFERENCES dbo.P (N))", 1776),
        ("CREATE TABLE dbo.C (A bigint, CONSTRAINT F1 FOREIGN KEY (A) REFERENCES dbo.P (ID))", 1778),
        ("CREATE TABLE dbo.C (A int, CONSTRAINT PK_P FOREIGN KEY (A) REFERENCES dbo.P (ID))", 2714),
        // Actions the sandbox could not carry out are refused.
        ("CREATE TABLE dbo.C (A int, CONSTRAINT F1 FOREIGN KEY (A) REFERENCES dbo.P (ID) ON DELETE CASCADE)", 102),
    ] {
        let err = fails(&mut s, sql);
        assert_eq!(err.number, number, "{sql}: {err:?}");
    }
    let rs = one(
        &mut s,
        "SELECT COUNT(*) FROM sys.tables WHERE name = N'C'",
        &[],
    );
    assert_eq!(rs.rows[0][0], Value::Int(0));
    // A key without columns refers to the primary key; a table may refer
    // to itself.
    ok(
        &mut s,
        "CREATE TABLE dbo.C (A int NOT NULL, Up int NULL, CONSTRAINT PK_C PRIMARY KEY (A),
             CONSTRAINT F1 FOREIGN KEY (A) REFERENCES dbo.P,
             CONSTRAINT F2 FOREIGN KEY (Up) REFERENCES dbo.C (A))",
        &[],
    );
    let rs = one(
        &mut s,
        "SELECT COUNT(*) FROM sys.foreign_keys WHERE referenced_object_id = OBJECT_ID(N'dbo.C')",
        &[],
    );
    assert_eq!(rs.rows[0][0], Value::Int(1));
    ok(&mut s, "DROP TABLE dbo.C", &[]);
}

#[test]
fn keys_are_not_enforced_on_data() {
    // Said in the README: the sandbox keeps the declaration only.
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let mut s = session(&e);
    ok(&mut s, TABLES, &[]);
    ok(
        &mut s,
        "INSERT INTO dbo.C (PId) VALUES ('6F9619FF-8B86-D011-B42D-00C04FC964FF')",
        &[],
    );
}
