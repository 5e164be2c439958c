//! Why selecting or digesting a package's inputs failed.

use std::path::PathBuf;

use crate::patterns::PatternOrigin;

/// Why selecting or digesting a package's inputs failed. Every variant names the file, pattern
/// or input concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a named file or directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A `Cargo.toml` that cannot be used.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong, and what to change.
        message: String,
    },
    /// A selected file whose path is not UTF-8 (digests use package-relative UTF-8 paths).
    #[error("{0}: file names must be UTF-8 to be hashed as inputs")]
    NonUtf8Path(PathBuf),
    /// An extra input given as an absolute path, or a glob reaching outside the package.
    #[error(
        "extra input `{0}`: give a path relative to the package directory (globs may not contain `..`)"
    )]
    AbsoluteInput(String),
    /// A `package.include`/`package.exclude` pattern or an extra input glob that is not a valid
    /// gitignore-style pattern.
    #[error("{manifest}: invalid pattern `{pattern}` in {origin}: {}", pattern_error_reason(.source))]
    BadPattern {
        /// The package's `Cargo.toml`.
        manifest: PathBuf,
        /// Which list the pattern is in.
        origin: PatternOrigin,
        /// The pattern as written (all of the list's patterns, comma-separated, when the
        /// matcher refused the list as a whole).
        pattern: String,
        /// Why the matcher refused it.
        source: ignore::Error,
    },
    /// An extra input pattern that matched no file.
    #[error(
        "extra input `{0}` matches no file (check [package.metadata.airflow] inputs or the builder's extra inputs)"
    )]
    ExtraInputMatchedNothing(String),
}

/// The reason in a pattern error, without the pattern that [`Error::BadPattern`] already names.
fn pattern_error_reason(e: &ignore::Error) -> String {
    match e {
        ignore::Error::Glob { err, .. } => err.clone(),
        other => other.to_string(),
    }
}

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
