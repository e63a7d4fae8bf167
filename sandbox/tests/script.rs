//! The T-SQL of the product's change script (`fix --dry-run --emit-sql`),
//! statement by statement: table variables, RAISERROR, RETURN and SET
//! NOCOUNT, answered as SQL Server answers them.

mod common;

use common::*;

fn infos(items: &[Item]) -> Vec<(i32, String)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Info { number, message } => Some((*number, message.clone())),
            _ => None,
        })
        .collect()
}

fn texts(rs: &ResultSet) -> Vec<String> {
    rs.rows
        .iter()
        .map(|r| match &r[0] {
            Value::Text(t) => t.clone(),
            Value::Guid(g) => g.hyphenated().to_string().to_uppercase(),
            Value::Int(i) => i.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

const PLANNED: &str = "
DECLARE @planned_2 TABLE ([Name] nvarchar(450) COLLATE DATABASE_DEFAULT NOT NULL, [N] int NOT NULL, PRIMARY KEY ([Name], [N]));
INSERT INTO @planned_2 ([Name], [N]) VALUES
    (N'it''s', 1),
    (N'b', 2),
    (N'a', 3);
";

#[test]
fn table_variable_declare_insert_select() {
    let e = engine_with(None);
    let mut s = session(&e);
    let items = ok(
        &mut s,
        &format!("{PLANNED} SELECT p.[Name] FROM @planned_2 AS p WHERE p.N > 1 ORDER BY p.[Name];"),
        &[],
    );
    let r = rows(&items);
    assert_eq!(texts(r[0]), ["a", "b"]);
    assert_eq!(r[0].columns[0].ty, SqlType::NVarChar(Some(450)));
    assert!(!r[0].columns[0].nullable);
    // The INSERT's row count, as SQL Server reports it.
    assert!(items.contains(&Item::Done {
        rows_affected: Some(3)
    }));
}

#[test]
fn table_variable_in_correlated_not_exists_and_join() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let ids = e
        .query(
            "rgsconfig",
            "SELECT TOP (2) ID FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL ORDER BY ID",
        )
        .unwrap();
    let lit: Vec<String> = ids
        .rows
        .iter()
        .map(|r| match &r[0] {
            Value::Guid(g) => format!("('{}')", g.hyphenated()),
            other => panic!("{other:?}"),
        })
        .collect();
    let sql = format!(
        "DECLARE @p TABLE ([ID] uniqueidentifier NOT NULL, PRIMARY KEY ([ID]));
         INSERT INTO @p ([ID]) VALUES {}, ('00000000-0000-0000-0000-000000000001');
         SELECT COUNT(*) FROM @p AS p WHERE NOT EXISTS (SELECT 1 FROM [dbo].[AgentGroups] AS t WHERE t.[ID] = p.[ID] AND t.[OwnerPoolId] IS NULL);
         SELECT COUNT(*) FROM @p AS p JOIN dbo.AgentGroups AS g ON g.ID = p.ID;
         IF EXISTS (SELECT 1 FROM @p AS p WHERE NOT EXISTS (SELECT 1 FROM dbo.AgentGroups AS t WHERE t.ID = p.ID)) PRINT N'missing';",
        lit.join(", ")
    );
    let items = ok(&mut s, &sql, &[]);
    let r = rows(&items);
    assert_eq!(texts(r[0]), ["1"]);
    assert_eq!(texts(r[1]), ["2"]);
    assert_eq!(infos(&items), [(0, "missing".to_string())]);
}

#[test]
fn table_variable_duplicate_key_is_2627_and_statement_only() {
    let e = engine_with(None);
    let mut s = session(&e);
    let items = s.execute(
        "DECLARE @t TABLE (ID int NOT NULL, PRIMARY KEY (ID));
         INSERT INTO @t (ID) VALUES (1);
         INSERT INTO @t (ID) VALUES (2), (1);
         SELECT COUNT(*) FROM @t;",
        &[],
    );
    let errs = errors(&items);
    assert_eq!(errs.len(), 1, "{items:?}");
    assert_eq!(errs[0].number, 2627);
    assert_eq!(errs[0].severity, 14);
    assert!(
        errs[0].message.contains(
            "Cannot insert duplicate key in object 'dbo.@t'. The duplicate key value is (1)."
        ),
        "{}",
        errs[0].message
    );
    // The failed statement inserted nothing; the batch went on.
    assert_eq!(texts(rows(&items)[0]), ["1"]);
}

#[test]
fn table_variable_is_gone_after_the_batch() {
    let e = engine_with(None);
    let mut s = session(&e);
    ok(&mut s, PLANNED, &[]);
    let err = fails(&mut s, "SELECT COUNT(*) FROM @planned_2;");
    assert_eq!((err.number, err.severity), (1087, 15));
    assert_eq!(
        err.message,
        "Must declare the table variable \"@planned_2\"."
    );
    // Declaring it again in a new batch works, also after a ROLLBACK.
    ok(
        &mut s,
        &format!("BEGIN TRANSACTION; {PLANNED} UPDATE dbo.Queues SET Name = Name; ROLLBACK TRANSACTION; SELECT COUNT(*) FROM @planned_2;"),
        &[],
    );
    ok(&mut s, PLANNED, &[]);
    let err = fails(
        &mut s,
        "DECLARE @x TABLE (a int); DECLARE @x TABLE (a int);",
    );
    assert_eq!(err.number, 134);
    let err = fails(&mut s, "DECLARE @x TABLE (a int); SELECT @x;");
    assert_eq!(err.number, 137);
}

#[test]
fn table_variable_keeps_rows_written_before_the_transaction() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let items = ok(
        &mut s,
        &format!("{PLANNED} BEGIN TRANSACTION; UPDATE dbo.AgentGroups SET Name = Name; ROLLBACK TRANSACTION; SELECT COUNT(*) FROM @planned_2;"),
        &[],
    );
    assert_eq!(texts(rows(&items)[0]), ["3"]);
}

#[test]
fn raiserror_sends_error_50000_and_the_batch_goes_on() {
    let e = engine_with(None);
    let mut s = session(&e);
    let items = s.execute(
        "SET XACT_ABORT ON;
         DECLARE @rows bigint;
         SET @rows = 7;
         RAISERROR(N'in %s: %I64d row(s), %d%% (%i) %u', 16, 3, N'dbo.Queues', @rows, 50, -2, 4);
         SELECT @@ERROR;
         RAISERROR(N'just so', 10, 1);
         SELECT @@ERROR;",
        &[],
    );
    let errs = errors(&items);
    assert_eq!(errs.len(), 1, "{items:?}");
    assert_eq!(
        (
            errs[0].number,
            errs[0].severity,
            errs[0].state,
            errs[0].line
        ),
        (50000, 16, 3, 4)
    );
    assert_eq!(errs[0].message, "in dbo.Queues: 7 row(s), 50% (-2) 4");
    let r = rows(&items);
    assert_eq!(r.len(), 2, "the batch went on after RAISERROR: {items:?}");
    assert_eq!(texts(r[0]), ["50000"]);
    assert_eq!(texts(r[1]), ["0"]);
    assert_eq!(infos(&items), [(50000, "just so".to_string())]);
}

#[test]
fn raiserror_refusals() {
    let e = engine_with(None);
    let mut s = session(&e);
    assert_eq!(fails(&mut s, "RAISERROR(N'x', 20, 1);").number, 2754);
    assert_eq!(fails(&mut s, "RAISERROR(N'%d', 16, 1, N'x');").number, 2786);
    assert_eq!(
        fails(&mut s, "RAISERROR(N'%s', 16, 1, NEWID());").number,
        2748
    );
    assert_eq!(
        fails(&mut s, "RAISERROR(N'x', 16, 1) WITH LOG;").number,
        102
    );
}

#[test]
fn return_ends_the_batch() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let before = scalar(
        &e,
        "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL",
    );
    let items = ok(
        &mut s,
        "PRINT N'one';
         IF 1 = 1
         BEGIN
             PRINT N'two';
             RETURN;
         END;
         PRINT N'three';
         UPDATE dbo.AgentGroups SET OwnerPoolId = NEWID();",
        &[],
    );
    assert_eq!(
        infos(&items),
        [(0, "one".to_string()), (0, "two".to_string())]
    );
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        before
    );
    assert_eq!(fails(&mut s, "RETURN 1;").number, 178);
    // The session is usable, and the next batch runs in full.
    assert_eq!(texts(&one(&mut s, "SELECT 5", &[])), ["5"]);
}

#[test]
fn rollback_in_if_then_raiserror_and_return() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let before = scalar(
        &e,
        "SELECT COUNT(*) FROM dbo.Queues WHERE OwnerPoolId IS NULL",
    );
    let items = s.execute(
        "SET XACT_ABORT ON;
         DECLARE @rows bigint;
         BEGIN TRANSACTION;
         UPDATE dbo.Queues SET OwnerPoolId = NEWID() WHERE OwnerPoolId IS NULL;
         SET @rows = @@ROWCOUNT;
         IF @rows <> 1
         BEGIN
             ROLLBACK TRANSACTION;
             RAISERROR(N'changed %I64d', 16, 1, @rows);
             RETURN;
         END;
         COMMIT TRANSACTION;",
        &[],
    );
    let errs = errors(&items);
    assert_eq!(errs.len(), 1, "{items:?}");
    let Value::Int(n) = before else {
        panic!("{before:?}")
    };
    assert_eq!(errs[0].message, format!("changed {n}"));
    assert!(s.transaction().is_none());
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.Queues WHERE OwnerPoolId IS NULL"
        ),
        before
    );
}

#[test]
fn nocount_on_leaves_counts_out() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let items = ok(
        &mut s,
        "SET NOCOUNT ON;
         DECLARE @rows bigint;
         SELECT @rows = COUNT_BIG(*) FROM dbo.AgentGroups WITH (UPDLOCK, HOLDLOCK) WHERE OwnerPoolId IS NULL;
         UPDATE dbo.AgentGroups SET Name = Name WHERE OwnerPoolId IS NULL;
         SET @rows = @@ROWCOUNT;
         SELECT @rows;",
        &[],
    );
    assert!(
        items.iter().all(|i| !matches!(
            i,
            Item::Done {
                rows_affected: Some(_)
            }
        )),
        "{items:?}"
    );
    assert_eq!(texts(rows(&items)[0]), ["9"]);
    let items = ok(
        &mut s,
        "SET NOCOUNT OFF; UPDATE dbo.AgentGroups SET Name = Name;",
        &[],
    );
    assert!(items.contains(&Item::Done {
        rows_affected: Some(12)
    }));
}
