//! The commands' work, each a function from parsed arguments to an exit
//! code, in the cargo `ops` style: the CLI layer only parses and calls these.

pub mod check;
pub mod demo;
pub mod fix;
pub mod undo;

use crate::connect::{connect, Connection, Target};
use crate::error::Stop;
use crate::inspect::ServerInfo;
use crate::quote::quote_two_part;
use crate::sql;
use anyhow::{bail, Result};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables and sentences.
    Human,
    /// One JSON document on standard output.
    Json,
}

/// What every command needs.
pub struct Context {
    /// Where to connect.
    pub target: Target,
    /// Output format.
    pub format: Format,
    /// Whether prompts can be shown (a terminal on stdin and stderr).
    pub interactive: bool,
    /// Connection flags to repeat in a suggested next command.
    pub connect_hint: String,
    /// Ctrl-C handling for writes.
    pub interrupt: Interrupt,
}

impl Context {
    /// Whether prompts can be shown here.
    pub fn detect_interactive() -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Connects, warning when the server's identity goes unverified.
    pub async fn connect(&self) -> Result<Connection> {
        static WARNED: std::sync::Once = std::sync::Once::new();
        if self.target.trusts_server_certificate() {
            WARNED.call_once(|| eprintln!("warning: -C: the server's certificate is not verified, so the server's identity is not either"));
        }
        connect(&self.target).await
    }
}

/// Ctrl-C: outside a write it ends the program at once (nothing to undo);
/// during a write it asks the transaction to roll back and stop.
#[derive(Clone, Default)]
pub struct Interrupt {
    writing: Arc<AtomicBool>,
    token: CancellationToken,
}

impl Interrupt {
    /// Installs the handler on the current tokio runtime.
    pub fn install() -> Interrupt {
        let i = Interrupt::default();
        let handler = i.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if handler.writing.load(Ordering::SeqCst) {
                    eprintln!("\nInterrupted: rolling back the transaction...");
                    handler.token.cancel();
                } else {
                    eprintln!("\nInterrupted; nothing was changed.");
                    std::process::exit(130);
                }
            }
        });
        i
    }

    /// Marks the start of a write and returns its cancellation token.
    pub fn begin_write(&self) -> CancellationToken {
        self.writing.store(true, Ordering::SeqCst);
        self.token.clone()
    }

    /// Marks the end of a write.
    pub fn end_write(&self) {
        self.writing.store(false, Ordering::SeqCst);
    }
}

/// Asks to go ahead. `--yes` answers yes; without a terminal the answer is
/// no, since nobody saw the plan.
pub fn confirm(ctx: &Context, yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !ctx.interactive {
        return Err(Stop::NotDone(
            "not changing anything: there is no terminal to confirm on. Review the plan above and run again with --yes to apply it".into(),
        )
        .into());
    }
    let ok = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()?;
    if ok {
        Ok(())
    } else {
        Err(Stop::NotDone("not confirmed; nothing was changed".into()).into())
    }
}

/// Checks, before any write, that the database takes writes and the login
/// may update each table; says what to do instead when not.
pub async fn preflight(
    conn: &mut Connection,
    server: &ServerInfo,
    tables: &[(String, String)],
) -> Result<()> {
    if !server.writable() {
        bail!(
            "database {} on {} is {} (not READ_WRITE): it may be a readable secondary replica of an availability group, a snapshot, or set read-only. Connect to the primary replica (for an availability group, its listener) and run the command there; nothing was changed",
            server.database,
            server.server,
            server.updateability
        );
    }
    let mut denied = Vec::new();
    for (schema, table) in tables {
        let name = quote_two_part(schema, table).expect("catalog names fit sysname");
        let rows = conn.rows(sql::PERMISSIONS, &[&name]).await?;
        if rows.first().map(|r| r.int(0)) != Some(1) {
            denied.push(format!("{schema}.{table}"));
        }
    }
    if !denied.is_empty() {
        bail!(
            "the login may not UPDATE {} (HAS_PERMS_BY_NAME): connect as a member of RTCUniversalServerAdmins or db_owner of the database; nothing was changed",
            denied.join(", ")
        );
    }
    Ok(())
}

/// Prints a JSON document on standard output.
pub fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values serialize")
    );
}
