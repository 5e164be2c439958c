//! Hashing: each file's SHA-256, and the combined digests of scheme [`DIGEST_SCHEME`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use airflow_bundle::footer::hex;
use airflow_bundle::record::{FileDigest, InputDigests, InputKind, WORKSPACE_LOCK_PATH};
use airflow_bundle::sha256::Sha256;

use crate::select::Selection;
use crate::{Digests, Error};

/// The version of the digest algorithm described in the crate documentation.
pub const DIGEST_SCHEME: u32 = 2;

/// Streams one file through SHA-256 (`buf` is the reused read buffer).
fn hash_file(path: &Path, buf: &mut Vec<u8>) -> Result<Hashed, Error> {
    // Opening a FIFO would wait for a writer, and a device may never end: only regular files.
    let meta = std::fs::metadata(path).map_err(Error::io(path))?;
    if !meta.is_file() {
        return Err(Error::io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO, socket or device node)",
        )));
    }
    let mut f = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut h = Sha256::new();
    let mut len = 0u64;
    // Inputs are mostly small source files: a big buffer would cost more to zero than to use.
    buf.resize(64 * 1024, 0);
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path)(e)),
        };
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, h.finalize()))
}

/// A file's length and SHA-256.
type Hashed = (u64, [u8; 32]);

/// Hashes files in parallel (up to the available cores, at most 8 threads).
fn hash_all(paths: &[&Path]) -> Result<Vec<Hashed>, Error> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
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
                            let mut fe = first_error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            fe.get_or_insert(e);
                            next.store(paths.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                }
                let mut r = results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (i, v) in local {
                    r[i] = Some(v);
                }
            });
        }
    });
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    let results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or((0, [0; 32])))
        .collect())
}

/// The length and SHA-256 of each file, hashed as package inputs are (in parallel, regular files
/// only), named by its relative path: for files a build read beyond its selected inputs.
///
/// # Errors
///
/// [`Error`] naming the first file that cannot be opened, is not a regular file, or fails to read.
pub fn digest_files(files: &[(String, PathBuf)]) -> Result<Vec<FileDigest>, Error> {
    let paths: Vec<&Path> = files.iter().map(|(_, p)| p.as_path()).collect();
    let hashed = hash_all(&paths)?;
    Ok(files
        .iter()
        .zip(hashed)
        .map(|((rel, _), (len, d))| FileDigest {
            path: rel.clone(),
            len,
            sha256: hex(&d),
        })
        .collect())
}

/// How a file's kind is written into combined digests.
fn kind_byte(k: InputKind) -> u8 {
    match k {
        InputKind::Package => 0,
        InputKind::Lock => 1,
        InputKind::Extra => 2,
        InputKind::Dependency => 3,
    }
}

/// One combined digest (see the crate documentation's digest scheme); `label` names the group.
fn combine<'a>(
    label: &str,
    entries: impl Iterator<Item = (&'a str, InputKind, u64, &'a [u8; 32])>,
) -> String {
    let entries: Vec<_> = entries.collect();
    let mut h = Sha256::new();
    // The domain prefix is part of scheme 2 (records carry digests made with it): keep it.
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
    hex(&h.finalize())
}

/// Hashes the selected files, adding the workspace lock file, into the digests of scheme
/// [`DIGEST_SCHEME`].
pub(crate) fn hash_selection(
    mut sel: Selection,
    workspace_lock: Option<&Path>,
) -> Result<Digests, Error> {
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
    use crate::package_inputs;

    /// Files digested by name are hashed like inputs; a FIFO among them is refused, not waited
    /// on (a dep-info file names what the build read, and anything can stand there now).
    #[test]
    fn digest_files_names_each_file_and_refuses_what_is_not_regular() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.txt");
        std::fs::write(&a, "abc").unwrap();
        let got = super::digest_files(&[("data/a.txt".into(), a.clone())]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, "data/a.txt");
        assert_eq!(got[0].len, 3);
        assert_eq!(
            got[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        #[cfg(unix)]
        {
            let fifo = d.path().join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
            let err = super::digest_files(&[("a".into(), a), ("f".into(), fifo.clone())])
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a regular file"), "{err}");
            assert!(err.contains(&fifo.display().to_string()), "{err}");
        }
    }

    /// Records in released executables carry scheme-2 digests: the same files must give the
    /// same values forever (a change needs a new [`super::DIGEST_SCHEME`]).
    #[test]
    fn scheme_2_digests_are_stable() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p");
        std::fs::create_dir_all(p.join("src")).unwrap();
        std::fs::write(
            p.join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n[package.metadata.airflow]\ninputs = [\"q.sql\"]\n",
        )
        .unwrap();
        std::fs::write(p.join("src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(p.join("q.sql"), "select 1;\n").unwrap();
        let lock = d.path().join("Cargo.lock");
        std::fs::write(&lock, "# lock\n").unwrap();
        let g = package_inputs(&p, Some(&lock), &[]).unwrap();
        assert_eq!(g.inputs.digest_scheme, 2);
        assert_eq!(
            g.inputs.source,
            "67074fbc24861d85944d1af7bb41269ed2c9f597774dba0c3bfedc768a8b0a5e"
        );
        assert_eq!(
            g.inputs.package,
            "1dea49c5767ca62d9f2f905cce62d2583f10d751436cd70f36fc547f5f6663aa"
        );
        assert_eq!(
            g.inputs.lock,
            "1be44455a208e476c4943b27b05cd3d5cae86d8f51b19db4a73c27ec8a17627c"
        );
        assert_eq!(
            g.inputs.extra,
            "f2adb81fb6e63453b1e2197d40259e3aff6049bb81ac261aef42d74411168f1c"
        );
        assert_eq!(
            g.files[3].sha256,
            "536e506bb90914c243a12b397b9a998f85ae2cbd9ba02dfd03a9e155ca5ca0f4"
        );
    }
}
