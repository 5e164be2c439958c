//! Any bytes as the manifest of an otherwise valid bundle: the YAML 1.1 typing that decides what
//! Airflow's reader would do must never panic, hang or allocate without bound. (Its verdicts are
//! compared with PyYAML by the differential corpus in tests/tests/e2e/reader.rs.)
#![no_main]

use std::io::Cursor;

use airflow_bundle::verify::{AirflowRelease, verify};
use airflow_bundle::write::write_bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bundle = Vec::with_capacity(data.len() + 80);
    write_bundle(&mut &b"EXE"[..], &mut bundle, b"", data).expect("in-memory write");
    let report = verify(Cursor::new(bundle), &AirflowRelease::ALL);
    if report.accepted() {
        assert!(!report.dag_ids.is_empty());
        assert!(report.verdicts.iter().all(|v| v.breaks_lookup.is_none()));
    }
});
