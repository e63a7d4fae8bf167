//! The scenario scripts of `sql/fixtures/`, compiled in. STUB.
