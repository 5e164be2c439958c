//! Freshness from what the build read: the dep-info file cargo writes beside every binary it
//! builds (`target/<profile>/<bin>.d`) lists, with absolute paths, every file rustc and the
//! build scripts read for it and its path dependencies: `include_str!`/`include_bytes!` data,
//! `#[path]` modules, files outside every package. The airflow-build record cannot hold them
//! (its build script runs before rustc reads them), so they are checked here.
//!
//! What "checked" means depends on the file. A file the record holds is judged by its recorded
//! digest (see [`crate::embedded::check_fresh`]). Any other file has no content recorded at
//! build time; for it the rule is cargo's own: a file modified after the dep-info that vouched
//! for the binary was written, or gone since, makes the binary stale. Every file read is then
//! digested (content, package-relative path) into the manifest's `build.read_inputs`, so the
//! bundle says what it was built from.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use airflow_bundle::record::FileDigest;
use airflow_inputs::Change;

use crate::error::{Error, Result};

/// The largest dep-info file read: a workspace of thousands of files stays far below it.
const MAX_DEP_INFO_LEN: u64 = 64 * 1024 * 1024;

/// The dep-info file cargo writes beside `executable`: `app` -> `app.d`, `app.exe` -> `app.d`.
pub fn beside(executable: &Path) -> PathBuf {
    let name = executable
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".exe").unwrap_or(&name);
    executable.with_file_name(format!("{stem}.d"))
}

/// One parsed dep-info rule: the file built and the files it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The target (before the `:`).
    pub target: PathBuf,
    /// The prerequisites, in the order written.
    pub files: Vec<PathBuf>,
}

/// Splits a makefile line into words: spaces separate them unless escaped as `\ ` (the only
/// escape rustc and cargo write; any other backslash, as in Windows paths, is literal).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' | '\t' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The first rule of a dep-info file (cargo's file beside a binary has exactly one).
pub fn parse(text: &str) -> Option<Rule> {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))?;
    // The separator is the first `: ` (or a final `:`); a colon inside a path (`C:\`) is not
    // followed by a space, because a space in a path is written `\ `.
    let (target, rest) = match line.find(": ") {
        Some(i) => (&line[..i], &line[i + 2..]),
        None => (line.strip_suffix(':')?, ""),
    };
    let target = words(target);
    let [target] = target.as_slice() else {
        return None;
    };
    Some(Rule {
        target: PathBuf::from(target),
        files: words(rest).into_iter().map(PathBuf::from).collect(),
    })
}

/// Why the files the build read beyond the record cannot be checked (a warning for the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked(pub String);

/// What checking the dep-info found.
#[derive(Debug)]
pub enum Outcome {
    /// Every file the build read is as the build saw it; their digests, by path, for the
    /// manifest's `build.read_inputs`.
    Fresh(Vec<FileDigest>),
    /// Files changed since the build (only files the record does not hold; the record's own are
    /// judged by their digests).
    Stale(Vec<Change>),
    /// There is no dep-info that vouches for this executable.
    Unchecked(Unchecked),
}

/// Checks the files that built `executable` (of the package in `package_dir`) against cargo's
/// dep-info beside it. `recorded` is the record's file list: those files are judged by content
/// elsewhere. `current` are digests already taken of the package's files now (same naming),
/// reused instead of reading those files again.
pub fn check(
    executable: &Path,
    package_dir: &Path,
    recorded: &[FileDigest],
    current: &[FileDigest],
) -> Result<Outcome> {
    let dep_info = beside(executable);
    let unchecked = |why: String| {
        Ok(Outcome::Unchecked(Unchecked(format!(
            "{why}; the files it read that the airflow-build record does not hold \
             (`include_str!`/`include_bytes!` data, `#[path]` modules, files outside the package) \
             cannot be checked; pack the binary where cargo built it to check them too"
        ))))
    };
    let (text, written) = match read_bounded(&dep_info)? {
        Some(t) => t,
        None => {
            return unchecked(format!(
                "there is no cargo dep-info `{}` beside {} (a binary moved out of cargo's \
                 target directory)",
                dep_info.display(),
                executable.display()
            ));
        }
    };
    // Cargo writes paths as UTF-8; anything else is not a dep-info it wrote.
    let Some(rule) = std::str::from_utf8(&text).ok().and_then(parse) else {
        return unchecked(format!(
            "cargo's dep-info `{}` cannot be parsed",
            dep_info.display()
        ));
    };
    let exe = canonical(executable)?;
    if canonical(&rule.target).ok().as_deref() != Some(exe.as_path()) {
        return unchecked(format!(
            "cargo's dep-info `{}` describes {}, not {}",
            dep_info.display(),
            rule.target.display(),
            executable.display()
        ));
    }
    // Cargo rewrites the dep-info whenever it builds the binary or finds it up to date; a
    // binary newer than that was put there by something else.
    let exe_time = modified(&exe)?;
    if exe_time > written {
        return unchecked(format!(
            "{} is newer than cargo's dep-info `{}`, so cargo did not build it there",
            executable.display(),
            dep_info.display()
        ));
    }

    let base = canonical(package_dir)?;
    let recorded: BTreeSet<&str> = recorded.iter().map(|f| f.path.as_str()).collect();
    let skipped = skipped_roots(&dep_info);
    let mut changes = Vec::new();
    let mut read = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &rule.files {
        if skipped.iter().any(|root| file.starts_with(root)) {
            continue;
        }
        let Ok(abs) = file.canonicalize() else {
            let rel = relative(&base, &lexical(file)).unwrap_or_else(|| file.display().to_string());
            changes.push(Change::Removed(rel));
            continue;
        };
        if skipped.iter().any(|root| abs.starts_with(root)) {
            continue;
        }
        // Build scripts watch directories (airflow-build watches `src/`): their files are
        // listed or recorded on their own.
        let meta = std::fs::metadata(&abs)
            .map_err(|e| Error::io("cannot read an input of the build", &abs, e))?;
        if meta.is_dir() {
            continue;
        }
        let rel = relative(&base, &abs).ok_or_else(|| {
            Error::io(
                "cannot name an input of the build relative to its package",
                &abs,
                std::io::Error::other("no relative path (another drive, or a non-UTF-8 name)"),
            )
        })?;
        if !seen.insert(rel.clone()) {
            continue;
        }
        // `>=`: a write in the same clock tick as the dep-info may have come after rustc read it.
        let changed = meta.modified().map_or(true, |t| t >= written);
        if !recorded.contains(rel.as_str()) && changed {
            changes.push(Change::Modified(rel));
            continue;
        }
        read.push((rel, abs));
    }
    if !changes.is_empty() {
        changes.sort();
        return Ok(Outcome::Stale(changes));
    }
    let current: BTreeMap<&str, &FileDigest> =
        current.iter().map(|f| (f.path.as_str(), f)).collect();
    let (known, unknown): (Vec<_>, Vec<_>) = read
        .into_iter()
        .partition(|(rel, _)| current.contains_key(rel.as_str()));
    let mut digests: Vec<FileDigest> = known
        .iter()
        .map(|(rel, _)| current[rel.as_str()].clone())
        .collect();
    digests.extend(airflow_inputs::digest_files(&unknown).map_err(|e| match e {
        airflow_inputs::Error::Io { path, source } => {
            Error::io("cannot read an input of the build", path, source)
        }
        other => Error::io(
            "cannot digest the inputs of the build read by",
            executable,
            std::io::Error::other(other.to_string()),
        ),
    })?);
    digests.sort();
    Ok(Outcome::Fresh(digests))
}

/// Roots whose files are not the crate's: what the build generated (build script outputs live
/// under the directory of the binary and its dep-info) and cargo's registry and git checkouts.
fn skipped_roots(dep_info: &Path) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(dir) = dep_info.parent() {
        roots.push(dir.to_path_buf());
        if let Ok(c) = dir.canonicalize() {
            roots.push(c);
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        for sub in ["registry", "git"] {
            roots.push(home.join(sub));
            if let Ok(c) = home.join(sub).canonicalize() {
                roots.push(c);
            }
        }
    }
    roots
}

/// Reads a dep-info file (at most [`MAX_DEP_INFO_LEN`]) and its modification time; `None` when
/// it does not exist.
fn read_bounded(path: &Path) -> Result<Option<(Vec<u8>, SystemTime)>> {
    let file = match airflow_bundle::read::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read cargo's dep-info", path, e)),
    };
    let written = file
        .metadata()
        .and_then(|m| m.modified())
        .map_err(|e| Error::io("cannot read cargo's dep-info", path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_DEP_INFO_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read cargo's dep-info", path, e))?;
    if bytes.len() as u64 > MAX_DEP_INFO_LEN {
        return Err(Error::io(
            "cannot read cargo's dep-info",
            path,
            std::io::Error::other(format!("it is larger than {MAX_DEP_INFO_LEN} bytes")),
        ));
    }
    Ok(Some((bytes, written)))
}

fn canonical(p: &Path) -> Result<PathBuf> {
    p.canonicalize()
        .map_err(|e| Error::io("cannot resolve", p, e))
}

fn modified(p: &Path) -> Result<SystemTime> {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .map_err(|e| Error::io("cannot read", p, e))
}

/// `p` with `.` and `name/..` pairs removed, for naming a file that no longer exists.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// `to` relative to `from` with `/` separators (`../shared/data.txt`), as the record names
/// inputs; `None` across drives or for a non-UTF-8 name.
fn relative(from: &Path, to: &Path) -> Option<String> {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<&str> = vec![".."; a.len() - common];
    for c in &b[common..] {
        parts.push(c.as_os_str().to_str()?);
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_escaped_spaces() {
        let r = parse("/t/debug/app: /w/app/src/main.rs /w/app/src/../../shared/x\\ y.txt\n\n")
            .unwrap();
        assert_eq!(r.target, Path::new("/t/debug/app"));
        assert_eq!(
            r.files,
            [
                PathBuf::from("/w/app/src/main.rs"),
                PathBuf::from("/w/app/src/../../shared/x y.txt")
            ]
        );
        let w = parse("C:\\t\\app.exe: C:\\w\\src\\main.rs").unwrap();
        assert_eq!(w.target, Path::new("C:\\t\\app.exe"));
        assert_eq!(w.files, [PathBuf::from("C:\\w\\src\\main.rs")]);
        assert_eq!(parse("/t/app:").unwrap().files, Vec::<PathBuf>::new());
        assert_eq!(parse("# comment only\n"), None);
        assert_eq!(parse("no rule here"), None);
    }

    #[test]
    fn dep_info_sits_beside_the_binary() {
        assert_eq!(
            beside(Path::new("/t/debug/app")),
            Path::new("/t/debug/app.d")
        );
        assert_eq!(
            beside(Path::new("/t/debug/app.exe")),
            Path::new("/t/debug/app.d")
        );
        assert_eq!(
            beside(Path::new("/t/debug/my.tool")),
            Path::new("/t/debug/my.tool.d")
        );
    }

    /// A package `w/app` reading `w/app/src/main.rs` (recorded), `w/shared/x y.txt` (not
    /// recorded), a watched directory and a generated file, with its binary and dep-info in
    /// `w/target/debug`, the dep-info written at `t0 + 10 s`.
    struct Layout {
        _dir: tempfile::TempDir,
        app: PathBuf,
        exe: PathBuf,
        shared: PathBuf,
        t0: SystemTime,
    }

    fn set_mtime(p: &Path, t: SystemTime) {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    fn layout() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().canonicalize().unwrap();
        let app = w.join("app");
        let debug = w.join("target/debug");
        for d in [app.join("src"), w.join("shared"), debug.join("build/out")] {
            std::fs::create_dir_all(d).unwrap();
        }
        let t0 = SystemTime::now() - std::time::Duration::from_secs(100);
        let files = [
            app.join("src/main.rs"),
            w.join("shared/x y.txt"),
            debug.join("build/out/gen.rs"),
        ];
        for f in &files {
            std::fs::write(f, "x").unwrap();
            set_mtime(f, t0);
        }
        let exe = debug.join("app");
        std::fs::write(&exe, "bin").unwrap();
        set_mtime(&exe, t0 + std::time::Duration::from_secs(5));
        let dep_info = debug.join("app.d");
        std::fs::write(
            &dep_info,
            format!(
                "{}: {} {} {} {}\n",
                exe.display(),
                app.join("src").display(),
                app.join("src/../src/main.rs").display(),
                w.join("shared/x\\ y.txt").display(),
                debug.join("build/out/gen.rs").display()
            ),
        )
        .unwrap();
        set_mtime(&dep_info, t0 + std::time::Duration::from_secs(10));
        Layout {
            shared: w.join("shared/x y.txt"),
            _dir: dir,
            app,
            exe,
            t0,
        }
    }

    fn recorded() -> Vec<FileDigest> {
        vec![FileDigest {
            path: "src/main.rs".into(),
            len: 1,
            sha256: "00".repeat(32),
        }]
    }

    #[test]
    fn unchanged_reads_are_digested_by_relative_path() {
        let l = layout();
        let Outcome::Fresh(files) = check(&l.exe, &l.app, &recorded(), &[]).unwrap() else {
            panic!("not fresh")
        };
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        // The watched directory and the generated file are left out.
        assert_eq!(names, ["../shared/x y.txt", "src/main.rs"]);
        assert_eq!(files[0].len, 1);
        // A digest already taken is reused, not recomputed.
        let known = FileDigest {
            path: "src/main.rs".into(),
            len: 7,
            sha256: "11".repeat(32),
        };
        let Outcome::Fresh(files) =
            check(&l.exe, &l.app, &recorded(), std::slice::from_ref(&known)).unwrap()
        else {
            panic!("not fresh")
        };
        assert_eq!(files[1], known);
    }

    #[test]
    fn a_read_file_changed_or_gone_after_the_dep_info_is_stale() {
        let l = layout();
        let later = l.t0 + std::time::Duration::from_secs(20);
        set_mtime(&l.shared, later);
        // A recorded file is judged by its digest elsewhere, not by its time.
        set_mtime(&l.app.join("src/main.rs"), later);
        let out = check(&l.exe, &l.app, &recorded(), &[]).unwrap();
        assert!(
            matches!(&out, Outcome::Stale(c) if c == &[Change::Modified("../shared/x y.txt".into())]),
            "{out:?}"
        );
        std::fs::remove_file(&l.shared).unwrap();
        let out = check(&l.exe, &l.app, &recorded(), &[]).unwrap();
        assert!(
            matches!(&out, Outcome::Stale(c) if c == &[Change::Removed("../shared/x y.txt".into())]),
            "{out:?}"
        );
    }

    #[test]
    fn a_dep_info_that_does_not_vouch_for_the_binary_leaves_reads_unchecked() {
        let l = layout();
        let why = |out: Outcome| match out {
            Outcome::Unchecked(Unchecked(why)) => why,
            other => panic!("{other:?}"),
        };
        // A binary written after cargo's dep-info.
        set_mtime(&l.exe, l.t0 + std::time::Duration::from_secs(30));
        let w = why(check(&l.exe, &l.app, &recorded(), &[]).unwrap());
        assert!(w.contains("is newer than cargo's dep-info"), "{w}");
        // A copy elsewhere: no dep-info beside it.
        let copy = l.app.join("app");
        std::fs::copy(&l.exe, &copy).unwrap();
        let w = why(check(&copy, &l.app, &recorded(), &[]).unwrap());
        assert!(w.contains("there is no cargo dep-info"), "{w}");
        assert!(w.contains("cannot be checked"), "{w}");
        // A dep-info about another file, or not one at all.
        std::fs::write(l.app.join("app.d"), "/elsewhere/app: /x\n").unwrap();
        let w = why(check(&copy, &l.app, &recorded(), &[]).unwrap());
        assert!(w.contains("describes /elsewhere/app"), "{w}");
        std::fs::write(l.app.join("app.d"), b"\xff\xfe").unwrap();
        let w = why(check(&copy, &l.app, &recorded(), &[]).unwrap());
        assert!(w.contains("cannot be parsed"), "{w}");
    }

    #[test]
    fn names_are_package_relative() {
        let r = |a: &str, b: &str| relative(Path::new(a), Path::new(b)).unwrap();
        assert_eq!(r("/w/app", "/w/shared/x.txt"), "../shared/x.txt");
        assert_eq!(r("/w/app", "/w/app/src/main.rs"), "src/main.rs");
        assert_eq!(
            lexical(Path::new("/w/app/src/../../s/x")),
            Path::new("/w/s/x")
        );
    }
}
