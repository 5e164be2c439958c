//! Building the package with `cargo build`, and choosing the package and binary to pack.
//!
//! The executable is found from cargo's `compiler-artifact` messages, never by guessing paths.
//! When the build names exactly one bin target, that message says everything a pack needs
//! (package, bin, root source file, executable), so no `cargo metadata` runs. `cargo metadata`
//! is only asked when the messages leave a choice (several bins), when the package must be
//! known before building, or to explain a failed build. Cargo's stderr is inherited, so its
//! progress and diagnostics stream to the user; its stdout carries the JSON messages.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use airflow_process::lines::{self, Interrupted, LineLimits, LinesError};
use cargo_metadata::{Message, Metadata, Package, PackageId, Target};

use crate::cli::PackArgs;
use crate::error::{Error, Result};

/// The package and bin target chosen for packing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Cargo's id of the package.
    pub package_id: PackageId,
    /// The package name.
    pub package_name: String,
    /// The bin target's name.
    pub bin_name: String,
    /// The bin target's root source file.
    pub src_path: PathBuf,
    /// The directory holding the package's `Cargo.toml` (its inputs are digested from here).
    pub manifest_dir: PathBuf,
}

/// The `Cargo.toml` cargo starts from: `--manifest-path`, else the nearest one in the current
/// directory or its ancestors (canonical, so that it compares with cargo metadata's paths).
pub fn current_manifest(manifest_path: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    let found = match manifest_path {
        Some(p) => cwd.join(p),
        None => cwd
            .ancestors()
            .map(|d| d.join("Cargo.toml"))
            .find(|p| p.is_file())?,
    };
    found.canonicalize().ok()
}

/// Chooses the package and its bin target as `cargo build` does: `-p`, else the member whose
/// `Cargo.toml` is `current` (the one in the current directory or given by `--manifest-path`),
/// else the root package, else the only workspace member with the requested bin; then `--bin`,
/// else `default-run`, else the only bin.
pub fn select(
    meta: &Metadata,
    package: Option<&str>,
    bin: Option<&str>,
    current: Option<&Path>,
) -> Result<Selection> {
    let members = meta.workspace_packages();
    let here = current.and_then(|c| {
        members.iter().copied().find(|p| {
            p.manifest_path
                .as_std_path()
                .canonicalize()
                .is_ok_and(|m| m == c)
        })
    });
    let pkg: &Package = match package {
        Some(spec) => {
            let found: Vec<&Package> = members
                .iter()
                .copied()
                .filter(|p| matches_spec(p, spec))
                .collect();
            match found.as_slice() {
                [one] => one,
                [] => {
                    return Err(Error::UnknownPackage {
                        spec: spec.to_owned(),
                        workspace: meta.workspace_root.clone().into_std_path_buf(),
                        members: names(&members),
                    });
                }
                _ => {
                    return Err(Error::AmbiguousPackage {
                        spec: spec.to_owned(),
                    });
                }
            }
        }
        // What cargo builds without -p: the default members, as cargo metadata reports them
        // for this directory or --manifest-path (cargo 1.71 and later).
        None if meta.workspace_default_members.is_available() => {
            default_package(meta, &members, bin)?
        }
        None => match here.or_else(|| meta.root_package()) {
            Some(p) => p,
            None => {
                let with_bin: Vec<&Package> = members
                    .iter()
                    .copied()
                    .filter(|p| match bin {
                        Some(b) => p.targets.iter().any(|t| t.is_bin() && t.name == b),
                        None => false,
                    })
                    .collect();
                match with_bin.as_slice() {
                    [one] => one,
                    _ => {
                        let bins: Vec<&Package> = members
                            .iter()
                            .copied()
                            .filter(|p| p.targets.iter().any(Target::is_bin))
                            .collect();
                        return Err(Error::VirtualWorkspace {
                            workspace: meta.workspace_root.clone().into_std_path_buf(),
                            with_bins: names(&bins),
                        });
                    }
                }
            }
        },
    };
    let target = select_bin(pkg, bin)?;
    Ok(Selection {
        package_id: pkg.id.clone(),
        package_name: pkg.name.to_string(),
        bin_name: target.name.clone(),
        src_path: target.src_path.clone().into_std_path_buf(),
        manifest_dir: pkg
            .manifest_path
            .parent()
            .map(|d| d.to_path_buf().into_std_path_buf())
            .unwrap_or_default(),
    })
}

/// The package to pack among the workspace's default members: the only one, else the only one
/// with a bin target (named `bin`, if given). A virtual workspace without `default-members`
/// (cargo builds every member) keeps its own message.
fn default_package<'a>(
    meta: &'a Metadata,
    members: &[&'a Package],
    bin: Option<&str>,
) -> Result<&'a Package> {
    let defaults = meta.workspace_default_packages();
    if let [one] = defaults.as_slice() {
        return Ok(one);
    }
    let has_bin = |p: &Package| {
        p.targets
            .iter()
            .any(|t| t.is_bin() && bin.is_none_or(|b| t.name == b))
    };
    let with_bins: Vec<&Package> = defaults.iter().copied().filter(|p| has_bin(p)).collect();
    if let [one] = with_bins.as_slice() {
        return Ok(one);
    }
    let workspace = meta.workspace_root.clone().into_std_path_buf();
    if meta.root_package().is_none() && defaults.len() == members.len() {
        let bins: Vec<&Package> = members
            .iter()
            .copied()
            .filter(|p| p.targets.iter().any(Target::is_bin))
            .collect();
        return Err(Error::VirtualWorkspace {
            workspace,
            with_bins: names(&bins),
        });
    }
    Err(Error::DefaultMembers {
        workspace,
        defaults: names(&defaults),
        with_bins: names(&with_bins),
    })
}

fn select_bin<'a>(pkg: &'a Package, bin: Option<&str>) -> Result<&'a Target> {
    let bins: Vec<&Target> = pkg.targets.iter().filter(|t| t.is_bin()).collect();
    let list = || bins.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    if let Some(name) = bin {
        return bins
            .iter()
            .copied()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::NoSuchBin {
                package: pkg.name.to_string(),
                bin: name.to_owned(),
                bins: list(),
            });
    }
    if let Some(default) = &pkg.default_run
        && let Some(t) = bins.iter().copied().find(|t| &t.name == default)
    {
        return Ok(t);
    }
    match bins.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::NoBin {
            package: pkg.name.to_string(),
        }),
        _ => Err(Error::SeveralBins {
            package: pkg.name.to_string(),
            bins: list(),
        }),
    }
}

fn matches_spec(p: &Package, spec: &str) -> bool {
    match spec.split_once('@') {
        Some((name, version)) => p.name.as_str() == name && p.version.to_string() == version,
        None => p.name.as_str() == spec,
    }
}

fn names(pkgs: &[&Package]) -> Vec<String> {
    pkgs.iter().map(|p| p.name.to_string()).collect()
}

/// The arguments after the cargo program for the pack flags: cargo's own flags with cargo's
/// meaning (`-p` and `--bin` as the user gave them), the profile, JSON messages on stdout.
pub fn build_argv(args: &PackArgs, profile: &str) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        "build".into(),
        "--message-format=json-render-diagnostics".into(),
    ];
    let mut push = |a: &str| v.push(a.into());
    if let Some(path) = &args.manifest_path {
        push("--manifest-path");
        v.push(path.into());
    }
    let mut push = |a: &str| v.push(a.into());
    if let Some(p) = &args.package {
        push("--package");
        push(p);
    }
    if let Some(b) = &args.bin {
        push("--bin");
        push(b);
    }
    push("--profile");
    push(profile);
    if let Some(t) = &args.target {
        push("--target");
        push(t);
    }
    for f in &args.features {
        push("--features");
        push(f);
    }
    if args.all_features {
        push("--all-features");
    }
    if args.no_default_features {
        push("--no-default-features");
    }
    if args.locked {
        push("--locked");
    }
    if args.frozen {
        push("--frozen");
    }
    if args.offline {
        push("--offline");
    }
    for _ in 0..args.verbose {
        push("--verbose");
    }
    if args.quiet {
        push("--quiet");
    }
    if let Some(c) = args.color {
        push("--color");
        push(c.as_str());
    }
    if let Some(dir) = &args.target_dir {
        v.push("--target-dir".into());
        v.push(dir.into());
    }
    v.extend(args.cargo_args.iter().cloned());
    v
}

/// A bin target cargo built, from its `compiler-artifact` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinArtifact {
    /// Cargo's id of its package.
    pub package_id: PackageId,
    /// Its package's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The bin target's name.
    pub bin: String,
    /// Its root source file.
    pub src_path: PathBuf,
    /// The executable.
    pub executable: PathBuf,
    /// Whether cargo reused it without rebuilding.
    pub fresh: bool,
}

impl BinArtifact {
    /// The package and bin this artifact is, as a [`Selection`].
    pub fn selection(&self) -> Option<Selection> {
        Some(Selection {
            package_id: self.package_id.clone(),
            package_name: package_name(&self.package_id.repr)?,
            bin_name: self.bin.clone(),
            src_path: self.src_path.clone(),
            manifest_dir: self.manifest_path.parent()?.to_path_buf(),
        })
    }
}

/// The package name in a cargo package id: `path+file:///w/dir#name@1.0`, or
/// `path+file:///w/name#1.0` when the name is the last path segment (cargo's package id spec),
/// or `name 1.0 (source)` from cargo before 1.77.
pub fn package_name(id: &str) -> Option<String> {
    let name = match id.rsplit_once('#') {
        Some((url, fragment)) => match fragment.split_once('@') {
            Some((name, _version)) => name,
            None => url.trim_end_matches('/').rsplit('/').next()?,
        },
        None => id.split(' ').next()?,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// How cargo's messages are read: no timeout (a build takes what it takes; Ctrl-C stops it),
/// and lines up to 64 MiB (cargo's longest are build-script reports).
const MESSAGE_LIMITS: LineLimits = LineLimits {
    max_line: 64 * 1024 * 1024,
    timeout: None,
};

/// How a build ended.
#[derive(Debug)]
pub enum BuildOutcome {
    /// Cargo succeeded; the bin targets it built (of the packages it was asked to build: a
    /// dependency's bins are never built), in message order.
    Built(Vec<BinArtifact>),
    /// Cargo failed with this error (it has printed its diagnostics).
    Failed(Error),
}

/// Runs `cargo <argv>`, reads its messages to the end and waits for it.
///
/// Its stderr is inherited, so cargo's progress reaches the user while it runs. It starts in a
/// process group of its own: a signal to `pack` then reaches cargo's build scripts and rustc
/// too.
pub fn run_build(cargo: &OsStr, argv: &[OsString]) -> Result<BuildOutcome> {
    let display = display_command(cargo, argv);
    let mut bins = Vec::new();
    let ended = lines::run(
        crate::signals::own_group(Command::new(cargo).args(argv)),
        MESSAGE_LIMITS,
        crate::signals::Registered::child,
        |line| {
            // A no-op build reports every unit of the dependency graph; only the artifacts with
            // an executable are worth parsing.
            if !(contains(line, b"\"reason\":\"compiler-artifact\"")
                && contains(line, b"\"executable\":\""))
            {
                return Ok(());
            }
            match serde_json::from_slice::<Message>(line) {
                Ok(Message::CompilerArtifact(a)) if a.target.is_bin() => {
                    if let Some(exe) = a.executable {
                        bins.push(BinArtifact {
                            package_id: a.package_id,
                            manifest_path: a.manifest_path.into_std_path_buf(),
                            bin: a.target.name,
                            src_path: a.target.src_path.into_std_path_buf(),
                            executable: exe.into_std_path_buf(),
                            fresh: a.fresh,
                        });
                    }
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(std::io::Error::other(e)),
            }
        },
    )
    .map_err(|e| match e {
        LinesError::Spawn { source } | LinesError::Wait { source } => Error::Spawn {
            command: display.clone(),
            source,
        },
        LinesError::TimedOut { .. } => Error::Messages {
            command: display.clone(),
            source: std::io::Error::other(e),
        },
    })?;
    if !ended.status.success() {
        return Ok(BuildOutcome::Failed(Error::Build {
            command: display,
            status: ended.status.to_string(),
        }));
    }
    if let Some(why) = ended.interrupted {
        return Err(Error::Messages {
            command: display,
            source: match why {
                Interrupted::Caller(e) | Interrupted::Read(e) => e,
                Interrupted::LineTooLong { limit } => {
                    std::io::Error::other(format!("a message line is longer than {limit} bytes"))
                }
            },
        });
    }
    Ok(BuildOutcome::Built(bins))
}

/// The artifact of `sel`'s bin target among `bins`.
pub fn artifact_of<'a>(
    bins: &'a [BinArtifact],
    sel: &Selection,
    command: &str,
) -> Result<&'a BinArtifact> {
    bins.iter()
        .rev()
        .find(|a| a.package_id == sel.package_id && a.bin == sel.bin_name)
        .ok_or_else(|| Error::NoArtifact {
            command: command.to_owned(),
            bin: sel.bin_name.clone(),
            package: sel.package_name.clone(),
        })
}

/// A command line for messages.
pub fn display_command(program: &OsStr, argv: &[OsString]) -> String {
    let mut s = program.to_string_lossy().into_owned();
    for a in argv {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Whether the `Cargo.toml` at `path` declares a package (a virtual workspace's does not).
pub fn declares_package(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("package"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{self, Command as Cmd};
    use cargo_metadata::MetadataCommand;

    /// A virtual workspace with members `lib` (no bin), `b` and `c` (a bin each), whose root
    /// `[workspace]` table adds `extra`; returns its directory.
    fn workspace(extra: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            format!("[workspace]\nresolver = \"3\"\nmembers = [\"lib\", \"b\", \"c\"]\n{extra}"),
        )
        .unwrap();
        for (name, file) in [("lib", "lib.rs"), ("b", "main.rs"), ("c", "main.rs")] {
            std::fs::create_dir_all(root.join(name).join("src")).unwrap();
            std::fs::write(
                root.join(name).join("Cargo.toml"),
                format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n"),
            )
            .unwrap();
            std::fs::write(root.join(name).join("src").join(file), "fn main() {}\n").unwrap();
        }
        dir
    }

    /// What pack selects without -p, from `cargo metadata` of the real cargo for `manifest`.
    fn chosen(manifest: &Path, bin: Option<&str>) -> Result<String> {
        let meta = MetadataCommand::new()
            .cargo_path(airflow_process::toolchain::cargo())
            .manifest_path(manifest)
            .no_deps()
            .exec()
            .unwrap();
        select(&meta, None, bin, Some(manifest)).map(|s| s.package_name)
    }

    /// Without -p, pack takes what cargo builds: the default members, and among them the one
    /// with a bin.
    #[test]
    fn without_p_the_default_members_decide_as_for_cargo() {
        let ws = workspace("default-members = [\"lib\", \"b\"]\n");
        let root = ws.path().join("Cargo.toml");
        assert_eq!(chosen(&root, None).unwrap(), "b");
        // In a member's directory (or with its manifest), cargo builds that member.
        assert_eq!(chosen(&ws.path().join("c/Cargo.toml"), None).unwrap(), "c");

        let ws = workspace("default-members = [\"b\", \"c\"]\n");
        let root = ws.path().join("Cargo.toml");
        let e = chosen(&root, None).unwrap_err();
        assert!(
            matches!(&e, Error::DefaultMembers { defaults, with_bins, .. }
                if defaults == &["b", "c"] && with_bins == &["b", "c"]),
            "{e:?}"
        );
        assert!(
            crate::error::render(&e).ends_with("choose the package to pack with -p b or -p c"),
            "{}",
            crate::error::render(&e)
        );
        // --bin narrows the default members to the one that has it.
        assert_eq!(chosen(&root, Some("c")).unwrap(), "c");

        // Without default-members, cargo builds every member: -p is needed as before.
        let ws = workspace("");
        let e = chosen(&ws.path().join("Cargo.toml"), None).unwrap_err();
        assert!(matches!(e, Error::VirtualWorkspace { .. }), "{e:?}");
    }

    fn pack(args: &[&str]) -> PackArgs {
        let mut argv = vec!["cargo-airflow", "pack"];
        argv.extend_from_slice(args);
        match cli::parse(argv).unwrap().command {
            Cmd::Pack(p) => *p,
            _ => unreachable!(),
        }
    }

    fn argv(args: &[&str]) -> Vec<String> {
        let p = pack(args);
        let profile = p.profile().unwrap();
        build_argv(&p, &profile)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn default_build_is_release() {
        assert_eq!(
            argv(&[]),
            [
                "build",
                "--message-format=json-render-diagnostics",
                "--profile",
                "release"
            ]
        );
    }

    #[test]
    fn every_cargo_flag_maps_to_cargo() {
        let v = argv(&[
            "--manifest-path",
            "/w/Cargo.toml",
            "-p",
            "example",
            "--bin",
            "ex",
            "--profile",
            "dev",
            "--target",
            "x86_64-unknown-linux-gnu",
            "-F",
            "a,b",
            "--features",
            "c",
            "--all-features",
            "--no-default-features",
            "--locked",
            "--frozen",
            "--offline",
            "--target-dir",
            "/t",
            "-vv",
            "--color",
            "never",
            "--",
            "--config",
            "x=1",
        ])
        .join(" ");
        assert_eq!(
            v,
            "build --message-format=json-render-diagnostics --manifest-path /w/Cargo.toml \
             --package example --bin ex --profile dev --target x86_64-unknown-linux-gnu \
             --features a,b --features c --all-features --no-default-features --locked --frozen \
             --offline --verbose --verbose --color never --target-dir /t --config x=1"
        );
    }

    #[test]
    fn quiet_is_passed_on() {
        assert!(argv(&["-q"]).contains(&"--quiet".to_owned()));
    }

    #[test]
    fn package_names_come_from_package_ids() {
        for (id, name) in [
            ("path+file:///w/example-bundle#0.1.0", "example-bundle"),
            ("path+file:///w/dir#mini-bundle@0.2.0", "mini-bundle"),
            (
                "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
                "serde",
            ),
            ("example 0.1.0 (path+file:///w/example)", "example"),
        ] {
            assert_eq!(package_name(id).as_deref(), Some(name), "{id}");
        }
    }
}
