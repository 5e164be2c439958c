//! Packing with airflow-build's embedded record: digests in the manifest, freshness, the sidecar
//! cross-check, and a binary this host cannot run (never executed).

use std::fs;
use std::path::{Path, PathBuf};

use cargo_airflow_report::MetadataSource;

use crate::support::{
    InspectReport, as_foreign_elf, chmod, packed, run, run_in, s, workspace_manifest,
};

/// A copy of airflow-build's `mini-bundle` fixture in its own directory, building into the
/// target directory airflow-build's own tests of the fixture use (`target/fixture-builds/host`,
/// so the SDK's dependencies are compiled once for both), which one test uses at a time: every
/// copy is the same package to cargo, so two would overwrite each other's build-script output.
/// An advisory file lock, held across processes and shared with airflow-build's tests.
pub(crate) struct Mini {
    pub(crate) dir: PathBuf,
    pub(crate) target_dir: PathBuf,
    _lock: fs::File,
}

impl Mini {
    pub(crate) fn new(name: &str) -> Mini {
        let ws = workspace_manifest().parent().unwrap().to_path_buf();
        let root = ws.join("target").join("cargo-airflow-tests");
        let builds = ws.join("target").join("fixture-builds");
        fs::create_dir_all(&builds).unwrap();
        let lock = fs::File::create(builds.join("host.lock")).unwrap();
        lock.lock().unwrap();
        let dir = root.join("work").join(name);
        let _ = fs::remove_dir_all(&dir);
        copy_dir(&ws.join("airflow-build/tests/fixtures/mini-bundle"), &dir);
        let manifest = fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .replace("@AIRFLOW_SDK@", s(&ws.join("airflow-sdk")))
            .replace("@AIRFLOW_BUILD@", s(&ws.join("airflow-build")));
        fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        // The workspace's lock file: the same versions, no network.
        fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        Mini {
            dir,
            target_dir: builds.join("host"),
            _lock: lock,
        }
    }

    pub(crate) fn manifest(&self) -> PathBuf {
        self.dir.join("Cargo.toml")
    }

    /// `cargo airflow pack` of the fixture (dev profile, for speed) with extra arguments.
    pub(crate) fn pack(&self, extra: &[&str]) -> crate::support::Run {
        let manifest = self.manifest();
        let mut args = vec![
            "pack",
            "--manifest-path",
            s(&manifest),
            "--target-dir",
            s(&self.target_dir),
            "--profile",
            "dev",
            "--message-format",
            "json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    }

    pub(crate) fn write(&self, rel: &str, content: &str) {
        fs::write(self.dir.join(rel), content).unwrap();
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn the_manifest_carries_the_record_digests() {
    let p = packed();
    let digest = p.summary.source_digest.as_deref().expect("source_digest");
    assert_eq!(digest.len(), 64, "{digest}");
    assert_eq!(p.summary.metadata_source, MetadataSource::Binary);
    let r = run(&["inspect", "--json", s(&p.bundle)]);
    r.expect_code(0);
    let v: InspectReport = r.report();
    let build = v
        .manifest
        .and_then(|m| m.build)
        .expect("the manifest has a build section");
    assert_eq!(build.source_digest.as_deref(), Some(digest));
    assert_eq!(build.env_signature.as_deref().map(str::len), Some(64));
}

#[test]
fn inspect_inputs_lists_the_recorded_files() {
    let p = packed();
    let r = run(&["inspect", "--inputs", s(&p.bundle)]);
    r.expect_code(0);
    for file in [
        "Cargo.toml",
        "build.rs",
        "src/main.rs",
        "$WORKSPACE/Cargo.lock",
    ] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.ends_with(&format!("  {file}")) && l.len() > 64),
            "{file} missing:\n{}",
            r.stdout
        );
    }
    let digest = p.summary.source_digest.as_deref().unwrap();
    assert!(r.stdout.contains(digest), "{}", r.stdout);
    // The executable itself carries the same record; the bundle adds what its build read.
    let r2 = run(&["inspect", "--inputs", s(&p.executable)]);
    r2.expect_code(0);
    let read = r
        .stdout
        .strip_prefix(&r2.stdout)
        .unwrap_or_else(|| panic!("bundle:\n{}\nexecutable:\n{}", r.stdout, r2.stdout));
    assert!(
        read.starts_with("# read by the build (cargo's dep-info), digested when packed\n"),
        "{read}"
    );
    assert!(read.lines().any(|l| l.ends_with("  src/main.rs")), "{read}");
    assert!(!r2.stdout.contains("# read by the build"), "{}", r2.stdout);
}

#[test]
fn a_stale_executable_is_refused_naming_the_changed_files() {
    let m = Mini::new("stale");
    let r = m.pack(&["-o", s(&m.dir.join("first"))]);
    r.expect_code(0);
    let first = r.pack_report();
    let exe = m.dir.join("old-mini-bundle");
    fs::copy(&first.executable, &exe).unwrap();
    chmod(&exe, 0o755);

    m.write(
        "src/tasks.rs",
        "use airflow_sdk::{TaskContext, TaskResult};\n\npub fn hello(_ctx: &mut TaskContext) -> TaskResult {\n    Ok(()) // edited\n}\n",
    );
    m.write("src/unused.rs", "// a new file under src/\n");
    let out = m.dir.join("second");
    let manifest = m.manifest();
    let prebuilt = |extra: &[&str]| {
        let mut args = vec![
            "pack",
            "--manifest-path",
            s(&manifest),
            "--executable",
            s(&exe),
            "-o",
            s(&out),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let r = prebuilt(&[]);
    r.expect_code(1);
    for needle in [
        "is stale",
        "modified: src/tasks.rs",
        "added: src/unused.rs",
        "--no-freshness-check",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    assert!(!out.exists(), "a refused pack wrote {}", out.display());

    let r = prebuilt(&["--no-freshness-check", "--message-format", "json"]);
    r.expect_code(0);
    assert!(r.stderr.contains("not checking"), "{}", r.stderr);
    assert_eq!(r.pack_report().source_digest, first.source_digest);

    // Build mode rebuilds, so the new binary is fresh and its digest moved.
    let r = m.pack(&["-o", s(&m.dir.join("third"))]);
    r.expect_code(0);
    assert_ne!(r.pack_report().source_digest, first.source_digest);
}

#[test]
fn an_executable_whose_crate_is_not_at_hand_needs_the_flag() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let source = crate::support::example_source();
    let args = |extra: &'static [&'static str]| {
        let mut v = vec![
            "pack".to_owned(),
            "--executable".into(),
            s(&p.executable).into(),
            "--source".into(),
            s(&source).into(),
            "-o".into(),
            s(&out).into(),
        ];
        v.extend(extra.iter().map(|a| (*a).to_owned()));
        v
    };
    let a = args(&[]);
    let r = run_in(
        Some(dir.path()),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    r.expect_code(1);
    assert!(
        r.stderr.contains("package `example-bundle`") && r.stderr.contains("--no-freshness-check"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    let a = args(&["--no-freshness-check"]);
    run_in(
        Some(dir.path()),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .expect_code(0);
}

#[test]
fn sidecar_on_the_host_agrees_and_packs_a_binary_that_cannot_run_here() {
    let m = Mini::new("sidecar");
    let r = crate::support::run_env(
        &[
            "pack",
            "--manifest-path",
            s(&m.manifest()),
            "--target-dir",
            s(&m.target_dir),
            "--profile",
            "dev",
            "--message-format",
            "json",
            "-o",
            s(&m.dir.join("native")),
        ],
        &[("AIRFLOW_BUILD_SIDECAR", "always")],
    );
    r.expect_code(0);
    let native = r.pack_report();
    assert_eq!(
        native.metadata_source,
        MetadataSource::BinaryAndSidecar,
        "{native:?}"
    );

    // The same binary, claiming another architecture: packed from its record, never run.
    let foreign = m.dir.join("foreign-mini-bundle");
    as_foreign_elf(&native.executable, &foreign);
    let out = m.dir.join("foreign-bundle");
    let r = run(&[
        "pack",
        "--manifest-path",
        s(&m.manifest()),
        "--executable",
        s(&foreign),
        "-o",
        s(&out),
        "--message-format",
        "json",
    ]);
    r.expect_code(0);
    let v = r.pack_report();
    assert_eq!(v.metadata_source, MetadataSource::Sidecar, "{v:?}");
    assert_eq!(v.dags, native.dags);
    assert_eq!(v.target, native.target, "the record names the target");
    run(&["verify", s(&out)]).expect_code(0);
}

#[test]
fn a_foreign_binary_without_a_record_says_to_add_airflow_build() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign");
    let arch = as_foreign_elf(Path::new("/bin/true"), &foreign);
    let r = run(&[
        "pack",
        "--executable",
        s(&foreign),
        "--source",
        s(&crate::support::example_source()),
        "-o",
        s(&dir.path().join("out")),
    ]);
    r.expect_code(1);
    assert!(
        r.stderr.contains(&format!("{arch} ELF")) && r.stderr.contains("add `airflow-build`"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("out").exists());
}
