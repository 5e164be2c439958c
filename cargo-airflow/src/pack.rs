//! `cargo airflow pack`: resolve the inputs, build (or take) the executable, introspect it,
//! validate its metadata, and hand the bundle to [`crate::output`] for the atomic write.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use airflow_bundle::manifest::MetadataWarning;
use airflow_bundle::{BuildInfo, Manifest, Metadata, SourceEntry};
use sha2::Digest;

use crate::cargo_build::{self, Selection};
use crate::cli::PackArgs;
use crate::embedded::{self, CrateAtHand, MetadataSource};
use crate::error::{Error, Result};
use crate::output::{
    OpenedExecutable, check_output, default_output, looks_like_bundle, write_atomically,
};
use crate::summary::PackSummary;

/// The packer's name and version, recorded in the manifest's `build.packer`.
pub const PACKER: &str = concat!("cargo-airflow ", env!("CARGO_PKG_VERSION"));

/// The largest root source file embedded (a guard against pointing `--source` at a huge file).
pub const MAX_SOURCE_LEN: u64 = 64 * 1024 * 1024;

/// Status lines while packing go through this; the CLI prints them cargo-style to stderr.
pub trait Progress {
    /// A status line such as `Building example-bundle`.
    fn status(&mut self, verb: &str, message: &str);
    /// A warning about the metadata.
    fn warning(&mut self, message: &str);
}

/// Reads the root source file, refusing absurd sizes.
pub fn read_source(path: &Path) -> Result<Vec<u8>> {
    let file = airflow_bundle::read::open_regular(path)
        .map_err(|e| Error::io("cannot read the source file", path, e))?;
    let mut data = Vec::new();
    file.take(MAX_SOURCE_LEN + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::io("cannot read the source file", path, e))?;
    if data.len() as u64 > MAX_SOURCE_LEN {
        return Err(Error::io(
            "cannot embed the source file",
            path,
            io::Error::other(format!(
                "it is over {MAX_SOURCE_LEN} bytes, which no root source file is; check the path (the bundle's main.rs)"
            )),
        ));
    }
    Ok(data)
}

/// The display name recorded in the manifest's `source`: the file's base name.
pub fn source_basename(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "main.rs".to_owned())
}

/// The manifest bytes for `metadata`. The source region holds one file, `source`: it is indexed
/// under `sources` / `entrypoint_path` (Airflow 3.4's Dag code view shows it for native dags).
pub fn manifest_for(
    metadata: Metadata,
    source_name: String,
    source: &[u8],
    build: BuildInfo,
) -> String {
    let mut manifest = Manifest::new(metadata, source_name.clone(), Some(build));
    if !source.is_empty() {
        manifest.sources = vec![SourceEntry {
            path: source_name.clone(),
            offset: 0,
            length: source.len() as u64,
            sha256: airflow_bundle::footer::hex(sha2::Sha256::digest(source).as_slice()),
        }];
        manifest.entrypoint_path = Some(source_name);
    }
    manifest.to_yaml()
}

/// Formats a metadata warning as the CLI prints it (after `warning: `).
pub fn warning_text(w: &MetadataWarning) -> String {
    w.to_string()
}

/// The inputs of a pack, once resolved (and built).
#[derive(Debug)]
struct Inputs {
    /// The selected package and bin, when a cargo project was involved.
    selection: Option<Selection>,
    /// The executable to pack.
    executable: PathBuf,
    /// The root source file to embed.
    source_path: PathBuf,
    /// The bin name (for the default output path).
    bin_name: String,
    /// The target directory (for the default output path), when known.
    target_dir: Option<PathBuf>,
    /// The triple the executable was built for, when the build said so.
    triple: Option<String>,
    /// The workspace, when `--executable` needed `cargo metadata` (kept to find the crate of the
    /// executable's record without running it again).
    workspace: Option<cargo_metadata::Metadata>,
}

/// Runs `cargo airflow pack`.
pub fn run(args: &PackArgs, progress: &mut dyn Progress) -> Result<PackSummary> {
    let profile = args.profile().map_err(Error::Usage)?;
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    // Checked before cargo runs, so that cargo and cargo metadata do not both report it.
    if let Some(m) = &args.manifest_path
        && !cwd.join(m).is_file()
    {
        return Err(Error::ManifestPath(m.clone()));
    }
    // `rustc -vV` runs alongside cargo; its answer is only needed without --target.
    let host = args
        .target
        .is_none()
        .then(|| std::thread::spawn(cargo_build::host_triple));

    let inputs = match &args.executable {
        Some(exe) => resolve_prebuilt(args, exe, &cwd)?,
        None => build(args, &profile, &cwd, progress)?,
    };
    // Appending to a bundle would nest its trailer inside the new binary region.
    if looks_like_bundle(&inputs.executable) {
        return Err(Error::AlreadyBundle(inputs.executable.clone()));
    }
    // Opened before anything reads or runs it: the bytes packed are the bytes that answered.
    let opened = OpenedExecutable::open(&inputs.executable)?;
    let record = embedded::read_record(&inputs.executable)?;
    let triple = match (&args.target, inputs.triple.clone(), host) {
        (Some(t), _, _) => cargo_build::target_dir_name(t),
        (None, Some(t), _) => t,
        // A prebuilt executable knows its own target when airflow-build recorded it.
        (None, None, _) if record.is_some() => record
            .as_ref()
            .map(|r| r.target.clone())
            .unwrap_or_default(),
        (None, None, Some(h)) => h.join().unwrap_or_else(|_| {
            Err(Error::HostTriple(
                "cannot determine the host triple (the rustc -vV thread failed); pass --target"
                    .into(),
            ))
        })?,
        (None, None, None) => cargo_build::host_triple()?,
    };
    let output = match &args.output {
        Some(o) => o.clone(),
        None => {
            let dir = inputs.target_dir.clone().ok_or_else(|| {
                Error::Selection(
                    "cannot choose a default output path outside a cargo project; pass -o/--output"
                        .into(),
                )
            })?;
            default_output(&dir, &triple, &inputs.bin_name)
        }
    };
    // Every input the build read (the record lists them) is protected, not only the two the
    // pack itself reads: `-o Cargo.toml` must not overwrite the crate.
    let krate = record
        .as_ref()
        .and_then(|r| crate_at_hand(args, &inputs, r));
    let build_inputs = build_inputs(&inputs, krate.as_ref(), record.as_ref());
    let mut protected: Vec<(&'static str, &Path)> = vec![
        ("source file", inputs.source_path.as_path()),
        ("executable", inputs.executable.as_path()),
    ];
    protected.extend(
        build_inputs
            .iter()
            .map(|p| ("input of the build", p.as_path())),
    );
    check_output(&output, &protected)?;

    // Introspect (or read the embedded metadata), check freshness, validate.
    let executable = &inputs.executable;
    if args.verbose > 0 {
        progress.status(
            "Reading",
            &format!("the dags of `{}`", executable.display()),
        );
    }
    let (metadata, metadata_source) =
        embedded::metadata(executable, &inputs.bin_name, record.as_ref())?;
    opened.check_unchanged()?;
    if args.verbose > 0 {
        let how = match metadata_source {
            MetadataSource::Binary => "by running it with `--airflow-metadata`",
            MetadataSource::Sidecar => "from the sidecar metadata embedded at build time",
            MetadataSource::BinaryAndSidecar => {
                "by running it; it agrees with the embedded sidecar metadata"
            }
        };
        progress.status("Read", &format!("metadata {how}"));
    }
    match (&record, args.no_freshness_check) {
        (Some(_), true) => progress.warning(&format!(
            "not checking that {} is fresh (--no-freshness-check)",
            executable.display()
        )),
        // Nothing to check, and the user said so.
        (None, true) => {}
        (Some(r), false) => {
            embedded::check_fresh(executable, r, krate.as_ref(), args.executable.is_some())?
        }
        // A prebuilt binary without a record: nothing says which sources it was built from.
        (None, false) if args.executable.is_some() => {
            return Err(Error::NoRecord {
                path: executable.clone(),
            });
        }
        // Cargo has just built it, so it is fresh; but the bundle records no source digest.
        (None, false) => progress.warning(&format!(
            "{} carries no airflow-build record: the bundle records no source digest, and \
             `pack --executable` cannot check its freshness later; add `airflow-build` to \
             [build-dependencies] and call `airflow_build::build()` from build.rs",
            executable.display()
        )),
    }
    let warnings: Vec<String> = metadata
        .validate()
        .map_err(|source| Error::BadMetadata {
            path: executable.clone(),
            source,
        })?
        .iter()
        .map(warning_text)
        .collect();
    for w in &warnings {
        progress.warning(w);
    }
    let problems = crate::stubs::check(&metadata);
    if !problems.is_empty() {
        return Err(Error::Declarations {
            path: executable.clone(),
            problems,
        });
    }

    // Write.
    let source = read_source(&inputs.source_path)?;
    let profile_recorded = if args.executable.is_some() && args.profile.is_none() && !args.release {
        // Build scripts see `debug` or `release`, the profile the executable's code was built as.
        record
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), |r| r.profile.clone())
    } else {
        profile
    };
    let build = BuildInfo {
        target: triple.clone(),
        profile: profile_recorded.clone(),
        packer: PACKER.to_owned(),
        source_digest: record.as_ref().map(|r| r.inputs.source.clone()),
        env_signature: record.as_ref().map(|r| r.env_signature.clone()),
    };
    let dags = metadata
        .dags
        .iter()
        .map(|(id, d)| (id.clone(), d.tasks.clone()))
        .collect();
    let tasks = metadata.task_count();
    let manifest = manifest_for(
        metadata,
        source_basename(&inputs.source_path),
        &source,
        build,
    );
    let written = write_atomically(&output, &opened, &source, manifest.as_bytes())?;
    let stubs = if args.no_stubs {
        None
    } else {
        let (path, rendered) = crate::stubs::write_for(&output, None)?;
        for w in &rendered.skipped {
            progress.warning(w);
        }
        if let Some(p) = &path {
            progress.status("Wrote", &format!("python stubs {}", p.display()));
        }
        path.map(|p| absolute(&cwd, &p))
    };
    Ok(PackSummary {
        bundle: absolute(&cwd, &output),
        package: inputs.selection.as_ref().map(|s| s.package_name.clone()),
        bin: inputs.bin_name.clone(),
        executable: absolute(&cwd, executable),
        target: triple,
        profile: profile_recorded,
        dags,
        tasks,
        size: written.size,
        binary_sha256: airflow_bundle::footer::hex(&written.trailer.binary_sha256),
        fresh: written.fresh,
        metadata_source,
        source_digest: record.as_ref().map(|r| r.inputs.source.clone()),
        warnings,
        stubs,
    })
}

/// The files a build of the package read: every file of the airflow-build record (relative to
/// the package directory; the workspace lock file where the workspace says it is), and the
/// package's `Cargo.toml` when nothing better is known.
fn build_inputs(
    inputs: &Inputs,
    krate: Option<&CrateAtHand>,
    record: Option<&airflow_bundle::record::Record>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dir = krate
        .map(|k| k.manifest_dir.clone())
        .or_else(|| inputs.selection.as_ref().map(|s| s.manifest_dir.clone()));
    if let Some(dir) = &dir {
        out.push(dir.join("Cargo.toml"));
        if let Some(r) = record {
            for f in &r.files {
                if f.path == airflow_bundle::record::WORKSPACE_LOCK_PATH {
                    if let Some(ws) = &inputs.workspace {
                        out.push(ws.workspace_root.join("Cargo.lock").into_std_path_buf());
                    }
                } else {
                    out.push(dir.join(&f.path));
                }
            }
        }
    }
    out
}

/// The workspace package the record names, to recompute its digests. In build mode this is the
/// package just built; with `--executable` it is looked up by name in the workspace.
fn crate_at_hand(
    args: &PackArgs,
    inputs: &Inputs,
    record: &airflow_bundle::record::Record,
) -> Option<CrateAtHand> {
    let from_selection = inputs.selection.as_ref().map(|s| CrateAtHand {
        package: s.package_name.clone(),
        manifest_dir: s.manifest_dir.clone(),
    });
    if args.executable.is_none()
        || from_selection
            .as_ref()
            .is_some_and(|k| k.package == record.package)
    {
        return from_selection;
    }
    let loaded;
    let meta = match &inputs.workspace {
        Some(m) => m,
        None => {
            loaded = cargo_build::load_metadata(args).ok()?;
            &loaded
        }
    };
    meta.workspace_packages()
        .into_iter()
        .find(|p| p.name.as_str() == record.package)
        .and_then(|p| {
            Some(CrateAtHand {
                package: p.name.to_string(),
                manifest_dir: p.manifest_path.parent()?.to_path_buf().into_std_path_buf(),
            })
        })
}

/// `--executable`: no build; the source comes from `--source` or the package's bin target.
fn resolve_prebuilt(args: &PackArgs, exe: &Path, cwd: &Path) -> Result<Inputs> {
    if !args.cargo_args.is_empty() {
        return Err(Error::Usage(
            "extra cargo arguments after `--` have no effect with --executable (nothing is built)"
                .into(),
        ));
    }
    fs::metadata(exe).map_err(|e| Error::io("cannot read --executable", exe, e))?;
    let explicit_target_dir = args.target_dir.as_ref().map(|d| cwd.join(d));
    let need_metadata =
        args.source.is_none() || (args.output.is_none() && explicit_target_dir.is_none());
    // The record names the package that built the executable: that package's source is the one
    // to embed, whatever directory pack runs in.
    let built_by = embedded::read_record(exe)?.map(|r| r.package);
    if let (Some(p), Some(spec)) = (&built_by, &args.package)
        && spec.split('@').next() != Some(p.as_str())
    {
        return Err(Error::Selection(format!(
            "{} was built from package `{p}` (its airflow-build record says so), not `{spec}`; \
             pass `-p {p}` or leave -p out",
            exe.display()
        )));
    }
    let package = built_by.as_deref().or(args.package.as_deref());
    let current = cargo_build::current_manifest(args.manifest_path.as_deref(), cwd);
    let mut workspace = None;
    let selection = if need_metadata {
        let bin = args.bin.clone().or_else(|| bin_name_of(exe));
        let selected = cargo_build::load_metadata(args).and_then(|m| {
            let select =
                |bin: Option<&str>| cargo_build::select(&m, package, bin, current.as_deref());
            let selected = select(bin.as_deref()).or_else(|e| {
                // A renamed copy of the executable: the package's only bin, if it has one.
                match args.bin {
                    None => select(None),
                    Some(_) => Err(e),
                }
            });
            workspace = Some(m);
            selected
        });
        match selected {
            Ok(s) => Some(s),
            Err(e) if args.source.is_none() => {
                let why = match &built_by {
                    Some(p) => format!(
                        "it was built from package `{p}` (its airflow-build record says so), and {}; \
                         run pack in that package's workspace, pass --manifest-path with its \
                         Cargo.toml, or pass --source PATH",
                        nested(&e)
                    ),
                    None => format!("{}; pass --source PATH", nested(&e)),
                };
                return Err(Error::Selection(format!(
                    "cannot infer the root source file of {}: {why}",
                    exe.display()
                )));
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let source_path = match (&args.source, &selection) {
        (Some(s), _) => s.clone(),
        (None, Some(sel)) => sel.src_path.clone(),
        (None, None) => {
            return Err(Error::Selection(format!(
                "cannot infer the root source file of {}; pass --source PATH",
                exe.display()
            )));
        }
    };
    fs::metadata(&source_path)
        .map_err(|e| Error::io("cannot read the source file", &source_path, e))?;
    if let Some(out) = &args.output {
        check_output(
            out,
            &[("source file", source_path.as_path()), ("executable", exe)],
        )?;
    }
    let bin_name = match &selection {
        Some(sel) => sel.bin_name.clone(),
        None => bin_name_of(exe).unwrap_or_else(|| "bundle".into()),
    };
    let target_dir = explicit_target_dir.or_else(|| {
        workspace
            .as_ref()
            .map(|m| m.target_directory.clone().into_std_path_buf())
    });
    Ok(Inputs {
        selection,
        executable: exe.to_owned(),
        source_path,
        bin_name,
        target_dir,
        triple: None,
        workspace,
    })
}

/// Build mode: `cargo metadata` to select the package and bin, `cargo build` for the executable.
///
/// `cargo metadata` normally runs alongside the build, so a no-op pack costs little more than a
/// no-op `cargo build`; the build is stopped if the selection fails. When `-o` names an existing
/// file that is not a bundle (it could be an input, such as the source file), the selection is
/// resolved and the output checked *before* cargo starts. Either way the output is checked
/// against every input again before anything is written.
fn build(
    args: &PackArgs,
    profile: &str,
    cwd: &Path,
    progress: &mut dyn Progress,
) -> Result<Inputs> {
    let cargo = cargo_build::cargo_program();
    let argv = cargo_build::build_argv(args, profile);
    if args.verbose > 0 {
        progress.status(
            "Running",
            &format!("`{}`", cargo_build::display_command(&cargo, &argv)),
        );
    }
    let current = cargo_build::current_manifest(args.manifest_path.as_deref(), cwd);
    let select = |m: Result<cargo_metadata::Metadata>| {
        m.and_then(|m| {
            cargo_build::select(
                &m,
                args.package.as_deref(),
                args.bin.as_deref(),
                current.as_deref(),
            )
        })
    };
    let check_first = args
        .output
        .as_deref()
        .filter(|o| o.exists() && !looks_like_bundle(o));
    let (sel, child) = match check_first {
        Some(out) => {
            let sel = select(cargo_build::load_metadata(args))?;
            let source = args.source.as_deref().unwrap_or(&sel.src_path);
            check_output(out, &[("source file", source)])?;
            (sel, cargo_build::spawn_build(&cargo, &argv)?)
        }
        None => std::thread::scope(|scope| {
            let meta = scope.spawn(|| cargo_build::load_metadata(args));
            let child = cargo_build::spawn_build(&cargo, &argv)?;
            let meta = meta.join().unwrap_or_else(|_| {
                Err(Error::Metadata {
                    message: "the cargo metadata thread failed".into(),
                    hint: "run pack again",
                })
            });
            match select(meta) {
                Ok(sel) => Ok((sel, child)),
                Err(e) => {
                    child.abort();
                    Err(e)
                }
            }
        })?,
    };
    let built = child.finish(&sel)?;
    let target_dir = args
        .target_dir
        .as_ref()
        .map(|d| cwd.join(d))
        .unwrap_or_else(|| sel.target_directory.clone());
    let triple = cargo_build::triple_from_artifact(&target_dir, &built.executable);
    let source_path = args.source.clone().unwrap_or_else(|| sel.src_path.clone());
    fs::metadata(&source_path)
        .map_err(|e| Error::io("cannot read the source file", &source_path, e))?;
    Ok(Inputs {
        bin_name: sel.bin_name.clone(),
        selection: Some(sel),
        executable: built.executable,
        source_path,
        target_dir: Some(target_dir),
        triple,
        workspace: None,
    })
}

/// An error's text for nesting in another that gives its own advice (no second, contradicting
/// hint).
fn nested(e: &Error) -> String {
    match e {
        Error::Metadata { message, .. } => format!("cannot read the cargo workspace: {message}"),
        other => other.to_string(),
    }
}

/// The bin name an executable's file name implies (`foo` or `foo.exe` → `foo`).
pub fn bin_name_of(exe: &Path) -> Option<String> {
    let name = exe.file_name()?.to_string_lossy().into_owned();
    Some(name.strip_suffix(".exe").map(str::to_owned).unwrap_or(name))
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        cwd.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_output_paths() {
        let t = Path::new("/w/target");
        assert_eq!(
            default_output(t, "x86_64-unknown-linux-gnu", "ex"),
            Path::new("/w/target/airflow/x86_64-unknown-linux-gnu/ex")
        );
        assert_eq!(
            default_output(t, "x86_64-pc-windows-msvc", "ex"),
            Path::new("/w/target/airflow/x86_64-pc-windows-msvc/ex.exe")
        );
        assert_eq!(
            default_output(t, "aarch64-pc-windows-gnullvm", "ex"),
            Path::new("/w/target/airflow/aarch64-pc-windows-gnullvm/ex.exe")
        );
        assert_eq!(bin_name_of(Path::new("a/b.exe")).as_deref(), Some("b"));
        assert_eq!(bin_name_of(Path::new("a/b")).as_deref(), Some("b"));
    }

    #[test]
    fn packer_names_itself() {
        assert_eq!(
            PACKER,
            format!("cargo-airflow {}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(source_basename(Path::new("/a/src/main.rs")), "main.rs");
    }
}
