//! The bundle file being written: its default path and the streaming write.
//!
//! The bundle goes through [`crate::output`] like every file cargo-airflow writes (regular file
//! or absent, never an input, atomic, temp files cleaned up): its temp file receives the
//! executable (streamed through the hasher), the source, the manifest and the trailer. When the
//! output already holds exactly the bytes that would be written, it is left untouched (same
//! inode and mtime, so Airflow's hash cache stays valid) and the write is reported as fresh.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use airflow_bundle::Trailer;
use airflow_bundle::sha256::Sha256;
use airflow_bundle::write::write_bundle;

use crate::error::{Error, Result};
use crate::output::Destination;

/// Whether the file at `path` ends with the bundle magic (a previous pack's output).
pub fn looks_like_bundle(path: &Path) -> bool {
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut magic = [0u8; 8];
    match f.metadata() {
        Ok(m) if m.is_file() && m.len() >= airflow_bundle::TRAILER_LEN as u64 => {}
        _ => return false,
    }
    f.seek(SeekFrom::End(-8)).is_ok()
        && f.read_exact(&mut magic).is_ok()
        && magic == airflow_bundle::MAGIC
}

/// The executable being packed, opened once: every pass (hash, comparison, copy) reads this same
/// file, even if a concurrent build replaces the file at its path meanwhile.
#[derive(Debug)]
pub struct OpenedExecutable {
    path: PathBuf,
    file: File,
    stamp: Option<Stamp>,
}

/// Identity and version of a file: device, inode, length, modification time.
type Stamp = (u64, u64, u64, Option<std::time::SystemTime>);

fn stamp(meta: &fs::Metadata) -> Option<Stamp> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino(), meta.len(), meta.modified().ok()))
    }
    #[cfg(not(unix))]
    {
        Some((0, 0, meta.len(), meta.modified().ok()))
    }
}

impl OpenedExecutable {
    /// Opens the executable at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = airflow_bundle::read::open_regular(path)
            .map_err(|e| Error::io("cannot read", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io("cannot read", path, e))?;
        Ok(OpenedExecutable {
            path: path.to_owned(),
            stamp: stamp(&meta),
            file,
        })
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The opened file's metadata.
    pub fn metadata(&self) -> io::Result<fs::Metadata> {
        self.file.metadata()
    }

    /// Fails if the path no longer names the file as it was opened (replaced or modified, for
    /// example by a concurrent `cargo build`), so metadata read by running the path cannot be
    /// paired with different bytes.
    pub fn check_unchanged(&self) -> Result<()> {
        let now = fs::metadata(&self.path).ok().and_then(|m| stamp(&m));
        if now.is_some() && now == self.stamp {
            return Ok(());
        }
        Err(Error::ExecutableChanged {
            path: self.path.clone(),
        })
    }

    /// Which glibc the opened file needs (read from the open file: the bytes packed).
    pub fn glibc_needs(&self) -> Result<airflow_bundle::glibc::GlibcNeeds> {
        airflow_bundle::glibc::needs_of_reader(&self.file).map_err(|source| Error::Glibc {
            path: self.path.clone(),
            source,
        })
    }

    /// The file, rewound to its start.
    fn rewound(&self) -> io::Result<&File> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(0))?;
        Ok(f)
    }
}

/// What [`write_atomically`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The trailer of the bundle at the output path.
    pub trailer: Trailer,
    /// The bundle's size in bytes.
    pub size: u64,
    /// The output already held these exact bytes and was left untouched.
    pub fresh: bool,
    /// SHA-256 of the whole bundle file.
    pub file_sha256: [u8; 32],
    /// Device and inode of the file written or compared (where files have them), so that a
    /// stamp is recorded only for that file.
    pub file_id: Option<(u64, u64)>,
}

/// Writes `executable` + `source` + `manifest` + trailer to `output` atomically, with mode 0755,
/// creating parent directories. Leaves an output that already holds the same bytes untouched.
pub fn write_atomically(
    dest: &Destination,
    exe: &OpenedExecutable,
    source: &[u8],
    manifest: &[u8],
) -> Result<Written> {
    let output = dest.requested();
    let executable = exe.path();
    let write_err = |source| Error::Write {
        path: output.to_owned(),
        source,
    };
    let exe_len = exe
        .file
        .metadata()
        .map_err(|e| Error::io("cannot read", executable, e))?
        .len();
    if exe_len == 0 {
        return Err(write_err(
            airflow_bundle::write::WriteError::EmptyExecutable,
        ));
    }
    if let Some(fresh) = already_holds(dest, exe, exe_len, source, manifest) {
        return Ok(fresh);
    }
    crate::output::write_with(dest, |tmp, tmp_path| {
        let mut exe_file = exe
            .rewound()
            .map_err(|e| Error::io("cannot read", executable, e))?;
        let mut out = BufWriter::new(Hashing {
            inner: tmp,
            hasher: Sha256::new(),
        });
        let trailer = write_bundle(&mut exe_file, &mut out, source, manifest).map_err(write_err)?;
        out.flush()
            .map_err(|e| Error::io("cannot write", tmp_path, e))?;
        let hashing = out
            .into_inner()
            .map_err(|e| Error::io("cannot write", tmp_path, e.into_error()))?;
        let meta = tmp
            .metadata()
            .map_err(|e| Error::io("cannot stat", tmp_path, e))?;
        Ok(Written {
            trailer,
            size: meta.len(),
            fresh: false,
            file_sha256: hashing.hasher.finalize(),
            file_id: crate::stamp::written_id(&meta),
        })
    })
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// When `dest` is a regular 0755 file holding exactly the bundle of `exe` (`exe_len` bytes),
/// `source` and `manifest`, what was written; any error counts as "no". The executable is hashed
/// while it is compared, so a fresh output costs one pass over each file, and a stale one of
/// another size none.
fn already_holds(
    dest: &Destination,
    exe: &OpenedExecutable,
    exe_len: u64,
    source: &[u8],
    manifest: &[u8],
) -> Option<Written> {
    let (Ok(source_len), Ok(metadata_len)) =
        (u32::try_from(source.len()), u32::try_from(manifest.len()))
    else {
        return None;
    };
    let size = exe_len + source.len() as u64 + manifest.len() as u64 + 64;
    let mut out = crate::output::open_current(dest)?;
    let meta = out.metadata().ok()?;
    if meta.len() != size {
        return None;
    }
    let mut exe_file = exe.rewound().ok()?;
    // The executable region's digest goes into the trailer, the whole file's to the caller;
    // both come from the one pass that compares: the whole file's hash goes on from the
    // region's state.
    let mut region = Sha256::new();
    let same = same_content(&mut exe_file, &mut (&mut out).take(exe_len), |chunk| {
        region.update(chunk);
    })
    .ok()?;
    if !same {
        return None;
    }
    let mut file = region.clone();
    let trailer = Trailer::new(source_len, metadata_len, region.finalize());
    let expected = [source, manifest, &trailer.to_bytes()[..]].concat();
    let mut tail = Vec::with_capacity(expected.len());
    out.read_to_end(&mut tail).ok()?;
    file.update(&tail);
    (tail == expected).then(|| Written {
        trailer,
        size,
        fresh: true,
        file_sha256: file.finalize(),
        file_id: crate::stamp::written_id(&meta),
    })
}

/// Compares two streams chunk by chunk, handing each equal chunk of `a` to `seen`.
fn same_content(
    a: &mut impl Read,
    b: &mut impl Read,
    mut seen: impl FnMut(&[u8]),
) -> io::Result<bool> {
    const CHUNK: usize = 256 * 1024;
    let mut ba = vec![0u8; CHUNK];
    let mut bb = vec![0u8; CHUNK];
    loop {
        let na = read_full(a, &mut ba)?;
        let nb = read_full(b, &mut bb)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        seen(&ba[..na]);
        if na == 0 {
            return Ok(true);
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_exe(dir: &Path) -> PathBuf {
        let p = dir.join("exe");
        fs::write(&p, b"\x7fELF not really an executable, just bytes").unwrap();
        p
    }

    /// `out` as a checked bundle destination with no inputs to protect.
    fn dest(out: &Path) -> Destination {
        crate::output::check(out, crate::output::Kind::Bundle, &[]).unwrap()
    }

    #[test]
    fn writes_a_verifiable_bundle_with_mode_0755_and_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let exe = fake_exe(dir.path());
        let out = dir.path().join("a/b/bundle");
        let w = write_atomically(
            &dest(&out),
            &OpenedExecutable::open(&exe).unwrap(),
            b"fn main() {}\n",
            b"k: v\n",
        )
        .unwrap();
        assert!(!w.fresh);
        let bytes = fs::read(&out).unwrap();
        assert_eq!(bytes.len() as u64, w.size);
        assert!(bytes.starts_with(&fs::read(&exe).unwrap()));
        assert_eq!(&bytes[bytes.len() - 8..], b"AFBNDL01");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&out).unwrap().permissions().mode() & 0o7777,
                0o755
            );
        }
        // Cargo's artifact is untouched, and no temp file is left behind.
        assert_eq!(
            fs::read(&exe).unwrap(),
            b"\x7fELF not really an executable, just bytes"
        );
        let left: Vec<_> = fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("bundle")]);
    }

    #[test]
    fn a_failed_write_leaves_nothing_at_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        fs::write(&empty, b"").unwrap();
        let out = dir.path().join("out/bundle");
        assert!(
            write_atomically(
                &dest(&out),
                &OpenedExecutable::open(&empty).unwrap(),
                b"",
                b"m"
            )
            .is_err()
        );
        assert!(!out.exists());
        let left = fs::read_dir(dir.path().join("out"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "temp files were left behind");
        // A missing executable fails before anything is created.
        assert!(OpenedExecutable::open(&dir.path().join("missing")).is_err());
        assert!(!out.exists());
    }

    #[test]
    fn a_failed_write_keeps_the_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bundle");
        fs::write(&out, b"old").unwrap();
        let empty = dir.path().join("empty");
        fs::write(&empty, b"").unwrap();
        assert!(
            write_atomically(
                &dest(&out),
                &OpenedExecutable::open(&empty).unwrap(),
                b"",
                b"m"
            )
            .is_err()
        );
        assert_eq!(fs::read(&out).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn repacking_identical_content_keeps_inode_and_mtime() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = fake_exe(dir.path());
        let out = dir.path().join("bundle");
        write_atomically(
            &dest(&out),
            &OpenedExecutable::open(&exe).unwrap(),
            b"src",
            b"m: 1\n",
        )
        .unwrap();
        let before = fs::metadata(&out).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let w = write_atomically(
            &dest(&out),
            &OpenedExecutable::open(&exe).unwrap(),
            b"src",
            b"m: 1\n",
        )
        .unwrap();
        assert!(w.fresh);
        let whole = Sha256::digest(&fs::read(&out).unwrap());
        assert_eq!(
            w.file_sha256, whole,
            "the digest of a fresh output is the file's"
        );
        let after = fs::metadata(&out).unwrap();
        assert_eq!(before.ino(), after.ino());
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        // Different content is rewritten (new inode via rename), not reported fresh.
        let w = write_atomically(
            &dest(&out),
            &OpenedExecutable::open(&exe).unwrap(),
            b"src2",
            b"m: 1\n",
        )
        .unwrap();
        assert!(!w.fresh);
        let whole = Sha256::digest(&fs::read(&out).unwrap());
        assert_eq!(
            w.file_sha256, whole,
            "the digest of a written output is the file's"
        );
        assert_ne!(fs::metadata(&out).unwrap().ino(), before.ino());
    }

    #[cfg(unix)]
    #[test]
    fn identical_bytes_without_the_exec_bit_are_rewritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = fake_exe(dir.path());
        let out = dir.path().join("bundle");
        write_atomically(
            &dest(&out),
            &OpenedExecutable::open(&exe).unwrap(),
            b"s",
            b"m",
        )
        .unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o644)).unwrap();
        let w = write_atomically(
            &dest(&out),
            &OpenedExecutable::open(&exe).unwrap(),
            b"s",
            b"m",
        )
        .unwrap();
        assert!(!w.fresh);
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o7777,
            0o755
        );
    }

    #[test]
    fn a_replaced_executable_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let exe = fake_exe(dir.path());
        let opened = OpenedExecutable::open(&exe).unwrap();
        opened.check_unchanged().unwrap();
        // Replace the path, as cargo does when it relinks an artifact.
        let new = dir.path().join("new");
        fs::write(&new, b"another build").unwrap();
        fs::rename(&new, &exe).unwrap();
        let e = opened.check_unchanged().unwrap_err().to_string();
        assert!(e.contains("changed while it was being packed"), "{e}");
        // The opened file still reads the original bytes.
        let out = dir.path().join("bundle");
        write_atomically(&dest(&out), &opened, b"", b"m").unwrap();
        assert!(fs::read(&out).unwrap().starts_with(b"\x7fELF not really"));
    }

    #[test]
    fn bundles_are_recognized_by_their_magic() {
        let dir = tempfile::tempdir().unwrap();
        let exe = fake_exe(dir.path());
        assert!(!looks_like_bundle(&exe));
        assert!(!looks_like_bundle(&dir.path().join("missing")));
        assert!(!looks_like_bundle(dir.path()));
        let out = dir.path().join("bundle");
        write_atomically(
            &dest(&out),
            &OpenedExecutable::open(&exe).unwrap(),
            b"s",
            b"m",
        )
        .unwrap();
        assert!(looks_like_bundle(&out));
    }

    #[test]
    fn same_content_compares_streams() {
        assert!(same_content(&mut &b"abc"[..], &mut &b"abc"[..], |_| {}).unwrap());
        assert!(!same_content(&mut &b"abc"[..], &mut &b"abd"[..], |_| {}).unwrap());
        assert!(!same_content(&mut &b"abc"[..], &mut &b"ab"[..], |_| {}).unwrap());
        let big = vec![1u8; 600 * 1024];
        assert!(same_content(&mut &big[..], &mut &big[..], |_| {}).unwrap());
    }
}
