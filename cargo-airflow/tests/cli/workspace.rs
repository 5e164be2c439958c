//! Packing inside multi-package workspaces: which package pack picks (as cargo does), path
//! dependencies in the freshness check, and which package a prebuilt executable belongs to.

use std::fs;
use std::path::Path;

use crate::record::Mini;
use crate::support::{chmod, packed, run, run_in, s};

/// Turns the Mini fixture into the member `mini` of a workspace rooted one level up, whose root
/// `Cargo.toml` is `root_toml`. Returns the workspace directory.
fn as_member(m: &Mini, root_toml: &str) -> std::path::PathBuf {
    let ws = m.dir.join("ws");
    let member = ws.join("mini");
    fs::create_dir_all(&ws).unwrap();
    for entry in ["Cargo.toml", "build.rs", "src", "queries"] {
        let from = m.dir.join(entry);
        if from.is_dir() {
            crate::record::copy_dir(&from, &member.join(entry));
        } else {
            fs::create_dir_all(&member).unwrap();
            fs::copy(&from, member.join(entry)).unwrap();
        }
    }
    let toml = fs::read_to_string(member.join("Cargo.toml"))
        .unwrap()
        .replace("\n[workspace]\n", "\n");
    fs::write(member.join("Cargo.toml"), toml).unwrap();
    fs::copy(m.dir.join("Cargo.lock"), ws.join("Cargo.lock")).unwrap();
    fs::write(ws.join("Cargo.toml"), root_toml).unwrap();
    fs::write(ws.join("lib.rs"), "//! The root package.\n").unwrap();
    ws
}

fn pack_args<'a>(m: &'a Mini, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "pack",
        "--target-dir",
        s(&m.target_dir),
        "--profile",
        "dev",
        "--message-format",
        "json",
        "-o",
        s(out),
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn pack_in_a_member_directory_or_with_its_manifest_packs_that_member() {
    let m = Mini::new("member");
    // A root package without bins: cargo builds the member when run in its directory.
    let ws = as_member(
        &m,
        "[package]\nname = \"root-lib\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
         [lib]\npath = \"lib.rs\"\n[workspace]\nmembers = [\"mini\"]\n",
    );
    let out = ws.join("out-cwd");
    let r = run_in(Some(&ws.join("mini")), &pack_args(&m, &out, &[]));
    r.expect_code(0);
    assert_eq!(
        r.pack_report().package.as_deref(),
        Some("mini-bundle"),
        "{}",
        r.stdout
    );
    run(&["verify", s(&out)]).expect_code(0);

    let out = ws.join("out-manifest");
    let manifest = ws.join("mini").join("Cargo.toml");
    let r = run_in(
        Some(&ws),
        &pack_args(&m, &out, &["--manifest-path", s(&manifest)]),
    );
    r.expect_code(0);
    assert_eq!(
        r.pack_report().package.as_deref(),
        Some("mini-bundle"),
        "{}",
        r.stdout
    );

    // A virtual workspace: the member directory decides too.
    fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nresolver = \"3\"\nmembers = [\"mini\"]\n",
    )
    .unwrap();
    let out = ws.join("out-virtual");
    let r = run_in(
        Some(&ws.join("mini").join("src")),
        &pack_args(&m, &out, &[]),
    );
    r.expect_code(0);
    assert_eq!(
        r.pack_report().package.as_deref(),
        Some("mini-bundle"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_changed_path_dependency_makes_the_executable_stale() {
    let m = Mini::new("pathdep");
    fs::create_dir_all(m.dir.join("shared/src")).unwrap();
    m.write(
        "shared/Cargo.toml",
        "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    m.write(
        "shared/src/lib.rs",
        "//! Shared code.\npub const N: u32 = 1;\n",
    );
    let toml = fs::read_to_string(m.manifest()).unwrap().replace(
        "[dependencies]\n",
        "[dependencies]\nshared = { path = \"shared\" }\n",
    );
    fs::write(m.manifest(), toml).unwrap();

    let r = m.pack(&["-o", s(&m.dir.join("first"))]);
    r.expect_code(0);
    let first = r.pack_report();
    let exe = m.dir.join("old-mini-bundle");
    fs::copy(&first.executable, &exe).unwrap();
    chmod(&exe, 0o755);
    let inputs = run(&["inspect", "--inputs", s(&exe)]);
    inputs.expect_code(0);
    assert!(
        inputs
            .stdout
            .lines()
            .any(|l| l.ends_with("  shared/src/lib.rs")),
        "{}",
        inputs.stdout
    );

    m.write(
        "shared/src/lib.rs",
        "//! Shared code.\npub const N: u32 = 2;\n",
    );
    let out = m.dir.join("second");
    let r = run(&[
        "pack",
        "--manifest-path",
        s(&m.manifest()),
        "--executable",
        s(&exe),
        "-o",
        s(&out),
    ]);
    r.expect_code(1);
    for needle in [
        "is stale",
        "modified: shared/src/lib.rs",
        "--no-freshness-check",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    assert!(!out.exists());
    // Build mode rebuilds: fresh again, with another digest.
    let r = m.pack(&["-o", s(&m.dir.join("third"))]);
    r.expect_code(0);
    assert_ne!(r.pack_report().source_digest, first.source_digest);
}

#[test]
fn a_prebuilt_executable_embeds_the_source_of_the_package_that_built_it() {
    let p = packed();
    let dir = tempfile::tempdir().unwrap();
    // In another package's directory of the same workspace: the record's package is used.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.path().join("bundle");
    let r = run_in(
        Some(here),
        &[
            "pack",
            "--executable",
            s(&p.executable),
            "--no-freshness-check",
            "-o",
            s(&out),
            "--message-format",
            "json",
        ],
    );
    r.expect_code(0);
    assert_eq!(
        r.pack_report().package.as_deref(),
        Some("example-bundle"),
        "{}",
        r.stdout
    );
    let source = run(&["inspect", "--source", s(&out)]);
    let example = fs::read_to_string(crate::support::example_source()).unwrap();
    assert!(source.stdout.contains(&example), "{}", source.stdout);

    // Another package named with -p: refused, naming the record's package.
    let r = run_in(
        Some(here),
        &[
            "pack",
            "--executable",
            s(&p.executable),
            "--no-freshness-check",
            "-p",
            "cargo-airflow",
            "-o",
            s(&dir.path().join("x")),
        ],
    );
    r.expect_code(1);
    assert!(
        r.stderr.contains("built from package `example-bundle`"),
        "{}",
        r.stderr
    );

    // Another workspace that lacks the package: refused, never another crate's source.
    let other = dir.path().join("other");
    fs::create_dir_all(other.join("src")).unwrap();
    fs::write(
        other.join("Cargo.toml"),
        "[package]\nname = \"other\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[workspace]\n",
    )
    .unwrap();
    fs::write(other.join("src/main.rs"), "fn main() {}\n").unwrap();
    let out = dir.path().join("y");
    let r = run_in(
        Some(&other),
        &[
            "pack",
            "--executable",
            s(&p.executable),
            "--no-freshness-check",
            "-o",
            s(&out),
        ],
    );
    r.expect_code(1);
    for needle in ["built from package `example-bundle`", "--source PATH"] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(!out.exists());
}

/// `pack --executable` of the binary in cargo's target directory, into `out`.
fn pack_prebuilt(m: &Mini, exe: &Path, out: &Path) -> crate::support::Run {
    run(&[
        "pack",
        "--manifest-path",
        s(&m.manifest()),
        "--executable",
        s(exe),
        "-o",
        s(out),
    ])
}

/// Waits out the file system's timestamp granularity, so that a write after it is later than
/// anything before it (cargo's dep-info included).
fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(50));
}

#[test]
fn files_the_build_read_outside_the_record_make_a_prebuilt_executable_stale() {
    let m = Mini::new("readfiles");
    // A path dependency whose data file is read with include_str!, and a file outside every
    // package read by the bundle itself: neither is an airflow-build input.
    fs::create_dir_all(m.dir.join("shared/src")).unwrap();
    fs::create_dir_all(m.dir.join("shared/data")).unwrap();
    m.write(
        "shared/Cargo.toml",
        "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    m.write(
        "shared/src/lib.rs",
        "//! Shared data.\npub const DATA: &str = include_str!(\"../data/d.txt\");\n",
    );
    m.write("shared/data/d.txt", "one\n");
    let outside = m.dir.parent().unwrap().join("readfiles-outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("x.txt"), "outside one\n").unwrap();
    let toml = fs::read_to_string(m.manifest()).unwrap().replace(
        "[dependencies]\n",
        "[dependencies]\nshared = { path = \"shared\" }\n",
    );
    fs::write(m.manifest(), toml).unwrap();
    let main = fs::read_to_string(m.dir.join("src/main.rs")).unwrap().replace(
        "fn bundle() -> Bundle {\n",
        "fn bundle() -> Bundle {\n    let _ = (shared::DATA, include_str!(\"../../readfiles-outside/x.txt\"));\n",
    );
    m.write("src/main.rs", &main);

    let r = m.pack(&["-o", s(&m.dir.join("first"))]);
    r.expect_code(0);
    assert!(!r.stderr.contains("cannot be checked"), "{}", r.stderr);
    let exe = r.pack_report().executable;
    // The bundle says what its build read, beyond the record.
    let inputs = run(&["inspect", "--inputs", s(&m.dir.join("first"))]);
    inputs.expect_code(0);
    let (recorded, read) = inputs
        .stdout
        .split_once("# read by the build")
        .unwrap_or_else(|| panic!("{}", inputs.stdout));
    for file in ["shared/data/d.txt", "../readfiles-outside/x.txt"] {
        let line = format!("  {file}\n");
        assert!(!recorded.contains(&line), "{file}: {}", inputs.stdout);
        assert!(read.contains(&line), "{file}: {}", inputs.stdout);
    }

    // Unchanged: accepted, with nothing left unchecked.
    let r = pack_prebuilt(&m, &exe, &m.dir.join("second"));
    r.expect_code(0);
    assert!(!r.stderr.contains("cannot be checked"), "{}", r.stderr);
    let read = |bundle: &str| {
        let r = run(&["inspect", "--json", s(&m.dir.join(bundle))]);
        r.expect_code(0);
        r.report::<crate::support::InspectReport>()
            .manifest
            .and_then(|m| m.build)
            .map(|b| b.read_inputs)
            .unwrap_or_default()
    };
    // Both packs say the same about what the build read: content and relative paths only.
    assert!(read("first").len() > 2);
    assert_eq!(read("first"), read("second"));

    // The path dependency's data file changed after the build.
    tick();
    m.write("shared/data/d.txt", "two\n");
    let out = m.dir.join("third");
    let r = pack_prebuilt(&m, &exe, &out);
    r.expect_code(1);
    for needle in [
        "is stale",
        "modified: shared/data/d.txt",
        "--no-freshness-check",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    assert!(!r.stderr.contains("x.txt"), "{}", r.stderr);
    assert!(!out.exists());

    // Rebuilt, then the file outside every package changed after the build.
    m.pack(&["-o", s(&m.dir.join("fourth"))]).expect_code(0);
    pack_prebuilt(&m, &exe, &m.dir.join("fifth")).expect_code(0);
    tick();
    fs::write(outside.join("x.txt"), "outside two\n").unwrap();
    let r = pack_prebuilt(&m, &exe, &out);
    r.expect_code(1);
    for needle in ["is stale", "modified: ../readfiles-outside/x.txt"] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    assert!(!out.exists());
    // The same file gone is named too.
    fs::remove_file(outside.join("x.txt")).unwrap();
    let r = pack_prebuilt(&m, &exe, &out);
    r.expect_code(1);
    assert!(
        r.stderr.contains("removed: ../readfiles-outside/x.txt"),
        "{}",
        r.stderr
    );

    // A copy outside cargo's target directory: the record is checked, and the user is told
    // what cannot be.
    fs::write(outside.join("x.txt"), "outside two\n").unwrap();
    m.pack(&["-o", s(&m.dir.join("sixth"))]).expect_code(0);
    let copy = m.dir.join("copied-mini-bundle");
    fs::copy(&exe, &copy).unwrap();
    chmod(&copy, 0o755);
    let r = run(&[
        "pack",
        "--manifest-path",
        s(&m.manifest()),
        "--executable",
        s(&copy),
        "-o",
        s(&m.dir.join("seventh")),
        "--message-format",
        "json",
    ]);
    r.expect_code(0);
    let unchecked = r.pack_report().read_inputs_unchecked.unwrap_or_default();
    for needle in [
        "no cargo dep-info",
        "copied-mini-bundle.d",
        "cannot be checked",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
        assert!(unchecked.contains(needle), "{needle}: {unchecked}");
    }
}
