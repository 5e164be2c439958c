#![doc = include_str!("../README.md")]
//!
//! # Where things are
//!
//! [`package_inputs`] selects and hashes (giving [`Digests`]), [`recompute`] does it again for a
//! record, [`diff()`] names what changed, [`path_dependencies`] lists the local packages a package
//! builds from, [`manifest`] reads `Cargo.toml`, and every failure is an [`Error`].

// Product code only: unit tests are held to clippy::all.
#![cfg_attr(not(test), warn(clippy::pedantic))]
// The keep-off list of the root Cargo.toml ([workspace.lints.clippy]), repeated because this
// crate attribute would otherwise switch those lints back on.
#![allow(clippy::must_use_candidate)]

use std::path::{Path, PathBuf};

use airflow_bundle::record::{FileDigest, InputDigests, InputKind, Record};

mod dependencies;
mod diff;
mod error;
mod hash;
pub mod manifest;
mod paths;
mod patterns;
mod select;
mod walk;

pub use dependencies::path_dependencies;
pub use diff::{Change, diff};
pub use error::Error;
pub use hash::{DIGEST_SCHEME, digest_files};
pub use patterns::PatternOrigin;

/// The result of digesting a package's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// The combined digests.
    pub inputs: InputDigests,
    /// Every input, sorted by path.
    pub files: Vec<FileDigest>,
    /// The kind of each entry of `files`, same order.
    pub kinds: Vec<InputKind>,
    /// Absolute paths of the hashed files (for `rerun-if-changed`), same order as `files`.
    pub watched_files: Vec<PathBuf>,
    /// Absolute directories whose whole subtree is watched, so a new or removed file is noticed.
    pub watched_dirs: Vec<PathBuf>,
}

/// The nearest `Cargo.lock` in `manifest_dir` or its ancestors.
pub fn find_workspace_lock(manifest_dir: &Path) -> Option<PathBuf> {
    manifest_dir
        .ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
}

/// Digests the inputs of the package in `manifest_dir`, exactly as airflow-build's build script
/// does.
///
/// `workspace_lock` is the workspace's `Cargo.lock` (see [`find_workspace_lock`]); `extra` are the
/// builder's extra input patterns (a record keeps them in `builder_extra_inputs`), added to those
/// of `[package.metadata.airflow] inputs`.
///
/// # Errors
///
/// [`Error`] for an unreadable manifest, an invalid pattern or extra input, a non-UTF-8 path, or a
/// file that fails to read.
pub fn package_inputs(
    manifest_dir: &Path,
    workspace_lock: Option<&Path>,
    extra: &[String],
) -> Result<Digests, Error> {
    let selection = select::select_with_dependencies(manifest_dir, extra)?;
    hash::hash_selection(selection, workspace_lock)
}

/// Recomputes the digests for a record's package; see [`package_inputs`].
///
/// # Errors
///
/// As [`package_inputs`].
pub fn recompute(
    record: &Record,
    manifest_dir: &Path,
    workspace_lock: Option<&Path>,
) -> Result<Digests, Error> {
    package_inputs(manifest_dir, workspace_lock, &record.builder_extra_inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn pkg(extra_manifest: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "Cargo.toml",
            &format!("[package]\nname = \"p\"\nversion = \"0.1.0\"\n{extra_manifest}"),
        );
        write(d.path(), "src/main.rs", "fn main() {}\n");
        write(d.path(), "src/a/b.rs", "// b\n");
        write(d.path(), "build.rs", "fn main() {}\n");
        write(d.path(), "tests/t.rs", "\n");
        write(d.path(), "target/debug/junk", "\n");
        write(d.path(), "src/.hidden.swp", "\n");
        write(d.path(), "queries/q.sql", "select 1;\n");
        d
    }

    fn paths(d: &Digests) -> Vec<&str> {
        d.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn default_selection() {
        let d = pkg("");
        let g = package_inputs(d.path(), None, &[]).unwrap();
        assert_eq!(
            paths(&g),
            ["Cargo.toml", "build.rs", "src/a/b.rs", "src/main.rs"]
        );
        assert_eq!(g.watched_dirs, [d.path().join("src")]);
    }

    #[test]
    fn include_exclude_and_extras() {
        let d = pkg(
            "include = [\"src/**\", \"build.rs\"]\nexclude = [\"src/a\"]\n[package.metadata.airflow]\ninputs = [\"*.sql\"]\n",
        );
        let g = package_inputs(d.path(), None, &[]).unwrap();
        // `exclude` is ignored when `include` is set, as cargo ignores it.
        assert_eq!(
            paths(&g),
            [
                "Cargo.toml",
                "build.rs",
                "queries/q.sql",
                "src/a/b.rs",
                "src/main.rs"
            ]
        );
        let lock = d.path().join("Cargo.lock");
        std::fs::write(&lock, "x").unwrap();
        let g2 = package_inputs(d.path(), Some(&lock), &[]).unwrap();
        assert_eq!(g.inputs.package, g2.inputs.package);
        assert_eq!(g.inputs.extra, g2.inputs.extra);
        assert_ne!(g.inputs.lock, g2.inputs.lock);
        assert_ne!(g.inputs.source, g2.inputs.source);
        let e = package_inputs(d.path(), None, &["*.nothing".into()]).unwrap_err();
        assert!(matches!(e, Error::ExtraInputMatchedNothing(_)), "{e}");
    }

    #[test]
    fn include_prunes_and_watches() {
        let d = pkg("include = [\"/build.rs\", \"src/**\"]\n");
        let g = package_inputs(d.path(), None, &[]).unwrap();
        assert_eq!(
            paths(&g),
            ["Cargo.toml", "build.rs", "src/a/b.rs", "src/main.rs"]
        );
        // `tests/` and `queries/` cannot match: skipped, so not watched.
        assert_eq!(g.watched_dirs, [d.path().join("src")]);
    }

    #[test]
    fn exclude_negation_and_char_classes() {
        let d = pkg("exclude = [\"src/a\", \"!src/a/b.rs\", \"src/[m]ain.rs\"]\n");
        let g = package_inputs(d.path(), None, &[]).unwrap();
        assert_eq!(paths(&g), ["Cargo.toml", "build.rs", "src/a/b.rs"]);
    }

    #[test]
    fn extra_inputs_globs_and_literals() {
        let d = pkg("[package.metadata.airflow]\ninputs = [\"queries/\"]\n");
        write(d.path(), "queries/deep/r.sql", "\n");
        write(d.path(), "queries/t.j2", "\n");
        let g = package_inputs(d.path(), None, &["**/*.{j2,txt}".into()]).unwrap();
        assert_eq!(
            paths(&g),
            [
                "Cargo.toml",
                "build.rs",
                "queries/deep/r.sql",
                "queries/q.sql",
                "queries/t.j2",
                "src/a/b.rs",
                "src/main.rs"
            ]
        );
        // The glob can match at any depth, so the walk skips only `target/`; `tests/` is clean.
        let dirs = ["queries", "src", "tests"].map(|x| d.path().join(x));
        assert_eq!(g.watched_dirs, dirs);
        let e = package_inputs(d.path(), None, &["../*.sql".into()]).unwrap_err();
        assert!(matches!(e, Error::AbsoluteInput(_)), "{e}");
        let e = package_inputs(d.path(), None, &["missing.sql".into()]).unwrap_err();
        assert!(
            matches!(e, Error::ExtraInputMatchedNothing(ref p) if p == "missing.sql"),
            "{e}"
        );
    }

    #[test]
    fn the_package_directory_as_an_extra_input() {
        let d = pkg("[package.metadata.airflow]\ninputs = [\".\"]\n");
        let g = package_inputs(d.path(), None, &[]).unwrap();
        // Everything but hidden names and `target/`, with plain package-relative paths.
        assert_eq!(
            paths(&g),
            [
                "Cargo.toml",
                "build.rs",
                "queries/q.sql",
                "src/a/b.rs",
                "src/main.rs",
                "tests/t.rs"
            ]
        );
        assert_eq!(g.kinds[2], InputKind::Extra);
    }

    #[test]
    fn bad_patterns_are_typed_errors() {
        let d = pkg("exclude = [\"src/{a\"]\n");
        let e = package_inputs(d.path(), None, &[]).unwrap_err();
        let Error::BadPattern {
            manifest,
            origin,
            pattern,
            ..
        } = &e
        else {
            panic!("{e}");
        };
        assert_eq!(manifest, &d.path().join("Cargo.toml"));
        assert_eq!(*origin, PatternOrigin::Exclude);
        assert_eq!(pattern, "src/{a");
        let msg = e.to_string();
        assert!(
            msg.contains("invalid pattern `src/{a` in `package.exclude`"),
            "{msg}"
        );
        assert!(msg.contains("unclosed alternate"), "{msg}");

        let d = pkg("include = [\"src/**\", \"x\\\\\"]\n");
        let e = package_inputs(d.path(), None, &[]).unwrap_err();
        assert!(
            matches!(&e, Error::BadPattern { origin: PatternOrigin::Include, pattern, .. } if pattern == "x\\"),
            "{e}"
        );

        let d = pkg("[package.metadata.airflow]\ninputs = [\"*.{sql\"]\n");
        let e = package_inputs(d.path(), None, &[]).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::BadPattern {
                    origin: PatternOrigin::MetadataInputs,
                    ..
                }
            ),
            "{e}"
        );
        let d = pkg("");
        let e = package_inputs(d.path(), None, &["q/{*".into()]).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::BadPattern {
                    origin: PatternOrigin::BuilderInputs,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn path_dependencies_are_inputs_transitively() {
        let ws = tempfile::tempdir().unwrap();
        let w = ws.path();
        write(
            w,
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\", \"shared\", \"leaf\"]\n[workspace.dependencies]\nshared = { path = \"shared\" }\nserde = \"1\"\n",
        );
        write(
            w,
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n[dependencies]\nshared = { workspace = true }\nserde = { workspace = true }\n[dev-dependencies]\ntestonly = { path = \"../testonly\" }\n",
        );
        write(w, "app/src/main.rs", "fn main() {}\n");
        write(
            w,
            "shared/Cargo.toml",
            "[package]\nname = \"shared\"\nversion = \"0.1.0\"\n[target.'cfg(unix)'.dependencies]\nleaf = { path = \"../leaf\" }\n",
        );
        write(w, "shared/src/lib.rs", "pub fn f() {}\n");
        write(
            w,
            "leaf/Cargo.toml",
            "[package]\nname = \"leaf\"\nversion = \"0.1.0\"\n[build-dependencies]\nshared = { path = \"../shared\" }\n",
        );
        write(w, "leaf/src/lib.rs", "\n");
        write(w, "testonly/Cargo.toml", "[package]\nname = \"t\"\n");
        let app = w.join("app");
        let before = package_inputs(&app, None, &[]).unwrap();
        assert_eq!(
            paths(&before),
            [
                "../leaf/Cargo.toml",
                "../leaf/src/lib.rs",
                "../shared/Cargo.toml",
                "../shared/src/lib.rs",
                "Cargo.toml",
                "src/main.rs"
            ]
        );
        let shared_src = w.join("shared/src").canonicalize().unwrap();
        assert!(
            before.watched_dirs.contains(&shared_src),
            "{:?}",
            before.watched_dirs
        );
        write(w, "leaf/src/lib.rs", "// changed\n");
        let after = package_inputs(&app, None, &[]).unwrap();
        assert_ne!(before.inputs.source, after.inputs.source);
        assert_eq!(before.inputs.package, after.inputs.package);
        assert_eq!(
            diff(&before.files, &after.files),
            [Change::Modified("../leaf/src/lib.rs".into())]
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_fail_only_when_selected() {
        use std::os::unix::ffi::OsStrExt;
        let d = pkg("exclude = [\"src/junk*\"]\n");
        let bad = std::ffi::OsStr::from_bytes(b"junk\xff.rs");
        std::fs::write(d.path().join("src").join(bad), "x").unwrap();
        std::fs::create_dir(
            d.path()
                .join("src")
                .join(std::ffi::OsStr::from_bytes(b"junk\xfe")),
        )
        .unwrap();
        let g = package_inputs(d.path(), None, &[]).unwrap();
        assert_eq!(
            paths(&g),
            ["Cargo.toml", "build.rs", "src/a/b.rs", "src/main.rs"]
        );
        let d = pkg("");
        std::fs::write(d.path().join("src").join(bad), "x").unwrap();
        let e = package_inputs(d.path(), None, &[]).unwrap_err();
        assert!(
            matches!(e, Error::NonUtf8Path(ref p) if p.ends_with(bad)),
            "{e}"
        );
    }
}
