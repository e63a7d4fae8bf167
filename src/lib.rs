#![warn(missing_docs)]
//! rgs-repair: finds Response Group (`rgsconfig`) objects left without an
//! owner pool after a migration, and repairs them in one verified,
//! confirmed, journalled transaction that can be undone.
//!
//! The flow, one module each: [`connect`] -> [`inspect`] (read-only catalog
//! and findings) -> [`plan`] (pure data) -> [`apply`] (the transaction) ->
//! [`journal`] (durable record, undo) -> [`report`] (human and JSON). The
//! commands in [`ops`] string them together; the binary only parses flags.

pub mod apply;
pub mod connect;
pub mod digest;
pub mod error;
pub mod findings;
pub mod inspect;
pub mod journal;
pub mod ops;
pub mod plan;
pub mod quote;
pub mod report;
pub mod shell;
pub mod snapshot;
pub mod sql;
pub mod value;
