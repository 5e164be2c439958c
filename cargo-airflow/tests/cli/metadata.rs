//! What the binary says about itself: warnings for ids Airflow's server refuses, and refusals for
//! versions the packer does not know. The "bundles" here are tiny Rust programs compiled with
//! rustc that print a fixed `--airflow-metadata` answer.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use snapbox::assert_data_eq;

use crate::support::{InspectReport, VerifyReport, redact, run, s};

/// Replaces what differs between machines and compilers in a pack's or inspect's text: hex
/// SHA-256 digests and the executable's size.
fn stable(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        let run = rest[start..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(rest.len(), |n| start + n);
        let word = &rest[start..run];
        let boundary = rest[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        out.push_str(&rest[..start]);
        if boundary && word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push_str("[SHA256]");
        } else {
            out.push_str(word);
        }
        rest = &rest[run..];
    }
    out.push_str(rest);
    out.lines()
        .map(|line| {
            let indent = &line[..line.len() - line.trim_start().len()];
            let body = line.trim_start();
            if body.starts_with("size: ") {
                format!("{indent}size: [SIZE] bytes")
            } else if body.starts_with("glibc: needs ") {
                // What the host's glibc and toolchain make the executable need.
                format!("{indent}glibc: needs [GLIBC]")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Compiles a program that prints `json` for `--airflow-metadata` into `dir`; returns the
/// executable and its source file.
fn fake_bundle(dir: &Path, json: &str) -> (PathBuf, PathBuf) {
    fs::write(dir.join("meta.json"), json).unwrap();
    let src = dir.join("main.rs");
    fs::write(
        &src,
        r#"fn main() {
    if std::env::args().any(|a| a == "--airflow-metadata") {
        print!("{}", include_str!("meta.json"));
    } else {
        std::process::exit(2);
    }
}
"#,
    )
    .unwrap();
    let exe = dir.join(if cfg!(windows) { "fake.exe" } else { "fake" });
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args(["--edition", "2021", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("runs rustc");
    assert!(status.success(), "rustc failed");
    (exe, src)
}

fn metadata(schema: &str, dags: &str) -> String {
    format!(
        r#"{{"airflow_bundle_metadata_version": "1.0",
  "sdk": {{"language": "rust", "version": "0.1.0", "supervisor_schema_version": "{schema}"}},
  "dags": {dags}}}"#
    )
}

/// Packs a fake bundle (no airflow-build record, so `--no-freshness-check`).
fn pack(exe: &Path, src: &Path, out: &Path) -> crate::support::Run {
    run(&[
        "pack",
        "--executable",
        s(exe),
        "--source",
        s(src),
        "-o",
        s(out),
        "--message-format",
        "json",
        "--no-freshness-check",
    ])
}

#[test]
fn a_prebuilt_binary_without_a_record_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (exe, src) = fake_bundle(
        dir.path(),
        &metadata("2026-06-16", r#"{"d": {"tasks": ["t"]}}"#),
    );
    let out = dir.path().join("out");
    let r = run(&[
        "pack",
        "--executable",
        s(&exe),
        "--source",
        s(&src),
        "-o",
        s(&out),
    ]);
    r.expect_code(1);
    assert_data_eq!(
        redact(&r.stderr, &[(dir.path(), "[ROOT]")]),
        snapbox::str![[r#"
error: cannot check that [ROOT]/fake is fresh: it carries no airflow-build record, so nothing says which sources built it; add `airflow-build` to the crate's [build-dependencies], call `airflow_build::build()` from build.rs and rebuild, or pass --no-freshness-check to pack it as it is

"#]]
    );
    assert!(!out.exists());
    pack(&exe, &src, &out).expect_code(0);
    run(&["verify", s(&out)]).expect_code(0);
}

#[test]
fn yaml_hostile_ids_pack_and_questionable_ids_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let dags = r#"{"123": {"tasks": ["yes", "1_000", "null", "2026-01-01", "1:30"]},
                   "on": {"tasks": ["café"]},
                   "bad id": {"tasks": ["a..b"]},
                   "empty": {"tasks": []}}"#;
    let (exe, src) = fake_bundle(dir.path(), &metadata("2026-06-16", dags));
    let out = dir.path().join("out").join("bundle");
    let r = pack(&exe, &src, &out);
    r.expect_code(0);
    let v = r.pack_report();
    // `123`, `on`, `yes`, `café` are valid Airflow ids: YAML-hostile, but not warned about.
    snapbox::assert_data_eq!(
        v.warnings.join("\n"),
        snapbox::str![[r#"
task id "1:30" in dag "123" must be made of letters, digits, '_', '.' and '-'; the Airflow server will reject it
dag id "bad id" must be made of letters, digits, '_', '.' and '-'; the Airflow server will reject it
task id "a..b" in dag "bad id" contains '..'; the Airflow server rejects it unless [core] allow_double_dot_in_ids is enabled
dag "empty" has no tasks
"#]]
    );
    for w in &v.warnings {
        assert!(r.stderr.contains(&format!("warning: {w}")), "{}", r.stderr);
    }
    assert_eq!(v.dags["123"][0], "yes");
    assert_eq!(v.tasks, 7);

    // Airflow's reader sees every dag id as the same string.
    let r = run(&["verify", "--message-format", "json", s(&out)]);
    r.expect_code(0);
    let report: VerifyReport = r.report();
    assert_eq!(report.files[0].dag_ids, ["123", "bad id", "empty", "on"]);
    let r = run(&["inspect", "--json", s(&out)]);
    r.expect_code(0);
    let m = r
        .report::<InspectReport>()
        .manifest
        .expect("the manifest parses");
    assert_eq!(
        m.dags["123"].tasks,
        ["yes", "1_000", "null", "2026-01-01", "1:30"]
    );
    assert_eq!(m.dags["on"].tasks, ["café"]);
}

#[test]
fn a_bare_relative_executable_name_is_run_from_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (exe, _) = fake_bundle(
        dir.path(),
        &metadata("2026-06-16", r#"{"d": {"tasks": ["t"]}}"#),
    );
    let name = exe.file_name().unwrap().to_str().unwrap();
    let r = crate::support::run_in(
        Some(dir.path()),
        &[
            "pack",
            "--executable",
            name,
            "--source",
            "main.rs",
            "-o",
            "out",
            "--no-freshness-check",
        ],
    );
    r.expect_code(0);
    run(&["verify", s(&dir.path().join("out"))]).expect_code(0);
}

#[test]
fn an_unknown_supervisor_schema_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (exe, src) = fake_bundle(
        dir.path(),
        &metadata("2099-01-01", r#"{"d": {"tasks": ["t"]}}"#),
    );
    let out = dir.path().join("bundle");
    let r = pack(&exe, &src, &out);
    r.expect_code(1);
    assert!(
        r.stderr.starts_with("error: bad metadata from "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("2099-01-01"), "{}", r.stderr);
    assert!(!out.exists());
}

#[test]
fn no_dags_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (exe, src) = fake_bundle(dir.path(), &metadata("2026-06-16", "{}"));
    let out = dir.path().join("bundle");
    let r = pack(&exe, &src, &out);
    r.expect_code(1);
    assert!(r.stderr.contains("declares no dags"), "{}", r.stderr);
    assert!(!out.exists());
}

#[test]
fn a_malformed_answer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (exe, src) = fake_bundle(dir.path(), "{\"not\": \"metadata\"}");
    let out = dir.path().join("bundle");
    let r = pack(&exe, &src, &out);
    r.expect_code(1);
    assert!(
        r.stderr.starts_with("error: bad metadata from ") && r.stderr.contains("not valid"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

/// What a person sees: the pack summary and `inspect` of a small bundle, as snapshots.
#[test]
fn the_pack_summary_and_inspect_output() {
    let dir = tempfile::tempdir().unwrap();
    let dags = r#"{"etl": {"tasks": ["extract", "load"]}, "report": {"tasks": ["send"]}}"#;
    let (exe, src) = fake_bundle(dir.path(), &metadata("2026-06-16", dags));
    let out = dir.path().join("out").join("bundle");
    let pack = |extra: &[&str]| {
        let mut args = vec![
            "pack",
            "--executable",
            s(&exe),
            "--source",
            s(&src),
            "-o",
            s(&out),
            "--no-freshness-check",
        ];
        args.extend_from_slice(extra);
        crate::support::run_in(Some(dir.path()), &args)
    };
    let r = pack(&[]);
    r.expect_code(0);
    assert_eq!(r.stdout, "");
    assert_data_eq!(
        stable(&redact(&r.stderr, &[(dir.path(), "[ROOT]")])),
        snapbox::str![[r#"
warning: dag "etl" has no declarations (a bundle built with another SDK); write its stub by hand
warning: dag "report" has no declarations (a bundle built with another SDK); write its stub by hand
      Packed fake (etl: 2 tasks, report: 1 task) -> out/bundle
             target: [HOST] (unknown profile)
             dags: 2, tasks: 3
             size: [SIZE] bytes
             binary sha256: [SHA256]
             glibc: needs [GLIBC]

"#]]
    );
    // Packed again: the same bytes, left untouched; -q hides everything.
    let r = pack(&["-q"]);
    r.expect_code(0);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));

    let r = run(&["inspect", s(&out)]);
    r.expect_code(0);
    assert_data_eq!(
        stable(&redact(&r.stdout, &[])),
        snapbox::str![[r#"
airflow_bundle_metadata_version: "1.0"
sdk:
  language: rust
  version: "0.1.0"
  supervisor_schema_version: "2026-06-16"
source: main.rs
build:
  target: [HOST]
  profile: unknown
  packer: cargo-airflow 0.1.0
sources:
- path: main.rs
  offset: 0
  length: 174
  sha256: [SHA256]
entrypoint_path: main.rs
dags:
  etl:
    tasks:
    - extract
    - load
  report:
    tasks:
    - send

"#]]
    );
    let r = run(&["inspect", "--source", s(&out)]);
    r.expect_code(0);
    assert!(
        r.stdout.starts_with(&format!(
            "# --- source (main.rs) ---\n{}",
            fs::read_to_string(&src).unwrap()
        )),
        "{}",
        r.stdout
    );
    let r = run(&["verify", s(&out)]);
    r.expect_code(0);
    assert_data_eq!(
        redact(&r.stdout, &[(dir.path(), "[ROOT]")]),
        snapbox::str![[r#"
ok (Airflow 3.3, 3.4): [ROOT]/out/bundle (dags: etl, report)

"#]]
    );
}
