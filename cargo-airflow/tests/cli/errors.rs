//! Error paths: one `error:` line, the documented exit code, nothing left behind.

use std::fs;

use crate::support::{example_source, packed, run, s};

#[test]
fn unknown_package_fails_with_the_members_before_cargo_builds() {
    // An existing output that is not a bundle makes pack resolve the package before cargo runs,
    // so the only message is ours.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    fs::write(&out, b"keep me").unwrap();
    let manifest = crate::support::workspace_manifest();
    let r = run(&[
        "pack",
        "--manifest-path",
        s(&manifest),
        "-p",
        "no-such-package",
        "-o",
        s(&out),
    ]);
    r.expect_code(1);
    assert!(
        r.stderr
            .starts_with("error: package `no-such-package` is not a member")
            && r.stderr.contains("example-bundle"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert_eq!(fs::read(&out).unwrap(), b"keep me");
}

#[test]
fn bad_flag_is_a_usage_error() {
    let r = run(&["pack", "--no-such-flag"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--no-such-flag"), "{}", r.stderr);
    run(&["frobnicate"]).expect_code(2);
    run(&["verify"]).expect_code(2);
}

#[test]
fn release_with_another_profile_is_a_usage_error() {
    let r = run(&["pack", "--release", "--profile", "dev"]);
    r.expect_code(2);
    assert!(
        r.stderr
            .contains("conflicting usage of --profile=dev and --release"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_executable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let out = dir.path().join("out");
    let r = run(&[
        "pack",
        "--executable",
        s(&missing),
        "--source",
        s(&example_source()),
        "-o",
        s(&out),
    ]);
    r.expect_code(1);
    assert!(
        r.stderr.starts_with("error: cannot read --executable ") && r.stderr.contains(s(&missing)),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(!out.exists());
}

#[test]
fn executable_mode_without_a_project_needs_source() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = crate::support::run_in(
        Some(dir.path()),
        &["pack", "--executable", s(&p.executable), "-o", s(&out)],
    );
    r.expect_code(1);
    assert!(r.stderr.contains("pass --source PATH"), "{}", r.stderr);
    assert!(!out.exists());
}

#[cfg(unix)]
#[test]
fn a_foreign_architecture_is_refused_before_running_it() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("foreign");
    let arch = crate::support::as_foreign_elf(&p.executable, &fake);
    let out = dir.path().join("out");
    let r = run(&[
        "pack",
        "--executable",
        s(&fake),
        "--source",
        s(&example_source()),
        "-o",
        s(&out),
    ]);
    r.expect_code(1);
    assert!(
        r.stderr.contains(&format!(
            "it is built for {arch} ELF, which this host cannot run, and its airflow-build record holds no sidecar metadata"
        )),
        "{}",
        r.stderr
    );
    // Running it would have failed with an exec error instead.
    assert!(!r.stderr.contains("format error"), "{}", r.stderr);
    assert!(!out.exists());
}

#[test]
fn a_non_bundle_binary_fails_introspection() {
    // Any host executable that is not a bundle: the test binary itself is one.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let me = std::env::current_exe().unwrap();
    let exe = dir.path().join("not-a-bundle");
    fs::copy(&me, &exe).unwrap();
    let r = run(&[
        "pack",
        "--executable",
        s(&exe),
        "--source",
        s(&example_source()),
        "-o",
        s(&out),
    ]);
    r.expect_code(1);
    assert!(
        r.stderr.starts_with("error: introspection of ")
            || r.stderr.starts_with("error: bad metadata from "),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

#[test]
fn unknown_package_without_output_stops_the_build() {
    // Without -o, cargo metadata runs alongside cargo build; a failed selection stops cargo.
    let manifest = crate::support::workspace_manifest();
    let r = run(&[
        "pack",
        "--manifest-path",
        s(&manifest),
        "-p",
        "no-such-package",
    ]);
    r.expect_code(1);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: package `no-such-package` is not a member"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_virtual_workspace_needs_a_package() {
    let manifest = crate::support::workspace_manifest();
    let r = run(&["pack", "--manifest-path", s(&manifest)]);
    r.expect_code(1);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("is a virtual workspace; choose the package to pack with -p")
            && last.contains("example-bundle"),
        "{}",
        r.stderr
    );
}
