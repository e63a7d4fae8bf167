//! The TDS 7.4 wire protocol, server side, as SQL Server speaks it to
//! tiberius and FreeTDS: packet framing, PRELOGIN and TLS negotiation,
//! LOGIN7, request decoding and the response token stream. The connection
//! state machine that drives these is in [`crate::server`].

// The fuzz entry points exist for the `/fuzz` crate (feature `fuzzing`) and
// for this crate's own tests of the decoders; they are not API.
pub mod bulk;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
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

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub use fuzz::fuzz_decode;
