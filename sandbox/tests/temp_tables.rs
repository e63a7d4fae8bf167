//! SQL Server's local temporary tables (`#name`): per session, usable
//! wherever a table is, transactional, written without the user
//! database's write lock, gone with their session. Engine-level first,
//! then through tiberius over TCP the way the product's undo uses them.

mod common;
mod tds_common;

use common::*;
use tds_common::{connect, Conn};

const CREATE_KEYS: &str =
    "CREATE TABLE #k ([ID] uniqueidentifier NOT NULL, [Pool] uniqueidentifier NULL, PRIMARY KEY ([ID]))";

fn count(s: &mut Session, sql: &str) -> i64 {
    match one(s, sql, &[]).rows[0][0] {
        Value::Int(n) => n,
        ref other => panic!("{sql}: {other:?}"),
    }
}

/// The IDs of the agent groups without an owner pool.
fn orphan_group_ids(s: &mut Session) -> Vec<Value> {
    one(
        s,
        "SELECT [ID] FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL ORDER BY [ID]",
        &[],
    )
    .rows
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect()
}

/// `INSERT INTO #k ([ID]) VALUES (@P1), (@P2)...` with its parameters.
fn insert_ids(ids: &[Value]) -> (String, Vec<Param>) {
    let values: Vec<String> = (1..=ids.len()).map(|i| format!("(@P{i})")).collect();
    let params = ids
        .iter()
        .enumerate()
        .map(|(i, v)| {
            param(
                &format!("@P{}", i + 1),
                SqlType::UniqueIdentifier,
                v.clone(),
            )
        })
        .collect();
    (
        format!("INSERT INTO #k ([ID]) VALUES {}", values.join(", ")),
        params,
    )
}

#[test]
fn filled_in_chunks_then_joined_and_used_to_update_in_later_requests() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let ids = orphan_group_ids(&mut s);
    assert_eq!(ids.len(), 9);
    ok(&mut s, CREATE_KEYS, &[]);
    for chunk in ids.chunks(4) {
        let (sql, params) = insert_ids(chunk);
        ok(&mut s, &sql, &params);
    }
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 9);
    // The join, under the locks the product's undo takes, in a transaction.
    ok(&mut s, "BEGIN TRANSACTION", &[]);
    let joined = count(
        &mut s,
        "SELECT COUNT(*) FROM [dbo].[AgentGroups] AS t WITH (UPDLOCK, HOLDLOCK) \
         JOIN #k AS k ON k.[ID] = t.[ID] WHERE t.[OwnerPoolId] IS NULL",
    );
    assert_eq!(joined, 9);
    let left = count(
        &mut s,
        "SELECT COUNT(*) FROM [dbo].[AgentGroups] AS t LEFT JOIN #k AS k ON k.[ID] = t.[ID] \
         WHERE k.[ID] IS NULL",
    );
    assert_eq!(left, 3);
    let pool = Value::Guid(guid("5f1c1a2b-0000-4000-8000-000000000001"));
    let items = ok(
        &mut s,
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = @P1 \
         WHERE EXISTS (SELECT 1 FROM #k AS k WHERE k.[ID] = [dbo].[AgentGroups].[ID])",
        &[param("@P1", SqlType::UniqueIdentifier, pool.clone())],
    );
    assert!(items.contains(&Item::Done {
        rows_affected: Some(9)
    }));
    let items = ok(
        &mut s,
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = NULL \
         WHERE [ID] IN (SELECT k.[ID] FROM #k AS k)",
        &[],
    );
    assert!(items.contains(&Item::Done {
        rows_affected: Some(9)
    }));
    ok(&mut s, "COMMIT TRANSACTION", &[]);
    // INSERT ... SELECT from a user table, DELETE and DROP.
    ok(&mut s, "DELETE FROM #k", &[]);
    ok(
        &mut s,
        "INSERT INTO #k ([ID], [Pool]) SELECT t.[ID], t.[OwnerPoolId] FROM [dbo].[AgentGroups] AS t",
        &[],
    );
    assert_eq!(
        count(&mut s, "SELECT COUNT(*) FROM #k WHERE [Pool] IS NULL"),
        9
    );
    ok(&mut s, "DROP TABLE #k", &[]);
    assert_eq!(fails(&mut s, "SELECT COUNT(*) FROM #k").number, 208);
    // As in SQL Server, a statement naming a table dropped earlier in the
    // batch fails when it runs: the DROP before it has happened.
    ok(&mut s, CREATE_KEYS, &[]);
    let items = s.execute("DROP TABLE #k; SELECT COUNT(*) FROM #k", &[]);
    assert_eq!(errors(&items)[0].number, 208);
    let err = fails(&mut s, "DROP TABLE #k");
    assert_eq!(err.number, 3701);
}

#[test]
fn columns_typed_like_user_tables_with_their_collations() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    ok(
        &mut s,
        "CREATE TABLE #t ([G] uniqueidentifier NULL, [I] int NULL, [B] bigint NULL, \
         [S] smallint NULL, [T] tinyint NULL, [F] bit NULL, \
         [N] nvarchar(256) COLLATE DATABASE_DEFAULT NOT NULL)",
        &[],
    );
    ok(
        &mut s,
        "INSERT INTO #t ([G], [I], [B], [S], [T], [F], [N]) \
         SELECT [ID], 1, 2, 3, 4, 1, UPPER([Name]) FROM [dbo].[AgentGroups]",
        &[],
    );
    let rs = one(
        &mut s,
        "SELECT TOP 1 [G], [I], [B], [S], [T], [F], [N] FROM #t",
        &[],
    );
    let types: Vec<SqlType> = rs.columns.iter().map(|c| c.ty).collect();
    assert_eq!(
        types,
        vec![
            SqlType::UniqueIdentifier,
            SqlType::Int,
            SqlType::BigInt,
            SqlType::SmallInt,
            SqlType::TinyInt,
            SqlType::Bit,
            SqlType::NVarChar(Some(256)),
        ]
    );
    // Case-insensitive, as the user table's names are compared (the
    // database's collation: another one would conflict, error 468, as on
    // SQL Server, which is why temporary tables take DATABASE_DEFAULT).
    assert_eq!(
        count(
            &mut s,
            "SELECT COUNT(*) FROM #t AS k JOIN [dbo].[AgentGroups] AS t ON t.[Name] = k.[N] AND t.[ID] = k.[G]"
        ),
        12
    );
    assert_eq!(fails(&mut s, "INSERT INTO #t ([I]) VALUES (1)").number, 515);
    // UPDATE ... FROM ... JOIN is not implemented: refused, not guessed at.
    let err = fails(
        &mut s,
        "UPDATE t SET [Description] = NULL FROM [dbo].[AgentGroups] AS t JOIN #t AS k ON k.[G] = t.[ID]",
    );
    assert_eq!(err.number, 102);
}

#[test]
fn visible_only_to_its_own_session_and_gone_with_it() {
    let e = engine_with(Some("migrated"));
    let mut a = session(&e);
    let mut b = session(&e);
    ok(&mut a, CREATE_KEYS, &[]);
    let err = fails(&mut b, "SELECT COUNT(*) FROM #k");
    assert_eq!(
        (err.number, err.message.as_str()),
        (208, "Invalid object name '#k'.")
    );
    // Another session makes its own, with other columns.
    ok(&mut b, "CREATE TABLE #k ([N] int NOT NULL)", &[]);
    ok(&mut b, "INSERT INTO #k ([N]) VALUES (1), (2)", &[]);
    assert_eq!(count(&mut a, "SELECT COUNT(*) FROM #k"), 0);
    assert_eq!(count(&mut b, "SELECT COUNT(*) FROM #k"), 2);
    // Not in the database's catalog.
    assert_eq!(
        count(
            &mut a,
            "SELECT COUNT(*) FROM sys.tables WHERE name LIKE N'#%'"
        ),
        0
    );
    // A session reset (sp_reset_connection) drops them.
    b.reset();
    assert_eq!(fails(&mut b, "SELECT COUNT(*) FROM #k").number, 208);
    // So does the end of the session.
    drop(a);
    let mut c = session(&e);
    assert_eq!(fails(&mut c, "SELECT COUNT(*) FROM #k").number, 208);
}

#[test]
fn sql_server_errors_for_a_second_create_too_many_rows_and_global_tables() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    ok(&mut s, CREATE_KEYS, &[]);
    let err = fails(&mut s, "CREATE TABLE #k ([N] int)");
    assert_eq!(
        (err.number, err.severity, err.message.as_str()),
        (
            2714,
            16,
            "There is already an object named '#k' in the database."
        )
    );
    let ids: Vec<Value> = (0..1001u128)
        .map(|i| Value::Guid(uuid::Uuid::from_u128(i + 1)))
        .collect();
    let (sql, params) = insert_ids(&ids);
    let items = s.execute(&sql, &params);
    let err = errors(&items)[0];
    assert_eq!(
        (err.number, err.severity, err.message.as_str()),
        (
            10738,
            15,
            "The number of row value expressions in the INSERT statement exceeds the maximum allowed number of 1000 row values."
        )
    );
    let (sql, params) = insert_ids(&ids[..1000]);
    ok(&mut s, &sql, &params);
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 1000);
    // The primary key holds; the failed statement leaves no row behind.
    let (sql, params) = insert_ids(&[Value::Guid(uuid::Uuid::from_u128(5000)), ids[0].clone()]);
    let items = s.execute(&sql, &params);
    let err = errors(&items)[0];
    assert_eq!(err.number, 2627, "{err:?}");
    assert!(
        err.message.contains("00000000-0000-0000-0000-000000000001"),
        "{err:?}"
    );
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 1000);
    assert_eq!(fails(&mut s, "CREATE TABLE ##g ([N] int)").number, 40516);
    assert_eq!(fails(&mut s, "DROP TABLE #nothing").number, 3701);
    // Forms the sandbox does not implement are refused, not guessed at.
    for sql in [
        "CREATE INDEX ix ON #k ([Pool])",
        "SELECT [ID] INTO #x FROM [dbo].[AgentGroups]",
        "TRUNCATE TABLE #k",
        "CREATE TABLE dbo.#x ([N] int)",
    ] {
        let err = fails(&mut s, sql);
        assert_eq!(err.number, 102, "{sql}: {err:?}");
    }
}

#[test]
fn object_id_in_tempdb_and_drop_if_exists() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let probe = "SELECT CASE WHEN OBJECT_ID(N'tempdb..#k') IS NULL THEN 0 ELSE 1 END";
    assert_eq!(count(&mut s, probe), 0);
    ok(&mut s, CREATE_KEYS, &[]);
    assert_eq!(count(&mut s, probe), 1);
    // Quoted the way QUOTENAME quotes it, it is the same table.
    ok(&mut s, "INSERT INTO [#k] ([ID]) VALUES (NEWID())", &[]);
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #K"), 1);
    // Only in tempdb, as in SQL Server.
    assert_eq!(
        count(
            &mut s,
            "SELECT CASE WHEN OBJECT_ID(N'#k') IS NULL THEN 0 ELSE 1 END"
        ),
        0
    );
    let drop_if = "IF OBJECT_ID(N'tempdb..#k') IS NOT NULL DROP TABLE #k";
    ok(&mut s, drop_if, &[]);
    assert_eq!(count(&mut s, probe), 0);
    ok(&mut s, drop_if, &[]);
    // The idiom the undo needs in one batch: drop if present, create.
    ok(&mut s, &format!("{drop_if}; {CREATE_KEYS}"), &[]);
    ok(&mut s, &format!("{drop_if}; {CREATE_KEYS}"), &[]);
    assert_eq!(count(&mut s, probe), 1);
}

#[test]
fn rollback_undoes_rows_creates_and_drops() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let ids = orphan_group_ids(&mut s);
    ok(&mut s, CREATE_KEYS, &[]);
    let (sql, params) = insert_ids(&ids[..2]);
    ok(&mut s, &sql, &params);
    // Rows written before the transaction holds the write lock...
    ok(&mut s, "BEGIN TRANSACTION", &[]);
    let (sql, params) = insert_ids(&ids[2..5]);
    ok(&mut s, &sql, &params);
    ok(
        &mut s,
        "DELETE FROM #k WHERE [ID] = @P1",
        &[param("@P1", SqlType::UniqueIdentifier, ids[0].clone())],
    );
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 4);
    // ... and after it.
    ok(&mut s, "UPDATE [dbo].[Queues] SET [Name] = [Name]", &[]);
    let (sql, params) = insert_ids(&ids[5..7]);
    ok(&mut s, &sql, &params);
    ok(&mut s, "CREATE TABLE #other ([N] int NOT NULL)", &[]);
    ok(&mut s, "ROLLBACK TRANSACTION", &[]);
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 2);
    assert_eq!(fails(&mut s, "SELECT COUNT(*) FROM #other").number, 208);

    // A table created inside a transaction before the lock, then rolled back.
    ok(
        &mut s,
        "BEGIN TRAN; CREATE TABLE #t ([N] int NOT NULL); INSERT INTO #t ([N]) VALUES (1); ROLLBACK",
        &[],
    );
    assert_eq!(fails(&mut s, "SELECT COUNT(*) FROM #t").number, 208);
    // A DROP rolled back brings the table back with its rows.
    ok(&mut s, "BEGIN TRAN; DROP TABLE #k; ROLLBACK", &[]);
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 2);
    // Committed work stays.
    ok(
        &mut s,
        "BEGIN TRAN; DELETE FROM #k; CREATE TABLE #c ([N] int); INSERT INTO #c VALUES (7); COMMIT",
        &[],
    );
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 0);
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #c"), 1);
    ok(&mut s, "BEGIN TRAN; DROP TABLE #c; COMMIT", &[]);
    assert_eq!(fails(&mut s, "SELECT COUNT(*) FROM #c").number, 208);
    // ROLLBACK TRANSACTION to a savepoint undoes a CREATE made after it.
    ok(
        &mut s,
        "BEGIN TRAN; UPDATE [dbo].[Queues] SET [Name] = [Name]; SAVE TRANSACTION s; \
         CREATE TABLE #s ([N] int); ROLLBACK TRANSACTION s",
        &[],
    );
    let err = fails(&mut s, "SELECT COUNT(*) FROM #s");
    assert_eq!(err.message, "Invalid object name '#s'.");
    ok(&mut s, "CREATE TABLE #s ([N] int); COMMIT", &[]);
    // XACT_ABORT's rollback undoes them too.
    ok(&mut s, "INSERT INTO #k ([ID]) VALUES (NEWID())", &[]);
    let items = s.execute(
        "SET XACT_ABORT ON; BEGIN TRAN; INSERT INTO #k ([ID]) VALUES (NEWID()); \
         INSERT INTO [dbo].[Queues] ([ID]) VALUES (NULL)",
        &[],
    );
    assert_eq!(errors(&items)[0].number, 515, "{items:?}");
    assert_eq!(count(&mut s, "SELECT @@TRANCOUNT"), 0);
    assert_eq!(count(&mut s, "SELECT COUNT(*) FROM #k"), 1);
}

#[test]
fn written_without_the_database_write_lock() {
    let e = engine_with(Some("migrated"));
    let mut holder = session(&e);
    let mut s = session(&e);
    // The holder writes Queues: it holds the database's write lock (and
    // Queues' table lock, so the reads below use AgentGroups).
    ok(
        &mut holder,
        "BEGIN TRAN; UPDATE [dbo].[Queues] SET [Description] = N'held'",
        &[],
    );
    ok(&mut s, "SET LOCK_TIMEOUT 0", &[]);
    // A user-table write fails at once: the lock is held...
    let err = fails(&mut s, "UPDATE [dbo].[Queues] SET [Name] = [Name]");
    assert_eq!(err.number, 1222);
    // ... yet the temporary table is created, filled, read and dropped,
    // outside a transaction and inside one.
    ok(&mut s, CREATE_KEYS, &[]);
    ok(
        &mut s,
        "INSERT INTO #k ([ID]) SELECT [ID] FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL",
        &[],
    );
    ok(&mut s, "DELETE FROM #k WHERE [Pool] IS NOT NULL", &[]);
    ok(
        &mut s,
        "BEGIN TRAN; INSERT INTO #k ([ID]) VALUES (NEWID()); UPDATE #k SET [Pool] = [ID]; ROLLBACK",
        &[],
    );
    assert_eq!(
        count(
            &mut s,
            "SELECT COUNT(*) FROM #k AS k JOIN [dbo].[AgentGroups] AS t ON t.[ID] = k.[ID] WHERE k.[Pool] IS NULL"
        ),
        9
    );
    ok(&mut s, "DROP TABLE #k", &[]);
    ok(&mut holder, "ROLLBACK", &[]);
}

// ----- over TCP, through tiberius ----------------------------------------

async fn scalar_i32(c: &mut Conn, sql: &str) -> i32 {
    tds_common::scalar_i32(c, sql).await.expect("a value")
}

#[tokio::test]
async fn through_tiberius_keys_sent_once_then_joined_under_locks() {
    let sb = tds_common::sandbox("migrated");
    let mut c = connect(&sb).await;
    let ids: Vec<uuid::Uuid> = c
        .simple_query("SELECT [ID] FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL")
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<uuid::Uuid, _>(0).unwrap())
        .collect();
    assert_eq!(ids.len(), 9);
    c.execute(
        "IF OBJECT_ID(N'tempdb..#k') IS NOT NULL DROP TABLE #k; \
         CREATE TABLE #k ([ID] uniqueidentifier NOT NULL, PRIMARY KEY ([ID]))",
        &[],
    )
    .await
    .unwrap();
    for chunk in ids.chunks(5) {
        let values: Vec<String> = (1..=chunk.len()).map(|i| format!("(@P{i})")).collect();
        let sql = format!("INSERT INTO #k ([ID]) VALUES {}", values.join(", "));
        let params: Vec<&dyn tiberius::ToSql> =
            chunk.iter().map(|g| g as &dyn tiberius::ToSql).collect();
        let r = c.execute(sql, &params).await.unwrap();
        assert_eq!(r.total(), chunk.len() as u64);
    }
    // Another connection neither sees it nor is hindered by it.
    let mut other = connect(&sb).await;
    let err = tds_common::run(&mut other, "SELECT COUNT(*) FROM #k")
        .await
        .unwrap_err();
    assert_eq!(tds_common::code(&err), 208);
    c.simple_query("BEGIN TRANSACTION").await.unwrap();
    let locked = scalar_i32(
        &mut c,
        "SELECT COUNT(*) FROM [dbo].[AgentGroups] AS t WITH (UPDLOCK, HOLDLOCK) \
         JOIN #k AS k ON k.[ID] = t.[ID] WHERE t.[OwnerPoolId] IS NULL",
    )
    .await;
    assert_eq!(locked, 9);
    let pool = uuid::Uuid::from_u128(0x5f1c);
    let r = c
        .execute(
            "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = @P1 \
             WHERE [ID] IN (SELECT k.[ID] FROM #k AS k)",
            &[&pool],
        )
        .await
        .unwrap();
    assert_eq!(r.total(), 9);
    c.simple_query("COMMIT TRANSACTION").await.unwrap();
    assert_eq!(
        tds_common::count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        0
    );
    // The connection's end drops it: a new connection cannot see it.
    drop(c);
    let mut again = connect(&sb).await;
    let err = tds_common::run(&mut again, "SELECT COUNT(*) FROM #k")
        .await
        .unwrap_err();
    assert_eq!(tds_common::code(&err), 208);
}

#[tokio::test]
async fn through_tiberius_filled_while_another_connection_holds_the_write_lock() {
    let sb = tds_common::sandbox("migrated");
    let mut holder = connect(&sb).await;
    holder
        .simple_query("BEGIN TRAN; UPDATE dbo.AgentGroups SET Description = N'held'")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    let mut c = connect(&sb).await;
    c.simple_query("SET LOCK_TIMEOUT 0").await.unwrap();
    c.execute(CREATE_KEYS, &[]).await.unwrap();
    let r = c
        .execute(
            "INSERT INTO #k ([ID]) SELECT [ID] FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.total(), 9);
    assert_eq!(scalar_i32(&mut c, "SELECT COUNT(*) FROM #k").await, 9);
    holder.simple_query("ROLLBACK").await.unwrap();
}
