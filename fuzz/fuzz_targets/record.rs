//! Any bytes as an airflow-build record, and as an executable to search for one: decoding must
//! never panic, and what decodes re-encodes to a record that decodes the same. The same bytes as
//! an executable whose glibc version references are read: never a panic either.
#![no_main]

use airflow_bundle::record::{decode, encode, find_in_executable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = decode(data) {
        let again = encode(&record).expect("a decoded record encodes");
        assert_eq!(decode(&again).expect("round trip"), record);
    }
    let _ = find_in_executable(data);
    let _ = airflow_bundle::glibc::needs_of(data);
});
