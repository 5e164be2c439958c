//! The pack stamp (`<target-dir>/airflow/.pack-stamps/`): a pack with nothing changed trusts it
//! instead of reading the bundle again, and any change to the executable, the bundle file, the
//! packed inputs or the stub file is still found and repacked.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{Run, example_source, packed, run, s};

/// A copy of the example executable, a target directory for its stamps, and an output path,
/// all in one temp dir (so no other test shares the stamp).
struct Case {
    dir: tempfile::TempDir,
    exe: PathBuf,
    source: PathBuf,
    out: PathBuf,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("example-bundle");
        fs::copy(&packed().executable, &exe).unwrap();
        let source = dir.path().join("main.rs");
        fs::copy(example_source(), &source).unwrap();
        let out = dir.path().join("out").join("bundle");
        Case {
            dir,
            exe,
            source,
            out,
        }
    }

    fn target_dir(&self) -> PathBuf {
        self.dir.path().join("target")
    }

    /// `pack --executable` of the copy, with `extra` flags.
    fn pack(&self, extra: &[&str]) -> Run {
        let target = self.target_dir();
        let mut args = vec![
            "pack",
            "--executable",
            s(&self.exe),
            "--source",
            s(&self.source),
            "--no-freshness-check",
            "--target-dir",
            s(&target),
            "-o",
            s(&self.out),
            "--message-format",
            "json",
        ];
        args.extend_from_slice(extra);
        let r = run(&args);
        r.expect_code(0);
        r
    }

    /// The stamps in the target directory.
    fn stamps(&self) -> Vec<String> {
        let dir = self.target_dir().join("airflow").join(".pack-stamps");
        fs::read_dir(dir)
            .map(|d| {
                d.map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Packs, then checks the bundle holds the executable's current bytes, the source and a
    /// valid trailer (`cargo airflow verify`). Returns whether the pack said "fresh".
    fn pack_and_check(&self) -> bool {
        let report = self.pack(&[]).pack_report();
        let bundle = fs::read(&self.out).unwrap();
        let exe = fs::read(&self.exe).unwrap();
        assert!(
            bundle.starts_with(&exe),
            "the bundle holds another executable"
        );
        let source = fs::read(&self.source).unwrap();
        assert_eq!(
            &bundle[exe.len()..exe.len() + source.len()],
            &source[..],
            "the bundle holds another source"
        );
        run(&["verify", s(&self.out)]).expect_code(0);
        report.fresh
    }
}

/// Replaces the first occurrence of `from` in the file at `path` by `to` (same length), in
/// place: same inode, new content.
fn patch_in_place(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = fs::read(path).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{} holds no {:?}", path.display(), from));
    bytes[at..at + to.len()].copy_from_slice(to);
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    let mtime = file.metadata().unwrap().modified().unwrap();
    use std::io::Write;
    (&file).write_all(&bytes).unwrap();
    // A tool that keeps the modification time must not fool the stamp either.
    file.set_modified(mtime).unwrap();
}

#[test]
fn an_unchanged_pack_is_stamped_and_fresh() {
    let c = Case::new();
    assert!(!c.pack_and_check());
    let stamps = c.stamps();
    assert_eq!(stamps.len(), 1, "{stamps:?}");
    assert!(stamps[0].starts_with("cargo-airflow pack stamp 1\n"));
    let before = fs::metadata(&c.out).unwrap().modified().unwrap();
    assert!(c.pack_and_check());
    assert_eq!(fs::metadata(&c.out).unwrap().modified().unwrap(), before);
    assert_eq!(
        c.stamps(),
        stamps,
        "a fresh pack leaves the stamp as it was"
    );
}

#[test]
fn an_edited_bundle_is_repacked() {
    let c = Case::new();
    c.pack_and_check();
    // The same length, the same mtime, one byte of the embedded source changed.
    patch_in_place(&c.out, b"An example Airflow", b"An example Airflox");
    assert!(!c.pack_and_check());
    assert!(c.pack_and_check());
}

#[test]
fn a_truncated_or_replaced_bundle_is_repacked() {
    let c = Case::new();
    c.pack_and_check();
    let bytes = fs::read(&c.out).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&c.out)
        .unwrap()
        .set_len(bytes.len() as u64 / 2)
        .unwrap();
    assert!(!c.pack_and_check());
    // Replaced by a file of the same length with other bytes, renamed over it.
    let mut other = bytes.clone();
    other[10] ^= 1;
    let tmp = c.dir.path().join("other");
    fs::write(&tmp, &other).unwrap();
    fs::set_permissions(&tmp, fs::metadata(&c.out).unwrap().permissions()).unwrap();
    fs::rename(&tmp, &c.out).unwrap();
    assert!(!c.pack_and_check());
    // Replaced by an identical copy: fresh after a full comparison, and stamped again.
    let stamp = c.stamps();
    fs::write(&tmp, &bytes).unwrap();
    fs::set_permissions(&tmp, fs::metadata(&c.out).unwrap().permissions()).unwrap();
    fs::rename(&tmp, &c.out).unwrap();
    assert!(c.pack_and_check());
    assert_ne!(c.stamps(), stamp, "the new file gets its own stamp");
}

#[cfg(unix)]
#[test]
fn a_bundle_that_lost_its_mode_is_repacked() {
    use std::os::unix::fs::PermissionsExt;
    let c = Case::new();
    c.pack_and_check();
    fs::set_permissions(&c.out, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(!c.pack_and_check());
    let mode = fs::metadata(&c.out).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
}

#[test]
fn a_changed_executable_is_repacked() {
    let c = Case::new();
    c.pack_and_check();
    // A harmless byte (the compiler's version note), in place, mtime kept.
    patch_in_place(&c.exe, b"rustc version", b"rustc versioN");
    assert!(!c.pack_and_check());
    assert!(c.pack_and_check());
}

#[test]
fn a_changed_source_is_repacked() {
    let c = Case::new();
    c.pack_and_check();
    patch_in_place(&c.source, b"An example Airflow", b"An example Airflox");
    assert!(!c.pack_and_check());
}

#[test]
fn a_damaged_stamp_costs_a_comparison_only() {
    let c = Case::new();
    c.pack_and_check();
    let dir = c.target_dir().join("airflow").join(".pack-stamps");
    for e in fs::read_dir(&dir).unwrap() {
        fs::write(
            e.unwrap().path(),
            "cargo-airflow pack stamp 1\nkey nonsense\n",
        )
        .unwrap();
    }
    assert!(c.pack_and_check());
    assert!(c.stamps()[0].contains("\nfile-sha256 "));
}

/// The stub file is compared on every pack: an edited one is written again, and an unchanged
/// one is not claimed as written.
#[test]
fn the_stub_file_is_rewritten_only_when_it_changed() {
    let c = Case::new();
    let stubs = c.out.with_file_name("bundle_dags.py");
    let first = c.pack(&[]);
    assert!(stubs.is_file());
    let wrote = format!("Wrote python stubs {}", stubs.display());
    assert!(first.stderr.contains(&wrote), "{}", first.stderr);
    let text = fs::read(&stubs).unwrap();
    let again = c.pack(&[]);
    assert!(!again.stderr.contains("Wrote"), "{}", again.stderr);
    let verbose = c.pack(&["-v"]);
    let fresh = format!("Fresh python stubs {}", stubs.display());
    assert!(verbose.stderr.contains(&fresh), "{}", verbose.stderr);
    fs::write(&stubs, b"# edited\n").unwrap();
    let edited = c.pack(&[]);
    assert!(edited.stderr.contains(&wrote), "{}", edited.stderr);
    assert_eq!(fs::read(&stubs).unwrap(), text);
}
