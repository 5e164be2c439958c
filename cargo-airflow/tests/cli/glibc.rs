//! Which glibc a bundle needs: the pack report and summary, `inspect --glibc`, and the declared
//! floor (`--glibc`, `[package.metadata.airflow] glibc`) that refuses a bundle needing more.

use std::fs;

use airflow_bundle::glibc::{GlibcNeeds, GlibcVersion, NoGlibc};
use cargo_airflow_report::GlibcReport;

use crate::record::Mini;
use crate::support::{InspectReport, packed, run, s, temp_files_in, workspace_manifest};

/// What the example bundle needs, as its pack reported it (a glibc host: some version).
fn example_needs() -> (GlibcNeeds, GlibcVersion) {
    let needs = packed()
        .summary
        .glibc
        .clone()
        .expect("pack reports the glibc facts");
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return (needs, GlibcVersion::new(0, 0));
    }
    let newest = needs.newest.expect("a glibc executable needs some version");
    (needs, newest)
}

#[test]
fn pack_and_inspect_report_the_same_needs() {
    let (needs, _) = example_needs();
    let p = packed();
    // The bundle and the executable it holds need the same; JSON and human agree.
    for file in [&p.bundle, &p.executable] {
        let r = run(&["inspect", "--glibc", "--message-format", "json", s(file)]);
        r.expect_code(0);
        let report: GlibcReport = r.report();
        assert_eq!(report.glibc, needs, "{}", file.display());
        let human = run(&["inspect", "--glibc", s(file)]);
        human.expect_code(0);
        assert!(
            human
                .stdout
                .starts_with(&format!("glibc: needs {}\n", needs.summary())),
            "{}",
            human.stdout
        );
        for r in &needs.versions {
            let line = human
                .stdout
                .lines()
                .find(|l| l.starts_with(&format!("{}: ", r.name)))
                .unwrap_or_else(|| panic!("{} missing:\n{}", r.name, human.stdout));
            for sym in &r.symbols {
                assert!(line.split(' ').any(|w| w == sym), "{sym}: {line}");
            }
        }
    }
    let r = run(&["inspect", "--json", s(&p.bundle)]);
    r.expect_code(0);
    let v: InspectReport = r.report();
    assert_eq!(v.glibc.as_ref(), Some(&needs));
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        // Every glibc executable starts through __libc_start_main.
        assert!(
            needs
                .versions
                .iter()
                .any(|r| r.symbols.iter().any(|s| s == "__libc_start_main"))
        );
    }
}

#[test]
fn a_file_that_is_not_elf_needs_no_glibc() {
    let manifest = workspace_manifest();
    let r = run(&["inspect", "--glibc", "--json", s(&manifest)]);
    r.expect_code(0);
    let report: GlibcReport = r.report();
    assert_eq!(report.glibc, GlibcNeeds::none(NoGlibc::NotElf));
    let r = run(&["inspect", "--glibc", s(&manifest)]);
    r.expect_code(0);
    assert_eq!(r.stdout, "glibc: needs none (not an ELF executable)\n");
}

/// `pack --executable` of the example's executable into `dir` with extra arguments.
fn pack_prebuilt(dir: &std::path::Path, extra: &[&str]) -> crate::support::Run {
    let p = packed();
    let manifest = workspace_manifest();
    let out = dir.join("out").join("example-bundle");
    let mut args = vec![
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
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_floor_below_what_the_bundle_needs_refuses_it_and_writes_nothing() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let (needs, newest) = example_needs();
    let floor = GlibcVersion::new(2, 17);
    // Rust's std on a current host references newer versions than 2.17 (the oldest glibc of
    // Rust's tier-1 Linux targets), or this test would prove nothing.
    assert!(newest > floor, "{newest}");
    let dir = tempfile::tempdir().unwrap();
    let r = pack_prebuilt(dir.path(), &["--glibc", "2.17"]);
    r.expect_code(1);
    let newest_req = needs.versions.last().unwrap();
    for expected in [
        "package `example-bundle` needs glibc ".to_owned(),
        format!("newer than its floor 2.17 (--glibc): {} (", newest_req.name),
        newest_req.symbols[0].clone(),
        "x86_64-unknown-linux-gnu.2.17".to_owned(),
        "static musl target".to_owned(),
    ] {
        if expected.contains("x86_64") && std::env::consts::ARCH != "x86_64" {
            continue;
        }
        assert!(r.stderr.contains(&expected), "{expected}:\n{}", r.stderr);
    }
    assert_eq!(r.stdout, "");
    // Nothing written: no bundle, no stub file, no temp file, not even the directory.
    assert!(
        !dir.path().join("out").exists(),
        "{:?}",
        fs::read_dir(dir.path())
    );
    assert_eq!(temp_files_in(dir.path()), 0);

    // At the newest version it needs, the pack goes through and reports the floor.
    let r = pack_prebuilt(dir.path(), &["--glibc", &newest.to_string()]);
    r.expect_code(0);
    let report = r.pack_report();
    assert_eq!(report.glibc_floor, Some(newest));
    assert_eq!(report.glibc.as_ref(), Some(&needs));

    // A bad flag value is a usage error.
    let r = pack_prebuilt(dir.path(), &["--glibc", "bookworm"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("`bookworm` is not a glibc version"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_metadata_floor_refuses_and_the_flag_overrides_it() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    // Shares the fixture's target directory (and its lock) with the declaration tests: only
    // the fixture itself rebuilds, not its dependencies.
    let m = Mini::new("declarations");
    let toml = fs::read_to_string(m.manifest()).unwrap();
    m.write(
        "Cargo.toml",
        &toml.replace(
            "[package.metadata.airflow]\n",
            "[package.metadata.airflow]\nglibc = \"2.17\"\n",
        ),
    );
    let out = m.dir.join("out").join("mini");
    let r = m.pack(&["-o", s(&out)]);
    r.expect_code(1);
    // Cargo names the package directory canonically; the test's path may hold `..`.
    let declared = format!(
        "newer than its floor 2.17 ([package.metadata.airflow] glibc in {})",
        m.manifest().canonicalize().unwrap().display()
    );
    assert!(
        r.stderr.contains("package `mini-bundle` needs glibc "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&declared), "{declared}:\n{}", r.stderr);
    assert!(r.stderr.contains("__libc_start_main"), "{}", r.stderr);
    assert!(!out.exists());
    // The flag wins over the metadata.
    let needs = m.pack(&["-o", s(&out), "--glibc", "99.0"]);
    needs.expect_code(0);
    let report = needs.pack_report();
    assert_eq!(report.glibc_floor, Some(GlibcVersion::new(99, 0)));
    assert!(out.exists());
}
