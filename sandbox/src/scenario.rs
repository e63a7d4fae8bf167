//! The scenario scripts of `sql/fixtures/`, compiled in so that the sandbox
//! binary is self-contained. They are the same files docker-compose loads
//! into a real SQL Server with sqlcmd.

use crate::engine::Engine;

/// `sql/fixtures/schema.sql`: the tables, loaded before any scenario.
pub const SCHEMA: &str = include_str!("../../sql/fixtures/schema.sql");

const SCENARIOS: &[(&str, &str)] = &[
    ("migrated", include_str!("../../sql/fixtures/migrated.sql")),
    ("healthy", include_str!("../../sql/fixtures/healthy.sql")),
    (
        "multi-pool",
        include_str!("../../sql/fixtures/multi-pool.sql"),
    ),
    ("dangling", include_str!("../../sql/fixtures/dangling.sql")),
    ("triggers", include_str!("../../sql/fixtures/triggers.sql")),
    (
        "case-sensitive",
        include_str!("../../sql/fixtures/case-sensitive.sql"),
    ),
    (
        "empty-pool",
        include_str!("../../sql/fixtures/empty-pool.sql"),
    ),
    ("unlinked", include_str!("../../sql/fixtures/unlinked.sql")),
];

const NAMES: &[&str] = &[
    "migrated",
    "healthy",
    "multi-pool",
    "dangling",
    "empty-pool",
    "triggers",
    "unlinked",
    "case-sensitive",
];

/// The scenario names, in the order they are documented.
pub fn names() -> &'static [&'static str] {
    NAMES
}

/// The script of scenario `name`, if it exists.
pub fn script(name: &str) -> Option<&'static str> {
    SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The script of scenario `name`, or an error listing the names.
pub fn lookup(name: &str) -> anyhow::Result<&'static str> {
    script(name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown scenario '{name}'; known scenarios: {}",
            names().join(", ")
        )
    })
}

/// Adds `n` rows to `dbo.AgentGroups` of `database`, all without an owner
/// pool (`OwnerPoolId` NULL): unique IDs, names `Extra Group 0000001`...,
/// valid routing settings. The table must exist (`schema.sql`).
///
/// One SQLite statement writes them all (T-SQL batches would take minutes
/// for a million rows), in the engine's stored form of a GUID (see
/// `engine::datatype`): the IDs share a random GUID but for their last
/// group, a counter, so they ascend in uniqueidentifier order (whose most
/// significant part is the last group, the first 12 digits of the stored
/// form): each goes at the end of the primary key's B-tree, found without
/// a search.
pub fn add_extra_objects(engine: &Engine, database: &str, n: u64) -> anyhow::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let conn = engine.raw_connection(database)?;
    // All but the last group, which the counter takes.
    let tail = crate::engine::guid_store_tail(&uuid::Uuid::new_v4());
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO \"dbo.AgentGroups\" (ID, Name, Description, RoutingMethod, AgentAlertTime, ParticipationPolicy, OwnerPoolId) \
         SELECT printf('%012X%s', ?3 + i, ?2), printf('Extra Group %07d', i), NULL, i % 4, 20, i % 2, NULL FROM n",
        rusqlite::params![n as i64, tail, 0xF000_0000_0000_i64],
    )?;
    Ok(())
}

/// Adds `n` object tables to `database`, `dbo.ExtraObjects01` and on (two
/// digits or more), each with a GUID key `ID`, a `Name` and an
/// `OwnerPoolId`, holding three rows without an owner pool: the "many
/// tables" case.
pub fn add_extra_tables(engine: &Engine, database: &str, n: u64) -> anyhow::Result<()> {
    let width = n.to_string().len().max(2);
    for t in 1..=n {
        let table = format!("ExtraObjects{t:0width$}");
        let rows: Vec<String> = (1..=3)
            .map(|r| {
                format!(
                    "('{}', N'{table} {r}', NULL)",
                    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
                )
            })
            .collect();
        let script = format!(
            "CREATE TABLE [dbo].[{table}] ([ID] uniqueidentifier NOT NULL, [Name] nvarchar(256) NOT NULL, [OwnerPoolId] uniqueidentifier NULL, CONSTRAINT [PK_{table}] PRIMARY KEY ([ID]));\nINSERT INTO [dbo].[{table}] ([ID], [Name], [OwnerPoolId]) VALUES {};\n",
            rows.join(", ")
        );
        engine
            .run_script(database, &script)
            .map_err(|e| anyhow::anyhow!("adding dbo.{table}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_script() {
        assert_eq!(names().len(), SCENARIOS.len());
        for n in names() {
            let s = script(n).unwrap();
            assert!(s.contains("SET NOCOUNT ON"), "{n}");
        }
        assert!(SCHEMA.contains("CREATE TABLE"));
    }

    #[test]
    fn unknown_scenario_lists_the_names() {
        assert!(script("nope").is_none());
        let e = lookup("nope").unwrap_err().to_string();
        assert!(e.contains("migrated") && e.contains("dangling"), "{e}");
    }
}
