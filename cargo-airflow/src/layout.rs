//! Where a pack's build put its executable and where the bundle goes by default: the target
//! directory and the target triple, worked out once per pack ([`Layout::resolve`]) from, in
//! order, the flags, the executable's path in cargo's layout, `cargo metadata` (only when the
//! path cannot say), the airflow-build record, and the host.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use airflow_bundle::record::Record;

use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// A target triple as cargo names its directory: the triple, or a custom target's name (a
/// JSON target spec's file stem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triple(String);

impl Triple {
    /// The target `--target` names: a triple, or the path of a JSON target spec, whose file
    /// stem cargo uses as the directory name.
    pub fn from_target_flag(target: &str) -> Self {
        if target.ends_with(".json") {
            let stem = Path::new(target)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned());
            Triple(stem.unwrap_or_else(|| target.to_owned()))
        } else {
            Triple(target.to_owned())
        }
    }

    /// The target an airflow-build record says the code was compiled for.
    pub fn recorded(record: &Record) -> Self {
        Triple(record.target.clone())
    }

    /// This host's triple (`rustc -vV`).
    pub fn host() -> Result<Self> {
        Ok(Triple(airflow_process::toolchain::host_triple()?))
    }

    /// The triple as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names a Windows target (whose executables end in `.exe`).
    pub fn is_windows(&self) -> bool {
        self.0.contains("-windows")
    }
}

impl fmt::Display for Triple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The target directory (when known) and the triple of the executable being packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The target directory, for the default output; unknown for a prebuilt executable packed
    /// with `-o` outside any workspace.
    pub target_dir: Option<PathBuf>,
    /// The target the executable was built for.
    pub triple: Triple,
}

/// How the executable came to be, which decides where its layout is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// `--executable`: the target directory is `--target-dir`'s or the workspace's (when it
    /// was looked up); the executable's path says nothing.
    Prebuilt,
    /// Built by this pack's `cargo build` at this path.
    Built(&'a Path),
}

impl Layout {
    /// Works the layout out once. `target_flag` and `target_dir_flag` are `--target` and
    /// `--target-dir` (relative to `cwd`). `cargo metadata` runs only for a built executable
    /// whose path does not have cargo's layout and whose workspace was not loaded yet.
    pub fn resolve(
        origin: Origin<'_>,
        target_flag: Option<&str>,
        target_dir_flag: Option<&Path>,
        cwd: &Path,
        record: Option<&Record>,
        workspace: &Workspace,
    ) -> Result<Layout> {
        let flag = target_flag.map(Triple::from_target_flag);
        let explicit_dir = target_dir_flag.map(|d| cwd.join(d));
        let (target_dir, from_path) = match origin {
            Origin::Prebuilt => (explicit_dir.or_else(|| workspace_dir(workspace)), None),
            Origin::Built(executable) => {
                // The path answers when the triple is known (`--target`, or the record).
                let known = flag.clone().or_else(|| record.map(Triple::recorded));
                let from_path = match workspace.loaded() {
                    Some(_) => None,
                    None => known.and_then(|t| layout_of(executable, &t)),
                };
                let (dir, triple) = match from_path {
                    Some(found) => found,
                    None => {
                        let meta = workspace.get()?;
                        let dir = explicit_dir
                            .clone()
                            .unwrap_or_else(|| meta.target_directory.clone().into_std_path_buf());
                        let triple = triple_from_artifact(&dir, executable);
                        (dir, triple)
                    }
                };
                (Some(explicit_dir.unwrap_or(dir)), triple)
            }
        };
        let triple = match (flag, from_path, record) {
            (Some(t), _, _) => t,
            (None, Some(t), _) => t,
            // airflow-build recorded the target the code was compiled for.
            (None, None, Some(r)) => Triple::recorded(r),
            (None, None, None) => Triple::host()?,
        };
        Ok(Layout { target_dir, triple })
    }

    /// The default output: `<target-dir>/airflow/<triple>/<bin>`, with `.exe` for Windows
    /// targets.
    pub fn default_output(&self, bin: &str) -> Result<PathBuf> {
        let dir = self.target_dir.as_ref().ok_or(Error::NoDefaultOutput)?;
        Ok(default_output(dir, &self.triple, bin))
    }
}

fn workspace_dir(workspace: &Workspace) -> Option<PathBuf> {
    workspace
        .loaded()
        .map(|m| m.target_directory.clone().into_std_path_buf())
}

/// `<target_dir>/airflow/<triple>/<bin>`, with `.exe` for Windows targets.
fn default_output(target_dir: &Path, triple: &Triple, bin: &str) -> PathBuf {
    let name = if triple.is_windows() {
        format!("{bin}.exe")
    } else {
        bin.to_owned()
    };
    target_dir.join("airflow").join(triple.as_str()).join(name)
}

/// The target directory and target triple of an executable cargo built, read from its path:
/// `<target-dir>/<profile-dir>/<bin>` for the host, or `<target-dir>/<triple>/<profile-dir>/<bin>`
/// for an explicit (or configured) target.
///
/// `triple` is the target the executable is known to be built for (`--target`, or what its
/// airflow-build record says): the directory above the profile's is that triple's only when it
/// has the name and sits in a cargo target directory (cargo tags each with `CACHEDIR.TAG`, the
/// triple directories too, which is why the triple must be known). `None` when the path does not
/// have cargo's layout (then ask `cargo metadata`).
fn layout_of(executable: &Path, triple: &Triple) -> Option<(PathBuf, Option<Triple>)> {
    let above_profile = executable.parent()?.parent()?;
    let is_target_dir = |d: &Path| d.join("CACHEDIR.TAG").is_file();
    if above_profile
        .file_name()
        .is_some_and(|n| n == triple.as_str())
        && let Some(root) = above_profile.parent()
        && is_target_dir(root)
    {
        return Some((root.to_owned(), Some(triple.clone())));
    }
    if is_target_dir(above_profile) {
        return Some((above_profile.to_owned(), None));
    }
    None
}

/// The triple an artifact was built for, when its path is `<target-dir>/<triple>/<profile>/<file>`
/// (cargo's layout for an explicit or configured `build.target`).
fn triple_from_artifact(target_dir: &Path, executable: &Path) -> Option<Triple> {
    let rel = executable.strip_prefix(target_dir).ok()?;
    let parts: Vec<&OsStr> = rel.iter().collect();
    match parts.as_slice() {
        [triple, _profile, _file] => Some(Triple(triple.to_string_lossy().into_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triple(s: &str) -> Triple {
        Triple(s.to_owned())
    }

    #[test]
    fn default_output_paths() {
        let t = Path::new("/w/target");
        assert_eq!(
            default_output(t, &triple("x86_64-unknown-linux-gnu"), "ex"),
            Path::new("/w/target/airflow/x86_64-unknown-linux-gnu/ex")
        );
        assert_eq!(
            default_output(t, &triple("x86_64-pc-windows-msvc"), "ex"),
            Path::new("/w/target/airflow/x86_64-pc-windows-msvc/ex.exe")
        );
        assert_eq!(
            default_output(t, &triple("aarch64-pc-windows-gnullvm"), "ex"),
            Path::new("/w/target/airflow/aarch64-pc-windows-gnullvm/ex.exe")
        );
        let unknown = Layout {
            target_dir: None,
            triple: triple("x86_64-unknown-linux-gnu"),
        };
        assert!(matches!(
            unknown.default_output("ex"),
            Err(Error::NoDefaultOutput)
        ));
    }

    #[test]
    fn the_layout_names_the_target_dir_and_triple() {
        let dir = tempfile::tempdir().unwrap();
        let td = dir.path().join("x86_64-unknown-linux-gnu");
        for d in [
            td.join("release"),
            td.join("x86_64-unknown-linux-gnu/release"),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(td.join("CACHEDIR.TAG"), "").unwrap();
        let host = td.join("release/ex");
        let cross = td.join("x86_64-unknown-linux-gnu/release/ex");
        let linux = triple("x86_64-unknown-linux-gnu");
        // A target dir named like the triple is still the host layout.
        assert_eq!(layout_of(&host, &linux), Some((td.clone(), None)));
        assert_eq!(
            layout_of(&cross, &linux),
            Some((td.clone(), Some(linux.clone())))
        );
        assert_eq!(layout_of(&dir.path().join("a/b/ex"), &triple("x")), None);
    }

    #[test]
    fn triple_comes_from_the_artifact_layout() {
        let t = Path::new("/w/target");
        assert_eq!(
            triple_from_artifact(t, Path::new("/w/target/aarch64-apple-darwin/release/ex")),
            Some(triple("aarch64-apple-darwin"))
        );
        assert_eq!(
            triple_from_artifact(t, Path::new("/w/target/release/ex")),
            None
        );
        assert_eq!(triple_from_artifact(t, Path::new("/elsewhere/ex")), None);
        assert_eq!(
            Triple::from_target_flag("specs/my-target.json"),
            triple("my-target")
        );
        assert_eq!(
            Triple::from_target_flag("x86_64-pc-windows-msvc").as_str(),
            "x86_64-pc-windows-msvc"
        );
    }
}
