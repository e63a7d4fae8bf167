//! The JSON documents of `--format json`: one typed struct per document,
//! its only definition, from which the published JSON Schemas (`schemas/`)
//! are generated. Every document has `schema_version` and `command`, and the
//! same keys whatever the outcome (absent values are `null` or empty lists).
//! GUIDs are upper case, as SQL Server Management Studio shows them. An
//! error is a document too ([`ErrorJson`]).

use crate::inspect::{Finding, Inspection, ObjectRow};
use crate::journal::UndoRow;
use crate::plan::{self, Plan, Skipped};
use schemars::JsonSchema;
use serde::Serialize;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

/// The layout version of every document; raised when a key changes
/// meaning or goes away (new keys do not raise it).
pub const SCHEMA_VERSION: u32 = 1;

/// `check --format json`.
#[derive(Serialize, JsonSchema)]
pub struct CheckJson {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `check`.
    pub command: String,
    /// `DB_NAME()`.
    pub database: String,
    /// The server as the user named it.
    pub server: String,
    /// `SERVERPROPERTY('ServerName')`.
    pub server_name: String,
    /// `SERVERPROPERTY('ProductVersion')`.
    pub product_version: String,
    /// READ_WRITE or READ_ONLY.
    pub updateability: String,
    /// Where the pools are.
    pub owner_pool_table: PoolTableJson,
    /// The pools, with how many objects each owns.
    pub owner_pools: Vec<PoolJson>,
    /// Every table with an owner column.
    pub tables: Vec<TableJson>,
    /// What is wrong, each with its code, severity and remedy
    /// (`docs/findings.md`).
    pub findings: Vec<CodedFindingJson>,
    /// Whether no finding is an error (RGS001-RGS004); warnings and
    /// informational findings may be present.
    pub healthy: bool,
}

/// One finding with its catalogue entry.
#[derive(Serialize, JsonSchema)]
pub struct CodedFindingJson {
    /// `RGS001`...: stable, never reused.
    pub code: String,
    /// error, warning or info.
    pub severity: crate::findings::Severity,
    /// What the code means.
    pub title: String,
    /// What to do, naming the tool.
    pub remedy: String,
    /// The finding itself.
    #[serde(flatten)]
    pub finding: FindingJson,
}

/// `dbo.OwnerPool` as the catalog describes it.
#[derive(Serialize, JsonSchema)]
pub struct PoolTableJson {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// The column `OwnerPoolId` refers to.
    pub id_column: String,
    /// Its type.
    pub id_type: String,
    /// The FQDN or name column, if any.
    pub name_column: Option<String>,
}

/// One owner pool.
#[derive(Serialize, JsonSchema)]
pub struct PoolJson {
    /// Its ID, as text.
    pub id: String,
    /// FQDN or name.
    pub name: Option<String>,
    /// Objects it owns (in `check`; null in a plan).
    pub objects: Option<u64>,
}

/// One object table in `check`.
#[derive(Serialize, JsonSchema)]
pub struct TableJson {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// The owner column.
    pub owner_column: String,
    /// Its type.
    pub owner_type: String,
    /// Primary key columns.
    pub key_columns: Vec<String>,
    /// The display column, if any.
    pub display_column: Option<String>,
    /// Rows in all.
    pub rows: u64,
    /// Rows with a NULL owner.
    pub null_owner: usize,
    /// Rows whose owner names no pool.
    pub dangling_owner: usize,
    /// Whether fix can change its rows one by one.
    pub fixable: bool,
    /// When the table looks like a copy of another object table: that
    /// table (fix leaves it alone unless named with --table).
    pub copy_of: Option<String>,
}

/// One finding.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingJson {
    /// `dbo.OwnerPool` is empty.
    NoOwnerPools,
    /// Objects with a NULL owner.
    NullOwner {
        /// `schema.table`
        table: String,
        /// How many.
        count: usize,
        /// Which.
        #[schemars(with = "Vec<ObjectJson>")]
        objects: ObjectList,
    },
    /// Objects whose owner names no pool.
    DanglingOwner {
        /// `schema.table`
        table: String,
        /// How many.
        count: usize,
        /// Which.
        #[schemars(with = "Vec<ObjectJson>")]
        objects: ObjectList,
    },
    /// A table fix leaves alone.
    Unfixable {
        /// `schema.table`
        table: String,
        /// Why.
        reason: String,
    },
    /// Contact objects without a line URI.
    NoLineUri {
        /// `schema.table`
        table: String,
        /// The line URI column.
        column: String,
        /// How many.
        count: usize,
        /// Which (`owner_pool_id` is null: not read).
        #[schemars(with = "Vec<ObjectJson>")]
        objects: ObjectList,
    },
    /// Objects nothing uses along the declared links.
    Unused {
        /// `schema.table` of the objects.
        table: String,
        /// `schema.table` of the objects that would use them.
        used_by: String,
        /// How many.
        count: usize,
        /// Which (`owner_pool_id` is null: not read).
        #[schemars(with = "Vec<ObjectJson>")]
        objects: ObjectList,
    },
    /// Owner pools that own no object.
    IdlePools {
        /// Which (`objects` is 0).
        pools: Vec<PoolJson>,
    },
    /// Links the use checks need that the catalog does not declare.
    LinksNotDeclared {
        /// `schema.table -> schema.table` each.
        links: Vec<String>,
    },
}

/// One object row.
#[derive(Serialize, JsonSchema)]
pub struct ObjectJson {
    /// Key values as text, in key order.
    pub key: Vec<String>,
    /// Display name.
    pub name: Option<String>,
    /// The current owner as text; null for none.
    pub owner_pool_id: Option<String>,
}

/// What a streamed list of objects receives ([`ObjectList::Streamed`]).
pub enum Piece {
    /// The next object.
    Object(ObjectJson),
    /// The list is complete.
    End,
}

/// A list of objects in a document: in memory, or received while the
/// document is written, so that `check --format json` never holds every
/// row of a large table. A streamed list that stops before its
/// [`Piece::End`] fails the serialization, so a broken stream never looks
/// like a complete document.
pub enum ObjectList {
    /// Every object, in memory.
    Listed(Vec<ObjectJson>),
    /// Objects arriving on a channel shared by the document's streamed
    /// lists, in the order the lists are written.
    Streamed(Arc<Mutex<Receiver<Piece>>>),
}

impl Serialize for ObjectList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        match self {
            ObjectList::Listed(v) => v.serialize(s),
            ObjectList::Streamed(rx) => {
                let rx = rx
                    .lock()
                    .map_err(|_| S::Error::custom("the object stream was poisoned"))?;
                let mut seq = s.serialize_seq(None)?;
                loop {
                    match rx.recv() {
                        Ok(Piece::Object(o)) => seq.serialize_element(&o)?,
                        Ok(Piece::End) => break,
                        Err(_) => {
                            return Err(S::Error::custom(
                                "the rows stopped before the end of the list",
                            ))
                        }
                    }
                }
                seq.end()
            }
        }
    }
}

/// One object row as the documents show it.
pub fn object_json(o: &ObjectRow) -> ObjectJson {
    ObjectJson {
        key: o.key.iter().map(ToString::to_string).collect(),
        name: o.name.clone(),
        owner_pool_id: (!o.owner.is_null()).then(|| o.owner.to_string()),
    }
}

fn objects_json(objects: &[ObjectRow]) -> Vec<ObjectJson> {
    objects.iter().map(object_json).collect()
}

/// The `check` report as one JSON document; `findings` are the
/// inspection's and the others `check` read ([`crate::inspect::more`]).
/// With `stream`, the objects of the findings that name objects (NULL and
/// dangling owner, no line URI, unused) are not the inspection's: they
/// arrive on that channel, in finding order, while the document is written.
pub fn check_json(
    i: &Inspection,
    findings: &[Finding],
    stream: Option<&Arc<Mutex<Receiver<Piece>>>>,
) -> CheckJson {
    CheckJson {
        schema_version: SCHEMA_VERSION,
        command: "check".to_string(),
        database: i.server.database.clone(),
        server: i.server.server.clone(),
        server_name: i.server.server_name.clone(),
        product_version: i.server.product_version.clone(),
        updateability: i.server.updateability.clone(),
        owner_pool_table: PoolTableJson {
            schema: i.pool_table.schema.clone(),
            table: i.pool_table.table.clone(),
            id_column: i.pool_table.id.name.clone(),
            id_type: i.pool_table.id.type_name.clone(),
            name_column: i.pool_table.name_column.clone(),
        },
        owner_pools: i
            .objects_per_pool()
            .into_iter()
            .map(|(p, n)| PoolJson {
                id: p.id.to_string(),
                name: p.name,
                objects: Some(n),
            })
            .collect(),
        tables: i
            .tables
            .iter()
            .map(|t| TableJson {
                schema: t.table.schema.clone(),
                table: t.table.table.clone(),
                owner_column: t.table.owner.name.clone(),
                owner_type: t.table.owner.type_name.clone(),
                key_columns: t.table.key.iter().map(|k| k.name.clone()).collect(),
                display_column: t.table.display_column.clone(),
                rows: t.rows,
                null_owner: t.null_count as usize,
                dangling_owner: t.dangling_count as usize,
                fixable: t.table.unfixable_reason().is_none(),
                copy_of: t.table.copy_of.clone(),
            })
            .collect(),
        healthy: !findings
            .iter()
            .any(|f| f.entry().severity == crate::findings::Severity::Error),
        findings: findings
            .iter()
            .map(|f| {
                let e = f.entry();
                CodedFindingJson {
                    code: e.code.to_string(),
                    severity: e.severity,
                    title: e.title.to_string(),
                    remedy: e.remedy.to_string(),
                    finding: finding_json(f, stream),
                }
            })
            .collect(),
    }
}

fn finding_json(f: &Finding, stream: Option<&Arc<Mutex<Receiver<Piece>>>>) -> FindingJson {
    let list = |objects: &[ObjectRow]| match stream {
        Some(rx) => ObjectList::Streamed(Arc::clone(rx)),
        None => ObjectList::Listed(objects_json(objects)),
    };
    match f {
        Finding::NoLineUri {
            table,
            column,
            count,
            objects,
        } => FindingJson::NoLineUri {
            table: table.clone(),
            column: column.clone(),
            count: *count,
            objects: list(objects),
        },
        Finding::Unused {
            table,
            by,
            count,
            objects,
            ..
        } => FindingJson::Unused {
            table: table.clone(),
            used_by: by.clone(),
            count: *count,
            objects: list(objects),
        },
        Finding::IdlePools { pools } => FindingJson::IdlePools {
            pools: pools
                .iter()
                .map(|p| PoolJson {
                    id: p.id.to_string(),
                    name: p.name.clone(),
                    objects: Some(0),
                })
                .collect(),
        },
        Finding::LinksNotDeclared { links } => FindingJson::LinksNotDeclared {
            links: links.clone(),
        },
        Finding::NoOwnerPools => FindingJson::NoOwnerPools,
        Finding::NullOwner {
            table,
            count,
            objects,
        } => FindingJson::NullOwner {
            table: table.clone(),
            count: *count,
            objects: list(objects),
        },
        Finding::DanglingOwner {
            table,
            count,
            objects,
        } => FindingJson::DanglingOwner {
            table: table.clone(),
            count: *count,
            objects: list(objects),
        },
        Finding::Unfixable { table, reason } => FindingJson::Unfixable {
            table: table.clone(),
            reason: reason.clone(),
        },
    }
}

/// A plan in JSON.
#[derive(Serialize, JsonSchema)]
pub struct PlanJson {
    /// Database.
    pub database: String,
    /// Server as named by the user.
    pub server: String,
    /// The pool the rows get.
    pub pool: PoolJson,
    /// Rows to change in all.
    pub rows: usize,
    /// Per table.
    pub tables: Vec<PlanTableJson>,
    /// Tables with NULL owners left alone.
    pub skipped: Vec<Skipped>,
    /// Copies of object tables with NULL owners, left alone.
    pub copies: Vec<Skipped>,
    /// Which database the plan is for.
    pub identity: crate::inspect::Identity,
    /// The plan's digest (what a change ticket quotes).
    pub digest: String,
    /// The change script, as the dry run shows it and `--emit-sql` writes it.
    pub sql: String,
}

/// One table of a plan.
#[derive(Serialize, JsonSchema)]
pub struct PlanTableJson {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Rows to change.
    pub rows: usize,
    /// The first of them in key order (all of them are in the journal
    /// after the fix, and in `check --format json` before it).
    pub objects: Vec<ObjectJson>,
}

/// The plan as JSON.
pub fn plan_json(p: &Plan) -> PlanJson {
    PlanJson {
        database: p.database.clone(),
        server: p.server.clone(),
        pool: PoolJson {
            id: p.pool.id.to_string(),
            name: p.pool.name.clone(),
            objects: None,
        },
        rows: p.row_count(),
        tables: p
            .tables
            .iter()
            .map(|t| PlanTableJson {
                schema: t.table.schema.clone(),
                table: t.table.table.clone(),
                rows: t.rows as usize,
                objects: objects_json(&t.sample),
            })
            .collect(),
        skipped: p.skipped.clone(),
        copies: p.copies.clone(),
        identity: p.identity.clone(),
        digest: p.digest.clone(),
        sql: plan::script(p),
    }
}

/// How a `fix` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FixOutcome {
    /// A dry run: the plan, nothing changed.
    DryRun,
    /// The change was committed.
    Committed,
    /// No object in scope lacks an owner.
    NothingToDo,
}

/// `fix --format json`.
#[derive(Serialize, JsonSchema)]
pub struct FixJson {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `fix`.
    pub command: String,
    /// How it ended.
    pub outcome: FixOutcome,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether the change was committed.
    pub committed: bool,
    /// The plan shown or applied; null when there was nothing to do.
    pub plan: Option<PlanJson>,
    /// Rows changed (0 unless committed).
    pub rows_changed: usize,
    /// Attempts the commit took (more than 1 after deadlocks; 0 unless
    /// committed).
    pub attempts: u32,
    /// The journal written; null unless committed.
    pub journal: Option<String>,
    /// `--save-plan`'s file, when given.
    pub saved_plan: Option<String>,
    /// `--emit-sql`'s file, when given.
    pub change_script: Option<String>,
}

impl FixJson {
    /// A document for `outcome`, every other key empty.
    pub fn new(outcome: FixOutcome, plan: Option<&Plan>) -> FixJson {
        FixJson {
            schema_version: SCHEMA_VERSION,
            command: "fix".to_string(),
            outcome,
            dry_run: outcome == FixOutcome::DryRun,
            committed: outcome == FixOutcome::Committed,
            plan: plan.map(plan_json),
            rows_changed: 0,
            attempts: 0,
            journal: None,
            saved_plan: None,
            change_script: None,
        }
    }
}

/// How an `undo` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UndoOutcome {
    /// A dry run: what would go back, nothing changed.
    DryRun,
    /// The rows were put back.
    Committed,
    /// No journalled row still holds the owner the fix wrote.
    NothingToPutBack,
}

/// What happens to one journalled row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UndoRowState {
    /// It still holds the fixed owner: put back (or, in a dry run, to be).
    PutBack,
    /// Its owner changed since the fix: left alone.
    ChangedSinceFix,
    /// It no longer exists: left alone.
    Missing,
}

/// One journalled row in `undo`'s document.
#[derive(Serialize, JsonSchema)]
pub struct UndoRowJson {
    /// `schema.table`
    pub table: String,
    /// Key values as text, in key order.
    pub key: Vec<String>,
    /// Display name, as journalled.
    pub name: Option<String>,
    /// What undo does with it.
    pub state: UndoRowState,
    /// Its owner when undo read it; null when missing or NULL.
    pub owner_now: Option<String>,
}

/// `undo --format json`.
#[derive(Serialize, JsonSchema)]
pub struct UndoJson<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `undo`.
    pub command: String,
    /// How it ended.
    pub outcome: UndoOutcome,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether the undo was committed.
    pub committed: bool,
    /// The fix's journal.
    pub journal: String,
    /// The undo's own journal; null unless committed.
    pub undo_journal: Option<String>,
    /// Rows that still hold the fixed owner.
    pub restorable: usize,
    /// Rows put back (0 unless committed).
    pub restored: usize,
    /// Rows left alone (changed since the fix, or gone).
    pub left_alone: usize,
    /// Every journalled row.
    #[schemars(with = "Vec<UndoRowJson>")]
    pub rows: UndoRowStream<'a>,
}

/// How many rows `undo`'s document lists, and how many of them are left
/// alone: known from the preview before the first row is written, since
/// the document states its counts ahead of its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UndoCounts {
    /// Journalled rows in all.
    pub rows: usize,
    /// Of those, rows undo leaves alone.
    pub left_alone: usize,
}

/// The journalled rows of `undo`'s document, pulled (from the journal
/// file) while the document is written, so that it never holds every row.
/// A row that cannot be read, or rows that do not add up to the counts
/// the document stated before them, fail the serialization: the document
/// is left unfinished (not valid JSON), never complete-looking.
pub struct UndoRowStream<'a> {
    rows: std::cell::RefCell<Option<UndoRowSource<'a>>>,
    counts: UndoCounts,
}

type UndoRowSource<'a> = Box<dyn Iterator<Item = anyhow::Result<UndoRow>> + 'a>;

impl Serialize for UndoRowStream<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        // Taken, not borrowed: a second serialization would find the rows
        // gone and write an empty list that looks complete.
        let rows = self
            .rows
            .try_borrow_mut()
            .ok()
            .and_then(|mut r| r.take())
            .ok_or_else(|| S::Error::custom("the journalled rows were already written"))?;
        let mut seq = s.serialize_seq(None)?;
        let (mut listed, mut left) = (0, 0);
        for row in rows {
            let row = row.map_err(|e| S::Error::custom(format!("{e:#}")))?;
            listed += 1;
            left += usize::from(!row.restorable());
            seq.serialize_element(&undo_row_json(&row))?;
        }
        let seen = UndoCounts {
            rows: listed,
            left_alone: left,
        };
        if seen != self.counts {
            return Err(S::Error::custom(format!(
                "the journal listed {listed} row(s), {left} left alone, where undo's preview counted {} and {}: the journal changed while it was read",
                self.counts.rows, self.counts.left_alone
            )));
        }
        seq.end()
    }
}

/// One journalled row as `undo`'s document shows it.
fn undo_row_json(r: &UndoRow) -> UndoRowJson {
    UndoRowJson {
        table: r.table.clone(),
        key: r.change.key.iter().map(ToString::to_string).collect(),
        name: r.change.name.clone(),
        state: match &r.current {
            _ if r.restorable() => UndoRowState::PutBack,
            None => UndoRowState::Missing,
            Some(_) => UndoRowState::ChangedSinceFix,
        },
        owner_now: r
            .current
            .as_ref()
            .filter(|v| !v.is_null())
            .map(ToString::to_string),
    }
}

/// `undo`'s document before the outcome is known: its counts, then `rows`
/// (every journalled row as the preview found it, `counts.rows` of them)
/// pulled one by one while the document is written ([`write_json`]).
pub fn undo_json<'a>(
    outcome: UndoOutcome,
    journal: &std::path::Path,
    counts: UndoCounts,
    rows: impl Iterator<Item = anyhow::Result<UndoRow>> + 'a,
) -> UndoJson<'a> {
    let restorable = counts.rows.saturating_sub(counts.left_alone);
    UndoJson {
        schema_version: SCHEMA_VERSION,
        command: "undo".to_string(),
        outcome,
        dry_run: outcome == UndoOutcome::DryRun,
        committed: outcome == UndoOutcome::Committed,
        journal: journal.display().to_string(),
        undo_journal: None,
        restorable,
        restored: if outcome == UndoOutcome::Committed {
            restorable
        } else {
            0
        },
        left_alone: counts.left_alone,
        rows: UndoRowStream {
            rows: std::cell::RefCell::new(Some(Box::new(rows))),
            counts,
        },
    }
}

/// What went wrong, in an error document.
#[derive(Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// `usage` (exit 2), `not_done` (exit 4) or `error` (exit 1).
    pub code: String,
    /// The process's exit code.
    pub exit_code: u8,
    /// The message, as printed on standard error.
    pub message: String,
    /// SQL Server's error number, when the server sent one.
    pub sql_server_error: Option<u32>,
}

/// With `--format json`, a command that fails prints this instead of its
/// own document (the exit code is unchanged).
#[derive(Serialize, JsonSchema)]
pub struct ErrorJson {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that failed (`check`, `fix`, `undo`).
    pub command: String,
    /// What went wrong.
    pub error: ErrorDetail,
}

impl ErrorJson {
    /// The document for `err`, which ended `command`.
    pub fn new(command: &str, err: &anyhow::Error) -> ErrorJson {
        let exit_code = crate::error::exit_code_for(err);
        let code = match exit_code {
            crate::error::EXIT_USAGE => "usage",
            crate::error::EXIT_NOT_DONE => "not_done",
            _ => "error",
        };
        ErrorJson {
            schema_version: SCHEMA_VERSION,
            command: command.to_string(),
            error: ErrorDetail {
                code: code.to_string(),
                exit_code,
                message: format!("{err:#}"),
                sql_server_error: err
                    .chain()
                    .find_map(|c| c.downcast_ref::<crate::connect::DbError>())
                    .and_then(crate::connect::DbError::code),
            },
        }
    }
}

/// The published schemas, by file name under `schemas/`.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    let v = |s: schemars::Schema| serde_json::to_value(s).expect("schemas serialize");
    vec![
        ("check.schema.json", v(schemars::schema_for!(CheckJson))),
        ("fix.schema.json", v(schemars::schema_for!(FixJson))),
        ("undo.schema.json", v(schemars::schema_for!(UndoJson))),
        ("error.schema.json", v(schemars::schema_for!(ErrorJson))),
        (
            "check-targets.schema.json",
            v(schemars::schema_for!(super::targets::TargetsJson)),
        ),
    ]
}

/// Prints a JSON document on standard output.
pub fn print_json<T: Serialize>(v: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("report structs serialize")
    );
}

/// Writes a JSON document on standard output as it is serialized (laid out
/// as [`print_json`] does), for documents whose lists arrive while they
/// are written ([`ObjectList::Streamed`]).
pub fn write_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, v)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
#[path = "json_undo_tests.rs"]
mod undo_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// The files under `schemas/` are generated from the types above; this
    /// fails when they drift. `RGS_UPDATE_SCHEMAS=1 cargo test --lib`
    /// rewrites them.
    #[test]
    fn published_schemas_match_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for (name, schema) in schemas() {
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            let path = dir.join(name);
            if std::env::var("RGS_UPDATE_SCHEMAS").is_ok() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                on_disk, text,
                "{name} is stale: run RGS_UPDATE_SCHEMAS=1 cargo test --lib"
            );
        }
    }
}
