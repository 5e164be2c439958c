//! Which build runs a task: the running file and the `binary_sha256` of its own `AFBNDL01`
//! trailer, logged once at the start of every task so that a task log names the bundle build
//! that ran it (`cargo airflow inspect --json` shows the same digest as `trailer.binary_sha256`).
//!
//! Only the last 64 bytes are read: the digest is the one `cargo airflow pack` wrote, not one
//! computed here, so the line costs a seek and a read whatever the bundle's size. A program that
//! is not a packed bundle (`cargo run`, a test binary) gets a line that says so, never a failure.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use airflow_bundle::footer::{TRAILER_LEN, Trailer, hex};

/// What the running executable is, as far as its last 64 bytes tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// A packed bundle: its path and the trailer's `binary_sha256`, lowercase hex.
    Bundle {
        /// The file.
        path: PathBuf,
        /// `binary_sha256` from the trailer (bytes 12..44), as hex.
        binary_sha256: String,
    },
    /// Not a packed bundle (or the file could not be read): why.
    NotABundle {
        /// The file, when its path is known.
        path: Option<PathBuf>,
        /// Why it has no usable trailer.
        reason: String,
    },
}

impl Identity {
    /// The running executable's identity (`std::env::current_exe`).
    pub(crate) fn of_current_exe() -> Identity {
        match std::env::current_exe() {
            Ok(path) => Identity::of_file(&path),
            Err(e) => Identity::NotABundle {
                path: None,
                reason: format!("the running executable's path is unknown: {e}"),
            },
        }
    }

    /// The identity of the file at `path`, from its trailer alone: the magic, `footer_ver` and
    /// reserved bytes as Airflow's reader checks them, and regions that fit the file.
    pub(crate) fn of_file(path: &Path) -> Identity {
        match read_trailer(path) {
            Ok(trailer) => Identity::Bundle {
                path: path.to_owned(),
                binary_sha256: hex(&trailer.binary_sha256),
            },
            Err(reason) => Identity::NotABundle {
                path: Some(path.to_owned()),
                reason,
            },
        }
    }

    /// Logs the identity on the task log (one `info` record).
    pub(crate) fn log(&self, target: &str) {
        match self {
            Identity::Bundle {
                path,
                binary_sha256,
            } => {
                let file = path.display().to_string();
                log::info!(target: target, bundle_file = file.as_str(),
                    binary_sha256 = binary_sha256.as_str();
                    "bundle file {file} binary_sha256 {binary_sha256}");
            }
            Identity::NotABundle { path, reason } => {
                let file = path
                    .as_ref()
                    .map_or_else(|| "<unknown>".to_owned(), |p| p.display().to_string());
                log::info!(target: target, bundle_file = file.as_str();
                    "not a packed bundle: {file} ({reason}); no binary_sha256 to report");
            }
        }
    }
}

/// The trailer of `path`, checked against the file's size; an error message otherwise.
///
/// One open, one seek from the end, one 64-byte read: no `stat`, nothing hashed (this runs
/// before every task, and each line of code here is in every bundle).
fn read_trailer(path: &Path) -> Result<Trailer, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut bytes = [0u8; TRAILER_LEN];
    // Seeking before the start fails (EINVAL): a file shorter than a trailer.
    let start = file
        .seek(SeekFrom::End(-(TRAILER_LEN as i64)))
        .and_then(|start| file.read_exact(&mut bytes).map(|()| start))
        .map_err(|e| format!("cannot read its last {TRAILER_LEN} bytes: {e}"))?;
    let trailer = Trailer::from_bytes(&bytes).map_err(|e| e.to_string())?;
    trailer
        .layout(start + TRAILER_LEN as u64)
        .map_err(|e| e.to_string())?;
    Ok(trailer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of this test's own (no tempfile: the SDK has no dev-dependency for it).
    struct Dir(PathBuf);

    impl Dir {
        fn new(test: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!(
                "airflow-sdk-identity-{test}-{}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_packed_file_is_named_with_its_trailer_digest() {
        let dir = Dir::new("packed");
        let digest: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        let mut bytes = b"\x7fELF executable".to_vec();
        bytes.extend_from_slice(b"fn main() {}");
        bytes.extend_from_slice(b"dags: {}\n");
        bytes.extend_from_slice(&Trailer::new(12, 9, digest).to_bytes());
        let path = write(dir.path(), "bundle", &bytes);
        assert_eq!(
            Identity::of_file(&path),
            Identity::Bundle {
                path: path.clone(),
                binary_sha256: hex(&digest),
            }
        );
    }

    #[test]
    fn anything_else_is_not_a_bundle_with_a_reason() {
        let dir = Dir::new("other");
        let short = write(dir.path(), "short", b"tiny");
        let plain = write(dir.path(), "plain", &[0x55; 200]);
        // A trailer whose regions overrun the file: the magic alone does not make a bundle.
        let overrun = write(
            dir.path(),
            "overrun",
            &Trailer::new(1000, 0, [1; 32]).to_bytes(),
        );
        let missing = dir.path().join("missing");
        for (path, says) in [
            (&short, "cannot read its last 64 bytes"),
            (&plain, "not the AFBNDL01 magic"),
            (&overrun, "more than the 64-byte file holds"),
            (&missing, "cannot open it"),
        ] {
            match Identity::of_file(path) {
                Identity::NotABundle { path: p, reason } => {
                    assert_eq!(p.as_deref(), Some(path.as_path()));
                    assert!(reason.contains(says), "{}: {reason}", path.display());
                }
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn a_test_binary_is_not_a_bundle() {
        // `cargo test` and `cargo run` binaries carry no trailer; the runtime must still start.
        assert!(matches!(
            Identity::of_current_exe(),
            Identity::NotABundle { path: Some(_), .. }
        ));
    }
}
