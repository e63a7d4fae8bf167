//! Fault injection (`--fault SPEC`). STUB.
