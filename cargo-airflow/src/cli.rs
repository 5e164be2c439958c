//! The command line, declared with clap.
//!
//! `cargo airflow ...` reaches this binary as `cargo-airflow airflow ...`; running
//! `cargo-airflow ...` directly works too. [`parse`] accepts both.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::Styles;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use airflow_bundle::verify::AirflowRelease;

use crate::error::Error;
use crate::shell::{ColorWhen, Verbosity, style};

/// Exit-code section shared by every `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  failure: the build failed, I/O error, introspection failed, bad metadata, a
     bundle that needs a newer glibc than its floor (--glibc)
  2  usage error: unknown or conflicting flags
  3  verify: a file is missing or unreadable, or a release judged (--airflow, else 3.3
     and 3.4) would reject it";

/// Help and usage errors in cargo's colours.
fn styles() -> Styles {
    Styles::styled()
        .header(style::HEADER)
        .usage(style::USAGE)
        .literal(style::LITERAL)
        .placeholder(style::PLACEHOLDER)
        .error(style::ERROR)
        .valid(style::VALID)
        .invalid(style::INVALID)
}

/// `cargo airflow`: build, pack, inspect and verify Apache Airflow executable bundles.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-airflow",
    bin_name = "cargo airflow",
    version,
    styles = styles(),
    about = "Build, pack, inspect and verify Apache Airflow executable bundles written in Rust",
    long_about = "Build, pack, inspect and verify Apache Airflow executable bundles written in Rust.\n\n\
An executable bundle is the crate's normal executable with its root source file, a YAML \
manifest and a 64-byte AFBNDL01 trailer appended; Airflow's executable coordinator \
(apache-airflow-task-sdk 1.3.2) runs it for the dags it declares.",
    after_long_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a bundle crate with cargo and pack its executable into an Airflow bundle
    #[command(after_long_help = EXIT_CODES_HELP)]
    Pack(Box<PackArgs>),
    /// Show the manifest (and optionally the source) of a bundle, without running it
    #[command(after_long_help = EXIT_CODES_HELP)]
    Inspect(InspectArgs),
    /// Check bundles exactly as the readers of Airflow 3.3 and 3.4 do, without running them
    #[command(
        after_long_help = EXIT_CODES_HELP,
        long_about = "Check bundles exactly as the readers of Airflow 3.3 (task SDK 1.3.2) and 3.4 \
(task SDK 1.4.0b2) do, without running them.\n\n\
Each file gets one verdict per release judged: `ok (Airflow 3.3, 3.4): FILE (dags: ...)` on \
stdout for the releases that would load it, and `FAIL (Airflow 3.3): FILE: ...` on stderr, \
followed by each failed check, for those that would not. The exit code is 3 as soon as one \
release judged rejects one file (or a file cannot be read)."
    )]
    Verify(VerifyArgs),
    /// Write the Python stub dag file of a packed bundle, from its manifest (never executed)
    #[command(after_long_help = EXIT_CODES_HELP)]
    Stubs(StubsArgs),
}

/// Arguments of `cargo airflow stubs`.
#[derive(Debug, Clone, Args)]
pub struct StubsArgs {
    /// The bundle whose declarations the stubs are generated from (never executed)
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Where to write the file; by default `<bundle file name>_dags.py` beside the bundle.
    #[arg(
        short = 'o',
        long,
        value_name = "PATH",
        help = "Where to write the file [default: <bundle dir>/<bundle file name>_dags.py]"
    )]
    pub output: Option<PathBuf>,
    /// Use verbose output
    #[arg(short = 'v', long, action = ArgAction::Count)]
    pub verbose: u8,
    /// Do not print status messages and warnings (errors are still printed)
    #[arg(short = 'q', long, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl StubsArgs {
    /// How much `stubs` prints (`-q`, `-v`), as for `pack`.
    pub fn verbosity(&self) -> Verbosity {
        verbosity(self.quiet, self.verbose)
    }
}

/// `-q` wins; any `-v` is verbose.
fn verbosity(quiet: bool, verbose: u8) -> Verbosity {
    match (quiet, verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, _) => Verbosity::Verbose,
    }
}

/// How results are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum MessageFormat {
    /// Text for people.
    #[default]
    Human,
    /// One JSON report on one line of stdout (its versioned schema: the `cargo-airflow-report`
    /// crate).
    Json,
}

/// When to use colours (passed on to cargo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when writing to a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl Color {
    /// The shell's colour choice for this flag.
    pub fn when(color: Option<Color>) -> ColorWhen {
        match color {
            Some(Color::Always) => ColorWhen::Always,
            Some(Color::Never) => ColorWhen::Never,
            Some(Color::Auto) | None => ColorWhen::Auto,
        }
    }

    /// The value cargo understands.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Auto => "auto",
            Color::Always => "always",
            Color::Never => "never",
        }
    }
}

/// Arguments of `cargo airflow pack`.
#[derive(Debug, Clone, Default, Args)]
#[command(
    long_about = "Build a bundle crate with cargo (release profile unless told otherwise), run the \
executable once with `--airflow-metadata --format json` to read its dags and tasks, and write \
the bundle atomically (mode 0755). Cargo's own artifact is never modified.\n\n\
The default output is <target-dir>/airflow/<triple>/<bin> (with .exe for Windows targets).\n\n\
The dags' declarations (schedule, settings, dependencies) are checked first; a dag, task or \
cron expression Airflow would refuse stops the pack, naming it. Unless --no-stubs is given, \
the Python stub dag file of the dags that are not native is written next to the bundle as \
<bundle file name>_dags.py (generated, deterministic, public airflow.sdk API only)."
)]
pub struct PackArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH", help_heading = "Cargo options")]
    pub manifest_path: Option<PathBuf>,
    /// Package to pack (default: the package in the current directory)
    #[arg(short = 'p', long, value_name = "SPEC", help_heading = "Cargo options")]
    pub package: Option<String>,
    /// Binary target to pack (default: the package's only binary)
    #[arg(long, value_name = "NAME", help_heading = "Cargo options")]
    pub bin: Option<String>,
    /// Build for the target triple
    #[arg(long, value_name = "TRIPLE", help_heading = "Cargo options")]
    pub target: Option<String>,
    /// Build with the release profile (the default)
    #[arg(short = 'r', long, help_heading = "Cargo options")]
    pub release: bool,
    /// Build with the given profile (default: release; `dev` gives a debug bundle)
    #[arg(long, value_name = "PROFILE-NAME", help_heading = "Cargo options")]
    pub profile: Option<String>,
    /// Space or comma separated list of features to activate
    #[arg(short = 'F', long, value_name = "FEATURES", action = ArgAction::Append, help_heading = "Cargo options")]
    pub features: Vec<String>,
    /// Activate all available features
    #[arg(long, help_heading = "Cargo options")]
    pub all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long, help_heading = "Cargo options")]
    pub no_default_features: bool,
    /// Assert that `Cargo.lock` will remain unchanged
    #[arg(long, help_heading = "Cargo options")]
    pub locked: bool,
    /// Equivalent to specifying both --locked and --offline
    #[arg(long, help_heading = "Cargo options")]
    pub frozen: bool,
    /// Run without accessing the network
    #[arg(long, help_heading = "Cargo options")]
    pub offline: bool,
    /// Directory for all generated artifacts
    #[arg(long, value_name = "DIRECTORY", help_heading = "Cargo options")]
    pub target_dir: Option<PathBuf>,
    /// Use verbose output (-vv very verbose); passed to cargo
    #[arg(short = 'v', long, action = ArgAction::Count, help_heading = "Cargo options")]
    pub verbose: u8,
    /// Do not print cargo's or cargo-airflow's status messages and warnings
    #[arg(
        short = 'q',
        long,
        conflicts_with = "verbose",
        help_heading = "Cargo options"
    )]
    pub quiet: bool,
    /// Coloring
    #[arg(long, value_enum, value_name = "WHEN", help_heading = "Cargo options")]
    pub color: Option<Color>,

    /// Pack this prebuilt executable instead of building (no cargo build)
    #[arg(long, value_name = "PATH")]
    pub executable: Option<PathBuf>,
    /// The bundle's root source file (default: the bin target's `src_path` from cargo metadata)
    #[arg(long, value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// Where to write the bundle (default: `<target-dir>/airflow/<triple>/<bin>`).
    #[arg(
        short = 'o',
        long,
        value_name = "PATH",
        help = "Where to write the bundle [default: <target-dir>/airflow/<triple>/<bin>]"
    )]
    pub output: Option<PathBuf>,
    /// Pack even if the executable's embedded input digest cannot be checked against the crate's
    /// current sources (its crate is not at hand, or it carries no airflow-build record), or
    /// differs from them. Path dependencies of the crate, and every file cargo's dep-info beside
    /// the executable says its build read, count as its sources
    #[arg(long)]
    pub no_freshness_check: bool,
    /// Output format: human status lines on stderr, or one JSON report on stdout
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, value_name = "FMT")]
    pub message_format: MessageFormat,
    /// Do not write the Python stub dag file next to the bundle
    #[arg(long)]
    pub no_stubs: bool,
    /// The oldest glibc the workers have (such as 2.36 for Debian 12): refuse an executable
    /// that needs a newer one, naming its symbols. Overrides `[package.metadata.airflow] glibc`
    #[arg(long, value_name = "VERSION")]
    pub glibc: Option<airflow_bundle::glibc::GlibcVersion>,

    /// Extra arguments passed verbatim to `cargo build`
    #[arg(last = true, value_name = "CARGO-ARGS")]
    pub cargo_args: Vec<OsString>,
}

impl PackArgs {
    /// How much the pack prints (`-q`, `-v`).
    pub fn verbosity(&self) -> Verbosity {
        verbosity(self.quiet, self.verbose)
    }

    /// The cargo profile to build with: `--profile`, else `release`.
    ///
    /// `--release` together with a `--profile` other than `release` is refused, as cargo does.
    pub fn profile(&self) -> Result<String, Error> {
        match (&self.profile, self.release) {
            (Some(p), true) if p != "release" => {
                Err(Error::ConflictingProfile { profile: p.clone() })
            }
            (Some(p), _) => Ok(p.clone()),
            (None, _) => Ok("release".to_owned()),
        }
    }
}

/// Arguments of `cargo airflow inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The bundle to inspect (never executed)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also print the embedded source region
    #[arg(long)]
    pub source: bool,
    /// Print one JSON report: manifest text, parsed manifest, source, trailer facts and the
    /// airflow-build record (the same as --message-format json)
    #[arg(long)]
    pub json: bool,
    /// Output format: the manifest as text, or one JSON report on stdout
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, value_name = "FMT")]
    pub message_format: MessageFormat,
    /// List the input files and digests from the airflow-build record (`sha256  path`, as
    /// sha256sum prints); works on a bundle or on a plain executable. For a bundle, then every
    /// file its build read (cargo's dep-info), digested when packed. The JSON report holds the
    /// whole record
    #[arg(long, conflicts_with = "source")]
    pub inputs: bool,
    /// Show which glibc the executable needs: the newest GLIBC_ symbol version it references,
    /// and the symbols bound to each version; works on a bundle or on a plain executable. The
    /// JSON report of a bundle holds it too
    #[arg(long, conflicts_with_all = ["source", "inputs"])]
    pub glibc: bool,
}

impl InspectArgs {
    /// `--json` or `--message-format json`.
    pub fn json(&self) -> bool {
        self.json || self.message_format == MessageFormat::Json
    }
}

/// Arguments of `cargo airflow verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The bundles to check (never executed)
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Output format: human lines, or one JSON report on stdout
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, value_name = "FMT")]
    pub message_format: MessageFormat,
    /// Judge for this Airflow release only; by default every release is judged and each
    /// verdict names its release
    #[arg(long, value_enum, value_name = "RELEASE")]
    pub airflow: Option<Release>,
}

impl VerifyArgs {
    /// The releases to judge, oldest first.
    pub fn releases(&self) -> Vec<AirflowRelease> {
        match self.airflow {
            Some(Release::V3_3) => vec![AirflowRelease::V3_3],
            Some(Release::V3_4) => vec![AirflowRelease::V3_4],
            None => AirflowRelease::ALL.to_vec(),
        }
    }
}

/// An Airflow release `verify` can judge for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Release {
    /// Airflow 3.3 (apache-airflow-task-sdk 1.3.2): needs the execute bit, knows supervisor
    /// schema 2026-06-16, and a manifest PyYAML raises on breaks the lookup of the whole root
    #[value(name = "3.3")]
    V3_3,
    /// Airflow 3.4 (apache-airflow-task-sdk 1.4.0b2): sets the execute bit itself, also knows
    /// 2026-10-30, and skips a manifest that raises a ValueError (such as a `2026-13-45` date)
    #[value(name = "3.4")]
    V3_4,
}

/// Parses the process arguments, dropping the `airflow` that cargo inserts when the command is
/// run as `cargo airflow`.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Cli::try_parse_from(normalize(args))
}

/// The arguments with cargo's inserted subcommand name removed.
pub fn normalize<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if args.get(1).is_some_and(|a| a == "airflow") {
        args.remove(1);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn pack(args: &[&str]) -> PackArgs {
        let mut argv = vec!["cargo-airflow", "airflow", "pack"];
        argv.extend_from_slice(args);
        match parse(argv).expect("parses").command {
            Command::Pack(p) => *p,
            other => panic!("not pack: {other:?}"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn works_as_cargo_subcommand_and_directly() {
        assert!(matches!(
            parse(["cargo-airflow", "airflow", "verify", "x"])
                .unwrap()
                .command,
            Command::Verify(_)
        ));
        assert!(matches!(
            parse(["cargo-airflow", "verify", "x"]).unwrap().command,
            Command::Verify(_)
        ));
    }

    #[test]
    fn profile_defaults_to_release() {
        assert_eq!(pack(&[]).profile().unwrap(), "release");
        assert_eq!(pack(&["--release"]).profile().unwrap(), "release");
        assert_eq!(pack(&["--profile", "dev"]).profile().unwrap(), "dev");
        assert_eq!(
            pack(&["--release", "--profile", "release"])
                .profile()
                .unwrap(),
            "release"
        );
        let err = pack(&["--release", "--profile", "dev"])
            .profile()
            .unwrap_err();
        assert!(matches!(err, Error::ConflictingProfile { profile } if profile == "dev"));
    }

    #[test]
    fn trailing_args_are_kept_verbatim() {
        let p = pack(&["-p", "x", "--", "--config", "a=b", "-Zfoo"]);
        assert_eq!(p.cargo_args, vec!["--config", "a=b", "-Zfoo"]);
        assert_eq!(p.package.as_deref(), Some("x"));
    }

    #[test]
    fn features_accumulate() {
        let p = pack(&["-F", "a", "--features", "b,c"]);
        assert_eq!(p.features, vec!["a", "b,c"]);
    }

    #[test]
    fn verify_judges_both_releases_unless_told() {
        let verify = |args: &[&str]| match parse(args.iter().copied()).unwrap().command {
            Command::Verify(v) => v.releases(),
            other => panic!("not verify: {other:?}"),
        };
        assert_eq!(
            verify(&["cargo-airflow", "verify", "x"]),
            AirflowRelease::ALL
        );
        assert_eq!(
            verify(&["cargo-airflow", "verify", "--airflow", "3.4", "x"]),
            [AirflowRelease::V3_4]
        );
        assert_eq!(
            verify(&["cargo-airflow", "verify", "--airflow", "3.3", "x"]),
            [AirflowRelease::V3_3]
        );
        let e = parse(["cargo-airflow", "verify", "--airflow", "3.5", "x"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn unknown_flag_is_a_usage_error() {
        let e = parse(["cargo-airflow", "pack", "--bogus"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
