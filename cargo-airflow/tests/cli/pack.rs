//! Packing the example bundle: build mode, explicit target, --executable, --output, determinism,
//! freshness, aliasing outputs.

use std::fs;

use snapbox::assert_data_eq;

use crate::support::{
    example_source, host_triple, pack_example, packed, redact, run, run_in, s, workspace_manifest,
};

#[test]
fn pack_then_verify_ok() {
    let p = packed();
    let v = &p.summary;
    assert_eq!(v.bundle, p.bundle);
    assert_eq!(v.package.as_deref(), Some("example-bundle"));
    assert_eq!(v.bin, "example-bundle");
    assert_eq!(v.profile, "release");
    assert_eq!(v.target, host_triple());
    assert!(!v.fresh);
    let dags = &v.dags;
    assert!(!dags.is_empty());
    let tasks: usize = dags.values().map(Vec::len).sum();
    assert_eq!(v.tasks, tasks);
    assert_eq!(v.size, fs::metadata(&p.bundle).unwrap().len());
    assert_eq!(v.binary_sha256.len(), 64);
    assert!(v.warnings.is_empty());
    assert_eq!(
        v.stubs.as_deref(),
        Some(p.bundle.with_file_name("example-bundle_dags.py").as_path())
    );
    // The executable region is cargo's artifact, byte for byte; the artifact is untouched.
    let exe = fs::read(&p.executable).unwrap();
    let bundle = fs::read(&p.bundle).unwrap();
    assert!(bundle.starts_with(&exe));
    assert_eq!(&bundle[bundle.len() - 8..], b"AFBNDL01");
    assert!(!exe.ends_with(b"AFBNDL01"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&p.bundle).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    let r = run(&["verify", s(&p.bundle)]);
    r.expect_code(0);
    assert!(
        r.stdout.starts_with("ok (Airflow 3.3, 3.4): "),
        "{}",
        r.stdout
    );
    for dag in dags.keys() {
        assert!(r.stdout.contains(dag.as_str()), "{}", r.stdout);
    }
}

#[test]
fn human_output_is_cargo_style() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let manifest = workspace_manifest();
    let r = run(&[
        "airflow",
        "pack",
        "--manifest-path",
        s(&manifest),
        "-p",
        "example-bundle",
        "-o",
        s(&out),
    ]);
    r.expect_code(0);
    assert!(
        r.stdout.is_empty(),
        "human output goes to stderr: {}",
        r.stdout
    );
    // Cargo's own lines come first (how many depends on what it had to do).
    assert_data_eq!(
        redact(&r.stderr, &[(dir.path(), "[ROOT]")]),
        snapbox::str![[r#"
...
      Packed example-bundle ([..]) -> [ROOT]/bundle
             target: [HOST] (release profile)
             dags: [..], tasks: [..]
             size: [..] bytes
             binary sha256: [..]
             glibc: needs [..]
             python stubs: [ROOT]/bundle_dags.py

"#]]
    );
}

#[test]
fn explicit_host_target_packs_from_the_triple_directory() {
    let triple = host_triple();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let r = pack_example(&["--target", &triple, "-o", s(&out)]);
    r.expect_code(0);
    let v = r.pack_report();
    assert_eq!(v.target, triple);
    let exe = v.executable.to_str().unwrap();
    assert!(
        exe.contains(&format!("/{triple}/release/")),
        "cargo puts an explicit target under target/<triple>/: {exe}"
    );
    run(&["verify", s(&out)]).expect_code(0);
}

#[test]
fn executable_mode_infers_the_source_from_the_package() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("from-exe");
    let manifest = workspace_manifest();
    let r = run(&[
        "pack",
        "--manifest-path",
        s(&manifest),
        "-p",
        "example-bundle",
        "--executable",
        s(&p.executable),
        "--profile",
        "release",
        "-o",
        s(&out),
        "--message-format",
        "json",
    ]);
    r.expect_code(0);
    run(&["verify", s(&out)]).expect_code(0);
    // Same executable, same source, same profile: the same bytes as the build-mode bundle.
    assert_eq!(fs::read(&out).unwrap(), fs::read(&p.bundle).unwrap());
}

#[test]
fn executable_mode_outside_a_project_with_explicit_source() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deep").join("er").join("bundle");
    let source = example_source();
    let r = run_in(
        Some(dir.path()),
        &[
            "pack",
            "--executable",
            s(&p.executable),
            "--source",
            s(&source),
            "--output",
            s(&out),
            "--message-format",
            "json",
            // The crate is not at hand here, so its sources cannot be compared.
            "--no-freshness-check",
        ],
    );
    r.expect_code(0);
    let v = r.pack_report();
    // The embedded record says how the code was built.
    assert_eq!(v.profile, "release");
    run(&["verify", s(&out)]).expect_code(0);
    let r = run(&["inspect", "--source", s(&out)]);
    r.expect_code(0);
    assert!(r.stdout.contains(&fs::read_to_string(&source).unwrap()));
}

#[test]
fn executable_mode_default_output_is_under_the_target_dir() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let source = example_source();
    let r = run_in(
        Some(dir.path()),
        &[
            "pack",
            "--executable",
            s(&p.executable),
            "--source",
            s(&source),
            "--target-dir",
            "tgt",
            "--message-format",
            "json",
            "--no-freshness-check",
        ],
    );
    r.expect_code(0);
    let expected = dir
        .path()
        .join("tgt")
        .join("airflow")
        .join(host_triple())
        .join("example-bundle");
    assert!(expected.is_file(), "{}", r.stdout);
    assert_eq!(r.pack_report().bundle, expected);
}

#[test]
fn packing_is_deterministic() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for out in [&a, &b] {
        pack_example(&["-o", s(out)]).expect_code(0);
    }
    let (a, b) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
    assert_eq!(a, b);
    assert_eq!(a, fs::read(&p.bundle).unwrap());
}

#[cfg(unix)]
#[test]
fn repacking_unchanged_keeps_inode_and_mtime_and_says_fresh() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let first = pack_example(&["-o", s(&out)]);
    first.expect_code(0);
    assert!(!first.pack_report().fresh);
    let before = fs::metadata(&out).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let second = pack_example(&["-o", s(&out)]);
    second.expect_code(0);
    assert!(second.pack_report().fresh);
    let after = fs::metadata(&out).unwrap();
    assert_eq!(before.ino(), after.ino());
    assert_eq!(before.mtime_nsec(), after.mtime_nsec());
    assert_eq!(before.mtime(), after.mtime());
    // No temp files are left next to it: only the bundle and its generated Python stubs.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["bundle", "bundle_dags.py"]);
}

#[test]
fn output_equal_to_the_executable_is_refused_and_the_input_untouched() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("example-bundle");
    fs::copy(&p.executable, &exe).unwrap();
    let before = fs::read(&exe).unwrap();
    let r = run(&[
        "pack",
        "--executable",
        s(&exe),
        "--source",
        s(&example_source()),
        "-o",
        s(&exe),
    ]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("same file as the executable"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(&exe).unwrap(), before);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn output_equal_to_cargos_artifact_is_refused() {
    let p = packed();
    let before = fs::read(&p.executable).unwrap();
    let r = pack_example(&["-o", s(&p.executable)]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("same file as the executable"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(&p.executable).unwrap(), before);
}

#[test]
fn output_equal_to_the_source_file_is_refused_before_building() {
    let source = example_source();
    let before = fs::read(&source).unwrap();
    let r = pack_example(&["-o", s(&source)]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("same file as the source file"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Compiling") && !r.stderr.contains("Finished"),
        "nothing may be built first: {}",
        r.stderr
    );
    assert_eq!(fs::read(&source).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn an_interrupted_pack_leaves_nothing_behind() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let mut child = Command::new(crate::support::bin())
        .args([
            "pack",
            "--executable",
            s(&p.executable),
            "--source",
            s(&example_source()),
            "-o",
            s(&out),
        ])
        .env("__CARGO_AIRFLOW_TEST_PAUSE_MS", "20000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the complete temp file exists and the pack is paused before the rename.
    let start = Instant::now();
    let temp_seen = loop {
        let temps = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".cargo-airflow-")
            })
            .count();
        if temps > 0 || start.elapsed() > Duration::from_secs(15) {
            break temps > 0;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Give it a moment to finish writing and reach the pause.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(temp_seen, "the pack never created its temp file");
    assert_eq!(status.code(), Some(130), "{status}");
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
