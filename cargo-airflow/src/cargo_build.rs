//! Resolving the package and binary with `cargo metadata`, and building it with `cargo build`.
//!
//! The executable is found from cargo's `compiler-artifact` message for the chosen bin target,
//! never by guessing paths. Cargo's stderr is inherited, so its progress and diagnostics stream
//! to the user; its stdout carries the JSON messages this module reads.

use std::ffi::{OsStr, OsString};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cargo_metadata::{Message, Metadata, MetadataCommand, Package, PackageId, Target};

use crate::cli::PackArgs;
use crate::error::{Error, Result};

/// The cargo program: `$CARGO` (set by cargo for its subcommands), else `cargo`.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "cargo".into())
}

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
    /// The workspace's target directory, as cargo metadata reports it.
    pub target_directory: PathBuf,
    /// The directory holding the package's `Cargo.toml` (its inputs are digested from here).
    pub manifest_dir: PathBuf,
}

/// Runs `cargo metadata --no-deps` for the workspace the pack flags point at.
pub fn load_metadata(args: &PackArgs) -> Result<Metadata> {
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo_program()).no_deps();
    if let Some(path) = &args.manifest_path {
        cmd.manifest_path(path);
    }
    let mut other = Vec::new();
    for (on, flag) in [
        (args.locked, "--locked"),
        (args.frozen, "--frozen"),
        (args.offline, "--offline"),
    ] {
        if on {
            other.push(flag.to_owned());
        }
    }
    cmd.other_options(other);
    cmd.exec().map_err(|e| {
        let what = match &args.manifest_path {
            Some(p) => format!("`cargo metadata --manifest-path {}`", p.display()),
            None => "`cargo metadata` in the current directory".to_owned(),
        };
        Error::Metadata(format!(
            "{what} failed: {}; run it inside a cargo project or pass --manifest-path",
            one_line(&e.to_string())
        ))
    })
}

/// Chooses the package (`-p`, else the root package, else the only workspace member with the
/// requested bin) and its bin target (`--bin`, else `default-run`, else the only bin).
pub fn select(meta: &Metadata, package: Option<&str>, bin: Option<&str>) -> Result<Selection> {
    let members = meta.workspace_packages();
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
                    return Err(Error::Selection(format!(
                        "package `{spec}` is not a member of the workspace at {}; members: {}",
                        meta.workspace_root,
                        names(&members)
                    )));
                }
                _ => {
                    return Err(Error::Selection(format!(
                        "package spec `{spec}` matches several packages; use name@version"
                    )));
                }
            }
        }
        None => match meta.root_package() {
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
                        return Err(Error::Selection(format!(
                            "{} is a virtual workspace; choose the package to pack with -p (packages with binaries: {})",
                            meta.workspace_root,
                            names(&bins)
                        )));
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
        target_directory: meta.target_directory.clone().into_std_path_buf(),
        manifest_dir: pkg
            .manifest_path
            .parent()
            .map(|d| d.to_path_buf().into_std_path_buf())
            .unwrap_or_default(),
    })
}

fn select_bin<'a>(pkg: &'a Package, bin: Option<&str>) -> Result<&'a Target> {
    let bins: Vec<&Target> = pkg.targets.iter().filter(|t| t.is_bin()).collect();
    let list = || {
        bins.iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = bin {
        return bins
            .iter()
            .copied()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                Error::Selection(format!(
                    "package `{}` has no bin target named `{name}`; its bins: {}",
                    pkg.name,
                    if bins.is_empty() {
                        "none".to_owned()
                    } else {
                        list()
                    }
                ))
            });
    }
    if let Some(default) = &pkg.default_run
        && let Some(t) = bins.iter().copied().find(|t| &t.name == default)
    {
        return Ok(t);
    }
    match bins.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::Selection(format!(
            "package `{}` has no bin target; a bundle is an executable (add src/main.rs)",
            pkg.name
        ))),
        _ => Err(Error::Selection(format!(
            "package `{}` has several bin targets ({}); choose one with --bin",
            pkg.name,
            list()
        ))),
    }
}

fn matches_spec(p: &Package, spec: &str) -> bool {
    match spec.split_once('@') {
        Some((name, version)) => p.name.as_str() == name && p.version.to_string() == version,
        None => p.name.as_str() == spec,
    }
}

fn names(pkgs: &[&Package]) -> String {
    if pkgs.is_empty() {
        return "none".to_owned();
    }
    pkgs.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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

/// What a successful build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The executable cargo reported for the bin target.
    pub executable: PathBuf,
    /// Whether cargo reused it without rebuilding.
    pub fresh: bool,
}

/// A running `cargo build` whose stdout (cargo's JSON messages) has not been read yet.
///
/// Its stderr is inherited, so cargo's progress reaches the user while it runs.
#[derive(Debug)]
pub struct BuildChild {
    child: Child,
    display: String,
    _registered: crate::signals::ChildGuard,
}

/// Starts `cargo <argv>`.
pub fn spawn_build(cargo: &OsStr, argv: &[OsString]) -> Result<BuildChild> {
    let display = display_command(cargo, argv);
    let child = Command::new(cargo)
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| Error::Spawn {
            command: display.clone(),
            source,
        })?;
    let _registered = crate::signals::ChildGuard::new(child.id());
    Ok(BuildChild {
        child,
        display,
        _registered,
    })
}

impl BuildChild {
    /// Stops the build (used when the package selection fails while cargo runs).
    pub fn abort(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Reads cargo's messages to the end, waits for it, and returns the executable of `sel`'s
    /// bin target from its `compiler-artifact` message.
    pub fn finish(mut self, sel: &Selection) -> Result<Built> {
        let display = self.display;
        let mut found: Option<Built> = None;
        let mut read_error = None;
        if let Some(stdout) = self.child.stdout.take() {
            let mut reader = BufReader::new(stdout);
            for message in Message::parse_stream(&mut reader) {
                match message {
                    Ok(Message::CompilerArtifact(a)) => {
                        if a.package_id == sel.package_id
                            && a.target.is_bin()
                            && a.target.name == sel.bin_name
                            && let Some(exe) = a.executable
                        {
                            found = Some(Built {
                                executable: exe.into_std_path_buf(),
                                fresh: a.fresh,
                            });
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                }
            }
            // Never leave cargo blocked on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
        let status = self.child.wait().map_err(|source| Error::Spawn {
            command: display.clone(),
            source,
        })?;
        if !status.success() {
            return Err(Error::Build {
                command: display,
                status: status.to_string(),
            });
        }
        if let Some(e) = read_error {
            return Err(Error::NoArtifact(format!(
                "cannot read cargo's JSON messages from `{display}`: {e}"
            )));
        }
        found.ok_or_else(|| {
            Error::NoArtifact(format!(
                "`{display}` succeeded but reported no executable for bin `{}` of package `{}`; \
                 check the extra cargo arguments, or pack a prebuilt binary with --executable",
                sel.bin_name, sel.package_name
            ))
        })
    }
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

/// The host triple from `$RUSTC -vV` (or `rustc -vV`).
pub fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "rustc".into());
    let display = format!("{} -vV", rustc.to_string_lossy());
    let out = Command::new(&rustc)
        .arg("-vV")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| Error::Spawn {
            command: display.clone(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_host(&text).ok_or_else(|| {
        Error::HostTriple(format!(
            "`{display}` printed no `host:` line; pass --target explicitly"
        ))
    })
}

/// The `host:` line of `rustc -vV` output.
pub fn parse_host(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The name cargo uses for `--target`'s directory: the triple, or a JSON spec's file stem.
pub fn target_dir_name(target: &str) -> String {
    if target.ends_with(".json") {
        Path::new(target)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| target.to_owned())
    } else {
        target.to_owned()
    }
}

/// The triple an artifact was built for, when its path is `<target-dir>/<triple>/<profile>/<file>`
/// (cargo's layout for an explicit or configured `build.target`).
pub fn triple_from_artifact(target_dir: &Path, executable: &Path) -> Option<String> {
    let rel = executable.strip_prefix(target_dir).ok()?;
    let parts: Vec<&OsStr> = rel.iter().collect();
    match parts.as_slice() {
        [triple, _profile, _file] => Some(triple.to_string_lossy().into_owned()),
        _ => None,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{self, Command as Cmd};

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
    fn host_line_is_parsed() {
        let out = "rustc 1.91.0 (f8297e351 2025-10-28)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.91.0\n";
        assert_eq!(parse_host(out).as_deref(), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(parse_host("nothing"), None);
    }

    #[test]
    fn triple_comes_from_the_artifact_layout() {
        let t = Path::new("/w/target");
        assert_eq!(
            triple_from_artifact(t, Path::new("/w/target/aarch64-apple-darwin/release/ex"))
                .as_deref(),
            Some("aarch64-apple-darwin")
        );
        assert_eq!(
            triple_from_artifact(t, Path::new("/w/target/release/ex")),
            None
        );
        assert_eq!(triple_from_artifact(t, Path::new("/elsewhere/ex")), None);
        assert_eq!(target_dir_name("specs/my-target.json"), "my-target");
        assert_eq!(
            target_dir_name("x86_64-pc-windows-msvc"),
            "x86_64-pc-windows-msvc"
        );
    }
}
