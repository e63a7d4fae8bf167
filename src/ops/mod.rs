//! The commands' work, each a function from parsed arguments to an exit
//! code, in the cargo `ops` style: the CLI layer only parses and calls these.

pub mod check;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod diff;
pub mod fix;
mod fix_plan;
pub mod progress;
pub mod prompt;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod snapshot;
pub mod targets;
pub mod undo;

use crate::connect::{connect, ConnectOptions, Connection, Target};
use crate::error::Stop;
use crate::shell::Command;
use anyhow::Result;
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
    /// Ctrl-C handling for writes.
    pub interrupt: Interrupt,
    /// `--quiet`: no notes or warnings on stderr.
    pub quiet: bool,
}

impl Context {
    /// A context for `options`.
    pub fn new(options: ConnectOptions, format: Format, interrupt: Interrupt) -> Context {
        Context {
            options,
            target: OnceLock::new(),
            format,
            interactive: Context::detect_interactive(),
            interrupt,
            quiet: false,
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

    /// A command to suggest: `rgs-repair`, the flags that reach this
    /// target again, then `args`.
    pub fn command<I, S>(&self, args: I) -> Result<Command>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ok(Command::new(self.target()?.flags()).args(args))
    }

    /// A note or warning on stderr, unless `--quiet`.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A spinner for a step that may take a while (on a terminal, not
    /// with `-q`); keep it until the step ends.
    pub fn progress(&self, message: &str) -> progress::Progress {
        progress::Progress::start(!self.quiet, message)
    }

    /// Whether questions can be asked here: a terminal the tool can read
    /// from, with standard error on it (see [`prompt::Terminal::open`]).
    pub fn detect_interactive() -> bool {
        prompt::Terminal::open().is_some()
    }

    /// Connects, warning when the server's identity goes unverified.
    pub async fn connect(&self) -> Result<Connection> {
        static WARNED: std::sync::Once = std::sync::Once::new();
        let target = self.target()?;
        WARNED.call_once(|| {
            if target.trusts_server_certificate() {
                self.note("warning: -C: the server's certificate is not verified, so the server's identity is not either");
            }
            for key in target.ignored_keys() {
                self.note(&format!("note: the connection string's '{key}' is accepted and ignored: the tool uses one connection at a time"));
            }
        });
        // The target (and any password prompt) first: no spinner over it.
        let _progress = self.progress(&format!("Connecting to {}", target.server));
        connect(target).await
    }

    /// A write (`what`) refuses, before connecting, a login that asks for a
    /// readable secondary (usage error, exit 2).
    pub fn refuse_read_only_intent(&self, what: &str) -> Result<()> {
        if self.options.read_only_intent()? {
            return Err(crate::error::Stop::Usage(format!(
                "{what} writes, and ApplicationIntent=ReadOnly (-K ReadOnly) sends the login to a readable secondary replica, where nothing can be written: drop it (or give -K ReadWrite) and connect through the availability group's listener; nothing was changed"
            ))
            .into());
        }
        Ok(())
    }
}

/// Ctrl-C and SIGTERM: outside a write they end the program at once
/// (nothing to undo; exit 4, the terminal as it was); during a write they ask
/// the transaction to send an attention, roll back and stop (exit 4).
#[derive(Clone, Default)]
pub struct Interrupt {
    writing: Arc<AtomicBool>,
    token: CancellationToken,
}

impl Interrupt {
    /// Installs the handlers on the current tokio runtime.
    pub fn install() -> Interrupt {
        let i = Interrupt::default();
        let handler = i.clone();
        let saved = prompt::SavedTerminal::save();
        tokio::spawn(async move {
            loop {
                let signal = next_signal().await;
                if handler.writing.load(Ordering::SeqCst) {
                    // COMMIT, once sent, is waited for: its outcome is
                    // what the journal must tell (see `apply::run`).
                    eprintln!("\nInterrupted ({signal}): rolling back the transaction, unless its COMMIT is already under way...");
                    handler.token.cancel();
                } else {
                    saved.restore();
                    eprintln!("\nInterrupted ({signal}); nothing was changed.");
                    std::process::exit(i32::from(crate::error::EXIT_NOT_DONE));
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

/// Waits for Ctrl-C or (on Unix) SIGTERM and names it.
async fn next_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Asks to go ahead: the word `yes` typed in full, and Enter. `--yes`
/// answers yes; without a terminal the answer is no, since nobody saw the
/// plan.
pub fn confirm(ctx: &Context, yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    let terminal = ctx.interactive.then(prompt::Terminal::open).flatten();
    let Some(mut terminal) = terminal else {
        return Err(Stop::NotDone(
            "not changing anything: there is no terminal to confirm on. Review the plan above and run again with --yes to apply it".into(),
        )
        .into());
    };
    let answer = terminal.ask(&format!(
        "{question}\nType yes to apply, anything else to stop: "
    ))?;
    if answer.as_deref().is_some_and(prompt::is_yes) {
        Ok(())
    } else {
        Err(
            Stop::NotDone("not confirmed (only the word yes confirms); nothing was changed".into())
                .into(),
        )
    }
}
