//! The command line: parses flags and dispatches to `rgs_repair::ops`.

use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand};
use rgs_repair::connect::{ConnectOptions, Encrypt};
use rgs_repair::error::{exit_code_for, EXIT_ERROR, EXIT_OK};
use rgs_repair::ops::{self, Context, Format, Interrupt};
use rgs_repair::plan::Scope;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0  done; check: healthy; fix/undo: committed, nothing to do, or dry run
  1  error (nothing was changed unless the message says otherwise)
  2  usage error (bad flags, unknown --pool or --table, several pools and no
     --pool, --table and --exclude-table naming one table), or a plan or
     journal for another database, or a journal edited since it was written
  3  check: findings present (objects without a valid owner pool)
     check --targets: the worst target's code, where 1 > 3 > 0
  4  not done: not confirmed (only the word yes confirms), no terminal and no
     --yes, interrupted (Ctrl-C, SIGTERM), or the database changed after the
     plan was shown or saved (nothing was changed)

Password: RGS_PASSWORD, --password-stdin, or a hidden prompt on a terminal.
It is never echoed, logged or written to the journal.";

/// Finds Response Group (rgsconfig) objects without an owner pool and
/// repairs them in one verified, journalled transaction.
#[derive(Parser, Debug)]
#[command(name = "rgs-repair", version, about, after_help = EXIT_CODES, propagate_version = true)]
#[command(disable_help_flag = true)]
struct Cli {
    #[command(flatten)]
    common: Common,

    /// Print help (sqlcmd's -? too)
    #[arg(short = 'h', short_alias = '?', long, action = clap::ArgAction::Help, global = true)]
    help: Option<bool>,

    #[command(subcommand)]
    command: Command,
}

/// sqlcmd's `-K`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    /// The default: the primary replica.
    #[value(name = "ReadWrite", alias = "readwrite")]
    ReadWrite,
    /// A readable secondary, through the listener's read-only routing.
    #[value(name = "ReadOnly", alias = "readonly")]
    ReadOnly,
}

/// The connection flags, accepted before the command and after it (given in
/// both places, the later one wins). They are not clap "global" arguments,
/// so that `sandbox --help` shows only the sandbox's own flags.
#[derive(Args, Debug, Default, Clone)]
struct ConnArgs {
    /// Server: HOST[\INSTANCE][,PORT] (a named instance is found through the SQL Server Browser; quote it: 'host\rtc')
    #[arg(short = 'S', long, env = "RGS_SERVER", value_name = "SERVER")]
    server: Option<String>,

    /// Database [default: rgsconfig]
    #[arg(short = 'd', long, env = "RGS_DATABASE")]
    database: Option<String>,

    /// SQL login, or DOMAIN\user with -E
    #[arg(short = 'U', long, env = "RGS_USER")]
    user: Option<String>,

    /// Windows authentication (the current user; or NTLM as -U DOMAIN\user)
    #[arg(short = 'E', long)]
    integrated: bool,

    /// Encryption [default: mandatory]
    #[arg(short = 'N', long, value_enum)]
    encrypt: Option<Encrypt>,

    /// Trust the server's certificate without verifying it (self-signed certificates)
    #[arg(short = 'C', long)]
    trust_server_certificate: bool,

    /// Seconds to wait for the connection and login; 0 waits as long as it takes [default: 15]
    #[arg(short = 'l', long, value_name = "SECS")]
    connect_timeout: Option<u64>,

    /// Seconds to wait for any one answer from the server [default: 60]
    #[arg(long, value_name = "SECS")]
    command_timeout: Option<u64>,

    /// ADO.NET connection string, instead of the flags above
    #[arg(
        long,
        env = "RGS_CONNECTION_STRING",
        hide_env_values = true,
        value_name = "STRING"
    )]
    connection_string: Option<String>,

    /// Read the password from the first line of standard input
    #[arg(long)]
    password_stdin: bool,

    /// Multi-subnet failover (sqlcmd -M): try every address of an availability-group listener at once
    #[arg(short = 'M', long)]
    multi_subnet_failover: bool,

    /// Application intent (sqlcmd -K): ReadOnly goes to a readable secondary (check and dry runs only)
    #[arg(short = 'K', long, value_enum, value_name = "INTENT")]
    application_intent: Option<Intent>,

    /// sqlcmd's -P: refused (a password on the command line is visible to other users)
    #[arg(short = 'P', value_name = "PASSWORD", hide = true)]
    sqlcmd_password: Option<String>,
}

impl ConnArgs {
    /// These flags with `later`'s (given after the command) taking over.
    fn then(&self, later: &ConnArgs) -> ConnArgs {
        ConnArgs {
            server: later.server.clone().or_else(|| self.server.clone()),
            database: later.database.clone().or_else(|| self.database.clone()),
            user: later.user.clone().or_else(|| self.user.clone()),
            integrated: self.integrated || later.integrated,
            encrypt: later.encrypt.or(self.encrypt),
            trust_server_certificate: self.trust_server_certificate
                || later.trust_server_certificate,
            connect_timeout: later.connect_timeout.or(self.connect_timeout),
            command_timeout: later.command_timeout.or(self.command_timeout),
            connection_string: later
                .connection_string
                .clone()
                .or_else(|| self.connection_string.clone()),
            password_stdin: self.password_stdin || later.password_stdin,
            multi_subnet_failover: self.multi_subnet_failover || later.multi_subnet_failover,
            application_intent: later.application_intent.or(self.application_intent),
            sqlcmd_password: later
                .sqlcmd_password
                .clone()
                .or_else(|| self.sqlcmd_password.clone()),
        }
    }
}

/// Output and logging, accepted before the command and after it.
#[derive(Args, Debug, Default, Clone)]
struct OutputArgs {
    /// Output format [default: human]
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// More detail on stderr: -v the server and each step, -vv each request and its time, -vvv everything; RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Only errors and what was asked for: no notes, no warnings
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,

    /// Also write the log (at -vv detail, never a password) to this file
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,

    /// Colour in log lines: auto (a terminal, unless NO_COLOR is set), always, never [default: auto]
    #[arg(long, value_enum, value_name = "WHEN")]
    color: Option<Color>,
}

impl OutputArgs {
    fn then(&self, later: &OutputArgs) -> OutputArgs {
        OutputArgs {
            format: later.format.or(self.format),
            verbose: self.verbose + later.verbose,
            quiet: self.quiet || later.quiet,
            log_file: later.log_file.clone().or_else(|| self.log_file.clone()),
            color: later.color.or(self.color),
        }
    }
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

/// The flags every database command takes after its name too.
#[derive(Args, Debug, Default, Clone)]
struct Common {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Report owner pools and every object without a valid owner pool (read-only; exit 0 healthy, 3 findings)
    #[command(after_help = EXIT_CODES)]
    Check(CheckCli),
    /// Give objects whose OwnerPoolId is NULL their owner pool, in one transaction
    #[command(after_help = EXIT_CODES)]
    Fix(FixCli),
    /// Put back the rows a fix changed, from its journal
    #[command(after_help = EXIT_CODES)]
    Undo(UndoCli),
    /// Write every table (CSV), schema.json and inventory.md to a new folder, in one read-only transaction
    #[command(after_help = SNAPSHOT_HELP)]
    Snapshot(SnapshotCli),
    /// Rows added, removed and changed per table between two snapshots, or a snapshot and the database now (exit 0 none, 3 differences)
    #[command(after_help = DIFF_HELP)]
    Diff(DiffCli),
    /// Run the sandbox: a TDS server on SQLite for tests and demos (not SQL Server)
    #[cfg(feature = "sandbox")]
    Sandbox(SandboxCli),
    /// Show the whole repair against an in-process sandbox
    #[cfg(feature = "sandbox")]
    Demo {
        /// Scenario to load
        #[arg(long, default_value = "migrated")]
        scenario: String,
    },
    /// Print a shell completion script: bash, zsh, fish, powershell, elvish
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `rgs-repair man > rgs-repair.1`
    Man,
}

const SNAPSHOT_HELP: &str = "\
The folder gets one CSV per user table (RFC 4180, UTF-8, header row; every
value quoted, NULL an empty unquoted field, so \"\" is the empty string),
schema.json (tables, columns, types, keys, foreign keys, row counts, server
identity, time, isolation) and inventory.md (the configuration per owner
pool). Everything is read in one transaction: SNAPSHOT isolation where the
database allows it, else shared table locks held to the end (writers wait).
The files are written to a temporary folder beside DIR and renamed when
complete.

Exit codes:
  0  the snapshot is complete
  1  error (no folder DIR was made)
  2  usage error (DIR is not empty and no --force; DIR is a file)";

const DIFF_HELP: &str = "\
Rows are matched by the primary key schema.json records; a table without
one is compared as a multiset of whole rows.

Exit codes:
  0  no differences
  1  error
  2  usage error (not a snapshot folder; neither B nor --live)
  3  differences found";

#[derive(Args, Debug)]
struct SnapshotCli {
    #[command(flatten)]
    common: Common,

    /// The folder to write (new or empty)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Replace DIR even if it is not empty
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug)]
struct DiffCli {
    #[command(flatten)]
    common: Common,

    /// Snapshot A (before)
    #[arg(value_name = "SNAPSHOT_A")]
    a: PathBuf,

    /// Snapshot B (after)
    #[arg(
        value_name = "SNAPSHOT_B",
        required_unless_present = "live",
        conflicts_with = "live"
    )]
    b: Option<PathBuf>,

    /// Compare snapshot A with the database now
    #[arg(long)]
    live: bool,
}

#[derive(Args, Debug)]
struct CheckCli {
    #[command(flatten)]
    common: Common,

    /// Seconds a read waits for another session's lock before giving up (SET LOCK_TIMEOUT); -1 waits as long as it takes [default: 10]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    lock_timeout: Option<f64>,

    /// Exit 3 when a finding of this code (RGS005) or severity (error,
    /// warning, info: that or worse) is present; repeatable or
    /// comma-separated, replaces the default (error). Codes: docs/findings.md
    #[arg(long = "fail-on", value_name = "CODE|SEVERITY", value_delimiter = ',', value_parser = parse_fail_on)]
    fail_on: Vec<rgs_repair::findings::FailOn>,

    /// Check every target in FILE at once: one server or connection string per line (# comments), or a TOML inventory ([[target]] name, server...); one table, exit code the worst
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,

    /// With --targets: how many targets to check at once [default: 4]
    #[arg(long, value_name = "N", requires = "targets", value_parser = clap::value_parser!(u16).range(1..))]
    parallel: Option<u16>,
}

/// A `--fail-on` word: a known code or a severity.
fn parse_fail_on(s: &str) -> Result<rgs_repair::findings::FailOn, String> {
    rgs_repair::findings::FailOn::parse(s).ok_or_else(|| {
        format!("'{s}' is neither a finding code (RGS001...: see docs/findings.md) nor a severity (error, warning, info)")
    })
}

impl Command {
    /// The command's name, as an error document names it.
    fn name(&self) -> &'static str {
        match self {
            Command::Check(_) => "check",
            Command::Fix(_) => "fix",
            Command::Undo(_) => "undo",
            Command::Snapshot(_) => "snapshot",
            Command::Diff(_) => "diff",
            #[cfg(feature = "sandbox")]
            Command::Sandbox(_) => "sandbox",
            #[cfg(feature = "sandbox")]
            Command::Demo { .. } => "demo",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        }
    }
}

#[derive(Args, Debug)]
struct WriteCli {
    /// Show what would change and the exact T-SQL; change nothing
    #[arg(long)]
    dry_run: bool,

    /// Apply without asking (after reviewing a dry run)
    #[arg(short = 'y', long)]
    yes: bool,

    /// Seconds to wait for a lock before giving up (SET LOCK_TIMEOUT); -1 waits as long as it takes, as in SQL Server [default: 10]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    lock_timeout: Option<f64>,

    /// Times to rerun the transaction when SQL Server picks it as a deadlock victim [default: 3]
    #[arg(long)]
    retries: Option<u32>,
}

#[derive(Args, Debug)]
struct FixCli {
    #[command(flatten)]
    common: Common,

    /// The owner pool to set, by ID or FQDN (required when dbo.OwnerPool has several rows)
    #[arg(long, value_name = "ID|FQDN")]
    pool: Option<String>,

    /// Only this table (schema.table or table); repeatable
    #[arg(long = "table", value_name = "NAME")]
    tables: Vec<String>,

    /// Never this table; repeatable
    #[arg(long = "exclude-table", value_name = "NAME")]
    exclude: Vec<String>,

    /// Journal file [default: ./rgs-repair-journal-<database>-<UTC time>.json]
    #[arg(long, value_name = "PATH")]
    journal: Option<PathBuf>,

    /// With --dry-run: write the reviewed plan (identity, pool, every key, the T-SQL, a digest) to FILE, for `fix --plan`
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    save_plan: Option<PathBuf>,

    /// With --dry-run: write the change script (one T-SQL batch with every guard, for SSMS or sqlcmd) to FILE
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    emit_sql: Option<PathBuf>,

    /// Apply this saved plan and nothing else (refused if the rows without an owner are not exactly the planned ones)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["pool", "tables", "exclude", "save_plan", "emit_sql"])]
    plan: Option<PathBuf>,

    /// With --plan: the database was restored elsewhere; accept a different server or creation time (recorded in the journal)
    #[arg(long, requires = "plan")]
    restored_elsewhere: bool,

    /// Do not write a snapshot of the tables the fix changes (by default a folder beside the journal, <journal>.snapshot, named in the journal)
    #[arg(long)]
    no_snapshot: bool,

    #[command(flatten)]
    write: WriteCli,
}

#[derive(Args, Debug)]
struct UndoCli {
    #[command(flatten)]
    common: Common,

    /// The journal a fix wrote
    #[arg(long, value_name = "PATH")]
    journal: PathBuf,

    /// Use a journal whose content no longer matches its digest (edited after the fix wrote it)
    #[arg(long)]
    accept_edited_journal: bool,

    /// The database was restored elsewhere: accept a different server or creation time than the journal records (recorded in the undo's journal)
    #[arg(long)]
    restored_elsewhere: bool,

    #[command(flatten)]
    write: WriteCli,
}

#[cfg(feature = "sandbox")]
#[derive(Args, Debug)]
struct SandboxCli {
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:1433")]
    listen: std::net::SocketAddr,

    /// Scenario from sql/fixtures to load into a new database: migrated, healthy, multi-pool, dangling, empty-pool, unlinked, triggers, case-sensitive
    #[arg(long)]
    scenario: Option<String>,

    /// Password of the login `sa`
    #[arg(long, env = "RGS_SANDBOX_PASSWORD", hide_env_values = true, default_value = rgs_repair::ops::sandbox::DEFAULT_PASSWORD, hide_default_value = true)]
    password: String,

    /// Keep the database in this SQLite file across restarts [default: in memory]
    #[arg(long, value_name = "PATH")]
    db_file: Option<PathBuf>,

    /// Inject a fault: drop@N, drop-after@N, error@N:NUMBER, delay@N:MS (N = Nth request of a connection); repeatable
    #[arg(long, value_name = "SPEC")]
    fault: Vec<String>,

    /// Be the named instance NAME (checked in PRELOGIN; @@SERVERNAME becomes HOST\NAME) [default: the default instance]
    #[arg(long, value_name = "NAME")]
    instance: Option<String>,

    /// Answer SQL Server Browser requests for the instance on this UDP address (clients ask 127.0.0.1:1434)
    #[arg(long, value_name = "ADDR")]
    browser: Option<std::net::SocketAddr>,

    /// How the Browser answers: answer, silent, or port:N (names a port where nothing listens)
    #[arg(long, value_name = "MODE", default_value = "answer")]
    browser_mode: String,

    /// Be an availability-group listener: route read-write logins to HOST,PORT (the primary)
    #[arg(long, value_name = "HOST,PORT")]
    route_to: Option<String>,

    /// Answer as this SQL Server version, e.g. 10.50.6000.34 (2008 R2: TDS 7.3, 2012+ T-SQL refused) [default: 16.0.1000.6]
    #[arg(long, value_name = "VERSION")]
    product_version: Option<String>,

    /// Delay every answer (login included) by MS milliseconds, as a remote link would
    #[arg(long, value_name = "MS")]
    latency: Option<u64>,

    /// Add N more dbo.AgentGroups rows without an owner pool to a new database (a large repair)
    #[arg(long, value_name = "N", default_value_t = 0)]
    extra_objects: u64,

    /// Add N more object tables (dbo.ExtraObjects01...) with OwnerPoolId, 3 rows without owner each
    #[arg(long, value_name = "N", default_value_t = 0)]
    extra_tables: u64,
}

fn lock_timeout(secs: Option<f64>) -> Result<Option<Duration>> {
    let Some(secs) = secs else {
        return Ok(None);
    };
    if secs == -1.0 {
        return Ok(Some(ops::fix::WAIT_FOREVER));
    }
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(rgs_repair::error::Stop::Usage(
            "--lock-timeout must be between 0 and 86400 seconds, or -1 to wait as long as it takes"
                .into(),
        )
        .into());
    }
    Ok(Some(Duration::from_secs_f64(secs)))
}

/// A lock wait should end in SQL Server's own error 1222, not in the
/// client's command timeout (which looks like a lost connection): unless
/// --command-timeout was given, it is stretched past the lock timeout, and
/// for `--lock-timeout -1` it waits as long as the lock does.
fn fit_command_timeout(
    options: &mut ConnectOptions,
    lock: Option<Duration>,
    command_timeout_given: bool,
) -> Result<()> {
    let lock = lock.unwrap_or(ops::fix::DEFAULT_LOCK_TIMEOUT);
    if lock == ops::fix::WAIT_FOREVER {
        if command_timeout_given {
            return Err(rgs_repair::error::Stop::Usage(
                "--lock-timeout -1 waits for a lock as long as it takes, and --command-timeout would end that wait first: leave one of them out".into(),
            )
            .into());
        }
        options.command_timeout = FOREVER;
    } else if !command_timeout_given && options.command_timeout < lock + Duration::from_secs(30) {
        options.command_timeout = lock + Duration::from_secs(30);
    }
    Ok(())
}

/// Logging: by default nothing but the tool's own messages (library log
/// lines would repeat them in other words); `-v` the server and each step,
/// `-vv` each request and its time, `-vvv` everything. `--log-file` keeps a
/// `-vv` log in a file. Never a password: none is ever logged.
fn init_logging(o: &OutputArgs) -> Result<()> {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::EnvFilter;
    let level = match (o.quiet, o.verbose) {
        (true, _) | (false, 0) => "off",
        (false, 1) => "info,tiberius=warn",
        (false, 2) => "debug,tiberius=info,rustls=warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let stderr_is_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let ansi = match o.color.unwrap_or(Color::Auto) {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            stderr_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .with_filter(filter);
    let file = match &o.log_file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    rgs_repair::error::Stop::Usage(format!("--log-file {}: {e}", path.display()))
                })?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::sync::Mutex::new(f))
                    .with_ansi(false)
                    .with_filter(EnvFilter::new("debug,tiberius=info")),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .init();
    Ok(())
}

/// About a century: what "wait as long as it takes" (`-l 0`, as in ADO.NET)
/// becomes, so that timers never overflow.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn connect_options(c: &ConnArgs) -> Result<ConnectOptions> {
    if c.sqlcmd_password.is_some() {
        return Err(rgs_repair::error::Stop::Usage(
            "-P is refused: a password on the command line is visible to every user of this machine (process lists, shell history). Give it in RGS_PASSWORD, with --password-stdin, or at the hidden prompt; or use -E (Windows authentication)".into(),
        )
        .into());
    }
    let secs = |given: Option<u64>, default: u64| match given.unwrap_or(default) {
        0 => FOREVER,
        n => Duration::from_secs(n),
    };
    Ok(ConnectOptions {
        server: c.server.clone(),
        database: c.database.clone(),
        user: c.user.clone(),
        integrated: c.integrated,
        encrypt: c.encrypt.unwrap_or(Encrypt::Mandatory),
        trust_server_certificate: c.trust_server_certificate,
        connect_timeout: secs(
            c.connect_timeout,
            rgs_repair::connect::target::DEFAULT_CONNECT_TIMEOUT,
        ),
        command_timeout: secs(
            c.command_timeout,
            rgs_repair::connect::target::DEFAULT_COMMAND_TIMEOUT,
        ),
        connection_string: c.connection_string.clone(),
        password_stdin: c.password_stdin,
        multi_subnet_failover: c.multi_subnet_failover,
        read_only_intent: c.application_intent.map(|i| i == Intent::ReadOnly),
        lock_timeout_ms: ops::fix::lock_timeout_ms(None),
    })
}

impl Cli {
    /// The flags given before the command, with those after it.
    fn common(&self) -> Common {
        let later = match &self.command {
            Command::Check(c) => Some(&c.common),
            Command::Fix(f) => Some(&f.common),
            Command::Undo(u) => Some(&u.common),
            Command::Snapshot(s) => Some(&s.common),
            Command::Diff(d) => Some(&d.common),
            _ => None,
        };
        match later {
            Some(l) => Common {
                conn: self.common.conn.then(&l.conn),
                output: self.common.output.then(&l.output),
            },
            None => self.common.clone(),
        }
    }
}

async fn run(cli: Cli, common: Common) -> Result<u8> {
    // The sandbox serves until Ctrl-C and handles it itself.
    #[cfg(feature = "sandbox")]
    let serves = matches!(cli.command, Command::Sandbox(_));
    #[cfg(not(feature = "sandbox"))]
    let serves = false;
    let interrupt = if serves {
        Interrupt::default()
    } else {
        Interrupt::install()
    };
    let ctx = |lock: Option<Duration>| -> Result<Context> {
        let mut options = connect_options(&common.conn)?;
        fit_command_timeout(&mut options, lock, common.conn.command_timeout.is_some())?;
        // Reads wait for locks no longer than writes do (a Lync back end
        // reads under locking READ COMMITTED, so a reader can be blocked).
        options.lock_timeout_ms = ops::fix::lock_timeout_ms(lock);
        let mut ctx = Context::new(
            options,
            common.output.format.unwrap_or(Format::Human),
            interrupt.clone(),
        );
        ctx.quiet = common.output.quiet;
        Ok(ctx)
    };
    match &cli.command {
        Command::Check(c) => {
            let ctx = ctx(lock_timeout(c.lock_timeout)?)?;
            match &c.targets {
                Some(file) => {
                    let args = ops::targets::TargetsArgs {
                        file: file.clone(),
                        parallel: c
                            .parallel
                            .map_or(ops::targets::DEFAULT_PARALLEL, usize::from),
                        fail_on: c.fail_on.clone(),
                    };
                    ops::targets::run(&ctx, &args).await
                }
                None => ops::check::run(&ctx, &c.fail_on).await,
            }
        }
        Command::Fix(f) => {
            let args = ops::fix::FixArgs {
                pool: f.pool.clone(),
                scope: Scope {
                    tables: f.tables.clone(),
                    exclude: f.exclude.clone(),
                },
                dry_run: f.write.dry_run,
                yes: f.write.yes,
                journal: f.journal.clone(),
                no_snapshot: f.no_snapshot,
                save_plan: f.save_plan.clone(),
                emit_sql: f.emit_sql.clone(),
                plan: f.plan.clone(),
                restored_elsewhere: f.restored_elsewhere,
                lock_timeout: lock_timeout(f.write.lock_timeout)?,
                retries: f.write.retries,
            };
            ops::fix::run(&ctx(args.lock_timeout)?, &args).await
        }
        Command::Undo(u) => {
            let args = ops::undo::UndoArgs {
                journal: u.journal.clone(),
                dry_run: u.write.dry_run,
                yes: u.write.yes,
                accept_edited_journal: u.accept_edited_journal,
                restored_elsewhere: u.restored_elsewhere,
                lock_timeout: lock_timeout(u.write.lock_timeout)?,
                retries: u.write.retries,
            };
            ops::undo::run(&ctx(args.lock_timeout)?, &args).await
        }
        Command::Snapshot(s) => {
            let args = ops::snapshot::SnapshotArgs {
                out: s.out.clone(),
                force: s.force,
            };
            ops::snapshot::run(&ctx(None)?, &args).await
        }
        Command::Diff(d) => {
            let args = ops::diff::DiffArgs {
                a: d.a.clone(),
                b: d.b.clone(),
                live: d.live,
            };
            ops::diff::run(&ctx(None)?, &args).await
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(s) => {
            ops::sandbox::run(&ops::sandbox::SandboxArgs {
                listen: s.listen,
                scenario: s.scenario.clone(),
                password: s.password.clone(),
                db_file: s.db_file.clone(),
                faults: s.fault.clone(),
                instance: s.instance.clone(),
                browser: s.browser,
                browser_mode: s.browser_mode.clone(),
                route_to: s.route_to.clone(),
                product_version: s.product_version.clone(),
                latency: s.latency,
                extra_objects: s.extra_objects,
                extra_tables: s.extra_tables,
            })
            .await
        }
        #[cfg(feature = "sandbox")]
        Command::Demo { scenario } => ops::demo::run(scenario, interrupt).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "rgs-repair",
                &mut std::io::stdout(),
            );
            Ok(EXIT_OK)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(EXIT_OK)
        }
    }
}

/// TLS outside Windows (rustls): the ring provider. tiberius takes the
/// process default when one is installed and otherwise builds aws-lc's,
/// whose entropy start-up costs about 25 ms of CPU on every run, most of a
/// `check`'s own CPU. Both offer the TLS 1.2 and 1.3 suites SQL Server
/// negotiates (ECDHE with AES-GCM). Windows uses Schannel (native-tls).
#[cfg(not(windows))]
fn tls_provider() {
    // Err only when a provider is already installed, which is then kept.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(windows)]
fn tls_provider() {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tls_provider();
    let common = cli.common();
    if let Err(e) = init_logging(&common.output) {
        eprintln!("error: {e:#}");
        return ExitCode::from(exit_code_for(&e));
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let format = common.output.format.unwrap_or(Format::Human);
    let command = cli.command.name();
    match rt.block_on(run(cli, common)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            if format == Format::Json {
                rgs_repair::report::print_json(&rgs_repair::report::json::ErrorJson::new(
                    command, &e,
                ));
            }
            ExitCode::from(exit_code_for(&e))
        }
    }
}
