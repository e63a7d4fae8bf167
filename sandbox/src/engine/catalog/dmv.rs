//! The dynamic management views the product reads to explain a wait:
//! `sys.dm_tran_locks`, `sys.dm_exec_requests`, `sys.dm_exec_sessions`,
//! with the columns of SQL Server 2008 R2 that the product may use, from
//! the engine's lock table at the moment the statement is translated.
//!
//! The sandbox locks whole tables, so a writer's lock shows as an OBJECT
//! lock in mode X (SQL Server shows IX on the OBJECT and X on each KEY it
//! wrote, unless the locks were escalated): a client should identify the
//! holder by resource and status, not by mode.

use super::views::{ViewDef, ViewEnv};
use crate::engine::locks::{Resource, Waiting};
use crate::types::{SqlType, Value};

const N60: SqlType = SqlType::NVarChar(Some(60));
const N30: SqlType = SqlType::NVarChar(Some(30));
const N128: SqlType = SqlType::NVarChar(Some(128));
const N256: SqlType = SqlType::NVarChar(Some(256));

/// The views; reading them needs VIEW SERVER STATE (error 297 without it).
pub(super) static DMVS: &[ViewDef] = &[
    ViewDef {
        name: "sys.dm_tran_locks",
        columns: &[
            ("resource_type", N60, false),
            ("resource_subtype", N60, false),
            ("resource_database_id", SqlType::Int, false),
            ("resource_description", N256, true),
            ("resource_associated_entity_id", SqlType::BigInt, true),
            ("request_mode", N60, false),
            ("request_type", N60, false),
            ("request_status", N60, false),
            ("request_session_id", SqlType::Int, false),
            ("request_owner_type", N60, false),
        ],
    },
    ViewDef {
        name: "sys.dm_exec_requests",
        columns: &[
            ("session_id", SqlType::SmallInt, false),
            ("request_id", SqlType::Int, false),
            ("start_time", SqlType::DateTime, false),
            ("status", N30, false),
            ("command", SqlType::NVarChar(Some(32)), false),
            ("database_id", SqlType::SmallInt, false),
            ("blocking_session_id", SqlType::SmallInt, true),
            ("wait_type", N60, true),
            ("wait_time", SqlType::Int, false),
            ("last_wait_type", N60, false),
            ("wait_resource", N256, false),
        ],
    },
    ViewDef {
        name: "sys.dm_exec_sessions",
        columns: &[
            ("session_id", SqlType::SmallInt, false),
            ("login_time", SqlType::DateTime, false),
            ("host_name", N128, true),
            ("program_name", N128, true),
            ("login_name", N128, false),
            ("status", N30, false),
            ("is_user_process", SqlType::Bit, false),
        ],
    },
];

/// Whether a view is one of these (and so needs VIEW SERVER STATE).
pub(crate) fn is_dmv(view: &ViewDef) -> bool {
    view.name.starts_with("sys.dm_")
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The rows of a DMV.
pub(super) fn rows(view: &ViewDef, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let Some(live) = env.live else {
        return Vec::new();
    };
    match view.name {
        "sys.dm_tran_locks" => {
            let mut rows = Vec::new();
            // Every session holds a shared lock on its database.
            for (spid, s) in &live.sessions {
                rows.push(lock_row(
                    "DATABASE",
                    s.db_id,
                    Value::Int(0),
                    "S",
                    "GRANT",
                    *spid,
                    "SHARED_TRANSACTION_WORKSPACE",
                ));
            }
            for h in &live.held {
                rows.push(lock_row(
                    "OBJECT",
                    h.db_id,
                    Value::Int(h.object_id),
                    h.mode.name(),
                    "GRANT",
                    h.spid,
                    "TRANSACTION",
                ));
            }
            for w in &live.waiting {
                if let Resource::Object(db, object) = w.resource {
                    rows.push(lock_row(
                        "OBJECT",
                        db,
                        Value::Int(object),
                        w.mode.name(),
                        "WAIT",
                        w.spid,
                        "TRANSACTION",
                    ));
                }
            }
            rows
        }
        "sys.dm_exec_requests" => live
            .sessions
            .iter()
            .filter(|(_, s)| s.running)
            .map(|(spid, s)| {
                let wait = live.waiting.iter().find(|w| w.spid == *spid);
                request_row(*spid, s.db_id, s.request_start, wait)
            })
            .collect(),
        "sys.dm_exec_sessions" => live
            .sessions
            .iter()
            .map(|(spid, s)| {
                vec![
                    Value::Int(*spid as i64),
                    Value::DateTime(s.login_time),
                    text(&s.host),
                    text(&s.program),
                    text(&s.login),
                    text(if s.running { "running" } else { "sleeping" }),
                    Value::Bit(true),
                ]
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn lock_row(
    ty: &str,
    db: i64,
    entity: Value,
    mode: &str,
    status: &str,
    spid: u16,
    owner: &str,
) -> Vec<Value> {
    vec![
        text(ty),
        text(""),
        Value::Int(db),
        text(""),
        entity,
        text(mode),
        text("LOCK"),
        text(status),
        Value::Int(spid as i64),
        text(owner),
    ]
}

fn request_row(
    spid: u16,
    db_id: i64,
    start: chrono::NaiveDateTime,
    wait: Option<&Waiting>,
) -> Vec<Value> {
    let (status, command, blocker, wait_type, wait_time, resource) = match wait {
        Some(w) => {
            let resource = match w.resource {
                Resource::Object(db, object) => format!("OBJECT: {db}:{object}:0"),
                Resource::Database(db) => format!("DATABASE: {db}"),
            };
            (
                "suspended",
                w.command,
                w.blocker as i64,
                Value::Text(format!("LCK_M_{}", w.mode.name())),
                w.since.elapsed().as_millis().min(i32::MAX as u128) as i64,
                resource,
            )
        }
        None => ("running", "SELECT", 0, Value::Null, 0, String::new()),
    };
    let last = match &wait_type {
        Value::Text(t) => t.clone(),
        _ => "MISCELLANEOUS".to_string(),
    };
    vec![
        Value::Int(spid as i64),
        Value::Int(0),
        Value::DateTime(start),
        text(status),
        text(command),
        Value::Int(db_id),
        Value::Int(blocker),
        wait_type,
        Value::Int(wait_time),
        Value::Text(last),
        Value::Text(resource),
    ]
}
