//! Accepting connections and running sessions. STUB.

/// The `sa` password when neither `--password` nor `RGS_SANDBOX_PASSWORD` is given.
pub const DEFAULT_PASSWORD: &str = "Sandbox-Passw0rd";

/// How to start a sandbox.
pub struct SandboxOptions {}

/// A running sandbox.
pub struct Sandbox {}
