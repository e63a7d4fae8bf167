//! `check --targets FILE`: the list of servers to check, and their
//! credentials, asked for once per distinct login before any connection.
//!
//! Two formats. A text file: one target per line, a server as `-S` takes it
//! (`host\instance`, `host,port`) or an ADO.NET connection string (a line
//! with `=`); blank lines and lines starting with `#` are skipped, and a
//! server line may end in a `# comment`. A `.toml` file: `[[target]]`
//! tables with `name`, `server` or `connection_string`, and optionally
//! `database`, `user`, `integrated`, `encrypt`, `trust_server_certificate`.
//! The command's own flags are every target's defaults; what a line or
//! table says overrides them, as `--connection-string` does for one target.
//!
//! A mistake in the file is a usage error naming the line or the table,
//! never quoting a value: a line that does not parse may hold a password.

use super::ado::parse_ado;
use super::password::{get_password, Password};
use super::target::{ConnectOptions, Encrypt, ServerSpec, Target};
use crate::error::Stop;
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

/// One target of the file, with the options that reach it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// What the report calls it: the TOML `name`, else the server as
    /// written (a connection string's `Server`, never the whole string).
    pub name: String,
    /// Where it is in the file (`line 3`, `target 2`), for messages.
    pub origin: String,
    /// The command's flags with this entry's settings over them.
    pub options: ConnectOptions,
}

/// Reads `path`: TOML when its name ends in `.toml`, else one target per
/// line. `defaults` are the command's connection flags (their server and
/// connection string are ignored: each entry names its own).
pub fn read(path: &Path, defaults: &ConnectOptions) -> Result<Vec<Entry>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Stop::Usage(format!("--targets {shown}: cannot read it: {e}")))?;
    let is_toml = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("toml"));
    let parsed = if is_toml {
        parse_toml(&text, defaults)
    } else {
        parse_lines(&text, defaults)
    };
    let entries = parsed.map_err(|m| Stop::Usage(format!("--targets {shown}: {m}")))?;
    if entries.is_empty() {
        return Err(Stop::Usage(format!("--targets {shown}: the file names no target")).into());
    }
    Ok(entries)
}

/// The command's flags as a blank entry: no server, no connection string.
fn blank(defaults: &ConnectOptions) -> ConnectOptions {
    ConnectOptions {
        server: None,
        connection_string: None,
        ..defaults.clone()
    }
}

/// The text format. Errors are messages for a usage error.
pub fn parse_lines(text: &str, defaults: &ConnectOptions) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let origin = format!("line {}", n + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut options = blank(defaults);
        let name = if line.contains('=') {
            let a = parse_ado(line).map_err(|e| format!("{origin}: {e:#}"))?;
            let server = a
                .server
                .ok_or_else(|| format!("{origin}: the connection string names no Server"))?;
            check_server(&server, &origin)?;
            options.connection_string = Some(line.to_string());
            server.trim().to_string()
        } else {
            // A connection string may hold '#'; a server name never does.
            let server = line.split('#').next().unwrap_or_default().trim();
            check_server(server, &origin)?;
            options.server = Some(server.to_string());
            server.to_string()
        };
        out.push(Entry {
            name,
            origin,
            options,
        });
    }
    Ok(out)
}

/// A server name as `-S` takes it; the error does not quote the text (a
/// line meant as something else may be a password).
fn check_server(server: &str, origin: &str) -> Result<(), String> {
    if server.chars().any(char::is_whitespace) || ServerSpec::parse(server).is_err() {
        return Err(format!(
            "{origin} is neither a server as -S takes it (HOST[\\INSTANCE][,PORT]) nor a connection string (Server=...;Database=...); the line is not shown, as it may hold a password"
        ));
    }
    Ok(())
}

/// The keys a `[[target]]` table may have.
const TOML_KEYS: [&str; 8] = [
    "name",
    "server",
    "connection_string",
    "database",
    "user",
    "integrated",
    "encrypt",
    "trust_server_certificate",
];

/// The TOML format. Errors are messages for a usage error.
pub fn parse_toml(text: &str, defaults: &ConnectOptions) -> Result<Vec<Entry>, String> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        // toml's own text can quote the offending value: only its place.
        let line = e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].lines().count().max(1)
        });
        format!("line {line} is not valid TOML (the text is not shown, as it may hold a password)")
    })?;
    if let Some(k) = doc.keys().find(|k| *k != "target") {
        return Err(format!(
            "unknown key '{k}': the file holds [[target]] tables only"
        ));
    }
    let tables = match doc.get("target") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(a)) => a,
        Some(_) => return Err("'target' must be a list of [[target]] tables".into()),
    };
    let mut out: Vec<Entry> = Vec::new();
    for (n, t) in tables.iter().enumerate() {
        let toml::Value::Table(t) = t else {
            return Err(format!("target {} is not a table", n + 1));
        };
        let e = toml_entry(t, n + 1, defaults)?;
        if out.iter().any(|o| o.name == e.name) {
            return Err(format!(
                "{}: the name '{}' is given to another target too",
                e.origin, e.name
            ));
        }
        out.push(e);
    }
    Ok(out)
}

/// One `[[target]]` table (`n` counts from 1).
fn toml_entry(t: &toml::Table, n: usize, defaults: &ConnectOptions) -> Result<Entry, String> {
    let given = t.get("name").and_then(toml::Value::as_str);
    let origin = match given {
        Some(name) => format!("target {n} ('{name}')"),
        None => format!("target {n}"),
    };
    if let Some(k) = t.keys().find(|k| !TOML_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{origin}: unknown key '{k}' (known: {})",
            TOML_KEYS.join(", ")
        ));
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(format!("{origin}: '{key}' must be a non-empty string")),
        }
    };
    let flag = |key: &str| -> Result<Option<bool>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{origin}: '{key}' must be true or false")),
        }
    };
    if t.contains_key("name") && given.is_none_or(|s| s.trim().is_empty()) {
        return Err(format!("{origin}: 'name' must be a non-empty string"));
    }
    let mut options = blank(defaults);
    let server = match (text("server")?, text("connection_string")?) {
        (Some(s), None) => {
            check_server(&s, &origin).map_err(|_| {
                format!(
                    "{origin}: 'server' is not a server as -S takes it (HOST[\\INSTANCE][,PORT])"
                )
            })?;
            options.server = Some(s.clone());
            s
        }
        (None, Some(cs)) => {
            let a = parse_ado(&cs).map_err(|e| format!("{origin}: {e:#}"))?;
            let s = a
                .server
                .ok_or_else(|| format!("{origin}: the connection string names no Server"))?;
            check_server(&s, &origin)?;
            options.connection_string = Some(cs);
            s.trim().to_string()
        }
        _ => {
            return Err(format!(
                "{origin}: give either 'server' or 'connection_string' (one of them)"
            ))
        }
    };
    if let Some(d) = text("database")? {
        options.database = Some(d);
    }
    if let Some(u) = text("user")? {
        options.user = Some(u);
    }
    if let Some(i) = flag("integrated")? {
        options.integrated = i;
    }
    if let Some(c) = flag("trust_server_certificate")? {
        options.trust_server_certificate = c;
    }
    if let Some(v) = t.get("encrypt") {
        options.encrypt = toml_encrypt(v).ok_or_else(|| {
            format!("{origin}: 'encrypt' must be strict, mandatory, optional or disable (or true/false)")
        })?;
    }
    Ok(Entry {
        name: given.map_or(server, |s| s.trim().to_string()),
        origin,
        options,
    })
}

/// `encrypt = "strict"`..., or a boolean as in a connection string.
fn toml_encrypt(v: &toml::Value) -> Option<Encrypt> {
    match v {
        toml::Value::Boolean(true) => Some(Encrypt::Mandatory),
        toml::Value::Boolean(false) => Some(Encrypt::Optional),
        toml::Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "strict" => Some(Encrypt::Strict),
            "mandatory" | "true" | "yes" => Some(Encrypt::Mandatory),
            "optional" | "false" | "no" => Some(Encrypt::Optional),
            "disable" | "disabled" => Some(Encrypt::Disable),
            _ => None,
        },
        _ => None,
    }
}

/// Resolves every entry into a target. Passwords are asked for first, once
/// per distinct login that needs one (in file order): from `RGS_PASSWORD`
/// or `--password-stdin` (the same for every login), else at a hidden
/// prompt per login; a password written in an entry's connection string is
/// used as written. An entry that cannot be resolved (no login, say) is a
/// usage error naming it, before any prompt.
pub fn resolve_all(entries: &[Entry], defaults: &ConnectOptions) -> Result<Vec<Target>> {
    let mut logins: Vec<String> = Vec::new();
    for e in entries {
        Target::resolve_with(&e.options, |user| {
            if !logins.iter().any(|l| l == user) {
                logins.push(user.to_string());
            }
            Ok(Password::new(String::new()))
        })
        .map_err(|err| Stop::Usage(format!("--targets: {} ({}): {err:#}", e.origin, e.name)))?;
    }
    let mut passwords: HashMap<String, Password> = HashMap::new();
    let shared = std::env::var_os("RGS_PASSWORD").is_some() || defaults.password_stdin;
    for login in &logins {
        let p = match (shared, passwords.values().next()) {
            (true, Some(p)) => p.clone(),
            _ => get_password(None, defaults, login)?,
        };
        passwords.insert(login.clone(), p);
    }
    entries
        .iter()
        .map(|e| {
            Target::resolve_with(&e.options, |user| {
                passwords
                    .get(user)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no password for '{user}'"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn defaults() -> ConnectOptions {
        ConnectOptions {
            server: Some("ignored".into()),
            database: None,
            user: Some("sa".into()),
            integrated: false,
            encrypt: Encrypt::Mandatory,
            trust_server_certificate: true,
            connect_timeout: Duration::from_secs(15),
            command_timeout: Duration::from_secs(60),
            connection_string: None,
            password_stdin: false,
            multi_subnet_failover: false,
            read_only_intent: None,
            lock_timeout_ms: 10_000,
        }
    }

    #[test]
    fn lines_are_servers_or_connection_strings() {
        let text = "# pools\n\nsql01\\rtc\n  sql02,1433   # the second\nServer=sql03;Database=rgs2;User Id=ops;Password=se#cret\n";
        let e = parse_lines(text, &defaults()).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].name.as_str(), e[0].origin.as_str()),
            ("sql01\\rtc", "line 3")
        );
        assert_eq!(e[0].options.server.as_deref(), Some("sql01\\rtc"));
        assert_eq!(e[1].options.server.as_deref(), Some("sql02,1433"));
        assert_eq!(e[2].name, "sql03");
        assert_eq!(e[2].options.server, None);
        assert!(e[2].options.connection_string.is_some());
        // The flags are the defaults of every line.
        assert!(e.iter().all(|e| e.options.trust_server_certificate));
        assert_eq!(e[1].options.user.as_deref(), Some("sa"));
    }

    #[test]
    fn bad_lines_are_named_and_never_quoted() {
        for bad in [
            "ok01\nhunter2 secret\n",
            "ok01\nsecret,notaport\n",
            "ok01\nServer=x;Password=a;secret\n",
            "ok01\nDatabase=x;Password=secret\n",
            "ok01\nServer=x;Bogus=1;Password='secret\n",
        ] {
            let e = parse_lines(bad, &defaults()).unwrap_err();
            assert!(e.contains("line 2"), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn toml_inventories_have_names() {
        let text = r#"
[[target]]
name = "pool-a"
server = "sql01\\rtc"
database = "rgsconfig"
user = "rgsops"
encrypt = "strict"

[[target]]
name = "pool-b"
connection_string = "Server=sql02,1433;Integrated Security=true"
trust_server_certificate = false

[[target]]
server = "sql03"
integrated = true
"#;
        let e = parse_toml(text, &defaults()).unwrap();
        assert_eq!(
            e.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["pool-a", "pool-b", "sql03"]
        );
        assert_eq!(e[0].options.user.as_deref(), Some("rgsops"));
        assert_eq!(e[0].options.encrypt, Encrypt::Strict);
        assert_eq!(e[0].options.database.as_deref(), Some("rgsconfig"));
        assert!(!e[1].options.trust_server_certificate);
        assert!(e[1].options.connection_string.is_some());
        assert!(e[2].options.integrated);
    }

    #[test]
    fn bad_toml_is_named_and_never_quoted() {
        for (bad, place) in [
            ("[[target]]\nserver = \"a\"\nconnection_string = \"Server=b;Password=secret\"\n", "target 1"),
            ("[[target]]\nname = \"x\"\nserver = \"a\"\n[[target]]\nname = \"x\"\nserver = \"b\"\n", "target 2"),
            ("[[target]]\nserver = \"a\"\nintegrated = \"secret\"\n", "target 1"),
            ("[[target]]\nserver = \"a\"\npassword = \"secret\"\n", "target 1"),
            ("[[target]]\nserver = \"a\"\n\nuser = \"secret\n", "line 4"),
            ("[[target]]\nconnection_string = \"Server=a;Password=x;secret\"\n", "target 1"),
            ("[[target]]\nserver = \"secret,x\"\n", "target 1"),
            ("server = \"a\"\n", "unknown key 'server'"),
        ] {
            let e = parse_toml(bad, &defaults()).unwrap_err();
            assert!(e.contains(place), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn resolving_asks_nothing_when_the_file_holds_the_passwords() {
        let text =
            "Server=a;User Id=x;Password=p1\nServer=b;Integrated Security=true;Password=p2\n";
        let e = parse_lines(text, &defaults()).unwrap();
        let t = resolve_all(&e, &defaults()).unwrap();
        assert_eq!(t[0].login(), "x");
        assert_eq!(t[1].server.host, "b");
    }

    #[test]
    fn an_entry_without_a_login_is_a_usage_error_naming_it() {
        let mut d = defaults();
        d.user = None;
        let e = parse_lines("a\nServer=b;User Id=x;Password=p\n", &d).unwrap();
        let err = resolve_all(&e, &d).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_USAGE);
        assert!(err.to_string().contains("line 1 (a)"), "{err}");
    }
}
