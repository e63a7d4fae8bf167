//! ADO.NET connection strings (`Server=...;Database=...`), parsed by our own
//! code so that no error message can echo a value (a value may be a
//! password).

use super::target::Encrypt;
use anyhow::{anyhow, bail, Result};

/// The settings of an ADO.NET connection string the tool understands.
#[derive(Debug, Default, PartialEq)]
pub(super) struct AdoSettings {
    pub(super) server: Option<String>,
    pub(super) database: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    pub(super) integrated: bool,
    pub(super) encrypt: Option<Encrypt>,
    pub(super) trust: Option<bool>,
    pub(super) timeout: Option<u64>,
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "sspi" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => bail!("the connection string's '{key}' must be true or false"),
    }
}

/// Splits an ADO.NET connection string into key/value pairs: `;`
/// separated, values optionally in single or double quotes (a doubled quote
/// inside stands for one). Error messages name keys, never values, since a
/// value may be a password.
fn ado_pairs(s: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        loop {
            match chars.next() {
                Some('=') if chars.peek() == Some(&'=') => {
                    chars.next();
                    key.push('=');
                }
                Some('=') => break,
                Some(';') | None => bail!(
                    "the connection string has a part without '=' ('{}')",
                    key.trim()
                ),
                Some(c) => key.push(c),
            }
        }
        let key = key.trim().to_ascii_lowercase();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                loop {
                    match chars.next() {
                        Some(c) if c == q && chars.peek() == Some(&q) => {
                            chars.next();
                            value.push(q);
                        }
                        Some(c) if c == q => break,
                        Some(c) => value.push(c),
                        None => {
                            bail!("the connection string's value for '{key}' has no closing quote")
                        }
                    }
                }
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                match chars.next() {
                    None | Some(';') => {}
                    Some(_) => {
                        bail!("the connection string has text after the quoted value of '{key}'")
                    }
                }
            }
            _ => {
                for c in chars.by_ref() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                }
                value = value.trim().to_string();
            }
        }
        if key.is_empty() {
            bail!("the connection string has a value without a key");
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

pub(super) fn parse_ado(s: &str) -> Result<AdoSettings> {
    let mut a = AdoSettings::default();
    for (key, value) in ado_pairs(s)? {
        match key.as_str() {
            "server" | "data source" | "address" | "addr" | "network address" => {
                a.server = Some(value)
            }
            "database" | "initial catalog" => a.database = Some(value),
            "user id" | "uid" | "user" => a.user = Some(value),
            "password" | "pwd" => a.password = Some(value),
            "integrated security" | "integratedsecurity" | "trusted_connection" => {
                a.integrated = parse_bool(&key, &value)?
            }
            "encrypt" => {
                a.encrypt = Some(match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "mandatory" => Encrypt::Mandatory,
                    "false" | "no" | "optional" => Encrypt::Optional,
                    "strict" => Encrypt::Strict,
                    "disable" | "disabled" => Encrypt::Disable,
                    _ => bail!(
                        "the connection string's 'encrypt' must be true, false, strict or disable"
                    ),
                })
            }
            "trustservercertificate" | "trust server certificate" => {
                a.trust = Some(parse_bool(&key, &value)?)
            }
            "connect timeout" | "connection timeout" | "timeout" => {
                a.timeout = Some(value.trim().parse().map_err(|_| {
                    anyhow!("the connection string's '{key}' must be a number of seconds")
                })?)
            }
            // Accepted and not needed by this tool.
            "application name"
            | "app"
            | "workstation id"
            | "wsid"
            | "persist security info"
            | "pooling"
            | "multipleactiveresultsets"
            | "multisubnetfailover"
            | "packet size"
            | "applicationintent"
            | "application intent" => {}
            other => {
                bail!("the connection string has a keyword this tool does not know: '{other}'")
            }
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ado_strings_parse_with_quotes() {
        let a = parse_ado("Server=tcp:sql01\\RTC,1433;Database=rgsconfig;User Id=sa;Password=\"p;w\"\"d\";TrustServerCertificate=true;Encrypt=strict").unwrap();
        assert_eq!(a.server.as_deref(), Some("tcp:sql01\\RTC,1433"));
        assert_eq!(a.database.as_deref(), Some("rgsconfig"));
        assert_eq!(a.user.as_deref(), Some("sa"));
        assert_eq!(a.password.as_deref(), Some("p;w\"d"));
        assert_eq!(a.trust, Some(true));
        assert_eq!(a.encrypt, Some(Encrypt::Strict));
        let a = parse_ado("Data Source=sql01;Initial Catalog=x;Integrated Security=SSPI;").unwrap();
        assert!(a.integrated);
        assert_eq!(a.database.as_deref(), Some("x"));
    }

    #[test]
    fn malformed_ado_strings_never_echo_values() {
        for bad in [
            "Server",
            "Server=x;Password='secret",
            "Server=x;Bogus=secret",
            "Encrypt=secret",
            "Password='a'secret",
        ] {
            let e = parse_ado(bad).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
