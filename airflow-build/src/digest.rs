//! Input digests: which files are a package's inputs, and their SHA-256 digests.
//!
//! The same code runs in the build script and in `cargo airflow pack` (to tell a stale binary from
//! a fresh one), so both always agree.
//!
//! # Which files are inputs
//!
//! * **Package files.** Without `package.include`: `Cargo.toml`, the build script (`build.rs`
//!   or `package.build`), everything under `src/`, and explicit `[lib]`/`[[bin]]` paths outside
//!   `src/`. `benches/`, `examples/` and `tests/` are not inputs: they never go into a bundle
//!   binary; `package.exclude` patterns remove files from that set. With `package.include`:
//!   `Cargo.toml` plus every file the include patterns match, and `exclude` is ignored, as cargo
//!   ignores it when `include` is set.
//! * **The workspace `Cargo.lock`**, the nearest one in the package directory or its ancestors,
//!   recorded under the name [`WORKSPACE_LOCK_PATH`].
//! * **Path dependencies**, transitively: the package files (as above) of every dependency or
//!   build dependency given by `path` (directly or through `workspace = true`), such as a shared
//!   workspace library, recorded with paths relative to the package (`../shared/src/lib.rs`).
//!   Target-specific and optional ones count too, whether or not this build enables them.
//!   Registry and git dependencies are covered by the lock file.
//! * **Extra inputs**: `[package.metadata.airflow] inputs = [...]` and patterns given to the
//!   builder, relative to the package directory. A pattern with a glob character (`*`, `?`, `[`
//!   or `{`) is a gitignore-style pattern, matched like `package.include`; any other is a literal
//!   path to a file or a directory (all of it), which may also point outside the package
//!   (`../shared/schema.sql`): it is recorded with that relative path. A pattern that matches
//!   nothing is an error (it is most likely a typo).
//!
//! # Patterns
//!
//! `package.include`, `package.exclude` and glob extra inputs are gitignore-style patterns
//! relative to the package root, compiled with the [`ignore`] crate's gitignore matcher, as cargo
//! itself compiles `include`/`exclude`:
//! * a pattern without `/` (other than a trailing one) matches a file or directory name at any
//!   depth; a pattern with `/` matches the path from the package root (a leading `/` is
//!   optional);
//! * `*` matches any run of characters within one path component, `?` one character, `[...]` one
//!   of a class, `{a,b}` either alternative, `**` any number of whole components;
//! * a pattern that matches a directory matches everything under it; a trailing `/` restricts a
//!   pattern to directories;
//! * as in `.gitignore`, a leading `!` negates a pattern (a later `!` pattern takes a path back out
//!   of `exclude` or `include`), `#` starts a comment, `\` escapes, and trailing spaces are
//!   dropped.
//!
//! Walks skip names starting with `.`, the package's `target/` directory, and directories that
//! hold their own `Cargo.toml` (other packages). Paths are package-relative with `/` separators;
//! nothing depends on mtimes or absolute paths.
//!
//! # Digest scheme 2
//!
//! Every file: SHA-256 of its content. Each combined digest is SHA-256 over
//! `"airflow-build/inputs\0" || scheme (u32 LE) || label || "\0" || count (u64 LE)`, then for each
//! file in path order: `kind (u8: 0 package, 1 lock, 2 extra, 3 dependency) || path len (u64 LE) || path ||
//! file len (u64 LE) || 32-byte digest`. The labels are `package`, `lock`, `extra` (each over its
//! own files) and `source` (over all files, path dependencies included): the combined source
//! digest. (Scheme 1 had no path dependencies.)

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use airflow_bundle::footer::hex;
use airflow_bundle::record::{FileDigest, InputDigests, InputKind, WORKSPACE_LOCK_PATH};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ring::digest::{Context, SHA256};

use crate::Error;
use crate::manifest::{PackageManifest, PathDep};

/// The version of the digest algorithm described in this module.
pub const DIGEST_SCHEME: u32 = 2;

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

/// One difference between two file lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// In both, with another digest.
    Modified(String),
    /// Only in the current sources.
    Added(String),
    /// Only in the recorded list.
    Removed(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Modified(p) => write!(f, "modified: {p}"),
            Change::Added(p) => write!(f, "added: {p}"),
            Change::Removed(p) => write!(f, "removed: {p}"),
        }
    }
}

/// Names the files that differ between a recorded file list and the current one.
pub fn diff(recorded: &[FileDigest], current: &[FileDigest]) -> Vec<Change> {
    let old: BTreeMap<&str, &FileDigest> = recorded.iter().map(|f| (f.path.as_str(), f)).collect();
    let new: BTreeMap<&str, &FileDigest> = current.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut out = Vec::new();
    for (p, o) in &old {
        match new.get(p) {
            None => out.push(Change::Removed((*p).to_owned())),
            Some(n) if n.sha256 != o.sha256 || n.len != o.len => {
                out.push(Change::Modified((*p).to_owned()))
            }
            Some(_) => {}
        }
    }
    for p in new.keys() {
        if !old.contains_key(p) {
            out.push(Change::Added((*p).to_owned()));
        }
    }
    out.sort();
    out
}

/// The nearest `Cargo.lock` in `manifest_dir` or its ancestors.
pub fn find_workspace_lock(manifest_dir: &Path) -> Option<PathBuf> {
    manifest_dir
        .ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
}

/// Digests a package's inputs, exactly as the build script does.
///
/// `workspace_lock` is the workspace's `Cargo.lock` (see [`find_workspace_lock`]); `extra` are the
/// builder's extra input patterns (a record keeps them in `builder_extra_inputs`), added to those
/// of `[package.metadata.airflow] inputs`.
pub fn package_inputs(
    manifest_dir: &Path,
    workspace_lock: Option<&Path>,
    extra: &[String],
) -> Result<Digests, Error> {
    let manifest = PackageManifest::read(manifest_dir)?;
    let mut selection = select(manifest_dir, &manifest, extra)?;
    add_path_dependencies(manifest_dir, &mut selection)?;
    hash_selection(selection, workspace_lock)
}

/// The directories of every path dependency of the package, transitively (normal and build
/// dependencies, including target-specific and optional ones: a superset of what a build uses,
/// so a change can only make the check stricter). Canonical, deduplicated, in discovery order,
/// without the package itself.
pub fn path_dependencies(manifest_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let root = canonical(manifest_dir)?;
    let mut seen: BTreeSet<PathBuf> = BTreeSet::from([root.clone()]);
    let mut out = Vec::new();
    let mut queue = vec![(root, PackageManifest::read(manifest_dir)?)];
    while let Some((dir, manifest)) = queue.pop() {
        for dep in &manifest.path_deps {
            let Some(dep_dir) = resolve_path_dep(&dir, &manifest, dep)? else {
                continue;
            };
            let dep_dir = canonical(&dep_dir)?;
            if seen.insert(dep_dir.clone()) {
                let dep_manifest = PackageManifest::read(&dep_dir)?;
                out.push(dep_dir.clone());
                queue.push((dep_dir, dep_manifest));
            }
        }
    }
    Ok(out)
}

fn canonical(dir: &Path) -> Result<PathBuf, Error> {
    dir.canonicalize().map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Where a path dependency of the package in `dir` lives (`None`: `workspace = true` naming a
/// dependency that is not a path one).
fn resolve_path_dep(
    dir: &Path,
    manifest: &PackageManifest,
    dep: &PathDep,
) -> Result<Option<PathBuf>, Error> {
    match dep {
        PathDep::Path(p) => Ok(Some(dir.join(p))),
        PathDep::Workspace(key) => {
            let Some(ws) = workspace_root(dir, manifest)? else {
                return Err(Error::Manifest {
                    path: dir.join("Cargo.toml"),
                    message: format!(
                        "dependency `{key}` has `workspace = true` but no workspace root was found above the package"
                    ),
                });
            };
            let ws_manifest = ws.join("Cargo.toml");
            let text = std::fs::read_to_string(&ws_manifest).map_err(|source| Error::Io {
                path: ws_manifest.clone(),
                source,
            })?;
            Ok(crate::manifest::workspace_dependency_path(&text, key).map(|p| ws.join(p)))
        }
    }
}

/// The workspace root of the package in `dir`: `package.workspace`, else the nearest directory
/// (the package's own included) whose `Cargo.toml` has a `[workspace]` table, as cargo finds it.
fn workspace_root(dir: &Path, manifest: &PackageManifest) -> Result<Option<PathBuf>, Error> {
    if let Some(w) = &manifest.workspace_dir {
        return Ok(Some(dir.join(w)));
    }
    for d in dir.ancestors() {
        let path = d.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&path)
            && crate::manifest::is_workspace_root(&text)
        {
            return Ok(Some(d.to_path_buf()));
        }
    }
    Ok(None)
}

/// `to` relative to `from` (both canonical), with `/` separators: `../shared`.
fn relative_to(from: &Path, to: &Path) -> Result<String, Error> {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        // Another drive (Windows): no relative path exists.
        return Err(Error::AbsoluteInput(to.display().to_string()));
    }
    let mut parts: Vec<&str> = vec![".."; a.len() - common];
    for c in &b[common..] {
        parts.push(
            c.as_os_str()
                .to_str()
                .ok_or_else(|| Error::NonUtf8Path(to.to_path_buf()))?,
        );
    }
    Ok(parts.join("/"))
}

/// Adds the package files of every path dependency (see [`path_dependencies`]) to `sel`, with
/// paths relative to the package directory and the [`InputKind::Dependency`] kind.
fn add_path_dependencies(root: &Path, sel: &mut Selection) -> Result<(), Error> {
    let deps = path_dependencies(root)?;
    if deps.is_empty() {
        return Ok(());
    }
    let base = canonical(root)?;
    for dep in deps {
        let prefix = relative_to(&base, &dep)?;
        let dep_manifest = PackageManifest::read(&dep)?;
        let dep_sel = select(&dep, &dep_manifest, &[])?;
        for (rel, (abs, _)) in dep_sel.files {
            let rel = if prefix.is_empty() {
                rel
            } else {
                format!("{prefix}/{rel}")
            };
            sel.files.entry(rel).or_insert((abs, InputKind::Dependency));
        }
        sel.watched_dirs.extend(dep_sel.watched_dirs);
    }
    Ok(())
}

/// Recomputes the digests for a record's package; see [`package_inputs`].
pub fn recompute(
    record: &airflow_bundle::record::Record,
    manifest_dir: &Path,
    workspace_lock: Option<&Path>,
) -> Result<Digests, Error> {
    package_inputs(manifest_dir, workspace_lock, &record.builder_extra_inputs)
}

/// Where a pattern was given; named in [`Error::BadPattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternOrigin {
    /// `package.include`.
    Include,
    /// `package.exclude`.
    Exclude,
    /// `[package.metadata.airflow] inputs`.
    MetadataInputs,
    /// The build script's extra inputs ([`Builder::extra_inputs`](crate::Builder::extra_inputs),
    /// kept in a record as `builder_extra_inputs`).
    BuilderInputs,
}

impl fmt::Display for PatternOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PatternOrigin::Include => "`package.include`",
            PatternOrigin::Exclude => "`package.exclude`",
            PatternOrigin::MetadataInputs => "`[package.metadata.airflow] inputs`",
            PatternOrigin::BuilderInputs => {
                "the extra inputs given to `airflow_build::Builder` in build.rs"
            }
        })
    }
}

/// A list of gitignore-style patterns, compiled as cargo compiles `package.include`/`exclude`.
struct Patterns {
    matcher: Gitignore,
    /// Per pattern, the literal directories it is anchored under (see [`literal_root`]); only
    /// used to skip directories in walks.
    roots: Vec<Option<Vec<String>>>,
}

impl Patterns {
    /// Compiles `patterns`; `manifest` (the package's `Cargo.toml`) and `origin` name them in
    /// errors.
    fn new<'a>(
        manifest: &Path,
        origin: PatternOrigin,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Patterns, Error> {
        // Paths are always given package-relative, so the matcher's root is `.`: it then strips
        // nothing from them (with the package directory as root, a relative package directory
        // would be stripped from a same-named subdirectory).
        let patterns: Vec<&str> = patterns.into_iter().collect();
        let mut builder = GitignoreBuilder::new(".");
        let mut roots = Vec::new();
        for &pattern in &patterns {
            builder
                .add_line(Some(manifest.to_path_buf()), pattern)
                .map_err(|source| Error::BadPattern {
                    manifest: manifest.to_path_buf(),
                    origin,
                    pattern: pattern.to_owned(),
                    source,
                })?;
            roots.push(literal_root(pattern));
        }
        let matcher = builder.build().map_err(|source| Error::BadPattern {
            manifest: manifest.to_path_buf(),
            origin,
            pattern: patterns.join(", "),
            source,
        })?;
        Ok(Patterns { matcher, roots })
    }

    /// Whether a package-relative file path matches, directly or through a matching ancestor
    /// directory (the last matching pattern decides, so a `!` pattern can take it back out).
    fn matches_file(&self, rel: &str) -> bool {
        self.matcher
            .matched_path_or_any_parents(rel, false)
            .is_ignore()
    }

    /// Whether files under the package-relative directory `dir` may match (false only when
    /// every pattern is anchored under other literal directories), to skip it in walks.
    fn may_match_under(&self, dir: &str) -> bool {
        let comps: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        self.roots.iter().any(|root| match root {
            None => true,
            Some(root) => root.iter().zip(&comps).all(|(r, c)| r == c),
        })
    }
}

/// The leading directories of a pattern anchored at the package root, as long as they hold no
/// glob character: `queries/**/*.sql` gives `["queries"]`. `None` for a pattern that can match
/// at any depth (no `/` but a trailing one), and, to stay on the safe side, for negations,
/// comments and escapes. Files outside the returned directories can never match the pattern.
fn literal_root(pattern: &str) -> Option<Vec<String>> {
    let p = pattern.trim_end();
    if p.starts_with(['!', '#', '\\']) {
        return None;
    }
    let anchored = p.starts_with('/');
    let p = p.strip_prefix('/').unwrap_or(p);
    let p = p.strip_suffix('/').unwrap_or(p);
    // An empty pattern (`/`) matches the root itself, so everything.
    if p.is_empty() || (!anchored && !p.contains('/')) {
        return None;
    }
    Some(
        p.split('/')
            .take_while(|c| !c.contains(GLOB_CHARS) && !c.contains('\\'))
            .map(str::to_owned)
            .collect(),
    )
}

/// The characters that make an extra input a pattern rather than a literal path.
const GLOB_CHARS: [char; 4] = ['*', '?', '[', '{'];

/// Files chosen for hashing, before hashing.
#[derive(Debug, Default)]
struct Selection {
    /// package-relative path -> (absolute path, kind)
    files: BTreeMap<String, (PathBuf, InputKind)>,
    watched_dirs: BTreeSet<PathBuf>,
}

/// A file found by a walk.
struct Walked {
    rel: String,
    abs: PathBuf,
    /// The name is not UTF-8 (`rel` has it lossily): an error only if the file is selected, so
    /// that an excluded one does not fail the build. A directory with such a name is returned
    /// as one entry, not walked.
    non_utf8: bool,
}

impl Walked {
    /// The package-relative path, or the error for a non-UTF-8 name that was selected.
    fn rel(&self) -> Result<String, Error> {
        if self.non_utf8 {
            return Err(Error::NonUtf8Path(self.abs.clone()));
        }
        Ok(self.rel.clone())
    }
}

/// Walks `dir` (package-relative `rel`), collecting files; returns whether the subtree is
/// "clean" (nothing pruned), so that the whole directory can be watched.
fn walk(
    root: &Path,
    rel: &str,
    prune_dir: &dyn Fn(&str) -> bool,
    out: &mut Vec<Walked>,
    clean_dirs: &mut Vec<String>,
) -> Result<bool, Error> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let rd = std::fs::read_dir(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let mut entries = Vec::new();
    for e in rd {
        let e = e.map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        entries.push(e);
    }
    entries.sort_by_key(|e| e.file_name());
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
        let ft = e.file_type().map_err(|source| Error::Io {
            path: abs.clone(),
            source,
        })?;
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
            if !(is_dir && prune_dir(&child_rel)) {
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
            if is_package || prune_dir(&child_rel) {
                clean = false;
                continue;
            }
            let mut c = Vec::new();
            let child_clean = walk(root, &child_rel, prune_dir, out, &mut c)?;
            if child_clean {
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

fn normalize_rel(p: &str) -> Result<String, Error> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => {
                parts.push(s.to_str().ok_or_else(|| Error::NonUtf8Path(p.into()))?)
            }
            Component::CurDir => {}
            Component::ParentDir => parts.push(".."),
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::AbsoluteInput(p.to_owned()));
            }
        }
    }
    Ok(parts.join("/"))
}

fn select(
    root: &Path,
    manifest: &PackageManifest,
    builder_extras: &[String],
) -> Result<Selection, Error> {
    let manifest_path = root.join("Cargo.toml");
    let compile = |origin, patterns: &[String]| {
        Patterns::new(&manifest_path, origin, patterns.iter().map(String::as_str))
    };
    let mut sel = Selection::default();
    let exclude = compile(PatternOrigin::Exclude, &manifest.exclude)?;
    let excluded = |rel: &str| exclude.matches_file(rel);
    let prune_root_target = |rel: &str| rel == "target";
    let add = |sel: &mut Selection, rel: String, abs: PathBuf, kind: InputKind| {
        sel.files.entry(rel).or_insert((abs, kind));
    };

    add(
        &mut sel,
        "Cargo.toml".into(),
        manifest_path.clone(),
        InputKind::Package,
    );
    match &manifest.include {
        None => {
            if let Some(b) = &manifest.build_script {
                let rel = normalize_rel(b)?;
                let abs = root.join(&rel);
                if abs.is_file() {
                    add(&mut sel, rel, abs, InputKind::Package);
                }
            }
            for t in &manifest.target_paths {
                let rel = normalize_rel(t)?;
                let abs = root.join(&rel);
                if abs.is_file() && !excluded(&rel) {
                    add(&mut sel, rel, abs, InputKind::Package);
                }
            }
            if root.join("src").is_dir() {
                let mut files = Vec::new();
                let mut clean = Vec::new();
                let src_clean = walk(root, "src", &|_| false, &mut files, &mut clean)?;
                if src_clean {
                    clean = vec!["src".into()];
                }
                for d in clean {
                    sel.watched_dirs.insert(root.join(d));
                }
                for w in files {
                    if !excluded(&w.rel) {
                        add(&mut sel, w.rel()?, w.abs, InputKind::Package);
                    }
                }
            }
        }
        Some(include) => {
            let include = compile(PatternOrigin::Include, include)?;
            let prune = |rel: &str| prune_root_target(rel) || !include.may_match_under(rel);
            let mut files = Vec::new();
            let mut clean = Vec::new();
            walk(root, "", &prune, &mut files, &mut clean)?;
            for d in clean {
                sel.watched_dirs.insert(root.join(d));
            }
            for w in files {
                // As in cargo, `include` overrides `exclude`.
                if include.matches_file(&w.rel) {
                    add(&mut sel, w.rel()?, w.abs, InputKind::Package);
                }
            }
        }
    }

    // Extra inputs.
    let extras = (manifest.airflow_inputs.iter())
        .map(|raw| (raw, PatternOrigin::MetadataInputs))
        .chain(
            builder_extras
                .iter()
                .map(|raw| (raw, PatternOrigin::BuilderInputs)),
        );
    let mut globs: Vec<(&String, Patterns)> = Vec::new();
    for (raw, origin) in extras {
        if !raw.contains(GLOB_CHARS) {
            let rel = normalize_rel(raw.trim_end_matches('/'))?;
            let abs = root.join(&rel);
            if abs.is_file() {
                add(&mut sel, rel, abs, InputKind::Extra);
            } else if abs.is_dir() {
                let mut files = Vec::new();
                let mut clean = Vec::new();
                let all_clean = walk(&abs, "", &|_| false, &mut files, &mut clean)?;
                if all_clean {
                    sel.watched_dirs.insert(abs.clone());
                } else {
                    sel.watched_dirs
                        .extend(clean.into_iter().map(|d| abs.join(d)));
                }
                if files.is_empty() {
                    return Err(Error::ExtraInputMatchedNothing(raw.clone()));
                }
                for w in files {
                    add(
                        &mut sel,
                        format!("{rel}/{}", w.rel()?),
                        w.abs,
                        InputKind::Extra,
                    );
                }
            } else {
                return Err(Error::ExtraInputMatchedNothing(raw.clone()));
            }
        } else {
            if raw.contains("..") {
                return Err(Error::AbsoluteInput(raw.clone()));
            }
            // One matcher per pattern, to tell which one matched nothing.
            globs.push((raw, Patterns::new(&manifest_path, origin, [raw.as_str()])?));
        }
    }
    if !globs.is_empty() {
        let prune = |rel: &str| {
            prune_root_target(rel) || !globs.iter().any(|(_, g)| g.may_match_under(rel))
        };
        let mut files = Vec::new();
        let mut clean = Vec::new();
        walk(root, "", &prune, &mut files, &mut clean)?;
        for d in clean {
            sel.watched_dirs.insert(root.join(d));
        }
        let mut hits = vec![false; globs.len()];
        for w in files {
            let mut matched = false;
            for (i, (_, g)) in globs.iter().enumerate() {
                if g.matches_file(&w.rel) {
                    hits[i] = true;
                    matched = true;
                }
            }
            if matched {
                add(&mut sel, w.rel()?, w.abs, InputKind::Extra);
            }
        }
        if let Some(i) = hits.iter().position(|h| !h) {
            return Err(Error::ExtraInputMatchedNothing(globs[i].0.clone()));
        }
    }
    Ok(sel)
}

fn hash_file(path: &Path, buf: &mut Vec<u8>) -> Result<Hashed, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Context::new(&SHA256);
    let mut len = 0u64;
    buf.resize(1 << 20, 0);
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        h.update(&buf[..n]);
        len += n as u64;
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_ref());
    Ok((len, out))
}

/// A file's length and SHA-256.
type Hashed = (u64, [u8; 32]);

/// Hashes files in parallel (up to the available cores, at most 8 threads).
fn hash_all(paths: &[&Path]) -> Result<Vec<Hashed>, Error> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(paths.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Hashed>>> = Mutex::new(vec![None; paths.len()]);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = Vec::new();
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= paths.len() {
                        break;
                    }
                    match hash_file(paths[i], &mut buf) {
                        Ok(r) => local.push((i, r)),
                        Err(e) => {
                            let mut fe = first_error.lock().unwrap_or_else(|p| p.into_inner());
                            fe.get_or_insert(e);
                            next.store(paths.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                }
                let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                for (i, v) in local {
                    r[i] = Some(v);
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or((0, [0; 32])))
        .collect())
}

fn kind_byte(k: InputKind) -> u8 {
    match k {
        InputKind::Package => 0,
        InputKind::Lock => 1,
        InputKind::Extra => 2,
        InputKind::Dependency => 3,
    }
}

fn combine<'a>(
    label: &str,
    entries: impl Iterator<Item = (&'a str, InputKind, u64, &'a [u8; 32])>,
) -> String {
    let entries: Vec<_> = entries.collect();
    let mut h = Context::new(&SHA256);
    h.update(b"airflow-build/inputs\0");
    h.update(&DIGEST_SCHEME.to_le_bytes());
    h.update(label.as_bytes());
    h.update(&[0u8]);
    h.update(&(entries.len() as u64).to_le_bytes());
    for (path, kind, len, digest) in entries {
        h.update(&[kind_byte(kind)]);
        h.update(&(path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(&len.to_le_bytes());
        h.update(digest);
    }
    hex(h.finish().as_ref())
}

fn hash_selection(mut sel: Selection, workspace_lock: Option<&Path>) -> Result<Digests, Error> {
    if let Some(lock) = workspace_lock {
        sel.files.insert(
            WORKSPACE_LOCK_PATH.to_owned(),
            (lock.to_path_buf(), InputKind::Lock),
        );
    }
    let entries: Vec<(String, PathBuf, InputKind)> = sel
        .files
        .into_iter()
        .map(|(rel, (abs, kind))| (rel, abs, kind))
        .collect();
    let paths: Vec<&Path> = entries.iter().map(|(_, a, _)| a.as_path()).collect();
    let hashed = hash_all(&paths)?;
    let all: Vec<(&str, InputKind, u64, &[u8; 32])> = entries
        .iter()
        .zip(&hashed)
        .map(|((rel, _, kind), (len, d))| (rel.as_str(), *kind, *len, d))
        .collect();
    let of_kind = |k: InputKind| all.iter().copied().filter(move |e| e.1 == k);
    let inputs = InputDigests {
        digest_scheme: DIGEST_SCHEME,
        source: combine("source", all.iter().copied()),
        package: combine("package", of_kind(InputKind::Package)),
        lock: combine("lock", of_kind(InputKind::Lock)),
        extra: combine("extra", of_kind(InputKind::Extra)),
    };
    let files = all
        .iter()
        .map(|(p, _, len, d)| FileDigest {
            path: (*p).to_owned(),
            len: *len,
            sha256: hex(*d),
        })
        .collect();
    let kinds = all.iter().map(|e| e.1).collect();
    Ok(Digests {
        inputs,
        files,
        kinds,
        watched_files: entries.into_iter().map(|(_, a, _)| a).collect(),
        watched_dirs: sel.watched_dirs.into_iter().collect(),
    })
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

    fn pattern(p: &str) -> Patterns {
        Patterns::new(Path::new("Cargo.toml"), PatternOrigin::Include, [p]).unwrap()
    }

    #[test]
    fn pattern_rules() {
        // A name without `/` matches at any depth; with `/`, from the package root.
        assert!(pattern("*.sql").matches_file("queries/a.sql"));
        assert!(pattern("*.sql").matches_file("a.sql"));
        assert!(!pattern("/*.sql").matches_file("queries/a.sql"));
        assert!(pattern("/*.sql").matches_file("a.sql"));
        assert!(pattern("queries/*.sql").matches_file("queries/a.sql"));
        assert!(!pattern("queries/*.sql").matches_file("x/queries/a.sql"));
        assert!(!pattern("queries/*.sql").matches_file("queries/a/b.sql"));
        // `**` is any number of whole components.
        assert!(pattern("queries/**/*.sql").matches_file("queries/a/b/c.sql"));
        assert!(pattern("queries/**/*.sql").matches_file("queries/c.sql"));
        assert!(pattern("**/*.sql").matches_file("a/b/c.sql"));
        assert!(pattern("src/**").matches_file("src/a/b.rs"));
        // A matching directory matches everything under it; a trailing `/` wants a directory.
        assert!(pattern("templates").matches_file("templates/x/y.j2"));
        assert!(pattern("templates").matches_file("templates"));
        assert!(pattern("templates/").matches_file("templates/y.j2"));
        assert!(!pattern("templates/").matches_file("templates"));
        assert!(pattern("a/templates/").matches_file("a/templates/y.j2"));
        // `?`, classes and alternatives within a component.
        assert!(pattern("a?c").matches_file("abc"));
        assert!(!pattern("a?c").matches_file("a/c"));
        assert!(pattern("[ab].sql").matches_file("q/b.sql"));
        assert!(!pattern("[ab].sql").matches_file("c.sql"));
        assert!(pattern("*.{sql,j2}").matches_file("t/x.j2"));
        // Comments, blank patterns and trailing spaces, as in `.gitignore`.
        assert!(!pattern("# a.sql").matches_file("# a.sql"));
        assert!(!pattern("").matches_file("a"));
        assert!(pattern("a.sql  ").matches_file("a.sql"));
    }

    #[test]
    fn negation_takes_paths_back() {
        let p = Patterns::new(
            Path::new("Cargo.toml"),
            PatternOrigin::Exclude,
            ["src/a", "!src/a/keep.rs"],
        )
        .unwrap();
        assert!(p.matches_file("src/a/b.rs"));
        assert!(!p.matches_file("src/a/keep.rs"));
        assert!(!p.matches_file("src/main.rs"));
    }

    #[test]
    fn walk_pruning() {
        assert!(pattern("queries/*.sql").may_match_under("queries"));
        assert!(pattern("queries/*.sql").may_match_under("queries/deeper"));
        assert!(!pattern("queries/*.sql").may_match_under("src"));
        assert!(!pattern("/build.rs").may_match_under("src"));
        assert!(pattern("a/b*/c").may_match_under("a/x"));
        assert!(!pattern("a/b/c").may_match_under("a/x"));
        assert!(pattern("**/*.sql").may_match_under("deep/er"));
        assert!(pattern("*.sql").may_match_under("deep/er"));
        assert!(pattern("templates/").may_match_under("x/y"));
        assert!(pattern("!queries/*.sql").may_match_under("src"));
        // `/` matches the package root, so everything.
        assert!(pattern("/").matches_file("src/a.rs"));
        assert!(pattern("/").may_match_under("src"));
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

    #[test]
    fn diff_names_files() {
        let a = vec![
            FileDigest {
                path: "a".into(),
                len: 1,
                sha256: "1".into(),
            },
            FileDigest {
                path: "b".into(),
                len: 1,
                sha256: "1".into(),
            },
        ];
        let b = vec![
            FileDigest {
                path: "b".into(),
                len: 1,
                sha256: "2".into(),
            },
            FileDigest {
                path: "c".into(),
                len: 1,
                sha256: "1".into(),
            },
        ];
        assert_eq!(
            diff(&a, &b),
            [
                Change::Modified("b".into()),
                Change::Added("c".into()),
                Change::Removed("a".into())
            ]
        );
    }
}
