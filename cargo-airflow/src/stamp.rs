//! Pack stamps: what lets a pack with nothing to rebuild skip reading the bundle again.
//!
//! A fresh pack must still prove that the bundle at the output holds exactly the bytes it would
//! write, and it used to do so by reading and hashing the whole file (and the executable) each
//! time. Like cargo's fingerprints, a stamp in the target directory
//! (`<target-dir>/airflow/.pack-stamps/<digest of the output path>`) records, after a pack
//! wrote or checked a bundle:
//!
//! - a key: the digest of this cargo-airflow's version, the executable's and the bundle's paths,
//!   the source and the manifest the bundle holds (so any change to the dags, the source or the
//!   recorded build facts misses);
//! - the identity of this cargo-airflow executable, of the packed executable and of the bundle
//!   file: device, inode, length, mode, modification and status-change times. The status-change
//!   time moves on every write, truncation, rename over, `chmod` or `touch`, and cannot be set
//!   back, so an edited, truncated or replaced file never matches;
//! - the digests that pack reports (the executable region's and the whole file's).
//!
//! When every part matches, the bundle is the one the stamp describes and its digests are taken
//! from the stamp; when anything differs, or the stamp is missing or unreadable, the bundle is
//! compared byte for byte as before (and the stamp written again). Stamps exist only where files
//! have these identities (Unix) and a target directory is known; they are a cache, so failing to
//! write one never fails a pack.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use airflow_bundle::Trailer;
use airflow_bundle::footer::hex;
use airflow_bundle::sha256::Sha256;

use crate::bundle_file::{OpenedExecutable, Written, write_atomically};
use crate::error::Result;
use crate::output::{self, Destination, Kind};
use crate::pack::PACKER;

/// The first line of every stamp; a new format gets a new number.
const HEADER: &str = "cargo-airflow pack stamp 1";

/// A stamp is a few hundred bytes: anything longer is not one.
const MAX_STAMP_LEN: u64 = 4096;

/// Where the stamp of the bundle at `output` lives, under `target_dir`.
pub fn path_for(target_dir: &Path, output: &Path) -> PathBuf {
    let name = hex(&Sha256::digest(output.as_os_str().as_encoded_bytes()));
    target_dir
        .join("airflow")
        .join(".pack-stamps")
        .join(&name[..32])
}

/// Writes the bundle as [`write_atomically`] does, unless the stamp at `stamp` says `dest`
/// already holds it; then records the stamp. `stamp` is `None` when no target directory is
/// known. `inputs` are the paths the stamp must never be written over.
pub fn write_stamped(
    dest: &Destination,
    exe: &OpenedExecutable,
    source: &[u8],
    manifest: &[u8],
    stamp: Option<&Path>,
    inputs: &[(&'static str, &Path)],
) -> Result<Written> {
    let Some(stamp) = stamp else {
        return write_atomically(dest, exe, source, manifest);
    };
    let key = key(exe, dest, source, manifest);
    if let Some(written) = recorded(stamp, &key, exe, dest, source.len(), manifest.len()) {
        return Ok(written);
    }
    let written = write_atomically(dest, exe, source, manifest)?;
    record(stamp, &key, exe, dest, &written, inputs);
    Ok(written)
}

/// The digest of everything that decides the bundle's bytes besides the executable's.
fn key(exe: &OpenedExecutable, dest: &Destination, source: &[u8], manifest: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [
        PACKER.as_bytes(),
        exe.path().as_os_str().as_encoded_bytes(),
        dest.target().as_os_str().as_encoded_bytes(),
        source,
        manifest,
    ] {
        // Lengths first, so no two different inputs hash the same bytes.
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex(&h.finalize())
}

/// The identity and version of a file, as text: device, inode, length, mode, modification and
/// status-change times (nanoseconds). `None` where files have no such identity.
#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(format!(
        "{} {} {} {:o} {}.{:09} {}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mode(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> Option<String> {
    None
}

/// This cargo-airflow's identity: a rebuilt packer (same version, new code) misses.
fn packer_identity() -> Option<String> {
    identity(&fs::metadata(std::env::current_exe().ok()?).ok()?)
}

/// The lines a stamp holds before the digests, for the current state of the files.
fn state(key: &str, exe: &OpenedExecutable, bundle: &fs::Metadata) -> Option<String> {
    Some(format!(
        "{HEADER}\nkey {key}\npacker {}\nexecutable {}\nbundle {}\n",
        packer_identity()?,
        identity(&exe.metadata().ok()?)?,
        identity(bundle)?,
    ))
}

/// What the stamp says was written, when it describes exactly the files as they are now.
fn recorded(
    stamp: &Path,
    key: &str,
    exe: &OpenedExecutable,
    dest: &Destination,
    source_len: usize,
    manifest_len: usize,
) -> Option<Written> {
    let file = airflow_bundle::read::open_regular(stamp).ok()?;
    let mut text = String::new();
    file.take(MAX_STAMP_LEN).read_to_string(&mut text).ok()?;
    let bundle = fs::metadata(dest.target()).ok()?;
    let state = state(key, exe, &bundle)?;
    let digests = text.strip_prefix(&state)?;
    let mut lines = digests.lines();
    let binary_sha256 = unhex(lines.next()?.strip_prefix("binary-sha256 ")?)?;
    let file_sha256 = unhex(lines.next()?.strip_prefix("file-sha256 ")?)?;
    if lines.next().is_some() {
        return None;
    }
    let size = exe.metadata().ok()?.len() + source_len as u64 + manifest_len as u64 + 64;
    if !(bundle.is_file() && bundle.len() == size) {
        return None;
    }
    Some(Written {
        trailer: Trailer::new(
            u32::try_from(source_len).ok()?,
            u32::try_from(manifest_len).ok()?,
            binary_sha256,
        ),
        size,
        fresh: true,
        file_sha256,
        file_id: written_id(&bundle),
    })
}

/// Records the stamp of `written`, when the file at the output is still the one the write
/// produced (a concurrent pack may have replaced it since). Errors are ignored: a missing stamp
/// costs the next pack a full comparison, nothing else.
fn record(
    stamp: &Path,
    key: &str,
    exe: &OpenedExecutable,
    dest: &Destination,
    written: &Written,
    inputs: &[(&'static str, &Path)],
) {
    let Ok(bundle) = fs::metadata(dest.target()) else {
        return;
    };
    if written.file_id.is_none() || written_id(&bundle) != written.file_id {
        return;
    }
    let Some(state) = state(key, exe, &bundle) else {
        return;
    };
    let text = format!(
        "{state}binary-sha256 {}\nfile-sha256 {}\n",
        hex(&written.trailer.binary_sha256),
        hex(&written.file_sha256)
    );
    if let Ok(d) = output::check(stamp, Kind::Stamp, inputs) {
        let _ = output::write_bytes(&d, text.as_bytes());
    }
}

/// Device and inode of a file, where files have them.
pub fn written_id(meta: &fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// 64 lowercase hex digits as 32 bytes.
fn unhex(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16).filter(|_| !c.is_ascii_uppercase());
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_anything_else() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex(&hex(&bytes).to_uppercase()), None);
        assert_eq!(unhex("ab"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
    }

    #[test]
    fn stamps_are_named_by_the_output_path() {
        let t = Path::new("/w/target");
        let a = path_for(t, Path::new("/w/target/airflow/x/a"));
        assert!(a.starts_with("/w/target/airflow/.pack-stamps"));
        assert_ne!(a, path_for(t, Path::new("/w/target/airflow/x/b")));
    }

    /// The stamp answers only while the bundle and the executable are the files it describes.
    #[cfg(unix)]
    #[test]
    fn a_stamp_answers_only_for_untouched_files() {
        let dir = tempfile::tempdir().unwrap();
        let exe_path = dir.path().join("exe");
        fs::write(&exe_path, b"\x7fELF bytes").unwrap();
        let out = dir.path().join("bundle");
        let stamp = dir.path().join("stamp");
        let dest = || output::check(&out, Kind::Bundle, &[]).unwrap();
        let pack = |manifest: &[u8]| {
            let exe = OpenedExecutable::open(&exe_path).unwrap();
            write_stamped(&dest(), &exe, b"src", manifest, Some(&stamp), &[]).unwrap()
        };
        let first = pack(b"m: 1\n");
        assert!(!first.fresh);
        assert!(stamp.is_file());
        let exe = OpenedExecutable::open(&exe_path).unwrap();
        let key = key(&exe, &dest(), b"src", b"m: 1\n");
        // Untouched: the stamp answers, with the digests the write computed.
        let hit = recorded(&stamp, &key, &exe, &dest(), 3, 5).unwrap();
        assert_eq!(
            (hit.trailer, hit.file_sha256),
            (first.trailer, first.file_sha256)
        );
        // Another manifest is another key.
        let other = super::key(&exe, &dest(), b"src", b"m: 2\n");
        assert!(recorded(&stamp, &other, &exe, &dest(), 3, 5).is_none());
        // The bundle rewritten with the same bytes (new mtime and ctime): no answer.
        let bytes = fs::read(&out).unwrap();
        fs::write(&out, &bytes).unwrap();
        assert!(recorded(&stamp, &key, &exe, &dest(), 3, 5).is_none());
        // A full comparison finds it fresh, and stamps it again.
        assert!(pack(b"m: 1\n").fresh);
        assert!(recorded(&stamp, &key, &exe, &dest(), 3, 5).is_some());
        // A damaged stamp is no stamp.
        fs::write(&stamp, "cargo-airflow pack stamp 1\n").unwrap();
        assert!(recorded(&stamp, &key, &exe, &dest(), 3, 5).is_none());
    }
}
