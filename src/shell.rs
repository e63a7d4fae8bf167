//! Command lines for people: the commands the tool suggests ("To apply:",
//! "Next step:", the undo hint), built from the flags that were given (never
//! a password) and quoted for the shell the tool runs on, so that pasting
//! one does exactly what it says; and the command line a journal records.

/// A suggested command, as arguments; [`Command::render`] quotes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Command {
    args: Vec<String>,
}

impl Command {
    /// `rgs-repair` followed by `args`.
    pub fn new<I, S>(args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// Adds arguments.
    pub fn arg(mut self, a: impl Into<String>) -> Command {
        self.args.push(a.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command line for this platform's shell.
    pub fn render(&self) -> String {
        let mut out = String::from("rgs-repair");
        for a in &self.args {
            out.push(' ');
            out.push_str(&quote(a));
        }
        out
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// One argument quoted for a POSIX shell: left bare when it holds only
/// characters no shell treats specially, else in single quotes (a quote
/// inside becomes `'\''`).
#[cfg(not(windows))]
pub fn quote(a: &str) -> String {
    if is_plain(a) {
        return a.to_string();
    }
    format!("'{}'", a.replace('\'', r"'\''"))
}

/// One argument quoted for PowerShell (and, for the plain cases, cmd):
/// single quotes, a quote inside doubled.
#[cfg(windows)]
pub fn quote(a: &str) -> String {
    if is_plain(a) {
        return a.to_string();
    }
    format!("'{}'", a.replace('\'', "''"))
}

fn is_plain(a: &str) -> bool {
    // PowerShell reads an unquoted comma as an array separator.
    let safe = if cfg!(windows) {
        "-_.:/=@+%"
    } else {
        "-_.,:/=@+%"
    };
    !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || safe.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_a_shell_would_change_are_quoted() {
        let c = Command::new([
            "-S",
            r"sqlbe01.contoso.local\rtc",
            "fix",
            "--pool",
            "ID|FQDN",
        ])
        .args(["--table", "dbo.Agent Groups", "--journal", "it's.json"]);
        #[cfg(not(windows))]
        assert_eq!(
            c.render(),
            r"rgs-repair -S 'sqlbe01.contoso.local\rtc' fix --pool 'ID|FQDN' --table 'dbo.Agent Groups' --journal 'it'\''s.json'"
        );
        #[cfg(not(windows))]
        assert_eq!(quote("127.0.0.1,1433"), "127.0.0.1,1433");
        #[cfg(windows)]
        assert_eq!(quote("127.0.0.1,1433"), "'127.0.0.1,1433'");
        assert_eq!(quote(""), "''");
    }
}
