//! Error paths: one `error:` line, the documented exit code, nothing left behind.

use std::fs;

use snapbox::assert_data_eq;

use crate::support::{example_source, packed, redact, run, s};

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
    assert_data_eq!(
        redact(&r.stderr, &[]),
        snapbox::str![[r#"
error: package `no-such-package` is not a member of the workspace at [WS]; members: [..]

"#]]
    );
    assert!(r.stderr.contains("example-bundle"), "{}", r.stderr);
    assert_eq!(fs::read(&out).unwrap(), b"keep me");
}

#[test]
fn bad_flag_is_a_usage_error() {
    let r = run(&["pack", "--no-such-flag"]);
    r.expect_code(2);
    assert_data_eq!(
        r.stderr,
        snapbox::str![[r#"
error: unexpected argument '--no-such-flag' found

  tip: to pass '--no-such-flag' as a value, use '-- --no-such-flag'

Usage: cargo airflow pack [OPTIONS] [-- <CARGO-ARGS>...]

For more information, try '--help'.

"#]]
    );
    let r = run(&["frobnicate"]);
    r.expect_code(2);
    assert_data_eq!(
        r.stderr,
        snapbox::str![[r#"
error: unrecognized subcommand 'frobnicate'

Usage: cargo airflow <COMMAND>

For more information, try '--help'.

"#]]
    );
    let r = run(&["verify"]);
    r.expect_code(2);
    assert_data_eq!(
        r.stderr,
        snapbox::str![[r#"
error: the following required arguments were not provided:
  <FILE>...

Usage: cargo airflow verify <FILE>...

For more information, try '--help'.

"#]]
    );
}

#[test]
fn release_with_another_profile_is_a_usage_error() {
    let r = run(&["pack", "--release", "--profile", "dev"]);
    r.expect_code(2);
    assert_data_eq!(
        r.stderr,
        snapbox::str![[r#"
error: conflicting usage of --profile=dev and --release; `--release` is the same as `--profile=release`; remove one flag or the other

"#]]
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
    assert_data_eq!(
        redact(&r.stderr, &[(dir.path(), "[ROOT]")]),
        snapbox::str![[r#"
error: cannot read --executable [ROOT]/nope: No such file or directory (os error 2)

"#]]
    );
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
    assert_data_eq!(
        redact(
            &r.stderr,
            &[(dir.path(), "[ROOT]"), (&p.executable, "[EXECUTABLE]")]
        ),
        snapbox::str![[r#"
error: cannot infer the root source file of [EXECUTABLE] (built from package `example-bundle`, as its airflow-build record says): cannot read the cargo workspace: `cargo metadata` failed: could not find `Cargo.toml` in `[ROOT]` or any parent directory; run pack in that package's workspace, pass --manifest-path with its Cargo.toml, or pass --source PATH

"#]]
    );
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
    assert_data_eq!(
        redact(&r.stderr, &[(dir.path(), "[ROOT]")]).replace(arch, "[ARCH]"),
        snapbox::str![[r#"
error: cannot read the dags of [ROOT]/foreign: it is built for [ARCH] ELF, which this host cannot run, and its airflow-build record holds no sidecar metadata (it was built for [HOST] with the sidecar off: airflow-build runs it when the target is not the host, unless AIRFLOW_BUILD_SIDECAR=never); rebuild it with `--target` for the machine that will run it

"#]]
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
    assert_data_eq!(
        redact(last, &[]),
        snapbox::str![
            "error: package `no-such-package` is not a member of the workspace at [WS]; members: [..]"
        ]
    );
}

#[test]
fn a_virtual_workspace_needs_a_package() {
    let manifest = crate::support::workspace_manifest();
    let r = run(&["pack", "--manifest-path", s(&manifest)]);
    r.expect_code(1);
    // Resolved before cargo runs: nothing is built.
    assert_data_eq!(
        redact(&r.stderr, &[]),
        snapbox::str![[r#"
error: [WS] is a virtual workspace; choose the package to pack with -p (packages with binaries: [..])

"#]]
    );
    assert!(r.stderr.contains("example-bundle"), "{}", r.stderr);
}

/// Compiles `main_rs` with rustc into `dir/name`; returns the executable.
fn compile(dir: &std::path::Path, name: &str, main_rs: &str) -> std::path::PathBuf {
    let src = dir.join(format!("{name}.rs"));
    fs::write(&src, main_rs).unwrap();
    let exe = dir.join(name);
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = std::process::Command::new(rustc)
        .args(["--edition", "2021", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("runs rustc");
    assert!(status.success(), "rustc failed");
    exe
}

/// `pack --executable EXE --source <example> -o OUT --no-freshness-check`.
fn pack_prebuilt(exe: &std::path::Path, out: &std::path::Path) -> crate::support::Run {
    run(&[
        "pack",
        "--executable",
        s(exe),
        "--source",
        s(&example_source()),
        "-o",
        s(out),
        "--no-freshness-check",
    ])
}

/// The one `error:` line of a failed run.
#[track_caller]
fn error_line(r: &crate::support::Run) -> &str {
    r.expect_code(1);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    errors[0]
}

#[test]
fn a_chatty_failing_binary_gives_one_short_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(
        dir.path(),
        "chatty",
        r#"use std::io::Write;
fn main() {
    let line = vec![b'x'; 1 << 20];
    let mut e = std::io::stderr().lock();
    for _ in 0..100 { let _ = e.write_all(&line); }
    let _ = e.write_all(b"\nthe real reason\n");
    std::process::exit(3);
}"#,
    );
    let r = pack_prebuilt(&exe, &dir.path().join("out"));
    let line = error_line(&r);
    assert!(line.len() < 1000, "{} bytes", line.len());
    assert!(line.contains("the real reason"), "{line}");
}

#[test]
fn a_binary_without_main_macro_is_told_to_add_it() {
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "plain", "fn main() { println!(\"hello\"); }");
    let r = pack_prebuilt(&exe, &dir.path().join("out"));
    let line = error_line(&r);
    assert_data_eq!(
        redact(line, &[(dir.path(), "[ROOT]")]),
        snapbox::str![[
            r#"error: introspection of [ROOT]/plain failed: `--airflow-metadata --format json` printed "hello", not the bundle's metadata; a bundle's main.rs must end with `airflow_sdk::main!(...)`"#
        ]]
    );
}

#[test]
fn a_missing_manifest_path_is_reported_once_without_advice_to_pass_it() {
    let r = run(&["pack", "--manifest-path", "/nonexistent/Cargo.toml"]);
    error_line(&r);
    assert_data_eq!(
        r.stderr,
        snapbox::str![[r#"
error: --manifest-path /nonexistent/Cargo.toml is not a file; give the path of the package's Cargo.toml

"#]]
    );
}

#[test]
fn inspect_inputs_of_a_non_bundle_does_not_blame_versions() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    fs::write(&f, "just text\n").unwrap();
    let r = run(&["inspect", "--inputs", s(&f)]);
    let line = error_line(&r);
    assert_data_eq!(
        redact(line, &[(dir.path(), "[ROOT]")]),
        snapbox::str![
            "error: [ROOT]/notes.txt carries no airflow-build record, so it lists no inputs; only an executable built with `airflow_build::build()` in its build.rs (or a bundle packed from one) has them"
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_device_as_source_is_named_not_answered_with_pass_source() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let r = run(&[
        "pack",
        "--executable",
        s(&p.executable),
        "--source",
        "/dev/zero",
        "-o",
        s(&dir.path().join("out")),
        "--no-freshness-check",
    ]);
    let line = error_line(&r);
    assert_data_eq!(
        line,
        snapbox::str![
            "error: cannot read the source file /dev/zero: it is not a regular file (a FIFO, socket or device)"
        ]
    );
}

#[test]
fn packing_a_bundle_again_is_refused() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("again");
    let r = pack_prebuilt(&p.bundle, &out);
    let line = error_line(&r);
    assert_data_eq!(
        redact(line, &[(&p.bundle, "[BUNDLE]")]),
        snapbox::str![
            "error: [BUNDLE] is already a bundle (it ends with an AFBNDL01 trailer); pack the executable cargo built (target/<profile>/<bin>), or deploy this bundle as it is"
        ]
    );
    assert!(!out.exists());
}

#[test]
fn a_failed_build_does_not_repeat_internal_cargo_flags() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("src")).unwrap();
    fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("src/main.rs"),
        "fn main() { let x: u32 = \"s\"; }\n",
    )
    .unwrap();
    let r = crate::support::run_in(Some(dir.path()), &["pack", "--profile", "dev"]);
    r.expect_code(1);
    // Cargo's own diagnostics come first; ours is the last line.
    let line = r.stderr.lines().last().unwrap_or_default();
    assert_data_eq!(
        line,
        snapbox::str![
            "error: cargo build failed (exit status: 101); fix the errors cargo printed above and run again"
        ]
    );
}
