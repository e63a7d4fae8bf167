//! SQL Server's errors with the numbers, severities, states and message
//! texts clients (and rgs-repair) match on.

use crate::types::SqlError;

fn err(number: i32, severity: u8, state: u8, message: impl Into<String>) -> SqlError {
    SqlError {
        number,
        severity,
        state,
        message: message.into(),
        line: 1,
    }
}

/// The error number the engine uses for a statement stopped by
/// `Interrupter::interrupt` (SQL Server's "query cancelled" number). The
/// front end reports it as an attention acknowledgement, not as an error.
pub const CANCELLED: i32 = 3617;

/// Msg 3617: the statement was cancelled by an attention.
pub(crate) fn cancelled() -> SqlError {
    err(CANCELLED, 11, 1, "The query was cancelled.")
}

/// Msg 102 (severity 15).
pub(crate) fn syntax(near: &str) -> SqlError {
    err(102, 15, 1, format!("Incorrect syntax near '{near}'."))
}

/// Msg 156: a keyword where it cannot stand.
pub(crate) fn syntax_keyword(keyword: &str) -> SqlError {
    err(
        156,
        15,
        1,
        format!("Incorrect syntax near the keyword '{keyword}'."),
    )
}

/// Msg 208.
pub(crate) fn invalid_object(name: &str) -> SqlError {
    err(208, 16, 1, format!("Invalid object name '{name}'."))
}

/// Msg 207.
pub(crate) fn invalid_column(name: &str) -> SqlError {
    err(207, 16, 1, format!("Invalid column name '{name}'."))
}

/// Msg 209.
pub(crate) fn ambiguous_column(name: &str) -> SqlError {
    err(209, 16, 1, format!("Ambiguous column name '{name}'."))
}

/// Msg 4104.
pub(crate) fn not_bound(name: &str) -> SqlError {
    err(
        4104,
        16,
        1,
        format!("The multi-part identifier \"{name}\" could not be bound."),
    )
}

/// Msg 137.
pub(crate) fn undeclared(name: &str) -> SqlError {
    err(
        137,
        15,
        2,
        format!("Must declare the scalar variable \"{name}\"."),
    )
}

/// Msg 4145: a value where a condition is expected.
pub(crate) fn non_boolean(near: &str) -> SqlError {
    err(
        4145,
        15,
        1,
        format!("An expression of non-boolean type specified in a context where a condition is expected, near '{near}'."),
    )
}

/// Msg 195: unknown built-in function.
pub(crate) fn unknown_function(name: &str) -> SqlError {
    err(
        195,
        15,
        10,
        format!("'{name}' is not a recognized built-in function name."),
    )
}

/// Msg 174: wrong argument count.
pub(crate) fn arg_count(name: &str, n: usize) -> SqlError {
    err(
        174,
        15,
        1,
        format!("The {name} function requires {n} argument(s)."),
    )
}

/// Msg 8169.
pub(crate) fn guid_conversion() -> SqlError {
    err(
        8169,
        16,
        2,
        "Conversion failed when converting from a character string to uniqueidentifier.",
    )
}

/// Msg 2628.
pub(crate) fn truncation(table: &str, column: &str, value: &str) -> SqlError {
    err(
        2628,
        16,
        1,
        format!("String or binary data would be truncated in table '{table}', column '{column}'. Truncated value: '{value}'."),
    )
}

/// Msg 515.
pub(crate) fn null_insert(column: &str, table: &str, verb: &str) -> SqlError {
    err(
        515,
        16,
        2,
        format!("Cannot insert the value NULL into column '{column}', table '{table}'; column does not allow nulls. {verb} fails."),
    )
}

/// Msg 2627 (PRIMARY KEY or UNIQUE KEY constraint).
pub(crate) fn duplicate_key(kind: &str, constraint: &str, object: &str, value: &str) -> SqlError {
    err(
        2627,
        14,
        1,
        format!(
            "Violation of {kind} constraint '{constraint}'. Cannot insert duplicate key in object '{object}'. The duplicate key value is ({value})."
        ),
    )
}

/// Msg 2601 (unique index).
pub(crate) fn duplicate_index_key(object: &str, index: &str, value: &str) -> SqlError {
    err(
        2601,
        14,
        1,
        format!("Cannot insert duplicate key row in object '{object}' with unique index '{index}'. The duplicate key value is ({value})."),
    )
}

/// Msg 1222.
pub(crate) fn lock_timeout() -> SqlError {
    err(1222, 16, 51, "Lock request time out period exceeded.")
}

/// Msg 297: a login without VIEW SERVER STATE reads a `sys.dm_*` view.
pub(crate) fn no_server_permission() -> SqlError {
    err(
        297,
        16,
        1,
        "The user does not have permission to perform this action.",
    )
}

/// Msg 1205.
pub(crate) fn deadlock(spid: u16) -> SqlError {
    err(
        1205,
        13,
        51,
        format!(
            "Transaction (Process ID {spid}) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction."
        ),
    )
}

/// Msg 3902.
pub(crate) fn commit_without_begin() -> SqlError {
    err(
        3902,
        16,
        1,
        "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.",
    )
}

/// Msg 3903.
pub(crate) fn rollback_without_begin() -> SqlError {
    err(
        3903,
        16,
        1,
        "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.",
    )
}

/// Msg 229.
pub(crate) fn permission_denied(
    perm: &str,
    object: &str,
    database: &str,
    schema: &str,
) -> SqlError {
    err(
        229,
        14,
        5,
        format!("The {perm} permission was denied on the object '{object}', database '{database}', schema '{schema}'."),
    )
}

/// Msg 230: a column-level DENY.
pub(crate) fn column_permission_denied(
    perm: &str,
    column: &str,
    object: &str,
    database: &str,
    schema: &str,
) -> SqlError {
    err(
        230,
        14,
        1,
        format!("The {perm} permission was denied on the column '{column}' of the object '{object}', database '{database}', schema '{schema}'."),
    )
}

/// Msg 3906.
pub(crate) fn read_only_database(database: &str) -> SqlError {
    err(
        3906,
        16,
        1,
        format!("Failed to update database \"{database}\" because the database is read-only."),
    )
}

/// Msg 2714.
pub(crate) fn already_exists(name: &str) -> SqlError {
    err(
        2714,
        16,
        6,
        format!("There is already an object named '{name}' in the database."),
    )
}

/// Msg 3701.
pub(crate) fn cannot_drop(name: &str) -> SqlError {
    err(3701, 11, 5, format!("Cannot drop the table '{name}', because it does not exist or you do not have permission."))
}

/// Msg 2760.
pub(crate) fn no_schema(name: &str) -> SqlError {
    err(2760, 16, 1, format!("The specified schema name \"{name}\" either does not exist or you do not have permission to use it."))
}

/// Msg 8134.
pub(crate) fn divide_by_zero() -> SqlError {
    err(8134, 16, 1, "Divide by zero error encountered.")
}

/// Msg 4060.
pub(crate) fn cannot_open_database(name: &str) -> SqlError {
    err(
        4060,
        11,
        1,
        format!("Cannot open database \"{name}\" requested by the login. The login failed."),
    )
}

/// Msg 911.
pub(crate) fn no_database(name: &str) -> SqlError {
    err(
        911,
        16,
        1,
        format!("Database '{name}' does not exist. Make sure that the name is entered correctly."),
    )
}

/// A SQLite failure the engine has no SQL Server equivalent for. It should
/// not happen for translated SQL; the text says where it came from.
pub(crate) fn internal(message: impl std::fmt::Display) -> SqlError {
    err(50000, 16, 1, format!("sandbox engine: {message}"))
}

/// Generic constructor for the rarer errors.
pub(crate) fn other(number: i32, severity: u8, state: u8, message: impl Into<String>) -> SqlError {
    err(number, severity, state, message)
}
