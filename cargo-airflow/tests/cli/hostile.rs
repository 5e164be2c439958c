//! Hostile files and conditions: FIFOs, special outputs, inputs as outputs, signals, escapes.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    bundle_with_manifest, example_source, mkfifo, packed, run_bounded, s, temp_files_in,
};

const HEAD: &str = "sdk:\n  supervisor_schema_version: \"2026-06-16\"\n";

#[test]
fn a_fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let out = dir.path().join("bundle");
    let p = packed();
    for args in [
        vec!["inspect", s(&fifo)],
        vec!["verify", s(&fifo)],
        vec![
            "pack",
            "--executable",
            s(&fifo),
            "--source",
            s(&example_source()),
            "-o",
            s(&out),
        ],
        vec![
            "pack",
            "--executable",
            s(&p.executable),
            "--source",
            s(&fifo),
            "-o",
            s(&out),
            "--no-freshness-check",
        ],
    ] {
        let (code, _, err) = run_bounded(&args);
        // verify's verdict on a file it cannot read is "rejected" (3), like any unusable file.
        let want = if args[0] == "verify" { 3 } else { 1 };
        assert_eq!(code, want, "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
        let errors = err.lines().filter(|l| l.starts_with("error")).count();
        assert_eq!(errors, 1, "{args:?}: one error line: {err}");
    }
    assert!(!out.exists());
}

#[test]
fn verify_of_a_billion_laughs_manifest_is_bounded_and_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        m.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    m.push_str(&format!("{HEAD}dags:\n  d: {{tasks: *l10}}\n"));
    assert!(m.len() < 2048);
    let b = bundle_with_manifest(dir.path(), "laughs", &m);
    let (code, out, err) = run_bounded(&["verify", s(&b)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(dags: d)"), "{out}");
}

#[test]
fn a_manifest_that_breaks_airflows_lookup_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle_with_manifest(
        dir.path(),
        "bad-date",
        &format!("{HEAD}dags:\n  d: {{}}\n  2026-13-45: {{}}\n"),
    );
    let (code, _, err) = run_bounded(&["verify", s(&b)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("ValueError"), "{err}");
    assert!(
        err.contains("every bundle under the same executables_root"),
        "{err}"
    );
}

#[test]
fn untrusted_text_is_escaped_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle_with_manifest(
        dir.path(),
        "esc",
        &format!("{HEAD}dags:\n  \"d\\e[2J\\r\\0x\": {{}}\n"),
    );
    let (code, out, err) = run_bounded(&["verify", s(&b)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains('\x1b') && !out.contains('\r') && !out.contains('\0'),
        "{out:?}"
    );
    assert!(out.contains("d\\u{1b}[2J\\u{d}\\u{0}x"), "{out:?}");
    let raw = bundle_with_manifest(
        dir.path(),
        "raw",
        &format!("{HEAD}x: \"\x1b]0;pwned\x07\"\ndags: {{d: {{}}}}\n"),
    );
    let (code, out, err) = run_bounded(&["inspect", s(&raw)]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.contains("\\u{1b}]0;pwned\\u{7}"), "{out:?}");
}

/// A symbolic link is followed to the regular file it names, which gets the bundle (the link
/// stays a link); a FIFO is refused. The rules themselves are tested in `src/output.rs`.
#[cfg(unix)]
#[test]
fn pack_follows_a_symlink_and_never_replaces_a_fifo() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let deployed = dir.path().join("deployed");
    fs::write(&deployed, b"an old bundle").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&deployed, &link).unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let pack = |out: &Path| {
        run_bounded(&[
            "pack",
            "--executable",
            s(&p.executable),
            "--source",
            s(&example_source()),
            "-o",
            s(out),
            "--no-freshness-check",
            "--no-stubs",
        ])
    };
    let (code, _, err) = pack(&fifo);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    let (code, _, err) = pack(&link);
    assert_eq!(code, 0, "{err}");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let (code, out, err) = run_bounded(&["verify", s(&deployed)]);
    assert_eq!(code, 0, "{out}{err}");
}

#[cfg(unix)]
use std::os::unix::fs::FileTypeExt;

#[test]
fn pack_never_overwrites_an_input_of_the_build() {
    let p = packed();
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-bundle");
    for input in ["Cargo.toml", "build.rs"] {
        let target = crate_dir.join(input);
        let before = fs::read(&target).unwrap();
        let (code, _, err) = run_bounded(&[
            "pack",
            "--executable",
            s(&p.executable),
            "--manifest-path",
            s(&crate::support::workspace_manifest()),
            "-p",
            "example-bundle",
            "-o",
            s(&target),
        ]);
        let after = fs::read(&target).unwrap();
        if after != before {
            // Put the crate back before failing: this is a shared working tree.
            fs::write(&target, &before).unwrap();
            panic!("pack overwrote {input}: {err}");
        }
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("input of the build"), "{input}: {err}");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_exits_143_and_sigkill_leftovers_are_cleaned_by_the_next_pack() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let source = example_source();
    let temps = || temp_files_in(dir.path());
    let args = [
        "pack",
        "--executable",
        s(&p.executable),
        "--source",
        s(&source),
        "-o",
        s(&out),
    ];
    for signal in ["-TERM", "-KILL"] {
        let mut child = Command::new(crate::support::bin())
            .args(args)
            .env("__CARGO_AIRFLOW_TEST_PAUSE_MS", "20000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while temps() == 0 && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        if signal == "-TERM" {
            assert_eq!(status.code(), Some(143), "{status}");
            assert_eq!(temps(), 0);
        } else {
            assert_eq!(temps(), 1, "SIGKILL cannot clean up");
        }
    }
    // The next pack into the same directory removes the abandoned temp file.
    let (code, _, err) = run_bounded(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(temps(), 0);
}
