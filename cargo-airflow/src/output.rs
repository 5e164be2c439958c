//! The one way cargo-airflow writes a file (the bundle, the Python stub file, anything later),
//! with one set of rules:
//!
//! - The destination is a regular file or absent. A directory, FIFO, socket or device node is
//!   refused from its metadata alone, never opened for writing (so nothing waits on a FIFO and
//!   `/dev/null` stays a device).
//! - A symbolic link is followed to the regular file it points to, and that file is replaced:
//!   the link stays a link, and the deployed file it names gets the new content. A link that
//!   dangles, or points at anything but a regular file, is refused: creating a file at the end of
//!   a dangling link would write somewhere nobody asked for.
//! - It is never one of the inputs of the build (device and inode on Unix, so symlinks, `..`
//!   and hard links are all caught; canonical paths elsewhere).
//! - The write is atomic: a temp file named `.cargo-airflow-*.tmp` in the destination's directory
//!   is written, given its mode (0755 for a bundle, 0644 for a stub file), fsynced and renamed
//!   over the destination, so the path keeps its old content or gets the complete new one. A
//!   destination that already holds exactly the new bytes with the right mode is left
//!   untouched (same inode and mtime: Airflow's caches stay valid).
//! - Temp files are registered with [`crate::signals`] while they live and removed on SIGINT,
//!   SIGTERM and SIGHUP; one left by a writer that
//!   was killed outright is removed by the next write in that directory
//!   ([`remove_abandoned_temp_files`]).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Which file is being written: decides its mode and what a refusal advises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The executable bundle (mode 0755).
    Bundle,
    /// The Python stub dag file (mode 0644: read by the Dag processor, never run).
    Stubs,
    /// A pack stamp in the target directory (mode 0644; see [`crate::stamp`]).
    Stamp,
}

impl Kind {
    /// The Unix mode the file gets.
    pub fn mode(self) -> u32 {
        match self {
            Kind::Bundle => 0o755,
            Kind::Stubs | Kind::Stamp => 0o644,
        }
    }

    /// What to do when the destination is refused.
    pub fn elsewhere(self) -> &'static str {
        match self {
            Kind::Bundle => "pass another path with -o/--output",
            Kind::Stubs => {
                "remove it, pass another path with `cargo airflow stubs -o`, or pack with \
                 --no-stubs"
            }
            Kind::Stamp => "remove it (it is only a cache; the next pack writes it again)",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Bundle => "the bundle",
            Kind::Stubs => "the Python stub file",
            Kind::Stamp => "the pack stamp",
        })
    }
}

/// A destination that passed [`check`]: where the rename goes (the file a symbolic link points
/// to, or the path itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    kind: Kind,
    requested: PathBuf,
    target: PathBuf,
}

impl Destination {
    /// The path the caller asked for.
    pub fn requested(&self) -> &Path {
        &self.requested
    }

    /// The file that is replaced: the requested path, or the regular file its symbolic link
    /// points to.
    pub fn target(&self) -> &Path {
        &self.target
    }

    fn dir(&self) -> PathBuf {
        match self.target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }
}

/// Checks `path` as a destination for a file of `kind`: a regular file, a symbolic link to one,
/// or nothing; never the same file as one of `inputs` (`(role, path)` pairs, the role for the
/// message). Nothing is opened.
pub fn check(path: &Path, kind: Kind, inputs: &[(&'static str, &Path)]) -> Result<Destination> {
    let not_regular = |what: &'static str| Error::OutputNotRegular {
        kind,
        output: path.to_owned(),
        what,
    };
    let target = match fs::symlink_metadata(path) {
        // Absent (or not inspectable: the write itself will say why, naming the path).
        Err(_) => path.to_owned(),
        Ok(m) if m.is_dir() => {
            return Err(Error::OutputIsDirectory {
                kind,
                path: path.to_owned(),
            });
        }
        Ok(m) if m.is_file() => path.to_owned(),
        Ok(m) if m.file_type().is_symlink() => {
            let Ok(target) = fs::canonicalize(path) else {
                return Err(not_regular(
                    "a symbolic link to nothing (create the file it points to, or remove the \
                     link)",
                ));
            };
            match fs::metadata(&target) {
                Ok(t) if t.is_file() => target,
                Ok(t) if t.is_dir() => return Err(not_regular("a symbolic link to a directory")),
                _ => {
                    return Err(not_regular(
                        "a symbolic link to something that is not a regular file (a FIFO, \
                         socket or device node)",
                    ));
                }
            }
        }
        Ok(_) => {
            return Err(not_regular(
                "not a regular file (a FIFO, socket or device node)",
            ));
        }
    };
    check_not_an_input(path, &target, kind, inputs)?;
    Ok(Destination {
        kind,
        requested: path.to_owned(),
        target,
    })
}

fn check_not_an_input(
    requested: &Path,
    target: &Path,
    kind: Kind,
    inputs: &[(&'static str, &Path)],
) -> Result<()> {
    let out_id = file_id(target);
    // Where files have identities, a destination that does not exist yet cannot be an input,
    // and one that does is an input exactly when it is the same file: no path needs resolving,
    // which a no-op pack of many inputs would feel.
    if cfg!(unix) && out_id.is_none() {
        return Ok(());
    }
    let out_canon = if cfg!(unix) {
        None
    } else {
        canonical_maybe_missing(target)
    };
    for (role, input) in inputs {
        let same_path = match &out_canon {
            Some(a) => fs::canonicalize(input).is_ok_and(|b| *a == b),
            None => false,
        };
        let same_file = match (out_id, file_id(input)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        if same_path || same_file {
            return Err(Error::OutputAliasesInput {
                kind,
                output: requested.to_owned(),
                role,
                input: input.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// The canonical form of a path whose last component may not exist yet.
fn canonical_maybe_missing(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = fs::canonicalize(path) {
        return Some(c);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::canonicalize(parent).ok().map(|p| p.join(name))
}

#[cfg(unix)]
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// Opens the destination's current file for reading when it is a regular file with `kind`'s
/// mode (without waiting on a FIFO swapped in since [`check`]); `None` otherwise. For callers
/// that compare it with what they would write.
pub fn open_current(dest: &Destination) -> Option<File> {
    let file = airflow_bundle::read::open_regular(&dest.target).ok()?;
    let meta = file.metadata().ok()?;
    has_mode(&meta, dest.kind.mode()).then_some(file)
}

#[cfg(unix)]
fn has_mode(meta: &fs::Metadata, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777 == mode
}

#[cfg(not(unix))]
fn has_mode(_meta: &fs::Metadata, _mode: u32) -> bool {
    true
}

/// Writes `bytes` to `dest` atomically, unless it already holds exactly them (with the right
/// mode). Returns whether it wrote.
pub fn write_bytes(dest: &Destination, bytes: &[u8]) -> Result<bool> {
    if let Some(current) = open_current(dest) {
        let len = bytes.len() as u64;
        let mut held = Vec::with_capacity(bytes.len());
        // One byte more than expected tells a longer file apart without reading all of it.
        let same = current.metadata().is_ok_and(|m| m.len() == len)
            && current.take(len + 1).read_to_end(&mut held).is_ok()
            && held == bytes;
        if same {
            return Ok(false);
        }
    }
    write_with(dest, |file, tmp| {
        let mut f = file;
        f.write_all(bytes)
            .map_err(|e| Error::io("cannot write", tmp, e))
    })?;
    Ok(true)
}

/// Writes `dest` atomically: `fill` writes the content into the temp file (at `tmp`, for
/// messages); then the mode is set, the file fsynced and renamed over the destination. Any
/// failure removes the temp file and leaves the destination as it was.
pub fn write_with<T>(
    dest: &Destination,
    fill: impl FnOnce(&File, &Path) -> Result<T>,
) -> Result<T> {
    let dir = dest.dir();
    fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create the directory", &dir, e))?;
    remove_abandoned_temp_files(&dir);
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(&dir)
        .map_err(|e| Error::io("cannot create a temporary file in", &dir, e))?;
    let _pending = crate::signals::Registered::temp_file(tmp.path());
    // Held until the temp file is renamed or removed: a later write that can take this lock
    // knows the writer is gone (killed with SIGKILL, say) and removes the file.
    let _ = tmp.as_file().try_lock();
    let value = fill(tmp.as_file(), tmp.path())?;
    let file = tmp.as_file();
    set_mode(file, dest.kind.mode())
        .map_err(|e| Error::io("cannot set the mode of", tmp.path(), e))?;
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", tmp.path(), e))?;
    if let Some(ms) = std::env::var(TEST_PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    // Something other than a regular file may have appeared since the check: never rename
    // over it.
    if let Ok(m) = fs::symlink_metadata(&dest.target)
        && !m.is_file()
    {
        return Err(Error::OutputNotRegular {
            kind: dest.kind,
            output: dest.requested.clone(),
            what: "no longer a regular file (it was replaced while being written)",
        });
    }
    tmp.persist(&dest.target).map_err(|e| {
        Error::io(
            "cannot rename the new file into place at",
            &dest.target,
            e.error,
        )
    })?;
    // Make the rename durable; failure here is not worth failing the write for.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(value)
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Test-only hook: milliseconds to sleep after a temp file is complete and before it is renamed
/// into place, so tests can interrupt a write at its most delicate moment.
pub const TEST_PAUSE_ENV: &str = "__CARGO_AIRFLOW_TEST_PAUSE_MS";

const TEMP_PREFIX: &str = ".cargo-airflow-";
const TEMP_SUFFIX: &str = ".tmp";

/// Removes `.cargo-airflow-*.tmp` files in `dir` whose writer is gone: each writer holds an
/// exclusive lock on its temp file, so a file whose lock can be taken was abandoned (SIGKILL,
/// power loss). Errors are ignored: this is housekeeping.
pub fn remove_abandoned_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(file) = fs::OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_INPUTS: &[(&str, &Path)] = &[];

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn an_input_is_never_a_destination_however_it_is_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("exe");
        fs::write(&exe, b"input").unwrap();
        let inputs = [("executable", exe.as_path())];
        fs::create_dir(dir.path().join("sub")).unwrap();
        let mut aliases = vec![dir.path().join("sub/../exe")];
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&exe, &link).unwrap();
            let hard = dir.path().join("hard");
            fs::hard_link(&exe, &hard).unwrap();
            aliases.extend([link, hard]);
        }
        for alias in aliases {
            let e = check(&alias, Kind::Stubs, &inputs).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::OutputAliasesInput {
                        role: "executable",
                        kind: Kind::Stubs,
                        ..
                    }
                ),
                "{}: {e}",
                alias.display()
            );
        }
        // A new file next to it is fine, also in a directory yet to be made.
        check(&dir.path().join("new"), Kind::Bundle, &inputs).unwrap();
        check(&dir.path().join("nodir/new"), Kind::Bundle, &inputs).unwrap();
        assert_eq!(fs::read(&exe).unwrap(), b"input");
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = check(dir.path(), Kind::Bundle, NO_INPUTS).unwrap_err();
        assert!(matches!(e, Error::OutputIsDirectory { .. }), "{e}");
    }

    /// FIFOs, sockets and device nodes are refused from their metadata: a test that opened the
    /// FIFO for writing would hang here, and one that renamed over the device would replace it.
    #[cfg(unix)]
    #[test]
    fn fifos_sockets_and_devices_are_refused_unopened() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        for special in [fifo.as_path(), socket.as_path(), Path::new("/dev/null")] {
            let e = check(special, Kind::Stubs, NO_INPUTS)
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a regular file"), "{e}");
            assert!(e.contains("the Python stub file"), "{e}");
        }
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_to_its_regular_file_which_is_replaced() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let deployed = dir.path().join("deployed");
        fs::create_dir(&deployed).unwrap();
        let target = deployed.join("x_dags.py");
        fs::write(&target, b"old").unwrap();
        let link = dir.path().join("x_dags.py");
        symlink(&target, &link).unwrap();
        let dest = check(&link, Kind::Stubs, NO_INPUTS).unwrap();
        assert_eq!(dest.target(), fs::canonicalize(&target).unwrap());
        assert!(write_bytes(&dest, b"new").unwrap());
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&target).unwrap(), b"new");
        // The temp file went next to the target, and is gone.
        assert_eq!(names(&deployed), ["x_dags.py"]);
        assert_eq!(names(dir.path()), ["deployed", "x_dags.py"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_nothing_or_to_a_special_file_is_refused() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (dir.path().join("nowhere"), "a symbolic link to nothing"),
            (
                PathBuf::from("/dev/null"),
                "a symbolic link to something that",
            ),
            (dir.path().to_owned(), "a symbolic link to a directory"),
        ];
        for (i, (to, what)) in cases.into_iter().enumerate() {
            let link = dir.path().join(format!("link{i}"));
            symlink(&to, &link).unwrap();
            let e = check(&link, Kind::Bundle, NO_INPUTS)
                .unwrap_err()
                .to_string();
            assert!(e.contains(what), "{e}");
            assert!(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
        }
        assert!(!dir.path().join("nowhere").exists());
    }

    #[cfg(unix)]
    #[test]
    fn writes_are_atomic_with_the_kinds_mode_and_skip_unchanged_files() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        for kind in [Kind::Bundle, Kind::Stubs] {
            let out = dir.path().join(format!("{kind:?}/out"));
            let dest = check(&out, kind, NO_INPUTS).unwrap();
            assert!(write_bytes(&dest, b"one").unwrap());
            assert_eq!(fs::read(&out).unwrap(), b"one");
            assert_eq!(mode(&out), kind.mode());
            let before = fs::metadata(&out).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            // Unchanged: not rewritten (same inode, same mtime).
            assert!(!write_bytes(&dest, b"one").unwrap());
            let after = fs::metadata(&out).unwrap();
            assert_eq!(before.ino(), after.ino());
            assert_eq!(before.modified().unwrap(), after.modified().unwrap());
            // Same bytes with another mode, or a longer file: rewritten by rename (new inode).
            fs::set_permissions(&out, fs::Permissions::from_mode(0o600)).unwrap();
            assert!(write_bytes(&dest, b"one").unwrap());
            assert_eq!(mode(&out), kind.mode());
            fs::write(&out, b"one and more").unwrap();
            fs::set_permissions(&out, fs::Permissions::from_mode(kind.mode())).unwrap();
            // The old file's inode is only freed by the rename, so the new one differs.
            let old = fs::metadata(&out).unwrap().ino();
            assert!(write_bytes(&dest, b"one").unwrap());
            assert_eq!(fs::read(&out).unwrap(), b"one");
            assert_ne!(fs::metadata(&out).unwrap().ino(), old);
            assert_eq!(names(out.parent().unwrap()), ["out"]);
        }
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::write(&out, b"old").unwrap();
        let dest = check(&out, Kind::Stubs, NO_INPUTS).unwrap();
        let r: Result<()> = write_with(&dest, |_, tmp| {
            Err(Error::io(
                "cannot write",
                tmp,
                io::Error::other("disk full"),
            ))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&out).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out"]);
    }

    #[test]
    fn abandoned_temp_files_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".cargo-airflow-dead.tmp");
        fs::write(&dead, b"partial").unwrap();
        let live = dir.path().join(".cargo-airflow-live.tmp");
        fs::write(&live, b"partial").unwrap();
        let holder = fs::OpenOptions::new().write(true).open(&live).unwrap();
        holder.try_lock().unwrap();
        let other = dir.path().join("other.tmp");
        fs::write(&other, b"not ours").unwrap();
        // Any write in the directory cleans up after a killed writer.
        let dest = check(&dir.path().join("out"), Kind::Stubs, NO_INPUTS).unwrap();
        write_bytes(&dest, b"x").unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
        assert!(other.exists());
    }
}
