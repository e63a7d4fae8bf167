//! PRELOGIN (MS-TDS 2.2.6.5): the client's options and the server's answer,
//! including the encryption negotiation SQL Server performs.

use super::wire::{Reader, WireError, WireResult};

/// ENCRYPT_OFF: encrypt the login packet only.
pub const ENCRYPT_OFF: u8 = 0x00;
/// ENCRYPT_ON: encrypt everything.
pub const ENCRYPT_ON: u8 = 0x01;
/// ENCRYPT_NOT_SUP: no TLS at all.
pub const ENCRYPT_NOT_SUP: u8 = 0x02;
/// ENCRYPT_REQ: the client requires encryption.
pub const ENCRYPT_REQ: u8 = 0x03;
/// ENCRYPT_CLIENT_CERT bit (TDS 7.4 client certificates).
pub const ENCRYPT_CLIENT_CERT: u8 = 0x80;

const VERSION: u8 = 0x00;
const ENCRYPTION: u8 = 0x01;
const INSTOPT: u8 = 0x02;
const THREADID: u8 = 0x03;
const MARS: u8 = 0x04;
const FEDAUTHREQUIRED: u8 = 0x06;
const TERMINATOR: u8 = 0xFF;

/// What the client asked for in its PRELOGIN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPrelogin {
    /// Its ENCRYPTION option (absent means ENCRYPT_OFF per the spec).
    pub encryption: Option<u8>,
    /// The instance name it wants validated (empty when none).
    pub instance: String,
    /// Whether it asked for MARS (always refused).
    pub mars: bool,
    /// Whether it requires federated authentication (unsupported).
    pub fed_auth_required: bool,
}

/// Parses the client's PRELOGIN payload.
pub fn parse(payload: &[u8]) -> WireResult<ClientPrelogin> {
    let mut out = ClientPrelogin::default();
    let mut table = Reader::new(payload);
    loop {
        let token = table.u8()?;
        if token == TERMINATOR {
            break;
        }
        let offset = table.u16_be()? as usize;
        let len = table.u16_be()? as usize;
        let data = payload.get(offset..offset + len).ok_or_else(|| {
            WireError(format!(
                "PRELOGIN option {token} points outside the message"
            ))
        })?;
        match token {
            ENCRYPTION if len >= 1 => out.encryption = Some(data[0]),
            INSTOPT => {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                out.instance = String::from_utf8_lossy(&data[..end]).into_owned();
            }
            MARS if len >= 1 => out.mars = data[0] != 0,
            FEDAUTHREQUIRED if len >= 1 => out.fed_auth_required = data[0] != 0,
            _ => {}
        }
    }
    Ok(out)
}

/// SQL Server's answer to the client's ENCRYPTION option when the server has
/// a certificate and does not force encryption (`offer_tls`), or when it has
/// none (`!offer_tls`: always ENCRYPT_NOT_SUP, and a client that requires
/// encryption then gives up).
pub fn negotiate(client: Option<u8>, offer_tls: bool) -> u8 {
    if !offer_tls {
        return ENCRYPT_NOT_SUP;
    }
    match client.unwrap_or(ENCRYPT_OFF) & !ENCRYPT_CLIENT_CERT {
        ENCRYPT_OFF => ENCRYPT_OFF,
        ENCRYPT_NOT_SUP => ENCRYPT_NOT_SUP,
        _ => ENCRYPT_ON,
    }
}

/// The server's PRELOGIN payload: VERSION (major, minor, build, sub-build
/// 0), ENCRYPTION, INSTOPT (0 = the instance is valid), an empty THREADID
/// and MARS off, as SQL Server sends them.
pub fn response(encryption: u8, instance_ok: bool, version: (u8, u8, u16)) -> Vec<u8> {
    let (major, minor, build) = version;
    let mut options: Vec<(u8, Vec<u8>)> = vec![
        (
            VERSION,
            vec![major, minor, (build >> 8) as u8, build as u8, 0, 0],
        ),
        (ENCRYPTION, vec![encryption]),
        (INSTOPT, vec![if instance_ok { 0 } else { 1 }]),
        (THREADID, vec![]),
        (MARS, vec![0]),
    ];
    let mut out = Vec::new();
    let mut offset = options.len() * 5 + 1;
    for (token, data) in &options {
        out.push(*token);
        out.extend_from_slice(&(offset as u16).to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        offset += data.len();
    }
    out.push(TERMINATOR);
    for (_, data) in options.drain(..) {
        out.extend_from_slice(&data);
    }
    out
}

/// Whether the instance name a client sent in INSTOPT names this server,
/// whose own instance name is `own` (None: the default instance).
///
/// SQL Server validates only a name the client gives: the empty name (a
/// lone 0x00, sent by clients that connect by host and port) is valid on
/// every instance, and since SQL Server 2012 so is `MSSQLServer`, which
/// clients may send when no instance was named ([MS-TDS] 2.2.6.5, product
/// behavior note 38). Any other name must be the instance's own, in any
/// case; a named instance refuses another instance's name.
pub fn instance_ok(requested: &str, own: Option<&str>) -> bool {
    requested.is_empty()
        || requested.eq_ignore_ascii_case("MSSQLSERVER")
        || own.is_some_and(|own| requested.eq_ignore_ascii_case(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PRELOGIN tiberius 0.13 sends with EncryptionLevel::Required.
    fn tiberius_prelogin(enc: u8) -> Vec<u8> {
        let mut v = vec![
            0, 0, 26, 0, 6, //
            1, 0, 32, 0, 1, //
            2, 0, 33, 0, 1, //
            3, 0, 34, 0, 4, //
            4, 0, 38, 0, 1, //
            0xFF,
        ];
        v.extend_from_slice(&[0, 13, 0, 0, 0, 0]);
        v.push(enc);
        v.push(0);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.push(0);
        v
    }

    #[test]
    fn parses_client_options() {
        let p = parse(&tiberius_prelogin(ENCRYPT_REQ)).unwrap();
        assert_eq!(p.encryption, Some(ENCRYPT_REQ));
        assert_eq!(p.instance, "");
        assert!(!p.mars);
    }

    #[test]
    fn option_outside_message_is_an_error() {
        assert!(parse(&[1, 0, 200, 0, 1, 0xFF]).is_err());
    }

    #[test]
    fn negotiates_like_sql_server() {
        assert_eq!(negotiate(Some(ENCRYPT_OFF), true), ENCRYPT_OFF);
        assert_eq!(negotiate(Some(ENCRYPT_ON), true), ENCRYPT_ON);
        assert_eq!(negotiate(Some(ENCRYPT_REQ), true), ENCRYPT_ON);
        assert_eq!(negotiate(Some(ENCRYPT_NOT_SUP), true), ENCRYPT_NOT_SUP);
        assert_eq!(
            negotiate(Some(ENCRYPT_ON | ENCRYPT_CLIENT_CERT), true),
            ENCRYPT_ON
        );
        assert_eq!(negotiate(None, true), ENCRYPT_OFF);
        assert_eq!(negotiate(Some(ENCRYPT_REQ), false), ENCRYPT_NOT_SUP);
    }

    #[test]
    fn instance_names_are_validated_as_sql_server_does() {
        assert!(instance_ok("", None));
        assert!(instance_ok("", Some("RTC")));
        assert!(instance_ok("MSSQLServer", None));
        assert!(instance_ok("mssqlserver", Some("RTC")));
        assert!(instance_ok("rtc", Some("RTC")));
        assert!(instance_ok("RTC", Some("rtc")));
        assert!(!instance_ok("RTC", None));
        assert!(!instance_ok("SQLEXPRESS", Some("RTC")));
        assert!(!instance_ok("RTC2", Some("RTC")));
    }

    #[test]
    fn response_round_trips_through_parse() {
        let r = response(ENCRYPT_ON, true, (16, 0, 4135));
        let p = parse(&r).unwrap();
        assert_eq!(p.encryption, Some(ENCRYPT_ON));
        // VERSION is first, right after the 5 option entries and terminator.
        assert_eq!(&r[26..32], &[16, 0, 0x10, 0x27, 0, 0]);
        // THREADID is present but empty: tiberius asserts a zero thread id.
        assert_eq!(&r[15..20], &[3, 0, 34, 0, 0]);
    }
}
