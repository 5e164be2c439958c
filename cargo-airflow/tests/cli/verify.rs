//! `verify`: exit 3 naming the failed check and the release for files Airflow would reject;
//! `--airflow 3.3|3.4` judges for one release.

use std::fs;

use cargo_airflow_report::Outcome;

use crate::support::{VerifyReport, bundle_with_manifest, packed, run, s};

const HEAD: &str = "airflow_bundle_metadata_version: \"1.0\"\nsdk:\n  language: rust\n";

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
    // Both releases fail it for the same reason: one block names both.
    assert!(
        r.stderr.starts_with("FAIL (Airflow 3.3, 3.4): "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("  trailer: "), "{}", r.stderr);
    assert_eq!(r.stdout, "");
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
    // 3.3's scan skips it; 3.4 sets the bit itself and uses it.
    let r = run(&["verify", s(&f)]);
    r.expect_code(3);
    assert!(r.stderr.starts_with("FAIL (Airflow 3.3): "), "{}", r.stderr);
    assert!(r.stderr.contains("  executable: "), "{}", r.stderr);
    assert!(r.stdout.starts_with("ok (Airflow 3.4): "), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("  warning (Airflow 3.4): mode is 0644: Airflow 3.4 sets the execute bit"),
        "{}",
        r.stdout
    );
    run(&["verify", "--airflow", "3.3", s(&f)]).expect_code(3);
    let r = run(&["verify", "--airflow", "3.4", s(&f)]);
    r.expect_code(0);
    assert_eq!(r.stderr, "");
    assert!(!r.stdout.contains("3.3"), "{}", r.stdout);
}

#[test]
fn schema_2026_10_30_is_found_by_airflow_3_4_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = bundle_with_manifest(
        dir.path(),
        "new-schema",
        &format!("{HEAD}  supervisor_schema_version: \"2026-10-30\"\ndags:\n  d: {{}}\n"),
    );
    let r = run(&["verify", s(&f)]);
    r.expect_code(3);
    assert!(r.stdout.starts_with("ok (Airflow 3.4): "), "{}", r.stdout);
    assert!(r.stdout.contains("(dags: d)"), "{}", r.stdout);
    assert!(r.stderr.starts_with("FAIL (Airflow 3.3): "), "{}", r.stderr);
    assert!(
        r.stderr.contains("  supervisor_schema_version: "),
        "{}",
        r.stderr
    );
    run(&["verify", "--airflow", "3.4", s(&f)]).expect_code(0);
    run(&["verify", "--airflow", "3.3", s(&f)]).expect_code(3);
    let r = run(&["verify", "--message-format", "json", s(&f)]);
    r.expect_code(3);
    let v: VerifyReport = r.report();
    assert!(!v.ok && !v.files[0].accepted);
    let verdicts: Vec<(&str, &str, bool)> = v.files[0]
        .verdicts
        .iter()
        .map(|r| (r.airflow.as_str(), r.task_sdk.as_str(), r.accepted))
        .collect();
    assert_eq!(
        verdicts,
        [("3.3", "1.3.2", false), ("3.4", "1.4.0b2", true)]
    );
    let schema = |i: usize| {
        v.files[0].verdicts[i]
            .checks
            .iter()
            .find(|c| c.check == "supervisor_schema_version")
            .unwrap()
            .outcome
    };
    assert_eq!((schema(0), schema(1)), (Outcome::Fail, Outcome::Pass));
}

#[test]
fn an_impossible_date_key_breaks_the_root_on_3_3_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = bundle_with_manifest(
        dir.path(),
        "bad-date",
        &format!(
            "{HEAD}  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d: {{}}\n  2026-13-45: {{}}\n"
        ),
    );
    let r = run(&["verify", "--airflow", "3.3", s(&f)]);
    r.expect_code(3);
    assert!(
        r.stderr
            .contains("every bundle under the same executables_root"),
        "{}",
        r.stderr
    );
    let r = run(&["verify", "--airflow", "3.4", s(&f)]);
    r.expect_code(3);
    assert!(r.stderr.starts_with("FAIL (Airflow 3.4): "), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("catches the ValueError and skips this file"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("every bundle"), "{}", r.stderr);
    let r = run(&["verify", "--message-format", "json", s(&f)]);
    let v: VerifyReport = r.report();
    let breaks: Vec<bool> = v.files[0]
        .verdicts
        .iter()
        .map(|r| r.breaks_lookup.is_some())
        .collect();
    assert_eq!(breaks, [true, false]);
}

#[test]
fn an_unknown_release_is_a_usage_error() {
    let r = run(&["verify", "--airflow", "3.2", "x"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("[possible values: 3.3, 3.4]"),
        "{}",
        r.stderr
    );
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
    assert_eq!(v.files[1].verdicts.len(), 2);
    for verdict in &v.files[1].verdicts {
        assert!(
            verdict
                .checks
                .iter()
                .any(|c| c.check == "trailer" && c.outcome == Outcome::Fail)
        );
    }
    // One release asked for: one verdict.
    let r = run(&[
        "verify",
        "--airflow",
        "3.4",
        "--message-format",
        "json",
        s(&p.bundle),
    ]);
    r.expect_code(0);
    let v: VerifyReport = r.report();
    assert_eq!(v.files[0].verdicts.len(), 1);
    assert_eq!(v.files[0].verdicts[0].airflow, "3.4");
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
