//! Errors and exit codes.
//!
//! Every failure is reported as one line, `error: <what failed>: <cause>`, naming the file or
//! command involved and, where there is one, what to do next.

use std::path::PathBuf;
use std::process::ExitCode;

/// The documented exit codes of `cargo airflow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success,
    /// 1: failure (the build failed, I/O, introspection, bad metadata, ...).
    Failure,
    /// 2: usage error (unknown flag, conflicting flags); the same code clap uses.
    Usage,
    /// 3: `verify` found at least one file that is missing, unreadable, or that Airflow would
    /// reject.
    Rejected,
}

impl Exit {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Rejected => 3,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// Everything that can make a command fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is inconsistent in a way clap cannot express.
    #[error("{0}")]
    Usage(String),
    /// `cargo metadata` failed.
    #[error("cannot read the cargo workspace: {message}; {hint}")]
    Metadata {
        /// What failed, without advice (callers that nest it add their own).
        message: String,
        /// What to do.
        hint: &'static str,
    },
    /// The executable to pack is already a bundle.
    #[error(
        "{0} is already a bundle (it ends with an AFBNDL01 trailer); pack the executable cargo built (target/<profile>/<bin>), or deploy this bundle as it is"
    )]
    AlreadyBundle(PathBuf),
    /// `--manifest-path` names no file.
    #[error("--manifest-path {0} is not a file; give the path of the package's Cargo.toml")]
    ManifestPath(PathBuf),
    /// The package or binary to pack could not be chosen.
    #[error("{0}")]
    Selection(String),
    /// `--executable` names a binary without an airflow-build record, so its freshness cannot
    /// be checked.
    #[error(
        "cannot check that {path} is fresh: it carries no airflow-build record, so nothing says which sources built it; add `airflow-build` to the crate's [build-dependencies], call `airflow_build::build()` from build.rs and rebuild, or pass --no-freshness-check to pack it as it is"
    )]
    NoRecord {
        /// The executable.
        path: PathBuf,
    },
    /// A command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line, for display.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `cargo build` failed. The command line is not repeated: cargo has printed the errors,
    /// and `-v` shows the command.
    #[error("cargo build failed ({status}); fix the errors cargo printed above and run again")]
    Build {
        /// The command line (shown with `-v` before it runs).
        command: String,
        /// Its exit status.
        status: String,
    },
    /// Cargo's JSON messages did not name the executable.
    #[error("{0}")]
    NoArtifact(String),
    /// The host triple could not be determined.
    #[error("{0}")]
    HostTriple(String),
    /// The binary cannot be run on this host, or is not a native executable.
    #[error("cannot introspect {path}: {reason}")]
    NotRunnable {
        /// The binary.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Running the binary for its metadata failed.
    #[error("introspection of {path} failed: {reason}")]
    Introspection {
        /// The binary.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The metadata the binary printed cannot go into a bundle.
    #[error("bad metadata from {path}: {source}")]
    BadMetadata {
        /// The binary.
        path: PathBuf,
        /// Why.
        #[source]
        source: airflow_bundle::manifest::MetadataError,
    },
    /// The dags' declarations are wrong in ways Airflow would refuse.
    #[error("the dag declarations of {path} are invalid:\n  - {}\nfix them in the bundle's Rust code and build again", problems.join("\n  - "))]
    Declarations {
        /// The binary or bundle.
        path: PathBuf,
        /// Each problem, naming its dag and task.
        problems: Vec<String>,
    },
    /// The Python stubs of a bundle cannot be generated.
    #[error("cannot generate the Python stubs of {bundle}: {reason}")]
    Stubs {
        /// The bundle.
        bundle: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output path is one of the inputs.
    #[error(
        "refusing to write the bundle to {output}: it is the same file as the {role} {input}; choose another path with -o/--output"
    )]
    OutputAliasesInput {
        /// The requested output.
        output: PathBuf,
        /// `executable` or `source file`.
        role: &'static str,
        /// The input it aliases.
        input: PathBuf,
    },
    /// Something other than a regular file is at the output path.
    #[error(
        "refusing to write the bundle to {output}: it is {what}; only a regular file is ever replaced, so pass another path to -o/--output"
    )]
    OutputNotRegular {
        /// The requested output.
        output: PathBuf,
        /// What is there.
        what: &'static str,
    },
    /// The output path is a directory.
    #[error(
        "refusing to write the bundle to {0}: it is a directory; pass a file path to -o/--output"
    )]
    OutputIsDirectory(PathBuf),
    /// An I/O operation on a named file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing the bundle failed.
    #[error("cannot write the bundle {path}: {source}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// Why.
        #[source]
        source: airflow_bundle::write::WriteError,
    },
    /// The executable's airflow-build record is present but cannot be decoded.
    #[error(
        "cannot read the airflow-build record embedded in {path}: {source}{}",
        record_hint(source)
    )]
    Record {
        /// The executable.
        path: PathBuf,
        /// Why.
        #[source]
        source: airflow_bundle::record::RecordError,
    },
    /// The executable cannot run here and carries no metadata of its own.
    #[error("cannot read the dags of {path}: {reason}")]
    NoEmbeddedMetadata {
        /// The executable.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
    /// What the binary printed and what its sidecar printed at build time differ.
    #[error(
        "{path} answers `--airflow-metadata` differently from the metadata its build embedded ({difference}); the build is inconsistent: run `cargo clean -p {package}` and pack again"
    )]
    MetadataMismatch {
        /// The executable.
        path: PathBuf,
        /// The package named in the record.
        package: String,
        /// A short description of the first difference.
        difference: String,
    },
    /// The executable was built from other sources than the crate's current ones.
    #[error(
        "{path} is stale: it was built from other sources than package `{package}` has now ({changes}); rebuild it{hint}"
    )]
    Stale {
        /// The executable.
        path: PathBuf,
        /// The package named in the record.
        package: String,
        /// The changed files, joined for display.
        changes: String,
        /// How to proceed with `--executable`.
        hint: &'static str,
    },
    /// The crate an `--executable` was built from cannot be found, so freshness cannot be checked.
    #[error(
        "cannot check that {path} is fresh: {reason}; run from the crate's workspace (or pass --manifest-path), or pass --no-freshness-check to pack it as it is"
    )]
    CrateNotAtHand {
        /// The executable.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Recomputing the crate's input digests failed.
    #[error("cannot digest the inputs of package `{package}` to check {path} is fresh: {source}")]
    Digest {
        /// The executable.
        path: PathBuf,
        /// The package.
        package: String,
        /// Why.
        #[source]
        source: Box<airflow_inputs::Error>,
    },
    /// `inspect --inputs` of a file without an airflow-build record.
    #[error(
        "{path} carries no airflow-build record, so it lists no inputs; only an executable built with `airflow_build::build()` in its build.rs (or a bundle packed from one) has them"
    )]
    NoInputs {
        /// The file.
        path: PathBuf,
    },
    /// A file given to `inspect` is not a readable bundle.
    #[error(
        "{path} is not a readable bundle: {reason}; run `cargo airflow verify {path}` for every check"
    )]
    NotABundle {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What to do about a record that cannot be read: only a damaged or foreign-version record is
/// fixed by rebuilding; an I/O error names its own cause.
fn record_hint(e: &airflow_bundle::record::RecordError) -> &'static str {
    use airflow_bundle::record::RecordError as R;
    match e {
        R::UnknownVersion(_) | R::Io { .. } => "",
        _ => "; the record is damaged or from another airflow-build: rebuild the executable",
    }
}

impl Error {
    /// The exit code this error maps to.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) => Exit::Usage,
            _ => Exit::Failure,
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_ones() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Rejected.code(), 3);
        assert_eq!(Error::Usage("x".into()).exit(), Exit::Usage);
        assert_eq!(Error::OutputIsDirectory("d".into()).exit(), Exit::Failure);
    }

    #[test]
    fn alias_error_names_both_paths_and_the_fix() {
        let e = Error::OutputAliasesInput {
            output: "out".into(),
            role: "executable",
            input: "in".into(),
        };
        let s = e.to_string();
        assert!(s.contains("out") && s.contains("executable in") && s.contains("-o/--output"));
    }
}
