//! How a run ends, and the exit code each ending maps to. The codes are part
//! of the interface (scripts check them); they are listed in `--help` and
//! the README.

use std::fmt;

/// Exit code: done, or healthy.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error; nothing was changed unless the message says so.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: the command line was wrong (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: `check` found objects without a valid owner pool.
pub const EXIT_FINDINGS: u8 = 3;
/// Exit code: a change was not made: not confirmed, refused without a
/// terminal, or aborted because the database moved after the plan was shown.
pub const EXIT_NOT_DONE: u8 = 4;

/// An ending other than a plain error, carrying its own exit code.
#[derive(Debug)]
pub enum Stop {
    /// Wrong or missing input on the command line (exit 2).
    Usage(String),
    /// The change was not made, on purpose (exit 4).
    NotDone(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Usage(m) | Stop::NotDone(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Stop {}

impl Stop {
    /// The exit code for this ending.
    pub fn exit_code(&self) -> u8 {
        match self {
            Stop::Usage(_) => EXIT_USAGE,
            Stop::NotDone(_) => EXIT_NOT_DONE,
        }
    }
}

/// The exit code for an error that ended a command.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<Stop>()
        .map_or(EXIT_ERROR, Stop::exit_code)
}
