//! `inspect`: manifest, source and trailer facts, without running the file.

use std::fs;

use crate::support::{InspectReport, bundle_with_manifest, example_source, packed, run, s};

#[test]
fn prints_the_manifest() {
    let p = packed();
    let r = run(&["inspect", s(&p.bundle)]);
    r.expect_code(0);
    assert!(
        r.stdout
            .starts_with("airflow_bundle_metadata_version: \"1.0\"\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("supervisor_schema_version: \"2026-06-16\"")
    );
    assert!(r.stdout.contains("source: main.rs") || r.stdout.contains("source: \"main.rs\""));
    assert!(
        r.stdout.contains("packer: cargo-airflow ")
            || r.stdout.contains("packer: \"cargo-airflow ")
    );
}

#[test]
fn source_flag_prints_the_source_region() {
    let p = packed();
    let r = run(&["inspect", "--source", s(&p.bundle)]);
    r.expect_code(0);
    let source = fs::read_to_string(example_source()).unwrap();
    assert!(
        r.stdout
            .starts_with(&format!("# --- source (main.rs) ---\n{source}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("# --- manifest ---\nairflow_bundle_metadata_version")
    );
}

#[test]
fn json_has_manifest_source_and_trailer() {
    let p = packed();
    let r = run(&["inspect", "--json", s(&p.bundle)]);
    r.expect_code(0);
    let v: InspectReport = r.report();
    let source = fs::read_to_string(example_source()).unwrap();
    assert_eq!(v.source.as_deref(), Some(source.as_str()));
    assert_eq!(v.trailer.footer_ver, 1);
    assert_eq!(v.trailer.source_len as usize, source.len());
    assert_eq!(v.trailer.binary_sha256, p.summary.binary_sha256);
    let manifest = v.manifest.expect("the manifest parses");
    assert_eq!(manifest.source, "main.rs");
    assert_eq!(
        manifest.dags.keys().collect::<Vec<_>>(),
        p.summary.dags.keys().collect::<Vec<_>>()
    );
    assert!(
        v.manifest_text
            .starts_with("airflow_bundle_metadata_version")
    );
    let size = fs::metadata(&p.bundle).unwrap().len();
    assert_eq!(v.layout.file_size, size);
    assert_eq!(v.layout.trailer.offset, size - 64);
    assert_eq!(
        v.record.expect("the example has a record").package,
        "example-bundle"
    );
    // `--message-format json` is the same report.
    let again = run(&["inspect", "--message-format", "json", s(&p.bundle)]);
    again.expect_code(0);
    assert_eq!(again.stdout, r.stdout);
}

#[test]
fn a_non_bundle_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x");
    fs::write(&f, b"hello").unwrap();
    let r = run(&["inspect", s(&f)]);
    r.expect_code(1);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(r.stderr.contains("cargo airflow verify"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
}

/// What a person reads: the source region, then the manifest as it is in the file.
#[test]
fn human_output_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = "airflow_bundle_metadata_version: \"1.0\"\nsdk:\n  language: rust\n  version: \"0.1.0\"\n  supervisor_schema_version: \"2026-06-16\"\nsource: src\ndags:\n  d:\n    tasks:\n    - t\n";
    let b = bundle_with_manifest(dir.path(), "b", manifest);
    let r = run(&["inspect", "--source", s(&b)]);
    r.expect_code(0);
    snapbox::assert_data_eq!(
        r.stdout,
        snapbox::str![[r##"
# --- source (src) ---
src
# --- manifest ---
airflow_bundle_metadata_version: "1.0"
sdk:
  language: rust
  version: "0.1.0"
  supervisor_schema_version: "2026-06-16"
source: src
dags:
  d:
    tasks:
    - t

"##]]
    );
    snapbox::assert_data_eq!(r.stderr, snapbox::str![]);
}
