//! The command line: parses flags and dispatches to `rgs_repair::ops`.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use rgs_repair::connect::{ConnectOptions, Encrypt};
use rgs_repair::error::{exit_code_for, EXIT_ERROR};
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
  4  not done: not confirmed (only the word yes confirms), no terminal and no
     --yes, interrupted (Ctrl-C, SIGTERM), or the database changed after the
     plan was shown or saved (nothing was changed)

Password: RGS_PASSWORD, --password-stdin, or a hidden prompt on a terminal.
It is never echoed, logged or written to the journal.";

/// Finds Response Group (rgsconfig) objects without an owner pool and
/// repairs them in one verified, journalled transaction.
#[derive(Parser, Debug)]
#[command(name = "rgs-repair", version, about, after_help = EXIT_CODES, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,

    /// Output format
    #[arg(long, global = true, value_enum, default_value = "human")]
    format: Format,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct ConnArgs {
    /// Server: HOST[\INSTANCE][,PORT] (a named instance is found through the SQL Server Browser)
    #[arg(
        short = 'S',
        long,
        global = true,
        env = "RGS_SERVER",
        value_name = "SERVER"
    )]
    server: Option<String>,

    /// Database [default: rgsconfig]
    #[arg(short = 'd', long, global = true, env = "RGS_DATABASE")]
    database: Option<String>,

    /// SQL login, or DOMAIN\user with -E
    #[arg(short = 'U', long, global = true, env = "RGS_USER")]
    user: Option<String>,

    /// Windows authentication (the current user; or NTLM as -U DOMAIN\user)
    #[arg(short = 'E', long, global = true)]
    integrated: bool,

    /// Encryption
    #[arg(
        short = 'N',
        long,
        global = true,
        value_enum,
        default_value = "mandatory"
    )]
    encrypt: Encrypt,

    /// Trust the server's certificate without verifying it (self-signed certificates)
    #[arg(short = 'C', long, global = true)]
    trust_server_certificate: bool,

    /// Seconds to wait for the connection and login
    #[arg(long, global = true, default_value_t = rgs_repair::connect::target::DEFAULT_CONNECT_TIMEOUT, value_name = "SECS")]
    connect_timeout: u64,

    /// Seconds to wait for any one answer from the server
    #[arg(long, global = true, default_value_t = rgs_repair::connect::target::DEFAULT_COMMAND_TIMEOUT, value_name = "SECS")]
    command_timeout: u64,

    /// ADO.NET connection string, instead of the flags above
    #[arg(
        long,
        global = true,
        env = "RGS_CONNECTION_STRING",
        hide_env_values = true,
        value_name = "STRING"
    )]
    connection_string: Option<String>,

    /// Read the password from the first line of standard input
    #[arg(long, global = true)]
    password_stdin: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Report owner pools and every object without a valid owner pool (read-only; exit 0 healthy, 3 findings)
    #[command(after_help = EXIT_CODES)]
    Check,
    /// Give objects whose OwnerPoolId is NULL their owner pool, in one transaction
    #[command(after_help = EXIT_CODES)]
    Fix(FixCli),
    /// Put back the rows a fix changed, from its journal
    #[command(after_help = EXIT_CODES)]
    Undo(UndoCli),
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
}

impl Command {
    /// The command's name, as an error document names it.
    fn name(&self) -> &'static str {
        match self {
            Command::Check => "check",
            Command::Fix(_) => "fix",
            Command::Undo(_) => "undo",
            #[cfg(feature = "sandbox")]
            Command::Sandbox(_) => "sandbox",
            #[cfg(feature = "sandbox")]
            Command::Demo { .. } => "demo",
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

    /// Seconds to wait for a lock before giving up (SET LOCK_TIMEOUT) [default: 10]
    #[arg(long, value_name = "SECS")]
    lock_timeout: Option<f64>,

    /// Times to rerun the transaction when SQL Server picks it as a deadlock victim [default: 3]
    #[arg(long)]
    retries: Option<u32>,
}

#[derive(Args, Debug)]
struct FixCli {
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

    #[command(flatten)]
    write: WriteCli,
}

#[derive(Args, Debug)]
struct UndoCli {
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

    /// Scenario from sql/fixtures to load into a new database: migrated, healthy, multi-pool, dangling, empty-pool
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
}

fn lock_timeout(secs: Option<f64>) -> Result<Option<Duration>> {
    let Some(secs) = secs else {
        return Ok(None);
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(rgs_repair::error::Stop::Usage(
            "--lock-timeout must be between 0 and 86400 seconds".into(),
        )
        .into());
    }
    Ok(Some(Duration::from_secs_f64(secs)))
}

fn init_logging(verbose: u8) {
    // tiberius' own warning about -C repeats ours in other words.
    let level = match verbose {
        0 => "warn,tiberius=error",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn connect_options(c: &ConnArgs) -> ConnectOptions {
    ConnectOptions {
        server: c.server.clone(),
        database: c.database.clone(),
        user: c.user.clone(),
        integrated: c.integrated,
        encrypt: c.encrypt,
        trust_server_certificate: c.trust_server_certificate,
        connect_timeout: Duration::from_secs(c.connect_timeout),
        command_timeout: Duration::from_secs(c.command_timeout),
        connection_string: c.connection_string.clone(),
        password_stdin: c.password_stdin,
    }
}

async fn run(cli: Cli) -> Result<u8> {
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
    let ctx = |cli: &Cli| Context::new(connect_options(&cli.conn), cli.format, interrupt.clone());
    match &cli.command {
        Command::Check => ops::check::run(&ctx(&cli)).await,
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
                save_plan: f.save_plan.clone(),
                emit_sql: f.emit_sql.clone(),
                plan: f.plan.clone(),
                restored_elsewhere: f.restored_elsewhere,
                lock_timeout: lock_timeout(f.write.lock_timeout)?,
                retries: f.write.retries,
            };
            ops::fix::run(&ctx(&cli), &args).await
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
            ops::undo::run(&ctx(&cli), &args).await
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(s) => {
            ops::sandbox::run(&ops::sandbox::SandboxArgs {
                listen: s.listen,
                scenario: s.scenario.clone(),
                password: s.password.clone(),
                db_file: s.db_file.clone(),
                faults: s.fault.clone(),
            })
            .await
        }
        #[cfg(feature = "sandbox")]
        Command::Demo { scenario } => ops::demo::run(scenario, interrupt).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
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
    let (format, command) = (cli.format, cli.command.name());
    match rt.block_on(run(cli)) {
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
