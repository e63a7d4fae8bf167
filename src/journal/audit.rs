//! Who ran a change, from where, and how: the journal's audit fields.

use serde::{Deserialize, Serialize};

/// Who ran the change, from where, and how: the audit fields.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Audit {
    /// The operating-system user.
    pub os_user: String,
    /// The machine the tool ran on.
    pub host: String,
    /// The SQL Server login (never its password).
    pub login: String,
    /// The command line, with secrets replaced.
    pub command_line: String,
    /// The tool version.
    pub tool_version: String,
}

impl Audit {
    /// The audit fields of this run.
    pub fn here(login: &str) -> Audit {
        Audit {
            os_user: ["USER", "USERNAME", "LOGNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
                .unwrap_or_else(|| "(unknown)".to_string()),
            host: host_name(),
            login: login.to_string(),
            command_line: command_line(std::env::args()),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The command line as typed, with the value of every option that can hold
/// a secret replaced.
pub fn command_line(args: impl IntoIterator<Item = String>) -> String {
    const SECRET: &[&str] = &["--connection-string", "--password", "-P"];
    let mut out = Vec::new();
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push("(secret not recorded)".to_string());
            hide_next = false;
            continue;
        }
        match SECRET
            .iter()
            .find(|s| a == **s || a.starts_with(&format!("{s}=")))
        {
            Some(s) if a == *s => {
                hide_next = true;
                out.push(a);
            }
            Some(s) => out.push(format!("{s}=(secret not recorded)")),
            None => out.push(a),
        }
    }
    out.iter()
        .map(|a| crate::shell::quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(unix)]
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "(unknown)".to_string()
    }
}

#[cfg(not(unix))]
fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "(unknown)".to_string())
}
