//! The TDS 7.4 wire protocol, server side, as SQL Server speaks it to
//! tiberius and FreeTDS: packet framing, PRELOGIN and TLS negotiation,
//! LOGIN7, request decoding and the response token stream. The connection
//! state machine that drives these is in [`crate::server`].

pub mod fuzz;
pub mod login7;
pub mod packet;
pub mod prelogin;
pub mod request;
pub mod response;
pub mod tls;
pub mod tokens;
pub mod transport;
pub mod values;
pub mod wire;

pub use fuzz::fuzz_decode;
