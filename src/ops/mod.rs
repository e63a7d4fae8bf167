//! The commands' work, each a function from parsed arguments to an exit
//! code, in the cargo `ops` style: the CLI layer only parses and calls these.

pub mod check;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod fix;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod undo;

use crate::connect::{connect, ConnectOptions, Connection, Target};
use crate::error::Stop;
use anyhow::Result;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
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
    /// Where to connect, as given.
    pub options: ConnectOptions,
    /// `options` resolved, once, when first needed: a command that must
    /// refuse its input (a journal, say) does so before any password prompt.
    target: OnceLock<Target>,
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
    /// A context for `options`.
    pub fn new(
        options: ConnectOptions,
        format: Format,
        connect_hint: String,
        interrupt: Interrupt,
    ) -> Context {
        Context {
            options,
            target: OnceLock::new(),
            format,
            interactive: Context::detect_interactive(),
            connect_hint,
            interrupt,
        }
    }

    /// The resolved target (asking for the password the first time, if it
    /// is needed and not given).
    pub fn target(&self) -> Result<&Target> {
        if let Some(t) = self.target.get() {
            return Ok(t);
        }
        let t = Target::resolve(&self.options)?;
        Ok(self.target.get_or_init(|| t))
    }

    /// Whether prompts can be shown here.
    pub fn detect_interactive() -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Connects, warning when the server's identity goes unverified.
    pub async fn connect(&self) -> Result<Connection> {
        static WARNED: std::sync::Once = std::sync::Once::new();
        let target = self.target()?;
        if target.trusts_server_certificate() {
            WARNED.call_once(|| eprintln!("warning: -C: the server's certificate is not verified, so the server's identity is not either"));
        }
        connect(target).await
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
