//! Errors and exit codes.
//!
//! An error's `Display` says what failed and names the file, command or id involved; it never
//! repeats its cause, which is its `source`. [`render`] makes the one line the user sees:
//! `<what failed>: <cause>: <cause's cause>; <what to do>`, each part once.

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;

use airflow_process::toolchain::ToolchainError;

use crate::child::RunError;

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
    /// `--release` together with a `--profile` other than `release`.
    #[error("conflicting usage of --profile={profile} and --release")]
    ConflictingProfile {
        /// The `--profile` given.
        profile: String,
    },
    /// Arguments for `cargo build` after `--` while nothing is built.
    #[error("extra cargo arguments after `--` have no effect with --executable (nothing is built)")]
    CargoArgsWithExecutable,
    /// `--manifest-path` names no file.
    #[error("--manifest-path {path} is not a file")]
    ManifestPath {
        /// The path given.
        path: PathBuf,
    },
    /// `cargo metadata` failed.
    #[error("cannot read the cargo workspace: `{command}` failed: {reason}")]
    Metadata {
        /// The command, for display.
        command: String,
        /// Cargo's own error, on one line.
        reason: String,
        /// The `--manifest-path` given, if any (the advice depends on it).
        manifest_path: Option<PathBuf>,
    },
    /// `-p` names no workspace member.
    #[error(
        "package `{spec}` is not a member of the workspace at {workspace}; members: {}",
        list(members)
    )]
    UnknownPackage {
        /// The `-p` given.
        spec: String,
        /// The workspace root.
        workspace: PathBuf,
        /// The members' names.
        members: Vec<String>,
    },
    /// `-p` names several workspace members.
    #[error("package spec `{spec}` matches several packages")]
    AmbiguousPackage {
        /// The `-p` given.
        spec: String,
    },
    /// No `-p` in a virtual workspace.
    #[error(
        "{workspace} is a virtual workspace; choose the package to pack with -p (packages with binaries: {})",
        list(with_bins)
    )]
    VirtualWorkspace {
        /// The workspace root.
        workspace: PathBuf,
        /// The members that have bin targets.
        with_bins: Vec<String>,
    },
    /// No `-p`, and the packages cargo builds by default (the workspace's default members) are
    /// not exactly one with a bin target.
    #[error(
        "cargo builds the default members of the workspace at {workspace} ({}), and {}",
        list(defaults),
        match with_bins.as_slice() {
            [] => "none of them has a bin target".to_owned(),
            several => format!("several have bin targets: {}", several.join(", ")),
        }
    )]
    DefaultMembers {
        /// The workspace root.
        workspace: PathBuf,
        /// The default members.
        defaults: Vec<String>,
        /// Those of them with a (matching) bin target.
        with_bins: Vec<String>,
    },
    /// A path cargo must report in its JSON messages is not UTF-8 (cargo panics on it).
    #[error(
        "cannot build the {what} at {path:?}: its path is not UTF-8, and cargo cannot report such paths"
    )]
    NotUtf8Path {
        /// `package` or `target directory`.
        what: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// `--bin` names no bin target of the package.
    #[error(
        "package `{package}` has no bin target named `{bin}`; its bins: {}",
        list(bins)
    )]
    NoSuchBin {
        /// The package.
        package: String,
        /// The `--bin` given.
        bin: String,
        /// Its bin targets.
        bins: Vec<String>,
    },
    /// The package has no bin target.
    #[error("package `{package}` has no bin target")]
    NoBin {
        /// The package.
        package: String,
    },
    /// The package has several bin targets and none was chosen.
    #[error("package `{package}` has several bin targets ({})", list(bins))]
    SeveralBins {
        /// The package.
        package: String,
        /// Its bin targets.
        bins: Vec<String>,
    },
    /// `-p` names another package than the one an `--executable` was built from.
    #[error(
        "{executable} was built from package `{built_by}` (its airflow-build record says so), not `{spec}`"
    )]
    PackageMismatch {
        /// The executable.
        executable: PathBuf,
        /// The package its record names.
        built_by: String,
        /// The `-p` given.
        spec: String,
    },
    /// The root source file of an `--executable` cannot be found.
    #[error("cannot infer the root source file of {executable}{}", built_by.as_ref().map(|p| format!(" (built from package `{p}`, as its airflow-build record says)")).unwrap_or_default())]
    NoSource {
        /// The executable.
        executable: PathBuf,
        /// The package its record names, if it has a record.
        built_by: Option<String>,
        /// Why the package could not be looked up, if it was looked up.
        #[source]
        source: Option<Box<Error>>,
    },
    /// No `-o` and no target directory to put the bundle in.
    #[error("cannot choose a default output path outside a cargo project")]
    NoDefaultOutput,
    /// The executable to pack is already a bundle.
    #[error("{path} is already a bundle (it ends with an AFBNDL01 trailer)")]
    AlreadyBundle {
        /// The file.
        path: PathBuf,
    },
    /// `--executable` names a binary without an airflow-build record, so its freshness cannot
    /// be checked.
    #[error(
        "cannot check that {path} is fresh: it carries no airflow-build record, so nothing says which sources built it"
    )]
    NoRecord {
        /// The executable.
        path: PathBuf,
    },
    /// A command could not be started or waited for.
    #[error("cannot run `{command}`")]
    Spawn {
        /// The command line, for display.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `cargo build` failed. The command line is not repeated: cargo has printed the errors,
    /// and `-v` shows the command.
    #[error("cargo build failed ({status})")]
    Build {
        /// The command line (shown with `-v` before it runs).
        command: String,
        /// Its exit status.
        status: String,
    },
    /// Cargo's JSON messages could not be read.
    #[error("cannot read cargo's JSON messages from `{command}`")]
    Messages {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Cargo's JSON messages did not name the executable.
    #[error(
        "`{command}` succeeded but reported no executable for bin `{bin}` of package `{package}`"
    )]
    NoArtifact {
        /// The command line.
        command: String,
        /// The bin target.
        bin: String,
        /// The package.
        package: String,
    },
    /// Asking the toolchain (`rustc -vV`, for the host triple) failed; the error names the
    /// command.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// The binary cannot be run on this host, or is not a native executable.
    #[error("cannot introspect {path}: {reason}")]
    NotRunnable {
        /// The binary.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The binary answered `--airflow-metadata` with something that is not metadata.
    #[error("introspection of {path} failed: {reason}")]
    Introspection {
        /// The binary.
        path: PathBuf,
        /// What it did.
        reason: String,
    },
    /// Running the binary for its metadata failed (start, timeout, output).
    #[error("introspection of {path} failed")]
    IntrospectionRun {
        /// The binary.
        path: PathBuf,
        /// Why.
        #[source]
        source: RunError,
    },
    /// The metadata the binary printed cannot go into a bundle.
    #[error("bad metadata from {path}")]
    BadMetadata {
        /// The binary.
        path: PathBuf,
        /// Why.
        #[source]
        source: airflow_bundle::manifest::MetadataError,
    },
    /// The dags' declarations are wrong in ways Airflow would refuse.
    #[error("the dag declarations of {path} are invalid: {}", problems.join("; "))]
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
    #[error("refusing to write {kind} to {output}: it is the same file as the {role} {input}")]
    OutputAliasesInput {
        /// Which file was being written.
        kind: crate::output::Kind,
        /// The requested output.
        output: PathBuf,
        /// `executable`, `source file` or `input of the build`.
        role: &'static str,
        /// The input it aliases.
        input: PathBuf,
    },
    /// Something other than a regular file (or a symbolic link to one) is at the output path.
    #[error("refusing to write {kind} to {output}: it is {what}")]
    OutputNotRegular {
        /// Which file was being written.
        kind: crate::output::Kind,
        /// The requested output.
        output: PathBuf,
        /// What is there.
        what: &'static str,
    },
    /// The output path is a directory.
    #[error("refusing to write {kind} to {path}: it is a directory")]
    OutputIsDirectory {
        /// Which file was being written.
        kind: crate::output::Kind,
        /// The requested output.
        path: PathBuf,
    },
    /// An I/O operation on a named file failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The root source file is too large to be one.
    #[error("cannot embed the source file {path}: it is over {limit} bytes")]
    SourceTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The executable was replaced or modified while it was packed.
    #[error("the executable {path} changed while it was being packed")]
    ExecutableChanged {
        /// The executable.
        path: PathBuf,
    },
    /// Writing the bundle failed.
    #[error("cannot write the bundle {path}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// Why.
        #[source]
        source: airflow_bundle::write::WriteError,
    },
    /// The executable's airflow-build record is present but cannot be decoded.
    #[error("cannot read the airflow-build record embedded in {path}")]
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
    #[error("cannot digest the inputs of package `{package}` to check {path} is fresh")]
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
    #[error("{path} carries no airflow-build record, so it lists no inputs")]
    NoInputs {
        /// The file.
        path: PathBuf,
    },
    /// The executable needs a newer glibc than the floor declared for the bundle (boxed: the
    /// facts are large, the other errors small).
    #[error("{0}")]
    GlibcTooNew(Box<crate::glibc::TooNew>),
    /// The declared glibc floor is not a glibc version.
    #[error("the glibc floor in {origin} is invalid: {reason}")]
    BadGlibcFloor {
        /// Where it was declared.
        origin: crate::glibc::FloorOrigin,
        /// Why.
        reason: String,
    },
    /// The executable's glibc version references cannot be read.
    #[error("cannot read which glibc {path} needs")]
    Glibc {
        /// The executable.
        path: PathBuf,
        /// Why.
        #[source]
        source: airflow_bundle::glibc::GlibcError,
    },
    /// A file given to `inspect` is not a readable bundle.
    #[error("{path} is not a readable bundle: {reason}")]
    NotABundle {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn list(names: &[String]) -> Cow<'_, str> {
    if names.is_empty() {
        Cow::Borrowed("none")
    } else {
        Cow::Owned(names.join(", "))
    }
}

impl Error {
    /// The exit code this error maps to.
    pub fn exit(&self) -> Exit {
        match self {
            Error::ConflictingProfile { .. } | Error::CargoArgsWithExecutable => Exit::Usage,
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

    /// What to do about it, when there is something to say. Only the outermost error's advice
    /// is printed: a wrapped error's advice may not fit the wrapper's situation.
    pub fn hint(&self) -> Option<Cow<'static, str>> {
        use airflow_bundle::record::RecordError as R;
        let s: Cow<'static, str> = match self {
            Error::ConflictingProfile { .. } => {
                "`--release` is the same as `--profile=release`; remove one flag or the other"
                    .into()
            }
            Error::CargoArgsWithExecutable => "remove them, or build with pack".into(),
            Error::ManifestPath { .. } => "give the path of the package's Cargo.toml".into(),
            Error::Metadata {
                manifest_path: Some(_),
                ..
            } => "fix that Cargo.toml, or point --manifest-path at another".into(),
            Error::Metadata { .. } => {
                "run it inside a cargo project or pass --manifest-path".into()
            }
            Error::AmbiguousPackage { .. } => "use name@version".into(),
            Error::DefaultMembers { with_bins, .. } if with_bins.is_empty() => {
                "choose the package to pack with -p".into()
            }
            Error::DefaultMembers { with_bins, .. } => format!(
                "choose the package to pack with -p {}",
                with_bins.join(" or -p ")
            )
            .into(),
            Error::NotUtf8Path {
                what: "target directory",
                ..
            } => "pass a --target-dir whose path is UTF-8".into(),
            Error::NotUtf8Path { .. } => {
                "move the package to a directory whose path is UTF-8".into()
            }
            Error::NoBin { .. } => "a bundle is an executable (add src/main.rs)".into(),
            Error::SeveralBins { .. } => "choose one with --bin".into(),
            Error::PackageMismatch { built_by, .. } => {
                format!("pass `-p {built_by}` or leave -p out").into()
            }
            Error::NoSource {
                built_by: Some(_), ..
            } => "run pack in that package's workspace, pass --manifest-path with its \
                  Cargo.toml, or pass --source PATH"
                .into(),
            Error::NoSource { .. } => "pass --source PATH".into(),
            Error::NoDefaultOutput => "pass -o/--output".into(),
            Error::AlreadyBundle { .. } => "pack the executable cargo built \
                 (target/<profile>/<bin>), or deploy this bundle as it is"
                .into(),
            Error::NoRecord { .. } => "add `airflow-build` to the crate's [build-dependencies], \
                 call `airflow_build::build()` from build.rs and rebuild, or pass \
                 --no-freshness-check to pack it as it is"
                .into(),
            Error::Build { .. } => "fix the errors cargo printed above and run again".into(),
            Error::NoArtifact { .. } => "check the extra cargo arguments, or pack a prebuilt \
                 binary with --executable"
                .into(),
            Error::Toolchain(_) => "pass --target".into(),
            Error::IntrospectionRun {
                source: RunError::TimedOut { .. },
                ..
            } => "a bundle binary must answer `--airflow-metadata` without doing work (is main \
                  handing control to airflow_sdk?)"
                .into(),
            Error::IntrospectionRun {
                source: RunError::StdoutOverflow { .. },
                ..
            } => "is it a bundle built with airflow-sdk?".into(),
            Error::Declarations { .. } => {
                "fix them in the bundle's Rust code and build again".into()
            }
            Error::OutputAliasesInput { kind, .. } => kind.elsewhere().into(),
            Error::OutputNotRegular { kind, .. } => format!(
                "only a regular file (or a symbolic link to one) is ever replaced: {}",
                kind.elsewhere()
            )
            .into(),
            Error::OutputIsDirectory { kind, .. } => kind.elsewhere().into(),
            Error::SourceTooLarge { .. } => {
                "no root source file is that large; check the path (the bundle's main.rs)".into()
            }
            Error::ExecutableChanged { .. } => {
                "is another build running? run the pack again".into()
            }
            Error::Record {
                source: R::UnknownVersion(_) | R::Io { .. },
                ..
            } => return None,
            Error::Record { .. } => {
                "the record is damaged or from another airflow-build: rebuild the executable".into()
            }
            Error::NoInputs { .. } => "only an executable built with `airflow_build::build()` \
                 in its build.rs (or a bundle packed from one) has them"
                .into(),
            Error::GlibcTooNew(t) => crate::glibc::advice(&t.floor.version, &t.target).into(),
            Error::BadGlibcFloor { .. } => {
                "write the oldest glibc of the workers as a string, such as glibc = \"2.36\" \
                 (Debian 12, the official Airflow images)"
                    .into()
            }
            Error::NotABundle { path, .. } => format!(
                "run `cargo airflow verify {}` for every check",
                path.display()
            )
            .into(),
            _ => return None,
        };
        Some(s)
    }
}

/// The line printed after `error: `: the error, each of its causes once
/// ([`airflow_process::error_line::Chain`], as airflow-build prints its errors), and its advice.
pub fn render(e: &Error) -> String {
    let mut line = airflow_process::error_line::chain(e);
    if let Some(hint) = e.hint() {
        line.push_str("; ");
        line.push_str(&hint);
    }
    line
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
        assert_eq!(
            Error::ConflictingProfile {
                profile: "dev".into()
            }
            .exit(),
            Exit::Usage
        );
        assert_eq!(Error::CargoArgsWithExecutable.exit(), Exit::Usage);
        assert_eq!(Error::NoDefaultOutput.exit(), Exit::Failure);
    }

    #[test]
    fn a_cause_is_printed_once() {
        let e = Error::io(
            "cannot read",
            "/x/main.rs",
            std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
        );
        assert_eq!(render(&e), "cannot read /x/main.rs: not found");
        let nested = Error::NoSource {
            executable: "/x/exe".into(),
            built_by: Some("p".into()),
            source: Some(Box::new(Error::Metadata {
                command: "cargo metadata".into(),
                reason: "no Cargo.toml".into(),
                manifest_path: None,
            })),
        };
        let line = render(&nested);
        // The inner error's own advice does not contradict the outer one's.
        assert_eq!(
            line,
            "cannot infer the root source file of /x/exe (built from package `p`, as its \
             airflow-build record says): cannot read the cargo workspace: `cargo metadata` \
             failed: no Cargo.toml; run pack in that package's workspace, pass --manifest-path \
             with its Cargo.toml, or pass --source PATH"
        );
    }

    /// A path that is not UTF-8 is shown with its bytes escaped, not with U+FFFD.
    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_is_shown_escaped() {
        use std::os::unix::ffi::OsStringExt;
        let e = Error::NotUtf8Path {
            what: "package",
            path: std::ffi::OsString::from_vec(b"/w/bad\xff/x".to_vec()).into(),
        };
        assert!(
            render(&e).contains(r#"at "/w/bad\xFF/x": its path"#),
            "{}",
            render(&e)
        );
    }

    /// Every error of a class of failure, as the user reads it (after `error: `).
    #[test]
    fn each_error_reads_as_one_line() {
        use airflow_bundle::record::RecordError;
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let p = || PathBuf::from("/w/x");
        let all = [
            Error::ConflictingProfile {
                profile: "dev".into(),
            },
            Error::CargoArgsWithExecutable,
            Error::ManifestPath { path: p() },
            Error::Metadata {
                command: "cargo metadata --manifest-path /w/Cargo.toml".into(),
                reason: "failed to parse manifest".into(),
                manifest_path: Some(p()),
            },
            Error::UnknownPackage {
                spec: "nope".into(),
                workspace: "/w".into(),
                members: vec!["a".into(), "b".into()],
            },
            Error::AmbiguousPackage { spec: "a".into() },
            Error::VirtualWorkspace {
                workspace: "/w".into(),
                with_bins: vec![],
            },
            Error::DefaultMembers {
                workspace: "/w".into(),
                defaults: vec!["a".into(), "b".into(), "c".into()],
                with_bins: vec!["b".into(), "c".into()],
            },
            Error::DefaultMembers {
                workspace: "/w".into(),
                defaults: vec!["a".into(), "b".into()],
                with_bins: vec![],
            },
            Error::NotUtf8Path {
                what: "package",
                path: "/w/bad/x".into(),
            },
            Error::NotUtf8Path {
                what: "target directory",
                path: "/w/t".into(),
            },
            Error::NoSuchBin {
                package: "a".into(),
                bin: "z".into(),
                bins: vec!["x".into(), "y".into()],
            },
            Error::NoBin {
                package: "a".into(),
            },
            Error::SeveralBins {
                package: "a".into(),
                bins: vec!["x".into(), "y".into()],
            },
            Error::PackageMismatch {
                executable: p(),
                built_by: "a".into(),
                spec: "b".into(),
            },
            Error::NoSource {
                executable: p(),
                built_by: None,
                source: None,
            },
            Error::NoDefaultOutput,
            Error::AlreadyBundle { path: p() },
            Error::NoRecord { path: p() },
            Error::Spawn {
                command: "cargo build".into(),
                source: io(),
            },
            Error::Build {
                command: "cargo build".into(),
                status: "exit status: 101".into(),
            },
            Error::Messages {
                command: "cargo build".into(),
                source: std::io::Error::other("expected value at line 1 column 1"),
            },
            Error::NoArtifact {
                command: "cargo build".into(),
                bin: "x".into(),
                package: "a".into(),
            },
            Error::Toolchain(ToolchainError::Run {
                command: "rustc -vV".into(),
                source: RunError::Spawn { source: io() },
            }),
            Error::Toolchain(ToolchainError::NoHost {
                command: "rustc -vV".into(),
            }),
            Error::IntrospectionRun {
                path: p(),
                source: RunError::TimedOut {
                    after: std::time::Duration::from_secs(30),
                },
            },
            Error::Declarations {
                path: p(),
                problems: vec!["dag \"d\": a cycle".into(), "dag \"e\": another".into()],
            },
            Error::OutputAliasesInput {
                kind: crate::output::Kind::Bundle,
                output: "out".into(),
                role: "executable",
                input: "in".into(),
            },
            Error::OutputNotRegular {
                kind: crate::output::Kind::Stubs,
                output: p(),
                what: "a FIFO",
            },
            Error::OutputIsDirectory {
                kind: crate::output::Kind::Bundle,
                path: p(),
            },
            Error::SourceTooLarge {
                path: p(),
                limit: 64,
            },
            Error::ExecutableChanged { path: p() },
            Error::Record {
                path: p(),
                source: RecordError::BadMagic,
            },
            Error::NoInputs { path: p() },
            Error::GlibcTooNew(Box::new(crate::glibc::TooNew {
                package: "a".into(),
                floor: crate::glibc::Floor {
                    version: "2.28".parse().unwrap(),
                    origin: crate::glibc::FloorOrigin::Metadata("/w/a/Cargo.toml".into()),
                },
                needs: "2.39 or newer".into(),
                over: vec![
                    "GLIBC_2.39 (pidfd_spawn)".into(),
                    "GLIBC_2.34 (__libc_start_main, pthread_create, and 3 more)".into(),
                ],
                undated: vec!["GLIBC_ABI_NEW".into()],
                target: "aarch64-unknown-linux-gnu".into(),
            })),
            Error::BadGlibcFloor {
                origin: crate::glibc::FloorOrigin::Metadata("/w/a/Cargo.toml".into()),
                reason: "it is a float, not a string such as \"2.36\"".into(),
            },
            Error::Glibc {
                path: p(),
                source: airflow_bundle::glibc::GlibcError::NoSectionHeaders,
            },
            Error::NotABundle {
                path: p(),
                reason: "no trailer".into(),
            },
        ];
        let text: String = all.iter().map(|e| format!("{}\n", render(e))).collect();
        snapbox::assert_data_eq!(text, snapbox::file!["snapshots/errors.txt"]);
        assert!(all.iter().all(|e| !render(e).contains('\n')));
    }
}
