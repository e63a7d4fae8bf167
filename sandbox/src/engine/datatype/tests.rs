use super::*;
use crate::types::Value;
use rusqlite::types::{Value as SqlVal, ValueRef};

#[test]
fn decl_round_trip() {
    for s in [
        "int",
        "nvarchar(256)",
        "nvarchar(max)",
        "varbinary(max)",
        "datetime2(3)",
        "uniqueidentifier",
        "bit",
    ] {
        let d = DeclType::parse(s).unwrap();
        assert_eq!(d.spec(), s);
        assert_eq!(DeclType::parse(&d.ddl()).unwrap(), d);
    }
    assert_eq!(
        DeclType::parse("nvarchar(-1)").unwrap().ty,
        SqlType::NVarChar(None)
    );
    assert_eq!(DeclType::parse("NVARCHAR(256)").unwrap().max_length(), 512);
}

#[test]
fn guid_conversion() {
    let v = convert(
        ValueRef::Text(b"6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        DeclType::new(SqlType::UniqueIdentifier),
        "nvarchar",
        None,
        &Mode::Cast,
    )
    .unwrap();
    // Stored in SQL Server's comparison order (see `guid`)...
    assert_eq!(
        v,
        SqlVal::Text("00C04FC964FF-B42D-11D0-868B-FF19966F".into())
    );
    // ...and shown as SQL Server shows it.
    let shown = convert(
        ValueRef::Text(b"00C04FC964FF-B42D-11D0-868B-FF19966F"),
        DeclType::new(SqlType::NVarChar(Some(36))),
        "uniqueidentifier",
        None,
        &Mode::Cast,
    )
    .unwrap();
    assert_eq!(
        shown,
        SqlVal::Text("6F9619FF-8B86-D011-B42D-00C04FC964FF".into())
    );
    let bytes = convert(
        ValueRef::Text(b"00C04FC964FF-B42D-11D0-868B-FF19966F"),
        DeclType::new(SqlType::VarBinary(Some(16))),
        "uniqueidentifier",
        None,
        &Mode::Cast,
    )
    .unwrap();
    assert_eq!(
        bytes,
        SqlVal::Blob(vec![
            0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9,
            0x64, 0xFF
        ])
    );
    let back = convert(
        ValueRef::Blob(match &bytes {
            SqlVal::Blob(b) => b,
            _ => unreachable!(),
        }),
        DeclType::new(SqlType::UniqueIdentifier),
        "varbinary",
        None,
        &Mode::Cast,
    )
    .unwrap();
    assert_eq!(back, v);
    // SQL Server converts only the display form from a string: the stored
    // form sent as text is not a GUID.
    let stored_as_text = convert(
        ValueRef::Text(b"00C04FC964FF-B42D-11D0-868B-FF19966F"),
        DeclType::new(SqlType::UniqueIdentifier),
        "nvarchar",
        None,
        &Mode::Cast,
    )
    .unwrap_err();
    assert_eq!(stored_as_text.number, 8169);
    let e = convert(
        ValueRef::Text(b"nope"),
        DeclType::new(SqlType::UniqueIdentifier),
        "nvarchar",
        None,
        &Mode::Cast,
    )
    .unwrap_err();
    assert_eq!(e.number, 8169);
}

#[test]
fn string_truncation() {
    let t = DeclType::new(SqlType::NVarChar(Some(3)));
    assert_eq!(
        convert(ValueRef::Text(b"abcdef"), t, "nvarchar", None, &Mode::Cast).unwrap(),
        SqlVal::Text("abc".into())
    );
    let e = convert(
        ValueRef::Text(b"abcdef"),
        t,
        "nvarchar",
        None,
        &Mode::Assign {
            table: "db.dbo.T",
            column: "C",
        },
    )
    .unwrap_err();
    assert_eq!(e.number, 2628);
}

#[test]
fn int_conversion_errors() {
    let t = DeclType::new(SqlType::Int);
    assert_eq!(
        convert(ValueRef::Text(b" 12 "), t, "varchar", None, &Mode::Cast).unwrap(),
        SqlVal::Integer(12)
    );
    assert_eq!(
        convert(ValueRef::Text(b"x"), t, "varchar", None, &Mode::Cast)
            .unwrap_err()
            .number,
        245
    );
    assert_eq!(
        convert(ValueRef::Integer(1 << 40), t, "bigint", None, &Mode::Cast)
            .unwrap_err()
            .number,
        8115
    );
    assert_eq!(
        convert(ValueRef::Text(b"x"), t, "varchar", None, &Mode::TryCast).unwrap(),
        SqlVal::Null
    );
}

#[test]
fn case_insensitive_collation() {
    use std::cmp::Ordering::*;
    assert_eq!(ci_cmp("Größe", "GRÖSSE"), Greater);
    assert_eq!(ci_cmp("Ärger", "ärger  "), Equal);
    assert_eq!(ci_cmp("a", "B"), Less);
}

#[test]
fn guid_order_matches_sql_server() {
    // The order SQL Server documents for uniqueidentifier comparisons.
    let ordered = [
        "01000000-0000-0000-0000-000000000000",
        "00010000-0000-0000-0000-000000000000",
        "00000100-0000-0000-0000-000000000000",
        "00000001-0000-0000-0000-000000000000",
        "00000000-0100-0000-0000-000000000000",
        "00000000-0001-0000-0000-000000000000",
        "00000000-0000-0100-0000-000000000000",
        "00000000-0000-0001-0000-000000000000",
        "00000000-0000-0000-0001-000000000000",
        "00000000-0000-0000-0100-000000000000",
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000100",
        "00000000-0000-0000-0000-010000000000",
    ];
    // The stored forms compare (bytewise, as SQLite compares them) in
    // SQL Server's order.
    let stored: Vec<String> = ordered
        .iter()
        .map(|s| guid_store(&super::guid::parse_guid(s).unwrap()))
        .collect();
    for w in stored.windows(2) {
        assert_eq!(
            w[0].cmp(&w[1]),
            std::cmp::Ordering::Less,
            "{} < {}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn datetime_text_round_trip() {
    let dt = parse_datetime("2024-05-06T07:08:09.1234567").unwrap();
    assert_eq!(format_datetime(&dt), "2024-05-06 07:08:09.1234567");
    assert_eq!(
        from_storage(
            ValueRef::Text(b"2024-05-06 07:08:09.1234567"),
            SqlType::DateTime2
        ),
        Value::DateTime(dt)
    );
}
