//! The findings catalogue: every code `check` can report, with its
//! severity, a title and a one-line remedy naming the tool to use. Pure
//! data. A code, once published, keeps its meaning and is never reused:
//! a retired finding stays here marked `retired`. `docs/findings.md` lists
//! the same codes (a unit test keeps the two in step).

use schemars::JsonSchema;
use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; often legitimate.
    Info,
    /// Suspect; look before changing anything.
    Warning,
    /// The defect the tool exists for, or one that stops the repair.
    Error,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The severity a word names, case-insensitively.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// One entry of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    /// `RGS001`...
    pub code: &'static str,
    /// How bad.
    pub severity: Severity,
    /// What it means, in a few words.
    pub title: &'static str,
    /// What to do, naming the tool.
    pub remedy: &'static str,
    /// No longer reported; kept so that the code is never reused.
    pub retired: bool,
}

const fn code(
    code: &'static str,
    severity: Severity,
    title: &'static str,
    remedy: &'static str,
) -> Code {
    Code {
        code,
        severity,
        title,
        remedy,
        retired: false,
    }
}

/// Objects whose owner is NULL.
pub const NULL_OWNER: &str = "RGS001";
/// Objects whose owner names no pool.
pub const DANGLING_OWNER: &str = "RGS002";
/// `dbo.OwnerPool` is empty.
pub const NO_OWNER_POOLS: &str = "RGS003";
/// A table `fix` cannot repair row by row.
pub const UNFIXABLE: &str = "RGS004";
/// A workflow without a line URI.
pub const NO_LINE_URI: &str = "RGS005";
/// An agent in no agent group.
pub const AGENT_IN_NO_GROUP: &str = "RGS006";
/// An agent group no queue uses.
pub const GROUP_IN_NO_QUEUE: &str = "RGS007";
/// A queue no workflow uses.
pub const QUEUE_IN_NO_WORKFLOW: &str = "RGS008";
/// An owner pool that owns nothing.
pub const IDLE_POOL: &str = "RGS009";
/// The links between objects are not declared.
pub const LINKS_NOT_DECLARED: &str = "RGS010";

/// Every code, in order.
pub const CATALOGUE: &[Code] = &[
    code(
        NULL_OWNER,
        Severity::Error,
        "objects without an owner pool (OwnerPoolId is NULL)",
        "run `rgs-repair fix --dry-run`, then `rgs-repair fix`",
    ),
    code(
        DANGLING_OWNER,
        Severity::Error,
        "objects owned by a pool that is not in dbo.OwnerPool",
        "re-import them with `Import-CsRgsConfiguration -OverwriteOwner` (or move them with `Move-CsRgsConfiguration`); `rgs-repair fix` does not change them",
    ),
    code(
        NO_OWNER_POOLS,
        Severity::Error,
        "dbo.OwnerPool has no row",
        "register the pool in the topology (Topology Builder, `Publish-CsTopology`, `Enable-CsTopology`); the tool cannot choose an owner",
    ),
    code(
        UNFIXABLE,
        Severity::Error,
        "a table with objects without owner that fix cannot change row by row",
        "change those objects with the `Set-CsRgs*` cmdlets, or export and re-import them (`Export-CsRgsConfiguration`, `Import-CsRgsConfiguration -OverwriteOwner`)",
    ),
    code(
        NO_LINE_URI,
        Severity::Info,
        "a workflow without a line URI (tel URI)",
        "if callers should reach it by phone, give it a number with `Set-CsRgsWorkflow -LineUri`; the tool does not invent numbers",
    ),
    code(
        AGENT_IN_NO_GROUP,
        Severity::Info,
        "an agent in no agent group",
        "add the agent to a group with `Set-CsRgsAgentGroup` (AgentsByUri), or leave it",
    ),
    code(
        GROUP_IN_NO_QUEUE,
        Severity::Info,
        "an agent group no queue uses",
        "use it in a queue with `Set-CsRgsQueue` (AgentGroupIDList), or remove it with `Remove-CsRgsAgentGroup`",
    ),
    code(
        QUEUE_IN_NO_WORKFLOW,
        Severity::Info,
        "a queue no workflow uses",
        "use it in a workflow with `Set-CsRgsWorkflow` (DefaultAction), or remove it with `Remove-CsRgsQueue`",
    ),
    code(
        IDLE_POOL,
        Severity::Warning,
        "an owner pool that owns no object",
        "check the pool with `Get-CsPool`; a pool removed from the topology leaves its row, which the tool never removes",
    ),
    code(
        LINKS_NOT_DECLARED,
        Severity::Info,
        "links between agents, groups, queues and workflows are not declared (sys.foreign_keys)",
        "none needed: RGS006-RGS008 are checked only where the catalog declares the links (`sys.foreign_keys`); `rgs-repair` does not guess them",
    ),
];

/// The entry of a code.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CATALOGUE.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// What `--fail-on` selects: codes, or severities (that severity and worse).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// One code.
    Code(&'static str),
    /// This severity or worse.
    AtLeast(Severity),
}

impl FailOn {
    /// `RGS001`, `error`, `warning` or `info`; None for anything else.
    pub fn parse(s: &str) -> Option<FailOn> {
        let s = s.trim();
        if let Some(sev) = Severity::parse(s) {
            return Some(FailOn::AtLeast(sev));
        }
        lookup(s).map(|c| FailOn::Code(c.code))
    }

    /// Whether a finding with this code fails `check`.
    pub fn matches(&self, code: &str) -> bool {
        match self {
            FailOn::Code(c) => c.eq_ignore_ascii_case(code),
            FailOn::AtLeast(sev) => lookup(code).is_some_and(|c| c.severity >= *sev),
        }
    }
}

/// Whether any of `codes` fails `check` under `fail_on` (empty: the
/// default, every error, which keeps the exit codes from before codes).
pub fn fails(fail_on: &[FailOn], codes: &[&str]) -> bool {
    let default = [FailOn::AtLeast(Severity::Error)];
    let sel = if fail_on.is_empty() {
        &default[..]
    } else {
        fail_on
    };
    codes.iter().any(|c| sel.iter().any(|f| f.matches(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for c in CATALOGUE {
            assert!(seen.insert(c.code), "{} reused", c.code);
            assert!(
                c.code.len() == 6
                    && c.code.starts_with("RGS")
                    && c.code[3..].chars().all(|d| d.is_ascii_digit()),
                "{}",
                c.code
            );
            assert!(
                c.remedy.contains('`'),
                "{}: the remedy names a tool",
                c.code
            );
        }
        // Numbered in order, none skipped: a gap would be a reused slot.
        for (n, c) in CATALOGUE.iter().enumerate() {
            assert_eq!(c.code, format!("RGS{:03}", n + 1));
        }
    }

    #[test]
    fn the_docs_list_every_code_as_the_catalogue_says() {
        let docs = include_str!("../docs/findings.md");
        let rows: Vec<&str> = docs.lines().filter(|l| l.starts_with("| RGS")).collect();
        assert_eq!(rows.len(), CATALOGUE.len(), "one row per code");
        for (row, c) in rows.iter().zip(CATALOGUE) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells[1], c.code);
            assert_eq!(cells[2], c.severity.as_str(), "{}", c.code);
            assert_eq!(cells[3], c.title, "{}", c.code);
            assert_eq!(cells[4], c.remedy, "{}", c.code);
        }
    }

    #[test]
    fn fail_on_selects_codes_and_severities() {
        assert!(fails(&[], &[NULL_OWNER]));
        assert!(fails(&[], &[UNFIXABLE]));
        assert!(!fails(&[], &[NO_LINE_URI, IDLE_POOL]));
        let warn = [FailOn::parse("warning").unwrap()];
        assert!(fails(&warn, &[IDLE_POOL]));
        assert!(!fails(&warn, &[NO_LINE_URI]));
        let one = [FailOn::parse("rgs005").unwrap()];
        assert!(fails(&one, &[NO_LINE_URI]));
        assert!(!fails(&one, &[NULL_OWNER]), "a list replaces the default");
        assert_eq!(FailOn::parse("RGS999"), None);
        assert_eq!(FailOn::parse("fatal"), None);
    }
}
