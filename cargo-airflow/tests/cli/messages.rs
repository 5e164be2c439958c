//! What the commands say, and how much (issue 17, points 11 and 12): one-line errors without
//! escaped layout, `stubs -q`/`-v`, declaration problems reported as such.

use snapbox::assert_data_eq;

use crate::support::{bundle_with_manifest, packed, redact, run, s};

/// The start of a manifest the parser accepts.
const HEAD: &str = "airflow_bundle_metadata_version: \"1\"\nsdk: {language: rust, version: \"0.1.0\", \
                    supervisor_schema_version: \"2026-06-16\"}\nsource: main.rs\n";

/// A manifest the parser refuses, with the position it gives, on one line: the parser's snippet
/// of the input (several lines) used to reach the terminal as literal `\u{a}` escapes.
#[test]
fn a_stubs_error_is_one_readable_line() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle_with_manifest(
        dir.path(),
        "dup",
        &format!("{HEAD}dags:\n  d: {{tasks: [a]}}\n  d: {{tasks: [b]}}\n"),
    );
    let r = run(&["stubs", s(&b)]);
    r.expect_code(1);
    assert_data_eq!(
        redact(&r.stderr, &[(dir.path(), "[ROOT]")]),
        snapbox::str![[r#"
error: cannot generate the Python stubs of [ROOT]/dup: its manifest cannot be read: the metadata is not valid: duplicate mapping key: d, set DuplicateKeyPolicy in Options if acceptable at line 6, column 3

"#]]
    );
}

/// Untrusted text in the message is still escaped: a key with a control character.
#[test]
fn a_stubs_error_still_escapes_what_it_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle_with_manifest(
        dir.path(),
        "esc",
        &format!("{HEAD}dags:\n  \"d\\e[2J\": {{tasks: [a]}}\n  \"d\\e[2J\": {{tasks: [b]}}\n"),
    );
    let r = run(&["stubs", s(&b)]);
    r.expect_code(1);
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
    assert!(r.stderr.contains("d\\u{1b}[2J"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

/// `stubs -q` prints nothing on success, `-v` says what it reads, as `pack` does.
#[test]
fn stubs_has_quiet_and_verbose() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dags.py");
    let quiet = run(&["stubs", "-q", s(&p.bundle), "-o", s(&out)]);
    quiet.expect_code(0);
    assert_eq!(quiet.stderr, "");
    assert_eq!(quiet.stdout, "");
    assert!(out.is_file());
    let normal = run(&["stubs", s(&p.bundle), "-o", s(&out)]);
    normal.expect_code(0);
    assert!(normal.stderr.contains("Wrote"), "{}", normal.stderr);
    assert!(!normal.stderr.contains("Reading"), "{}", normal.stderr);
    let verbose = run(&["stubs", "-v", s(&p.bundle), "-o", s(&out)]);
    verbose.expect_code(0);
    assert!(
        verbose.stderr.contains("Reading the manifest of"),
        "{}",
        verbose.stderr
    );
    // As for pack, the two conflict: a usage error.
    run(&["stubs", "-q", "-v", s(&p.bundle)]).expect_code(2);
}

/// A package under a directory whose path is not UTF-8: cargo would build it and then panic
/// reporting the artifact; pack says what is wrong before cargo starts.
#[cfg(unix)]
#[test]
fn a_package_under_a_non_utf8_directory_is_refused_before_cargo() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xff"))
        .join("hello");
    std::fs::create_dir_all(pkg.join("src")).unwrap();
    std::fs::write(
        pkg.join("Cargo.toml"),
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(pkg.join("src/main.rs"), "fn main() {}\n").unwrap();
    let out = dir.path().join("out");
    let r = crate::support::run_in(Some(&pkg), &["pack", "-o", s(&out)]);
    r.expect_code(1);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    // The bytes that are not UTF-8 are shown escaped (snapbox shows `\` as `/` below).
    assert!(r.stderr.contains(r"bad\xFF/hello"), "{}", r.stderr);
    assert_data_eq!(
        redact(&r.stderr, &[(dir.path(), "[ROOT]")]),
        snapbox::str![[r#"
error: cannot build the package at "[ROOT]/bad/xFF/hello": its path is not UTF-8, and cargo cannot report such paths; move the package to a directory whose path is UTF-8

"#]]
    );
    // The same package from elsewhere, with a target directory that is not UTF-8.
    let manifest = dir.path().join("ok").join("Cargo.toml");
    std::fs::create_dir_all(manifest.parent().unwrap().join("src")).unwrap();
    std::fs::copy(pkg.join("Cargo.toml"), &manifest).unwrap();
    std::fs::copy(
        pkg.join("src/main.rs"),
        manifest.parent().unwrap().join("src/main.rs"),
    )
    .unwrap();
    let target = pkg.join("target");
    let mut cmd = std::process::Command::new(crate::support::bin());
    let o = cmd
        .args([
            "pack",
            "--manifest-path",
            s(&manifest),
            "-o",
            s(&out),
            "--target-dir",
        ])
        .arg(&target)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot build the target directory at"),
        "{err}"
    );
    assert!(
        err.contains("pass a --target-dir whose path is UTF-8"),
        "{err}"
    );
}

/// A real airflow-sdk bundle whose dependencies form a cycle: its `--airflow-metadata` refuses
/// them, and pack reports the declarations (dag and task, fix them in Rust), exit 1, not an
/// introspection failure of "a bundle built with airflow-sdk?" that it is.
#[test]
fn a_cycle_refused_by_the_sdk_binary_is_a_declaration_problem() {
    let m = crate::record::Mini::new("declarations");
    m.write(
        "src/main.rs",
        "mod tasks;\nuse airflow_sdk::{Bundle, Dag};\nfn bundle() -> Bundle {\n    \
         Bundle::new().dag(Dag::new(\"mini\").task(\"hello\", tasks::hello)\
         .task(\"again\", tasks::hello).chain([\"hello\", \"again\", \"hello\"]))\n}\n\
         airflow_sdk::main!(bundle());\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let r = m.pack(&["-o", s(&dir.path().join("out"))]);
    r.expect_code(1);
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert_data_eq!(
        redact(line, &[(&m.target_dir, "[TARGET]")]),
        snapbox::str![[
            r#"error: the dag declarations of [TARGET]/debug/mini-bundle are invalid: dag "mini": its dependencies form a cycle through task "hello" (hello >> again >> hello); remove one of these dependencies; fix them in the bundle's Rust code and build again"#
        ]]
    );
    assert!(!dir.path().join("out").exists());
}

/// A cron expression Airflow would refuse (croniter reads `5L` as nothing it knows): the SDK
/// refuses it when the bundle is declared, so pack names the dag and the expression as a
/// declaration problem (not an introspection failure), and the bundle binary, run as Airflow
/// runs it, refuses with the same text.
#[test]
fn a_bad_cron_is_refused_by_the_sdk_with_the_same_text_at_pack_and_at_run_time() {
    let m = crate::record::Mini::new("declarations");
    m.write(
        "src/main.rs",
        "mod tasks;\nuse airflow_sdk::{Bundle, Dag, Schedule};\nfn bundle() -> Bundle {\n    \
         Bundle::new().dag(Dag::new(\"mini\").schedule(Schedule::cron(\"0 6 * * 5L\"))\
         .task(\"hello\", tasks::hello))\n}\nairflow_sdk::main!(bundle());\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let r = m.pack(&["-o", s(&dir.path().join("out"))]);
    r.expect_code(1);
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert_data_eq!(
        redact(line, &[(&m.target_dir, "[TARGET]")]),
        snapbox::str![[
            r#"error: the dag declarations of [TARGET]/debug/mini-bundle are invalid: dag "mini": the cron expression "0 6 * * 5L" is invalid: day of week: "5L" is not a number; fix them in the bundle's Rust code and build again"#
        ]]
    );
    assert!(!dir.path().join("out").exists());

    // What Airflow's coordinator starts: the binary refuses before connecting, same problem.
    let exe = m.target_dir.join("debug/mini-bundle");
    let run = std::process::Command::new(&exe)
        .args(["--comm=127.0.0.1:9", "--logs=127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_eq!(
        String::from_utf8_lossy(&run.stderr).trim_end(),
        "error: the bundle's declarations are invalid: dag \"mini\": the cron expression \
         \"0 6 * * 5L\" is invalid: day of week: \"5L\" is not a number"
    );
}
