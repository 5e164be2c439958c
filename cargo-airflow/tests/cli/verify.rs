//! `verify`: exit 3 naming the failed check for files Airflow would reject.

use std::fs;

use crate::support::{VerifyReport, packed, run, s};

#[test]
fn a_non_bundle_file_is_rejected_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("plain");
    fs::write(
        &f,
        b"just some text, long enough to hold a trailer...................",
    )
    .unwrap();
    crate::support::chmod(&f, 0o755);
    let r = run(&["verify", s(&f)]);
    r.expect_code(3);
    assert!(r.stderr.contains("FAIL: "), "{}", r.stderr);
    assert!(r.stderr.contains("trailer"), "{}", r.stderr);
}

#[test]
fn a_flipped_byte_fails_binary_sha256() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("flipped");
    let mut bytes = fs::read(&p.bundle).unwrap();
    bytes[1000] ^= 0x01;
    fs::write(&f, &bytes).unwrap();
    crate::support::chmod(&f, 0o755);
    let r = run(&["verify", s(&f)]);
    r.expect_code(3);
    assert!(r.stderr.contains("binary_sha256"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn a_bundle_without_the_exec_bit_fails_executable() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("noexec");
    fs::copy(&p.bundle, &f).unwrap();
    crate::support::chmod(&f, 0o644);
    let r = run(&["verify", s(&f)]);
    r.expect_code(3);
    assert!(r.stderr.contains("  executable: "), "{}", r.stderr);
}

#[test]
fn several_files_and_json() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    fs::write(&bad, b"nope").unwrap();
    let r = run(&["verify", "--message-format", "json", s(&p.bundle), s(&bad)]);
    r.expect_code(3);
    let v: VerifyReport = r.report();
    assert!(!v.ok);
    assert!(v.files[0].accepted);
    assert!(!v.files[1].accepted);
    assert_eq!(
        v.files[0].binary_sha256.as_deref(),
        Some(p.summary.binary_sha256.as_str())
    );
    assert!(
        v.files[1]
            .checks
            .iter()
            .any(|c| c.check == "trailer" && c.outcome == cargo_airflow_report::Outcome::Fail)
    );
    // A good file alone.
    let r = run(&["verify", "--message-format", "json", s(&p.bundle)]);
    r.expect_code(0);
    assert!(r.report::<VerifyReport>().ok);
}

#[test]
fn a_missing_file_is_a_rejection_alone_or_beside_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let r = run(&["verify", s(&missing)]);
    r.expect_code(3);
    assert!(r.stderr.starts_with("error: cannot read "), "{}", r.stderr);
    let r = run(&["verify", s(&packed().bundle), s(&missing)]);
    r.expect_code(3);
    assert!(r.stderr.contains("cannot read "), "{}", r.stderr);
}
