#![warn(missing_docs)]
//! The sandbox: a TDS server backed by SQLite, so that rgs-repair's tests and
//! demo run against the real TDS client (tiberius) without Microsoft SQL
//! Server. It is test and demo infrastructure, not a database product: it is
//! faithful where rgs-repair depends on SQL Server's behaviour (logins,
//! transactions, locking, error numbers, catalog views) and refuses anything
//! else with SQL Server's syntax error (102) or invalid object error (208).
//!
//! The product's own modules never import this crate; only the `sandbox` and
//! `demo` commands and the tests do.

pub mod browser;
pub mod engine;
pub mod fault;
pub mod scenario;
pub mod server;
pub mod tds;
pub mod types;

pub use browser::{Browser, BrowserInstance, BrowserMode};
pub use server::{DbState, Sandbox, SandboxOptions, DEFAULT_PASSWORD};
