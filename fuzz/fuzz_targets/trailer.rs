//! Any bytes, read as a bundle: the trailer decoder, region layout and the streaming reader must
//! never panic, and a file not ending in the magic is never accepted.
#![no_main]

use std::io::Cursor;

use airflow_bundle::read::BundleReader;
use airflow_bundle::verify::{AirflowRelease, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = verify(Cursor::new(data), &AirflowRelease::ALL);
    if !data.ends_with(&airflow_bundle::MAGIC) {
        assert!(!report.accepted());
    }
    if let Ok(mut r) = BundleReader::new(Cursor::new(data)) {
        let layout = *r.layout();
        assert!(layout.trailer_start <= data.len() as u64);
        let _ = r.manifest_bytes();
        let _ = r.copy_source(&mut std::io::sink());
    }
});
