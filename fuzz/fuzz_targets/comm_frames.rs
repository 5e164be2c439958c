//! Any bytes as what arrives on a bundle's comm socket from Airflow's supervisor: the frame
//! reader (length prefix, msgpack, nesting limit) and the serde-derived protocol messages, the
//! first frame as `StartupDetails`/`DagFileParseRequest` and the rest as replies, must never
//! panic, hang or allocate by an untrusted length.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    airflow_sdk::__fuzz::comm_stream(data);
});
