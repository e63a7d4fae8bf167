//! `rgs-repair sandbox`: serves the sandbox (a TDS server on SQLite, for
//! tests and demos) until Ctrl-C.

use crate::error::{Stop, EXIT_OK};
use anyhow::Result;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `sandbox`'s arguments.
#[derive(Clone, Debug)]
pub struct SandboxArgs {
    /// `--listen`
    pub listen: SocketAddr,
    /// `--scenario`
    pub scenario: Option<String>,
    /// `--password` of the login `sa`
    pub password: String,
    /// `--db-file`
    pub db_file: Option<PathBuf>,
    /// `--fault` specs
    pub faults: Vec<String>,
    /// `--instance`
    pub instance: Option<String>,
    /// `--browser`
    pub browser: Option<SocketAddr>,
    /// `--browser-mode`: answer, silent, port:N
    pub browser_mode: String,
    /// `--route-to HOST,PORT`
    pub route_to: Option<String>,
    /// `--product-version`: the SQL Server version to answer as
    pub product_version: Option<String>,
    /// `--latency MS`: delay before every answer
    pub latency: Option<u64>,
    /// `--extra-objects N`
    pub extra_objects: u64,
    /// `--extra-tables N`
    pub extra_tables: u64,
}

/// Starts the sandbox, prints where it listens, and serves until Ctrl-C.
pub async fn run(args: &SandboxArgs) -> Result<u8> {
    let faults = args
        .faults
        .iter()
        .map(|f| {
            rgs_sandbox::fault::Fault::parse(f)
                .map_err(|e| Stop::Usage(format!("--fault {f}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let browser_mode = args
        .browser_mode
        .parse::<rgs_sandbox::BrowserMode>()
        .map_err(|e| Stop::Usage(format!("--browser-mode {}: {e}", args.browser_mode)))?;
    let route_to = match &args.route_to {
        Some(r) => {
            let (host, port) = r
                .rsplit_once(',')
                .and_then(|(h, p)| Some((h.to_string(), p.trim().parse::<u16>().ok()?)))
                .ok_or_else(|| Stop::Usage(format!("--route-to {r}: give HOST,PORT")))?;
            Some((host, port))
        }
        None => None,
    };
    if let Some(v) = &args.product_version {
        rgs_sandbox::engine::ProductVersion::parse(v)
            .map_err(|e| Stop::Usage(format!("--product-version: {e}")))?;
    }
    let opts = rgs_sandbox::SandboxOptions {
        listen: args.listen,
        scenario: args.scenario.clone(),
        password: args.password.clone(),
        db_file: args.db_file.clone(),
        faults,
        instance: args.instance.clone(),
        browser: args.browser,
        browser_mode,
        route_to,
        product_version: args.product_version.clone(),
        latency: args.latency.map(std::time::Duration::from_millis),
        extra_objects: args.extra_objects,
        extra_tables: args.extra_tables,
        ..rgs_sandbox::SandboxOptions::default()
    };
    let mut sandbox =
        tokio::task::spawn_blocking(move || rgs_sandbox::Sandbox::start(opts)).await??;
    // Tests and scripts read the first line for the address; a reader that
    // goes away must not take the sandbox down with it.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {}", sandbox.addr());
    let _ = writeln!(out, "login: sa (password from --password, RGS_SANDBOX_PASSWORD, or the documented default); database: rgsconfig");
    let _ = writeln!(
        out,
        "try:   rgs-repair -S {},{} -U sa -C check",
        sandbox.addr().ip(),
        sandbox.addr().port()
    );
    let _ = out.flush();
    tokio::signal::ctrl_c().await?;
    eprintln!("stopping the sandbox");
    sandbox.stop();
    Ok(EXIT_OK)
}

/// The password of the sandbox's `sa` login when none is given.
pub const DEFAULT_PASSWORD: &str = rgs_sandbox::DEFAULT_PASSWORD;
