//! `cargo airflow pack`: resolve the inputs, build (or take) the executable, introspect it,
//! validate its metadata, and hand the bundle to [`crate::bundle_file`] for the atomic write.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use airflow_bundle::record::Record;
use airflow_bundle::sha256::Sha256;
use airflow_bundle::{BuildInfo, Manifest, Metadata, SourceEntry};
use cargo_airflow_report::{MetadataSource, PackReport};

use crate::bundle_file::{OpenedExecutable, looks_like_bundle};
use crate::cargo_build::{self, BuildOutcome, Selection};
use crate::cli::PackArgs;
use crate::embedded::{self, CrateAtHand};
use crate::error::{Error, Result};
use crate::layout::{Layout, Origin};
use crate::output::{self, Kind};
use crate::shell::Shell;
use crate::timings::mark;
use crate::workspace::Workspace;

/// The packer's name and version, recorded in the manifest's `build.packer`.
pub const PACKER: &str = concat!("cargo-airflow ", env!("CARGO_PKG_VERSION"));

/// The largest root source file embedded (a guard against pointing `--source` at a huge file).
pub const MAX_SOURCE_LEN: u64 = 64 * 1024 * 1024;

/// How many dags the `Packed` line names.
const INLINE_DAGS: usize = 3;

/// Reads the root source file, refusing absurd sizes.
fn read_source(path: &Path) -> Result<Vec<u8>> {
    let file = airflow_bundle::read::open_regular(path)
        .map_err(|e| Error::io("cannot read the source file", path, e))?;
    let mut data = Vec::new();
    file.take(MAX_SOURCE_LEN + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::io("cannot read the source file", path, e))?;
    if data.len() as u64 > MAX_SOURCE_LEN {
        return Err(Error::SourceTooLarge {
            path: path.to_owned(),
            limit: MAX_SOURCE_LEN,
        });
    }
    Ok(data)
}

/// The display name recorded in the manifest's `source`: the file's base name.
fn source_basename(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "main.rs".to_owned())
}

/// The manifest for `metadata`. The source region holds one file, `source`: it is indexed
/// under `sources` / `entrypoint_path` (Airflow 3.4's Dag code view shows it for native dags).
fn manifest_for(
    metadata: Metadata,
    source_name: String,
    source: &[u8],
    build: BuildInfo,
) -> Manifest {
    let mut manifest = Manifest::packed(metadata, source_name.clone(), Some(build));
    if !source.is_empty() {
        manifest.sources = vec![SourceEntry {
            path: source_name.clone(),
            offset: 0,
            length: source.len() as u64,
            sha256: airflow_bundle::footer::hex(&Sha256::digest(source)),
        }];
        manifest.entrypoint_path = Some(source_name);
    }
    manifest
}

/// The executable's airflow-build record, as far as it was looked for.
#[derive(Debug)]
enum RecordLookup {
    /// Not read yet (build mode reads it once the build is done).
    NotRead,
    /// Read: the executable carries none.
    Absent,
    /// Read: this one (boxed: a record is large, the other states are empty).
    Found(Box<Record>),
}

impl RecordLookup {
    /// The record, reading it from `executable` unless that was done already.
    fn read(self, executable: &Path) -> Result<Option<Record>> {
        match self {
            RecordLookup::NotRead => embedded::read_record(executable),
            RecordLookup::Absent => Ok(None),
            RecordLookup::Found(r) => Ok(Some(*r)),
        }
    }
}

impl From<Option<Record>> for RecordLookup {
    fn from(read: Option<Record>) -> Self {
        read.map_or(RecordLookup::Absent, |r| RecordLookup::Found(Box::new(r)))
    }
}

/// The inputs of a pack, once resolved (and built).
#[derive(Debug)]
struct Inputs {
    /// The selected package and bin, when a cargo project was involved.
    selection: Option<Selection>,
    /// The executable to pack.
    executable: PathBuf,
    /// Its airflow-build record.
    record: RecordLookup,
    /// The root source file to embed.
    source_path: PathBuf,
    /// The bin name (for the default output path).
    bin_name: String,
}

/// Runs `cargo airflow pack`.
pub fn run(args: &PackArgs, shell: &mut Shell) -> Result<PackReport> {
    let profile = args.profile()?;
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    // Checked before cargo runs, so that cargo and cargo metadata do not both report it.
    if let Some(m) = &args.manifest_path
        && !cwd.join(m).is_file()
    {
        return Err(Error::ManifestPath { path: m.clone() });
    }

    let workspace = Workspace::of(args);
    let mut inputs = match &args.executable {
        Some(exe) => resolve_prebuilt(args, exe, &cwd, &workspace)?,
        None => build(args, &profile, &cwd, &workspace, shell)?,
    };
    mark("executable ready");
    // Appending to a bundle would nest its trailer inside the new binary region.
    if looks_like_bundle(&inputs.executable) {
        return Err(Error::AlreadyBundle {
            path: inputs.executable.clone(),
        });
    }
    // Opened before anything reads or runs it: the bytes packed are the bytes that answered.
    let opened = OpenedExecutable::open(&inputs.executable)?;
    let record =
        std::mem::replace(&mut inputs.record, RecordLookup::NotRead).read(&inputs.executable)?;
    mark("record read");
    let origin = match args.executable {
        Some(_) => Origin::Prebuilt,
        None => Origin::Built(&inputs.executable),
    };
    let layout = Layout::resolve(
        origin,
        args.target.as_deref(),
        args.target_dir.as_deref(),
        &cwd,
        record.as_ref(),
        &workspace,
    )?;
    let output = match &args.output {
        Some(o) => o.clone(),
        None => layout.default_output(&inputs.bin_name)?,
    };
    // Every input the build read (the record lists them) is protected, not only the two the
    // pack itself reads: `-o Cargo.toml` must not overwrite the crate.
    let krate = record
        .as_ref()
        .and_then(|r| crate_at_hand(args, &inputs, r, &workspace));
    let build_inputs = build_inputs(&inputs, krate.as_ref(), record.as_ref(), &workspace);
    let mut protected: Vec<(&'static str, &Path)> = vec![
        ("source file", inputs.source_path.as_path()),
        ("executable", inputs.executable.as_path()),
    ];
    protected.extend(
        build_inputs
            .iter()
            .map(|p| ("input of the build", p.as_path())),
    );
    let dest = output::check(&output, Kind::Bundle, &protected)?;
    // The stub file is checked too before anything is written, so a FIFO or device node at its
    // path fails the pack up front instead of after the bundle is in place.
    let stub_path = crate::stubs::default_path(&output);
    if !args.no_stubs {
        output::check(&stub_path, Kind::Stubs, &protected)?;
    }
    mark("output checked");

    // Which glibc the executable needs, from the very file that will be packed; a bundle that
    // needs more than the declared floor is refused before anything runs or is written.
    let glibc = opened.glibc_needs()?;
    let manifest_dir = inputs
        .selection
        .as_ref()
        .map(|s| s.manifest_dir.as_path())
        .or_else(|| krate.as_ref().map(|k| k.manifest_dir.as_path()));
    let glibc_floor = crate::glibc::floor(args.glibc, manifest_dir)?;
    if let Some(floor) = &glibc_floor {
        let package = inputs
            .selection
            .as_ref()
            .map(|s| s.package_name.as_str())
            .or(record.as_ref().map(|r| r.package.as_str()))
            .unwrap_or(&inputs.bin_name);
        crate::glibc::check(&glibc, floor, package, layout.triple.as_str())?;
    }
    shell.verbose_status(
        "Checked",
        format!(
            "glibc: needs {}",
            crate::glibc::summary(&glibc, glibc_floor.as_ref().map(|f| &f.version))
        ),
    );

    // Introspect (or read the embedded metadata), check freshness, validate.
    let executable = &inputs.executable;
    shell.verbose_status("Reading", format!("the dags of `{}`", executable.display()));
    // Hashing the crate's current inputs for the freshness check runs while the binary answers
    // `--airflow-metadata`: neither waits for the other.
    let (metadata, fresh) = std::thread::scope(|scope| {
        let fresh = scope.spawn(|| match (&record, args.no_freshness_check) {
            (Some(r), false) => {
                embedded::check_fresh(executable, r, krate.as_ref(), args.executable.is_some())
            }
            _ => Ok(embedded::ReadInputs::default()),
        });
        let metadata = embedded::metadata(executable, &inputs.bin_name, record.as_ref());
        let fresh = fresh
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (metadata, fresh)
    });
    let (metadata, metadata_source) = metadata?;
    opened.check_unchanged()?;
    mark("metadata read, freshness checked");
    shell.verbose_status(
        "Read",
        format!(
            "metadata {}",
            match metadata_source {
                MetadataSource::Binary => "by running it with `--airflow-metadata`",
                MetadataSource::Sidecar => "from the sidecar metadata embedded at build time",
                MetadataSource::BinaryAndSidecar => {
                    "by running it; it agrees with the embedded sidecar metadata"
                }
            }
        ),
    );
    let mut read_inputs = Vec::new();
    let mut read_inputs_unchecked = None;
    match (&record, args.no_freshness_check) {
        (Some(_), true) => shell.warning(format!(
            "not checking that {} is fresh (--no-freshness-check)",
            executable.display()
        )),
        // Nothing to check, and the user said so.
        (None, true) => {}
        (Some(_), false) => {
            let read = fresh?;
            if let Some(why) = read.unchecked {
                shell.warning(format!(
                    "{} is fresh as far as its airflow-build record goes, but {}",
                    executable.display(),
                    why.0
                ));
                read_inputs_unchecked = Some(why.0);
            }
            read_inputs = read.files;
        }
        // A prebuilt binary without a record: nothing says which sources it was built from.
        (None, false) if args.executable.is_some() => {
            return Err(Error::NoRecord {
                path: executable.clone(),
            });
        }
        // Cargo has just built it, so it is fresh; but the bundle records no source digest.
        (None, false) => shell.warning(format!(
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
        .map(ToString::to_string)
        .collect();
    for w in &warnings {
        shell.warning(w);
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
        target: layout.triple.to_string(),
        profile: profile_recorded.clone(),
        packer: PACKER.to_owned(),
        source_digest: record.as_ref().map(|r| r.inputs.source.clone()),
        env_signature: record.as_ref().map(|r| r.env_signature.clone()),
        read_inputs,
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
    )
    .to_yaml();
    // A stamp in the target directory lets a pack with nothing to rebuild skip reading the
    // bundle again, when the files are exactly as the last pack left them.
    let stamp = layout
        .target_dir
        .as_deref()
        .map(|dir| crate::stamp::path_for(dir, &absolute(&cwd, &output)));
    let written = crate::stamp::write_stamped(
        &dest,
        &opened,
        &source,
        manifest.as_bytes(),
        stamp.as_deref(),
        &protected,
    )?;
    mark("bundle written");
    let (stubs, stubs_removed) = if args.no_stubs {
        (None, Vec::new())
    } else {
        // The manifest as the stubs command reads it back from the bundle.
        let parsed = Manifest::from_yaml(&manifest).map_err(|e| Error::Stubs {
            bundle: output.clone(),
            reason: format!("its manifest cannot be read: {e}"),
        })?;
        let digest = airflow_bundle::footer::hex(&written.file_sha256);
        let crate::stubs::StubsWritten {
            path,
            wrote,
            removed,
            rendered,
        } = crate::stubs::write_checked(&output, &parsed, &digest, None, &protected)?;
        for w in &rendered.skipped {
            shell.warning(w);
        }
        match &path {
            Some(p) if wrote => shell.status("Wrote", format!("python stubs {}", p.display())),
            // Unchanged: like cargo's `Fresh`, said only when asked for detail.
            Some(p) => shell.verbose_status("Fresh", format!("python stubs {}", p.display())),
            // Skipped dags were warned about; only a bundle of native dags needs no file.
            None if rendered.skipped.is_empty() => {
                shell.note("no Python stub dag file: every dag of the bundle is native")
            }
            None => {}
        }
        for r in &removed {
            shell.status("Removed", format!("{}: {}", r.path.display(), r.explain()));
        }
        (
            path.map(|p| absolute(&cwd, &p)),
            removed.iter().map(|r| absolute(&cwd, &r.path)).collect(),
        )
    };
    mark("stubs written");
    Ok(PackReport {
        format_version: cargo_airflow_report::FORMAT_VERSION,
        bundle: absolute(&cwd, &output),
        package: inputs.selection.as_ref().map(|s| s.package_name.clone()),
        bin: inputs.bin_name.clone(),
        executable: absolute(&cwd, executable),
        target: layout.triple.to_string(),
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
        stubs_removed,
        read_inputs_unchecked,
        glibc: Some(glibc),
        glibc_floor: glibc_floor.map(|f| f.version),
    })
}

/// Prints the human summary of a pack: a `Packed` status line and the facts under it, with
/// paths relative to `cwd` where possible.
pub fn print_summary(report: &PackReport, cwd: &Path, shell: &mut Shell) {
    // A few dags inline; a bundle with hundreds gets a count, not a megabyte line.
    let mut dags = report
        .dags
        .iter()
        .take(INLINE_DAGS)
        .map(|(id, tasks)| format!("{id}: {} task{}", tasks.len(), plural(tasks.len())))
        .collect::<Vec<_>>()
        .join(", ");
    if report.dags.len() > INLINE_DAGS {
        dags.push_str(&format!(
            ", and {} more dags (see `cargo airflow inspect`)",
            report.dags.len() - INLINE_DAGS
        ));
    }
    let name = report.package.as_deref().unwrap_or(&report.bin);
    shell.status(
        "Packed",
        format!(
            "{name} ({dags}) -> {}{}",
            relative(&report.bundle, cwd).display(),
            if report.fresh { " (fresh)" } else { "" }
        ),
    );
    shell.detail(format!(
        "target: {} ({} profile)",
        report.target, report.profile
    ));
    shell.detail(format!(
        "dags: {}, tasks: {}",
        report.dags.len(),
        report.tasks
    ));
    shell.detail(format!("size: {} bytes", report.size));
    shell.detail(format!("binary sha256: {}", report.binary_sha256));
    if let Some(needs) = &report.glibc {
        shell.detail(format!(
            "glibc: needs {}",
            crate::glibc::summary(needs, report.glibc_floor.as_ref())
        ));
    }
    if let Some(s) = &report.stubs {
        shell.detail(format!("python stubs: {}", relative(s, cwd).display()));
    }
    for s in &report.stubs_removed {
        shell.detail(format!(
            "removed python stubs: {} (generated earlier for this bundle)",
            relative(s, cwd).display()
        ));
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `path` relative to `cwd` when it is inside it.
fn relative(path: &Path, cwd: &Path) -> PathBuf {
    path.strip_prefix(cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The files a build of the package read: every file of the airflow-build record (relative to
/// the package directory; the workspace lock file where the workspace says it is), and the
/// package's `Cargo.toml` when nothing better is known.
fn build_inputs(
    inputs: &Inputs,
    krate: Option<&CrateAtHand>,
    record: Option<&Record>,
    workspace: &Workspace,
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
                    // The workspace says where its lock file is, if it was loaded anyway.
                    let lock = match workspace.loaded() {
                        Some(ws) => Some(ws.workspace_root.join("Cargo.lock").into_std_path_buf()),
                        None => airflow_inputs::find_workspace_lock(dir),
                    };
                    out.extend(lock);
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
    record: &Record,
    workspace: &Workspace,
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
    workspace
        .get()
        .ok()?
        .workspace_packages()
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
fn resolve_prebuilt(
    args: &PackArgs,
    exe: &Path,
    cwd: &Path,
    workspace: &Workspace,
) -> Result<Inputs> {
    if !args.cargo_args.is_empty() {
        return Err(Error::CargoArgsWithExecutable);
    }
    fs::metadata(exe).map_err(|e| Error::io("cannot read --executable", exe, e))?;
    let explicit_target_dir = args.target_dir.as_ref().map(|d| cwd.join(d));
    let need_metadata =
        args.source.is_none() || (args.output.is_none() && explicit_target_dir.is_none());
    // The record names the package that built the executable: that package's source is the one
    // to embed, whatever directory pack runs in.
    let record = embedded::read_record(exe)?;
    let built_by = record.as_ref().map(|r| r.package.clone());
    if let (Some(p), Some(spec)) = (&built_by, &args.package)
        && spec.split('@').next() != Some(p.as_str())
    {
        return Err(Error::PackageMismatch {
            executable: exe.to_owned(),
            built_by: p.clone(),
            spec: spec.clone(),
        });
    }
    let package = built_by.as_deref().or(args.package.as_deref());
    let current = cargo_build::current_manifest(args.manifest_path.as_deref(), cwd);
    let selection = if need_metadata {
        let bin = args.bin.clone().or_else(|| bin_name_of(exe));
        let selected = workspace.get().and_then(|m| {
            let select =
                |bin: Option<&str>| cargo_build::select(m, package, bin, current.as_deref());
            select(bin.as_deref()).or_else(|e| {
                // A renamed copy of the executable: the package's only bin, if it has one.
                match args.bin {
                    None => select(None),
                    Some(_) => Err(e),
                }
            })
        });
        match selected {
            Ok(s) => Some(s),
            Err(e) if args.source.is_none() => {
                return Err(Error::NoSource {
                    executable: exe.to_owned(),
                    built_by,
                    source: Some(Box::new(e)),
                });
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
            return Err(Error::NoSource {
                executable: exe.to_owned(),
                built_by,
                source: None,
            });
        }
    };
    fs::metadata(&source_path)
        .map_err(|e| Error::io("cannot read the source file", &source_path, e))?;
    if let Some(out) = &args.output {
        output::check(
            out,
            Kind::Bundle,
            &[("source file", source_path.as_path()), ("executable", exe)],
        )?;
    }
    let bin_name = match &selection {
        Some(sel) => sel.bin_name.clone(),
        None => bin_name_of(exe).unwrap_or_else(|| "bundle".into()),
    };
    Ok(Inputs {
        selection,
        executable: exe.to_owned(),
        record: record.into(),
        source_path,
        bin_name,
    })
}

/// Build mode: `cargo build`, and the package and bin from its messages.
///
/// When cargo's messages name exactly one bin target, that is the one packed and no
/// `cargo metadata` runs: a no-op pack costs little more than a no-op `cargo build`. The
/// package is looked up with `cargo metadata` first when it must be known before building: in a
/// virtual workspace without `-p` (cargo would build every member), or when `-o` names an
/// existing file that is not a bundle (it could be an input, such as the source file, so the
/// output is checked before cargo starts). After the build, `cargo metadata` chooses among
/// several bins, and explains a failed build whose cause is the selection (an unknown `-p` or
/// `--bin`). Either way the output is checked against every input again before anything is
/// written.
fn build(
    args: &PackArgs,
    profile: &str,
    cwd: &Path,
    workspace: &Workspace,
    shell: &mut Shell,
) -> Result<Inputs> {
    refuse_non_utf8_paths(args, cwd)?;
    let cargo = airflow_process::toolchain::cargo();
    let argv = cargo_build::build_argv(args, profile);
    shell.verbose_status(
        "Running",
        format!("`{}`", cargo_build::display_command(&cargo, &argv)),
    );
    let current = cargo_build::current_manifest(args.manifest_path.as_deref(), cwd);
    let select = |m: &cargo_metadata::Metadata| {
        cargo_build::select(
            m,
            args.package.as_deref(),
            args.bin.as_deref(),
            current.as_deref(),
        )
    };
    let check_first = args
        .output
        .as_deref()
        .filter(|o| o.exists() && !looks_like_bundle(o));
    let virtual_without_p = args.package.is_none()
        && current
            .as_deref()
            .is_none_or(|m| !cargo_build::declares_package(m));
    let mut selection = None;
    if check_first.is_some() || virtual_without_p {
        let sel = select(workspace.get()?)?;
        if let Some(out) = check_first {
            let source = args.source.as_deref().unwrap_or(&sel.src_path);
            output::check(out, Kind::Bundle, &[("source file", source)])?;
        }
        selection = Some(sel);
    }
    mark("selection before the build");
    let command = cargo_build::display_command(&cargo, &argv);
    let bins = match cargo_build::run_build(&cargo, &argv)? {
        BuildOutcome::Built(bins) => bins,
        BuildOutcome::Failed(build_error) => {
            // An unknown package or bin makes cargo fail before building: say which members or
            // bins there are, as cargo does not.
            if selection.is_none()
                && let Ok(meta) = workspace.get()
                && let Err(e) = select(meta)
            {
                return Err(e);
            }
            return Err(build_error);
        }
    };
    mark("cargo build");
    // The usual case: the one bin cargo built says what it is.
    let from_artifact = match (&selection, bins.as_slice()) {
        (None, [one]) => one.selection().map(|sel| (sel, one.clone())),
        _ => None,
    };
    let (sel, artifact) = match (selection, from_artifact) {
        (Some(sel), _) => {
            let a = cargo_build::artifact_of(&bins, &sel, &command)?.clone();
            (sel, a)
        }
        (None, Some(found)) => found,
        (None, None) => {
            let sel = select(workspace.get()?)?;
            let a = cargo_build::artifact_of(&bins, &sel, &command)?.clone();
            (sel, a)
        }
    };
    let source_path = args.source.clone().unwrap_or_else(|| sel.src_path.clone());
    fs::metadata(&source_path)
        .map_err(|e| Error::io("cannot read the source file", &source_path, e))?;
    Ok(Inputs {
        bin_name: sel.bin_name.clone(),
        selection: Some(sel),
        executable: artifact.executable,
        record: RecordLookup::NotRead,
        source_path,
    })
}

/// Refuses a package or target directory whose path is not UTF-8 before cargo runs: cargo
/// builds there, then panics writing the JSON message that names the artifact, and `cargo
/// metadata` cannot describe the package either.
fn refuse_non_utf8_paths(args: &PackArgs, cwd: &Path) -> Result<()> {
    let package = args
        .manifest_path
        .as_deref()
        .map_or_else(|| cwd.to_owned(), |m| absolute(cwd, m));
    let target = args.target_dir.as_deref().map(|t| absolute(cwd, t));
    for (what, path) in [("package", Some(package)), ("target directory", target)] {
        if let Some(path) = path.filter(|p| p.to_str().is_none()) {
            return Err(Error::NotUtf8Path { what, path });
        }
    }
    Ok(())
}

/// The bin name an executable's file name implies (`foo` or `foo.exe` → `foo`).
fn bin_name_of(exe: &Path) -> Option<String> {
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::shell::Verbosity;
    use airflow_bundle::glibc::{GlibcRequirement, GlibcVersion};

    #[test]
    fn bin_names_come_from_file_names() {
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

    fn report() -> PackReport {
        PackReport {
            format_version: cargo_airflow_report::FORMAT_VERSION,
            bundle: "/w/target/airflow/x86_64-unknown-linux-gnu/ex".into(),
            package: Some("example".into()),
            bin: "ex".into(),
            executable: "/w/target/release/ex".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            profile: "release".into(),
            dags: BTreeMap::from([(
                "etl".to_owned(),
                vec!["extract".to_owned(), "load".to_owned()],
            )]),
            tasks: 2,
            size: 1234,
            binary_sha256: "ab".repeat(32),
            fresh: false,
            metadata_source: cargo_airflow_report::MetadataSource::Sidecar,
            source_digest: Some("cd".repeat(32)),
            warnings: vec!["w".into()],
            stubs: Some("/w/target/airflow/x86_64-unknown-linux-gnu/ex_dags.py".into()),
            stubs_removed: Vec::new(),
            read_inputs_unchecked: None,
            glibc: Some(airflow_bundle::glibc::GlibcNeeds {
                newest: Some(GlibcVersion::new(2, 34)),
                none_because: None,
                versions: vec![
                    GlibcRequirement {
                        name: "GLIBC_2.2.5".into(),
                        version: GlibcVersion::with_patch(2, 2, 5),
                        symbols: vec!["free".into(), "malloc".into()],
                    },
                    GlibcRequirement {
                        name: "GLIBC_2.34".into(),
                        version: GlibcVersion::new(2, 34),
                        symbols: vec![
                            "__libc_start_main".into(),
                            "pthread_create".into(),
                            "pthread_join".into(),
                            "pthread_key_create".into(),
                        ],
                    },
                ],
                undated: vec![],
            }),
            glibc_floor: Some(GlibcVersion::new(2, 36)),
        }
    }

    fn summary_of(report: &PackReport, verbosity: Verbosity) -> String {
        let (mut shell, captured) = Shell::captured(verbosity);
        print_summary(report, Path::new("/w"), &mut shell);
        assert_eq!(captured.stdout(), "");
        captured.stderr()
    }

    #[test]
    fn the_summary_is_relative_and_names_dags() {
        snapbox::assert_data_eq!(
            summary_of(&report(), Verbosity::Normal),
            snapbox::str![[r#"
      Packed example (etl: 2 tasks) -> target/airflow/x86_64-unknown-linux-gnu/ex
             target: x86_64-unknown-linux-gnu (release profile)
             dags: 1, tasks: 2
             size: 1234 bytes
             binary sha256: abababababababababababababababababababababababababababababababab
             glibc: needs 2.34 or newer, for GLIBC_2.34 (__libc_start_main, pthread_create, pthread_join, and 1 more); floor 2.36
             python stubs: target/airflow/x86_64-unknown-linux-gnu/ex_dags.py

"#]]
        );
        assert_eq!(summary_of(&report(), Verbosity::Quiet), "");
    }

    #[test]
    fn the_summary_says_which_stale_stub_file_was_removed() {
        let mut native = report();
        native.stubs = None;
        native.stubs_removed = vec!["/w/target/airflow/x86_64-unknown-linux-gnu/ex_dags.py".into()];
        let text = summary_of(&native, Verbosity::Normal);
        assert!(
            text.contains(
                "removed python stubs: target/airflow/x86_64-unknown-linux-gnu/ex_dags.py \
                 (generated earlier for this bundle)"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_fresh_bundle_with_many_dags_gets_a_short_line() {
        let mut many = report();
        many.fresh = true;
        many.package = None;
        many.dags = (0..200_000)
            .map(|i| (format!("dag_{i:06}"), vec!["t".to_owned()]))
            .collect();
        let text = summary_of(&many, Verbosity::Normal);
        let line = text.lines().next().unwrap();
        snapbox::assert_data_eq!(
            line,
            snapbox::str![
                "      Packed ex (dag_000000: 1 task, dag_000001: 1 task, dag_000002: 1 task, and 199997 more dags (see `cargo airflow inspect`)) -> target/airflow/x86_64-unknown-linux-gnu/ex (fresh)"
            ]
        );
    }

    #[test]
    fn the_manifest_digests_the_declared_task_handlers_and_keeps_dags() {
        let metadata = |handlers: Option<serde_json::Value>| Metadata {
            airflow_bundle_metadata_version: "1.0".into(),
            sdk: airflow_bundle::Sdk {
                language: "rust".into(),
                version: "0.1.0".into(),
                supervisor_schema_version: "2026-06-16".into(),
                supervisor_schema_versions: vec![],
            },
            task_handlers: handlers,
            dags: BTreeMap::from([(
                "etl".to_owned(),
                airflow_bundle::DagEntry {
                    tasks: vec!["a".into()],
                    declared: None,
                },
            )]),
        };
        let build = || BuildInfo {
            target: "x86_64-unknown-linux-gnu".into(),
            profile: "release".into(),
            packer: PACKER.to_owned(),
            source_digest: None,
            env_signature: None,
            read_inputs: vec![],
        };
        let handlers = serde_json::json!({"etl": [
            {"task_id": "a", "binding": "named", "params": []}]});
        let m = manifest_for(
            metadata(Some(handlers.clone())),
            "main.rs".into(),
            b"",
            build(),
        );
        assert_eq!(
            m.digests,
            Some(airflow_bundle::Digests::of_task_handlers(&handlers))
        );
        assert_eq!(m.dags.keys().collect::<Vec<_>>(), ["etl"]);
        let yaml = m.to_yaml();
        assert!(yaml.contains("digests:\n  cache: "), "{yaml}");
        // An SDK that declares no handlers (an older one) gets no digest: asked on every parse.
        let old = manifest_for(metadata(None), "main.rs".into(), b"", build());
        assert_eq!(old.digests, None);
        assert!(!old.to_yaml().contains("digests"));
    }
}
