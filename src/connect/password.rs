//! Passwords: where they come from (connection string, `RGS_PASSWORD`,
//! `--password-stdin`, a hidden prompt) and a type that never prints them.

use super::target::ConnectOptions;
use anyhow::{bail, Context, Result};
use std::fmt;
use std::io::{BufRead, IsTerminal};

/// A password. It prints as `***` in every format, so it cannot end up in a
/// log line, an error or the journal by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        Password(p.into())
    }
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The password: from the connection string, `RGS_PASSWORD`,
/// `--password-stdin`, or a hidden prompt on a terminal, in that order.
pub(super) fn get_password(
    given: Option<Password>,
    opts: &ConnectOptions,
    user: &str,
) -> Result<Password> {
    if let Some(p) = given {
        return Ok(p);
    }
    if let Ok(p) = std::env::var("RGS_PASSWORD") {
        return Ok(Password::new(p));
    }
    if opts.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the password from standard input")?;
        let line = line.trim_end_matches(['\r', '\n']);
        return Ok(Password::new(line));
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let p = dialoguer::Password::new()
            .with_prompt(format!("Password for {user}"))
            .allow_empty_password(true)
            .interact()
            .context("could not read the password")?;
        return Ok(Password::new(p));
    }
    bail!("no password for '{user}': set RGS_PASSWORD, use --password-stdin, or run in a terminal to be asked")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p} {p:?}"), "*** ***");
    }
}
