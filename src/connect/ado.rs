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
    /// `ApplicationIntent=ReadOnly`: a listener routes such a login to a
    /// readable secondary.
    pub(super) read_only_intent: Option<bool>,
    /// `MultiSubnetFailover`: try every address of the name at once.
    pub(super) multi_subnet_failover: Option<bool>,
    pub(super) application_name: Option<String>,
    pub(super) workstation_id: Option<String>,
    pub(super) packet_size: Option<u32>,
    pub(super) hostname_in_certificate: Option<String>,
    pub(super) trust_cert_ca: Option<String>,
    /// Keys accepted and not acted on, as the user wrote them, for a note.
    pub(super) ignored: Vec<String>,
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
                // Not quoted: such a part may be the rest of a password
                // that held an unquoted ';'.
                Some(';') | None => bail!(
                    "the connection string has a part without '=' (after {} key=value pairs)",
                    pairs.len()
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
            "applicationintent" | "application intent" => {
                a.read_only_intent = Some(match value.trim().to_ascii_lowercase().as_str() {
                    "readonly" => true,
                    "readwrite" => false,
                    _ => bail!("the connection string's '{key}' must be ReadOnly or ReadWrite"),
                })
            }
            "multisubnetfailover" | "multi subnet failover" => {
                a.multi_subnet_failover = Some(parse_bool(&key, &value)?)
            }
            "application name" | "applicationname" | "app" => a.application_name = Some(value),
            "workstation id" | "workstationid" | "wsid" => a.workstation_id = Some(value),
            "packet size" | "packetsize" => {
                a.packet_size = Some(
                    value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| (512..=32767).contains(n))
                        .ok_or_else(|| {
                            anyhow!(
                            "the connection string's '{key}' must be a number from 512 to 32767"
                        )
                        })?,
                )
            }
            "hostnameincertificate" | "hostname in certificate" => {
                a.hostname_in_certificate = Some(value)
            }
            "trustservercertificateca" => a.trust_cert_ca = Some(value),
            // Accepted so that a string copied from another program works,
            // and named in a note, since the tool does not act on them: one
            // connection, no pool, one result set at a time.
            "persist security info"
            | "persistsecurityinfo"
            | "pooling"
            | "multipleactiveresultsets"
            | "mars_connection"
            | "min pool size"
            | "max pool size"
            | "connection lifetime"
            | "load balance timeout" => a.ignored.push(key.clone()),
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
    fn keys_tiberius_honours_are_kept_and_ignored_ones_named() {
        let a = parse_ado("Server=l;ApplicationIntent=ReadOnly;MultiSubnetFailover=True;Application Name=ops;WSID=jump01;Packet Size=8000;HostNameInCertificate=sql.contoso.local;Pooling=false;MultipleActiveResultSets=true").unwrap();
        assert_eq!(a.read_only_intent, Some(true));
        assert_eq!(a.multi_subnet_failover, Some(true));
        assert_eq!(a.application_name.as_deref(), Some("ops"));
        assert_eq!(a.workstation_id.as_deref(), Some("jump01"));
        assert_eq!(a.packet_size, Some(8000));
        assert_eq!(
            a.hostname_in_certificate.as_deref(),
            Some("sql.contoso.local")
        );
        assert_eq!(a.ignored, vec!["pooling", "multipleactiveresultsets"]);
        let a = parse_ado("Application Intent=ReadWrite").unwrap();
        assert_eq!(a.read_only_intent, Some(false));
        assert!(parse_ado("ApplicationIntent=Sideways").is_err());
        assert!(parse_ado("Packet Size=12").is_err());
    }

    #[test]
    fn malformed_ado_strings_never_echo_values() {
        for bad in [
            "Server",
            "Server=x;Password=a;secret",
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
