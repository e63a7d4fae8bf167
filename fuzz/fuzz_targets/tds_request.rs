#![no_main]
//! Every byte a TDS client sends passes through the sandbox's packet
//! framing and its PRELOGIN, LOGIN7, SQLBatch, RPC (sp_executesql) and
//! transaction manager decoders: any bytes must be decoded or refused,
//! never panic the server.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rgs_sandbox::tds::fuzz_decode(data);
});
