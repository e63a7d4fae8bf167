//! The scenario scripts of `sql/fixtures/`, compiled in so that the sandbox
//! binary is self-contained. They are the same files docker-compose loads
//! into a real SQL Server with sqlcmd.

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
