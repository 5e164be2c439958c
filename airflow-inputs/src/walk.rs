//! The one directory walk behind every file selection: deterministic (sorted, no mtimes), and
//! telling which directories can be watched whole.

use std::path::{Path, PathBuf};

use crate::Error;

/// A file found by a walk.
pub(crate) struct Walked {
    /// Package-relative path with `/` separators (lossy when `non_utf8`).
    pub rel: String,
    /// Where it is.
    pub abs: PathBuf,
    /// The name is not UTF-8 (`rel` has it lossily): an error only if the file is selected, so
    /// that an excluded one does not fail the build. A directory with such a name is returned
    /// as one entry, not walked.
    non_utf8: bool,
}

impl Walked {
    /// The package-relative path, or the error for a non-UTF-8 name that was selected.
    pub fn rel(&self) -> Result<String, Error> {
        if self.non_utf8 {
            return Err(Error::NonUtf8Path(self.abs.clone()));
        }
        Ok(self.rel.clone())
    }
}

/// What a walk found.
pub(crate) struct Walk {
    /// Every file not pruned, in path order.
    pub files: Vec<Walked>,
    /// Directories whose whole subtree was walked with nothing skipped, as absolute paths, so
    /// that watching them recursively notices exactly the files that matter.
    pub watched_dirs: Vec<PathBuf>,
}

/// Walks the directory `start` (package-relative; `""` is the package directory `root` itself),
/// skipping names that start with `.`, directories that hold their own `Cargo.toml` (other
/// packages), the package's `target/`, and directories for which `prune` (given a
/// package-relative path) is true.
///
/// `start` itself is watched when nothing under it was skipped; the package directory never is
/// (cargo would then see every change under `target/` and `.git/`): only its clean
/// subdirectories are.
pub(crate) fn walk(root: &Path, start: &str, prune: &dyn Fn(&str) -> bool) -> Result<Walk, Error> {
    let prune = |rel: &str| rel == "target" || prune(rel);
    let mut files = Vec::new();
    let mut clean_dirs = Vec::new();
    let clean = walk_dir(root, start, &prune, &mut files, &mut clean_dirs)?;
    let watched_dirs = if clean && !start.is_empty() {
        vec![root.join(start)]
    } else {
        clean_dirs.into_iter().map(|d| root.join(d)).collect()
    };
    Ok(Walk {
        files,
        watched_dirs,
    })
}

/// Walks `root/rel`, collecting files into `out` and the clean subdirectories into
/// `clean_dirs`; returns whether `rel` is clean itself (nothing under it skipped).
fn walk_dir(
    root: &Path,
    rel: &str,
    prune: &dyn Fn(&str) -> bool,
    out: &mut Vec<Walked>,
    clean_dirs: &mut Vec<String>,
) -> Result<bool, Error> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries = std::fs::read_dir(&dir)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(Error::io(&dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut clean = true;
    let mut sub_clean = Vec::new();
    for e in entries {
        let os_name = e.file_name();
        let non_utf8 = os_name.to_str().is_none();
        let name = os_name.to_string_lossy();
        let child_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let abs = e.path();
        let ft = e.file_type().map_err(Error::io(&abs))?;
        let is_dir = ft.is_dir();
        if name.starts_with('.') {
            // Hidden files (editor swap files, .DS_Store) are ignored, but a hidden directory
            // (.git) changes all the time: never watch a tree that holds one.
            if is_dir {
                clean = false;
            }
            continue;
        }
        let is_file = ft.is_file() || (ft.is_symlink() && abs.is_file());
        if non_utf8 && (is_dir || is_file) {
            // Kept lossily: the caller decides whether it is excluded or an error. Its directory
            // cannot be watched by a UTF-8 path.
            clean = false;
            if !(is_dir && prune(&child_rel)) {
                out.push(Walked {
                    rel: child_rel,
                    abs,
                    non_utf8,
                });
            }
            continue;
        }
        if is_dir {
            let is_package = abs.join("Cargo.toml").is_file();
            if is_package || prune(&child_rel) {
                clean = false;
                continue;
            }
            let mut c = Vec::new();
            if walk_dir(root, &child_rel, prune, out, &mut c)? {
                sub_clean.push(child_rel);
            } else {
                clean = false;
                sub_clean.extend(c);
            }
        } else if is_file {
            out.push(Walked {
                rel: child_rel,
                abs,
                non_utf8: false,
            });
        } else {
            // Sockets, fifos, dangling or directory symlinks: never inputs.
            clean = false;
        }
    }
    clean_dirs.extend(sub_clean);
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, rel).unwrap();
    }

    fn rels(w: &Walk) -> Vec<&str> {
        w.files.iter().map(|f| f.rel.as_str()).collect()
    }

    #[test]
    fn skips_hidden_packages_and_target_and_watches_clean_trees() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in [
            "Cargo.toml",
            "src/main.rs",
            "src/a/b.rs",
            "src/.swp",
            "data/.git/HEAD",
            "data/x.csv",
            "nested/Cargo.toml",
            "nested/src/lib.rs",
            "target/debug/junk",
            "src/target/kept.rs",
        ] {
            write(r, f);
        }
        let w = walk(r, "", &|_| false).unwrap();
        assert_eq!(
            rels(&w),
            [
                "Cargo.toml",
                "data/x.csv",
                "src/a/b.rs",
                "src/main.rs",
                "src/target/kept.rs"
            ]
        );
        // `data/` holds a hidden directory; the root is never watched whole.
        assert_eq!(w.watched_dirs, [r.join("src")]);
        let w = walk(r, "src", &|_| false).unwrap();
        assert_eq!(
            rels(&w),
            ["src/a/b.rs", "src/main.rs", "src/target/kept.rs"]
        );
        assert_eq!(w.watched_dirs, [r.join("src")]);
        let w = walk(r, "data", &|_| false).unwrap();
        assert_eq!(rels(&w), ["data/x.csv"]);
        assert!(w.watched_dirs.is_empty());
        // A pruned directory makes its parent unclean: only the clean sibling is watched.
        let w = walk(r, "src", &|rel| rel == "src/target").unwrap();
        assert_eq!(rels(&w), ["src/a/b.rs", "src/main.rs"]);
        assert_eq!(w.watched_dirs, [r.join("src/a")]);
    }

    #[test]
    fn a_missing_directory_names_itself() {
        let d = tempfile::tempdir().unwrap();
        let Err(e) = walk(d.path(), "nope", &|_| false) else {
            panic!("walked a missing directory");
        };
        assert!(
            matches!(&e, Error::Io { path, .. } if path.ends_with("nope")),
            "{e}"
        );
    }
}
