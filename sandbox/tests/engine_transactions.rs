//! SQL Server's transaction and locking behaviour in the engine: lock
//! waits, XACT_ABORT, statement- and batch-aborting errors, @@TRANCOUNT,
//! savepoints, interrupts and scripts.

mod common;

use common::*;

#[test]
fn uncommitted_writes_block_readers_and_writers_until_lock_timeout() {
    let e = engine_with(Some("migrated"));
    let mut a = session(&e);
    let mut b = session(&e);
    ok(
        &mut a,
        "BEGIN TRAN; UPDATE dbo.Queues SET Name = N'changed' WHERE OwnerPoolId IS NULL",
        &[],
    );
    // A plain read of the written table waits for its lock (READ
    // COMMITTED without row versioning), here not at all: 1222. NOLOCK
    // does not wait and sees the committed data (SQL Server would read
    // the uncommitted rows); other tables are free.
    ok(&mut b, "SET LOCK_TIMEOUT 0", &[]);
    let items = b.execute(
        "SELECT COUNT(*) FROM dbo.Queues WHERE Name = N'changed'",
        &[],
    );
    assert_eq!(errors(&items)[0].number, 1222);
    let rs = one(
        &mut b,
        "SELECT COUNT(*) FROM dbo.Queues WITH (NOLOCK) WHERE Name = N'changed'",
        &[],
    );
    assert_eq!(rs.rows[0][0], Value::Int(0));
    one(&mut b, "SELECT COUNT(*) FROM dbo.Agents", &[]);
    let rs = one(
        &mut a,
        "SELECT COUNT(*) FROM dbo.Queues WHERE Name = N'CHANGED'",
        &[],
    );
    assert_eq!(rs.rows[0][0], Value::Int(9));
    // A second writer waits for its lock timeout, then fails with 1222.
    ok(&mut b, "SET LOCK_TIMEOUT 200", &[]);
    let start = Instant::now();
    let items = b.execute(
        "UPDATE dbo.Agents SET DisplayName = N'x'; SELECT @@TRANCOUNT AS tc",
        &[],
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let err = errors(&items)[0];
    assert_eq!((err.number, err.severity, err.state), (1222, 16, 51));
    assert_eq!(err.message, "Lock request time out period exceeded.");
    // Statement-level: the batch went on.
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(0));
    // So does a locking read inside a transaction, and NOWAIT fails at once.
    let items = b.execute(
        "BEGIN TRAN; SELECT ID FROM dbo.Queues WITH (UPDLOCK, HOLDLOCK) WHERE OwnerPoolId IS NULL",
        &[],
    );
    assert_eq!(errors(&items)[0].number, 1222);
    ok(&mut b, "ROLLBACK", &[]);
    let start = Instant::now();
    let items = b.execute(
        "SET LOCK_TIMEOUT -1; DELETE FROM dbo.Agents WITH (NOWAIT) WHERE 1 = 0",
        &[],
    );
    assert_eq!(errors(&items)[0].number, 1222);
    assert!(start.elapsed() < Duration::from_millis(150));
    // With no timeout (-1) the writer waits until the first commits.
    let handle = std::thread::spawn(move || {
        let items = b.execute(
            "UPDATE dbo.Queues SET Description = N'after' WHERE Name = N'changed'",
            &[],
        );
        (items, b)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!handle.is_finished());
    ok(&mut a, "COMMIT TRANSACTION", &[]);
    let (items, _b) = handle.join().unwrap();
    assert_eq!(
        items,
        vec![Item::Done {
            rows_affected: Some(9)
        }]
    );
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.Queues WHERE Description = 'after'"
        ),
        Value::Int(9)
    );
}

#[test]
fn xact_abort_rolls_back_and_aborts_the_batch() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let dup = "INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES ('292CE760-0931-5108-91AE-08CD2BFAD04C', N'again')";
    let items = s.execute(
        &format!("SET XACT_ABORT ON; BEGIN TRAN; UPDATE dbo.Agents SET DisplayName = N'gone'; {dup}; SELECT 1"),
        &[],
    );
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| match i {
            Item::Error(_) => "error",
            Item::Tx(TxChange::Begin(_)) => "begin",
            Item::Tx(TxChange::Rollback(_)) => "rollback",
            Item::Tx(TxChange::Commit(_)) => "commit",
            Item::Rows(_) => "rows",
            Item::Done { .. } => "done",
            Item::DoneInProc { .. } => "doneinproc",
            Item::Info { .. } => "info",
        })
        .collect();
    assert_eq!(
        kinds,
        ["done", "begin", "done", "done", "error", "rollback"]
    );
    let err = errors(&items)[0];
    assert_eq!(err.number, 2627);
    assert_eq!(err.line, 1);
    assert_eq!(s.transaction(), None);
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.Agents WHERE DisplayName = N'gone'"
        ),
        Value::Int(0)
    );
    let rs = one(&mut s, "SELECT @@TRANCOUNT", &[]);
    assert_eq!(rs.rows[0][0], Value::Int(0));
}

#[test]
fn statement_level_errors_leave_the_transaction_open() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let items = s.execute(
        "SET XACT_ABORT OFF
         BEGIN TRAN
         UPDATE dbo.Agents SET DisplayName = N'kept' WHERE SipAddress = N'sip:alice.jones@contoso.com'
         INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES ('292ce760-0931-5108-91ae-08cd2bfad04c', N'again')
         INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), NULL)
         INSERT INTO dbo.Queues (ID, Name) VALUES ('not-a-guid', N'q')
         INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES (NEWID(), REPLICATE_IS_NOT_HERE)
         SELECT @@TRANCOUNT",
        &[],
    );
    // The last INSERT does not compile, so nothing of the batch ran.
    let errs = errors(&items);
    assert_eq!(errs.len(), 1, "{items:?}");
    assert_eq!(errs[0].number, 207);
    assert_eq!(s.transaction(), None);
    ok(&mut s, "BEGIN TRAN", &[]);
    let items = s.execute(
        "UPDATE dbo.Agents SET DisplayName = N'kept' WHERE SipAddress = N'sip:alice.jones@contoso.com'
         INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES ('292ce760-0931-5108-91ae-08cd2bfad04c', N'again')
         INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), NULL)
         INSERT INTO dbo.Queues (ID, Name) VALUES ('not-a-guid', N'q')
         INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), N'this name is far too long for its column........................................................................................................................................................................................................................................!')
         SELECT @@TRANCOUNT",
        &[],
    );
    let errs = errors(&items);
    assert_eq!(errs.len(), 4, "{items:?}");
    assert_eq!(
        (errs[0].number, errs[0].severity, errs[0].line, errs[0].message.as_str()),
        (
            2627,
            14,
            2,
            "Violation of PRIMARY KEY constraint 'PK_OwnerPool'. Cannot insert duplicate key in object 'dbo.OwnerPool'. The duplicate key value is (292ce760-0931-5108-91ae-08cd2bfad04c)."
        )
    );
    assert_eq!(
        (errs[1].number, errs[1].message.as_str()),
        (515, "Cannot insert the value NULL into column 'Name', table 'rgsconfig.dbo.Queues'; column does not allow nulls. INSERT fails.")
    );
    assert_eq!(
        (errs[2].number, errs[2].message.as_str()),
        (
            8169,
            "Conversion failed when converting from a character string to uniqueidentifier."
        )
    );
    assert_eq!((errs[3].number, errs[3].line), (2628, 5));
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(1));
    assert!(s.transaction().is_some());
    ok(&mut s, "COMMIT", &[]);
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.Agents WHERE DisplayName = 'kept'"
        ),
        Value::Int(1)
    );
}

#[test]
fn truncation_and_composite_duplicates() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let long = "x".repeat(300);
    let err = fails(
        &mut s,
        &format!("INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), N'{long}')"),
    );
    assert_eq!(err.number, 2628);
    assert!(err.message.starts_with(
        "String or binary data would be truncated in table 'rgsconfig.dbo.Queues', column 'Name'."
    ));
    let pair = e
        .query(
            "rgsconfig",
            "SELECT TOP 1 GroupId, AgentId FROM dbo.AgentGroupAgents",
        )
        .unwrap();
    let (Value::Guid(g), Value::Guid(a)) = (&pair.rows[0][0], &pair.rows[0][1]) else {
        panic!()
    };
    let err = fails(
        &mut s,
        &format!("INSERT INTO dbo.AgentGroupAgents VALUES ('{g}', '{a}', 9)"),
    );
    assert_eq!(err.number, 2627);
    assert!(
        err.message
            .ends_with(&format!("The duplicate key value is ({g}, {a}).")),
        "{}",
        err.message
    );
    // Duplicates within one statement are found as well.
    let err = fails(
        &mut s,
        "INSERT INTO dbo.DbConfigInt (Name, Value) VALUES (N'a', 1), (N'A', 2)",
    );
    assert!(
        err.message.ends_with("The duplicate key value is (A)."),
        "{}",
        err.message
    );
}

#[test]
fn trancount_nesting_and_unmatched_commit_rollback() {
    let e = engine_with(None);
    let mut s = session(&e);
    let items = ok(
        &mut s,
        "BEGIN TRAN; BEGIN TRANSACTION; SELECT @@TRANCOUNT AS n",
        &[],
    );
    let begins: Vec<_> = items.iter().filter(|i| matches!(i, Item::Tx(_))).collect();
    assert_eq!(begins.len(), 1);
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(2));
    assert_eq!(rows(&items)[0].columns[0].ty, SqlType::Int);
    let items = ok(&mut s, "COMMIT; SELECT @@TRANCOUNT", &[]);
    assert!(!items.iter().any(|i| matches!(i, Item::Tx(_))));
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(1));
    let items = ok(&mut s, "COMMIT TRAN", &[]);
    assert!(matches!(items[0], Item::Tx(TxChange::Commit(_))));
    let err = fails(&mut s, "COMMIT");
    assert_eq!(
        (err.number, err.message.as_str()),
        (
            3902,
            "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."
        )
    );
    let err = fails(&mut s, "ROLLBACK TRANSACTION");
    assert_eq!(err.number, 3903);
    // Nested BEGINs are rolled back all at once; descriptors are fresh.
    let i1 = ok(&mut s, "BEGIN TRAN; BEGIN TRAN; ROLLBACK", &[]);
    let i2 = ok(&mut s, "BEGIN TRAN", &[]);
    let (Item::Tx(TxChange::Begin(t1)), Item::Tx(TxChange::Begin(t2))) = (&i1[0], &i2[0]) else {
        panic!()
    };
    assert_ne!(t1, t2);
    assert!(i1.contains(&Item::Tx(TxChange::Rollback(*t1))));
    // The transaction manager requests behave the same.
    let items = s.commit_transaction();
    assert_eq!(items, vec![Item::Tx(TxChange::Commit(*t2))]);
    let items = s.begin_transaction();
    let Item::Tx(TxChange::Begin(t3)) = items[0] else {
        panic!()
    };
    assert_eq!(s.transaction(), Some(t3));
    assert_eq!(
        s.rollback_transaction(),
        vec![Item::Tx(TxChange::Rollback(t3))]
    );
    // reset() rolls back and restores the defaults.
    ok(
        &mut s,
        "SET NOCOUNT ON; BEGIN TRAN; INSERT INTO dbo.DbConfigInt VALUES (N'r', 1)",
        &[],
    );
    s.reset();
    assert_eq!(s.transaction(), None);
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.DbConfigInt"),
        Value::Int(0)
    );
    let items = ok(&mut s, "INSERT INTO dbo.DbConfigInt VALUES (N'r', 1)", &[]);
    assert_eq!(
        items,
        vec![Item::Done {
            rows_affected: Some(1)
        }]
    );
}

#[test]
fn interrupt_stops_the_running_statement_and_keeps_the_transaction() {
    let e = engine_with(None);
    let mut s = session(&e);
    ok(
        &mut s,
        "BEGIN TRAN; INSERT INTO dbo.DbConfigInt VALUES (N'kept', 1)",
        &[],
    );
    let stop = s.interrupter();
    let handle = std::thread::spawn(move || {
        let start = Instant::now();
        let items = s.execute("WAITFOR DELAY '00:00:05'; SELECT 1", &[]);
        (items, start.elapsed(), s)
    });
    std::thread::sleep(Duration::from_millis(100));
    stop.interrupt();
    let (items, took, mut s) = handle.join().unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(errors(&items)[0].number, CANCELLED);
    assert!(rows(&items).is_empty());
    // The next batch runs normally, in the same transaction.
    let rs = one(
        &mut s,
        "SELECT @@TRANCOUNT, COUNT(*) FROM dbo.DbConfigInt",
        &[],
    );
    assert_eq!(rs.rows[0], vec![Value::Int(1), Value::Int(1)]);
    ok(&mut s, "ROLLBACK", &[]);
}

#[test]
fn scripts_report_the_failing_line_and_files_persist() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let err = e
        .run_script(
            "rgsconfig",
            "CREATE TABLE dbo.T (A int)\nGO\n\nINSERT INTO dbo.T VALUES (1)\nSELEC 2\nGO\n",
        )
        .unwrap_err();
    assert_eq!((err.number, err.line), (102, 5));
    assert_eq!(e.run_script("nope", "SELECT 1").unwrap_err().number, 4060);
    assert_eq!(e.open_session("nope").err().unwrap().number, 4060);
    e.run_script("rgsconfig", "INSERT INTO dbo.T VALUES (2)\nGO 3")
        .unwrap();
    assert_eq!(scalar(&e, "SELECT COUNT(*) FROM dbo.T"), Value::Int(3));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rgs.sqlite");
    {
        let e = Engine::new().unwrap();
        assert!(e.attach_database("rgsconfig", Some(&file)).unwrap());
        e.run_script("rgsconfig", &read("sql/fixtures/schema.sql"))
            .unwrap();
        e.run_script("rgsconfig", &read("sql/fixtures/dangling.sql"))
            .unwrap();
    }
    let e = Engine::new().unwrap();
    assert!(!e.attach_database("rgsconfig", Some(&file)).unwrap());
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.Agents"),
        Value::Int(20)
    );
    // USE switches the session's database.
    let mut s = e.open_session("master").unwrap();
    let items = ok(&mut s, "USE rgsconfig; SELECT DB_NAME()", &[]);
    assert!(items.contains(&Item::Info {
        number: 5701,
        message: "Changed database context to 'rgsconfig'.".into()
    }));
    assert_eq!(s.database(), "rgsconfig");
    assert_eq!(rows(&items)[0].rows[0][0], Value::Text("rgsconfig".into()));
}

#[test]
fn savepoints_and_named_transactions() {
    let e = engine_with(None);
    let mut s = session(&e);
    let items = ok(
        &mut s,
        "BEGIN TRAN outer_tx
         SAVE TRANSACTION before_writes
         INSERT INTO dbo.DbConfigInt VALUES (N'a', 1)
         SAVE TRAN [after a]
         INSERT INTO dbo.DbConfigInt VALUES (N'b', 2)
         ROLLBACK TRANSACTION [after a]
         SELECT Name FROM dbo.DbConfigInt
         ROLLBACK TRAN before_writes
         SELECT COUNT(*), @@TRANCOUNT FROM dbo.DbConfigInt
         INSERT INTO dbo.DbConfigInt VALUES (N'c', 3)
         COMMIT TRAN outer_tx",
        &[],
    );
    let r = rows(&items);
    assert_eq!(r[0].rows, vec![vec![Value::Text("a".into())]]);
    assert_eq!(r[1].rows, vec![vec![Value::Int(0), Value::Int(1)]]);
    assert!(matches!(
        items.iter().rev().find(|i| matches!(i, Item::Tx(_))),
        Some(Item::Tx(TxChange::Commit(_)))
    ));
    assert_eq!(
        scalar(&e, "SELECT Name FROM dbo.DbConfigInt"),
        Value::Text("c".into())
    );
    assert_eq!(fails(&mut s, "SAVE TRAN x").number, 628);
    // Rolling back to the outer transaction's name ends it.
    let items = ok(
        &mut s,
        "BEGIN TRAN t; INSERT INTO dbo.DbConfigInt VALUES (N'd', 4); ROLLBACK TRAN t",
        &[],
    );
    assert!(items
        .iter()
        .any(|i| matches!(i, Item::Tx(TxChange::Rollback(_)))));
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.DbConfigInt"),
        Value::Int(1)
    );
}
