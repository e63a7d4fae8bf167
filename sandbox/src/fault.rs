//! Fault injection (`--fault SPEC`): make the sandbox lose a connection,
//! lose an answer, fail or stall a request, so that tests can check how
//! rgs-repair behaves when the server or network misbehaves.
//!
//! Requests are counted per connection from 1, after login (SQL batches,
//! RPCs and transaction manager requests; attentions do not count). Each
//! fault fires once, on the first connection that reaches its request.
//! Faults given at start apply to every connection; a fault armed later
//! ([`FaultSet::arm`], `Sandbox::arm`) only to connections accepted after
//! it was armed, so that a test can change data fault-free on one
//! connection and then fault a fresh one.

use crate::engine::parse::parse_batch;
use crate::types::SqlError;
use sqlparser::ast::{
    FromTable, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableFactor, TableObject,
};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

/// What happens to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `drop@N`: close the connection instead of running request N.
    Drop,
    /// `drop-after@N`: run request N, then close without answering (a lost
    /// COMMIT answer: the client cannot know whether it committed).
    DropAfter,
    /// `error@N:NUMBER`: answer with SQL Server error NUMBER instead of
    /// running the request.
    Error(i32),
    /// `delay@N:MS`: wait MS milliseconds before running the request.
    Delay(u64),
}

/// One `--fault` specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The request number (1-based, per connection) it applies to.
    pub request: u64,
    /// What it does.
    pub kind: FaultKind,
}

const SYNTAX: &str = "expected drop@N, drop-after@N, error@N:NUMBER or delay@N:MS";

impl Fault {
    /// Parses `drop@N`, `drop-after@N`, `error@N:NUMBER` or `delay@N:MS`.
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let spec = spec.trim();
        let (kind, rest) = spec
            .split_once('@')
            .ok_or_else(|| format!("invalid fault '{spec}': {SYNTAX}"))?;
        let (n, arg) = match rest.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (rest, None),
        };
        let request: u64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            format!("invalid fault '{spec}': the request number must be a positive integer")
        })?;
        let kind = match (kind, arg) {
            ("drop", None) => FaultKind::Drop,
            ("drop-after", None) => FaultKind::DropAfter,
            ("error", Some(a)) => {
                FaultKind::Error(a.parse().ok().filter(|n: &i32| *n > 0).ok_or_else(|| {
                    format!("invalid fault '{spec}': the error number must be a positive integer")
                })?)
            }
            ("delay", Some(a)) => FaultKind::Delay(a.parse().map_err(|_| {
                format!("invalid fault '{spec}': the delay must be a number of milliseconds")
            })?),
            _ => return Err(format!("invalid fault '{spec}': {SYNTAX}")),
        };
        Ok(Fault { request, kind })
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::parse(s)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FaultKind::Drop => write!(f, "drop@{}", self.request),
            FaultKind::DropAfter => write!(f, "drop-after@{}", self.request),
            FaultKind::Error(n) => write!(f, "error@{}:{n}", self.request),
            FaultKind::Delay(ms) => write!(f, "delay@{}:{ms}", self.request),
        }
    }
}

/// One fault with its arming point and whether it has fired.
#[derive(Debug)]
struct Armed {
    fault: Fault,
    /// Only connections with a higher id may fire it (0: all of them).
    after_conn: u64,
    fired: bool,
}

/// The faults of one sandbox, with which have fired. Shared by all
/// connections.
#[derive(Debug, Default)]
pub struct FaultSet {
    // A mutex rather than atomics: faults are added while connections
    // look them up, and lookups are once per request, far from hot.
    faults: Mutex<Vec<Armed>>,
}

impl FaultSet {
    /// Arms `faults` for every connection.
    pub fn new(faults: Vec<Fault>) -> FaultSet {
        let set = FaultSet::default();
        for f in faults {
            set.arm(f, 0);
        }
        set
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Armed>> {
        // A panic elsewhere while holding the lock leaves the list intact.
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `fault`, to fire only on connections whose id is greater than
    /// `after_conn` (ids count accepted connections from 1).
    pub fn arm(&self, fault: Fault, after_conn: u64) {
        self.lock().push(Armed {
            fault,
            after_conn,
            fired: false,
        });
    }

    /// The faults that fire at request `n` of connection `conn`, marking
    /// them fired so that no other connection sees them.
    pub fn take(&self, conn: u64, n: u64) -> Vec<FaultKind> {
        self.lock()
            .iter_mut()
            .filter(|a| !a.fired && a.fault.request == n && conn > a.after_conn)
            .map(|a| {
                a.fired = true;
                a.fault.kind
            })
            .collect()
    }

    /// Faults that have not fired yet.
    pub fn pending(&self) -> Vec<Fault> {
        self.lock()
            .iter()
            .filter(|a| !a.fired)
            .map(|a| a.fault)
            .collect()
    }
}

/// Whether SQL Server rolls back the open transaction along with error
/// `number`: always for a deadlock victim (1205), and for any error when
/// the session runs with SET XACT_ABORT ON.
pub fn aborts_transaction(number: i32, xact_abort: bool) -> bool {
    number == 1205 || xact_abort
}

/// The error SQL Server sends for `number`, with its usual severity, state
/// and text. `spid` fills 1205's process id, `database` 4060's and 9002's
/// database, and `object`/`action` 229's permission (e.g. `UPDATE` on
/// `AgentGroups`).
pub fn sql_server_error(
    number: i32,
    spid: u16,
    database: &str,
    action: &str,
    object: &str,
) -> SqlError {
    let (severity, state, message) = match number {
        1205 => (
            13,
            51,
            format!(
                "Transaction (Process ID {spid}) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction."
            ),
        ),
        1222 => (16, 51, "Lock request time out period exceeded.".to_string()),
        229 => (
            14,
            5,
            format!("The {action} permission was denied on the object '{object}', database '{database}', schema 'dbo'."),
        ),
        9002 => (
            17,
            2,
            format!("The transaction log for database '{database}' is full due to 'LOG_BACKUP'."),
        ),
        4060 => (
            11,
            1,
            format!("Cannot open database \"{database}\" requested by the login. The login failed."),
        ),
        n => (16, 1, format!("Error {n} injected by the sandbox (--fault error@...:{n}).")),
    };
    SqlError {
        number,
        severity,
        state,
        message,
        line: 1,
    }
}

/// For error 229: the permission `sql` needs and the table it names (see
/// [`permission_target_in`]); ("SELECT", "object") when it names none or
/// does not parse.
pub fn permission_target(sql: &str) -> (String, String) {
    let parsed = parse_batch(sql).unwrap_or_default();
    let stmts: Vec<&Statement> = parsed.iter().map(|(s, _)| s).collect();
    permission_target_in(&stmts)
}

/// For error 229: the permission the first statement that names a table
/// needs (UPDATE, DELETE, INSERT or SELECT) and that table's name, without
/// its schema.
pub(crate) fn permission_target_in(stmts: &[&Statement]) -> (String, String) {
    stmts
        .iter()
        .find_map(|s| statement_target(s))
        .map(|(action, name)| (action.to_string(), last_part(name)))
        .unwrap_or_else(|| ("SELECT".to_string(), "object".to_string()))
}

fn statement_target(s: &Statement) -> Option<(&'static str, &ObjectName)> {
    match s {
        Statement::Update(u) => Some(("UPDATE", relation_name(&u.table.relation)?)),
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(list) | FromTable::WithoutKeyword(list)) = &d.from;
            Some(("DELETE", relation_name(&list.first()?.relation)?))
        }
        Statement::Insert(i) => match &i.table {
            TableObject::TableName(n) => Some(("INSERT", n)),
            _ => None,
        },
        Statement::Query(q) => Some(("SELECT", query_table(q)?)),
        _ => None,
    }
}

/// The first table a query reads.
fn query_table(q: &Query) -> Option<&ObjectName> {
    set_expr_table(&q.body)
}

fn set_expr_table(e: &SetExpr) -> Option<&ObjectName> {
    match e {
        SetExpr::Select(s) => s.from.iter().find_map(|t| relation_name(&t.relation)),
        SetExpr::Query(q) => query_table(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_table(left).or_else(|| set_expr_table(right))
        }
        _ => None,
    }
}

fn relation_name(tf: &TableFactor) -> Option<&ObjectName> {
    match tf {
        TableFactor::Table { name, .. } => Some(name),
        TableFactor::Derived { subquery, .. } => query_table(subquery),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => relation_name(&table_with_joins.relation),
        _ => None,
    }
}

/// The last part of a name, as written (brackets removed).
fn last_part(n: &ObjectName) -> String {
    match n.0.last() {
        Some(ObjectNamePart::Identifier(i)) => i.value.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_every_kind() {
        for spec in ["drop@1", "drop-after@3", "error@2:1205", "delay@4:250"] {
            let f = Fault::parse(spec).unwrap();
            assert_eq!(f.to_string(), spec);
            assert_eq!(spec.parse::<Fault>().unwrap(), f);
        }
        assert_eq!(
            Fault::parse("error@2:1222").unwrap().kind,
            FaultKind::Error(1222)
        );
        assert_eq!(
            Fault::parse(" delay@1:0 ").unwrap(),
            Fault {
                request: 1,
                kind: FaultKind::Delay(0)
            }
        );
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            "drop",
            "drop@0",
            "drop@x",
            "drop@1:2",
            "error@1",
            "error@1:x",
            "error@1:-5",
            "delay@1",
            "boom@1",
            "delay@1:-1",
        ] {
            assert!(Fault::parse(bad).is_err(), "{bad}");
        }
        assert!(Fault::parse("boom@1").unwrap_err().contains("drop@N"));
    }

    #[test]
    fn each_fault_fires_once() {
        let set = FaultSet::new(vec![
            Fault::parse("drop@2").unwrap(),
            Fault::parse("delay@2:5").unwrap(),
        ]);
        assert!(set.take(1, 1).is_empty());
        assert_eq!(set.take(1, 2), vec![FaultKind::Drop, FaultKind::Delay(5)]);
        assert!(set.take(2, 2).is_empty());
        assert!(set.pending().is_empty());
    }

    #[test]
    fn armed_faults_skip_older_connections() {
        let set = FaultSet::new(vec![]);
        set.arm(Fault::parse("error@1:1205").unwrap(), 3);
        assert!(set.take(2, 1).is_empty());
        assert!(set.take(3, 1).is_empty());
        assert_eq!(set.pending().len(), 1);
        assert_eq!(set.take(4, 1), vec![FaultKind::Error(1205)]);
        assert!(set.take(5, 1).is_empty());
        assert!(set.pending().is_empty());
    }

    #[test]
    fn sql_server_messages() {
        let e = sql_server_error(1205, 53, "rgsconfig", "UPDATE", "Queues");
        assert_eq!((e.severity, e.state), (13, 51));
        assert!(e
            .message
            .starts_with("Transaction (Process ID 53) was deadlocked"));
        assert_eq!(
            sql_server_error(1222, 1, "d", "", "").message,
            "Lock request time out period exceeded."
        );
        assert_eq!(
            sql_server_error(229, 1, "rgsconfig", "UPDATE", "AgentGroups").message,
            "The UPDATE permission was denied on the object 'AgentGroups', database 'rgsconfig', schema 'dbo'."
        );
        assert_eq!(sql_server_error(9002, 1, "rgsconfig", "", "").severity, 17);
        assert_eq!(sql_server_error(4060, 1, "x", "", "").severity, 11);
        assert_eq!(sql_server_error(50000, 1, "x", "", "").severity, 16);
        assert!(aborts_transaction(1205, false));
        assert!(!aborts_transaction(1222, false));
        assert!(aborts_transaction(1222, true));
    }

    #[test]
    fn finds_permission_targets() {
        assert_eq!(
            permission_target("UPDATE [dbo].[AgentGroups]\nSET [OwnerPoolId] = @P1"),
            ("UPDATE".to_string(), "AgentGroups".to_string())
        );
        assert_eq!(
            permission_target("SELECT x FROM dbo.Queues AS q"),
            ("SELECT".into(), "Queues".into())
        );
        assert_eq!(
            permission_target("DELETE FROM [dbo].[Agents]"),
            ("DELETE".into(), "Agents".into())
        );
        assert_eq!(
            permission_target("COMMIT"),
            ("SELECT".into(), "object".into())
        );
    }
}
