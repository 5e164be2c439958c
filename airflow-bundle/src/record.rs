//! The build record that `airflow-build` embeds in a bundle executable.
//!
//! The record lives in its own link section: `.afmeta` on ELF and PE/COFF, `__DATA,__afmeta` on
//! Mach-O. Its bytes are a small header followed by a UTF-8 JSON payload:
//!
//! ```text
//! [0, 8)         magic, ASCII "AFRECORD"
//! [8, 12)        record format version, u32 little-endian (only 1 is defined)
//! [12, 16)       payload length N, u32 little-endian (at most MAX_PAYLOAD_LEN)
//! [16, 16 + N)   payload: a JSON object, the serialized Record
//! ```
//!
//! Bytes after the payload (section alignment padding) are ignored. Unknown JSON keys are
//! ignored too, so later versions of `airflow-build` can add fields without a new format version.
//!
//! Decoding is safe on hostile input: every length is checked against the bytes at hand before
//! anything is allocated, the payload size is capped, and nothing panics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// ASCII magic at the start of a record.
pub const RECORD_MAGIC: &[u8; 8] = b"AFRECORD";

/// The record format version this crate writes and reads.
pub const RECORD_FORMAT_VERSION: u32 = 1;

/// Length of the fixed header before the payload.
pub const RECORD_HEADER_LEN: usize = 16;

/// The largest payload a reader accepts (16 MiB); anything larger is refused without allocating.
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024 * 1024;

/// Section name on ELF and PE/COFF.
pub const SECTION_ELF_PE: &str = ".afmeta";

/// Segment and section names on Mach-O.
pub const SECTION_MACHO: (&str, &str) = ("__DATA", "__afmeta");

/// The file name `airflow-build` writes the encoded record to, inside the bundle's `OUT_DIR`.
pub const RECORD_FILE_NAME: &str = "airflow-record.bin";

/// One hashed input of the crate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileDigest {
    /// Path relative to the package directory, with `/` separators. The workspace lock file is
    /// named [`WORKSPACE_LOCK_PATH`] whatever its real location.
    pub path: String,
    /// Length in bytes.
    pub len: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// The path under which the workspace `Cargo.lock` appears in [`Record::files`].
pub const WORKSPACE_LOCK_PATH: &str = "$WORKSPACE/Cargo.lock";

/// What kind of input a [`FileDigest`] is, as grouped in [`InputDigests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A source file of the package (`Cargo.toml`, `build.rs`, `src/**`, ...).
    Package,
    /// The workspace `Cargo.lock`.
    Lock,
    /// An extra input the crate declared.
    Extra,
}

/// The digests of the crate's inputs, lowercase hex SHA-256 each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDigests {
    /// The version of the digest algorithm that produced these values.
    pub digest_scheme: u32,
    /// Combined digest over every input (package files, lock file, extra inputs).
    pub source: String,
    /// Combined digest over the package's own source files only.
    pub package: String,
    /// Digest of the workspace `Cargo.lock` (combined form, so an absent lock has a digest too).
    pub lock: String,
    /// Combined digest over the extra inputs only.
    pub extra: String,
}

/// The facts about the build environment that the signature digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvSignature {
    /// The version of the digest algorithm.
    pub digest_scheme: u32,
    /// Target triple.
    pub target: String,
    /// Cargo profile (`PROFILE` as cargo gives it to build scripts: `debug` or `release`).
    pub profile: String,
    /// Enabled features, lowercase with `-` as cargo reports them, sorted.
    pub features: Vec<String>,
    /// Output of `rustc -vV`, trimmed.
    pub rustc_version: String,
    /// The value of the user's signature variable (`AIRFLOW_BUILD_ENV_SIGNATURE` by default).
    pub user: Option<String>,
    /// The name of that variable.
    pub user_var: String,
}

/// What a host-built sidecar printed for one bin target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidecarOutput {
    /// The host triple the sidecar was built for.
    pub host: String,
    /// Per bin target name: the exact stdout of `BIN --airflow-metadata --format json`.
    pub metadata_json: BTreeMap<String, String>,
}

/// The record embedded in a bundle executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The package name.
    pub package: String,
    /// The package version.
    pub version: String,
    /// Target triple the executable was built for.
    pub target: String,
    /// Cargo profile (`debug` or `release`, as build scripts see it).
    pub profile: String,
    /// Input digests.
    pub inputs: InputDigests,
    /// Every hashed input, sorted by path.
    pub files: Vec<FileDigest>,
    /// Extra input patterns that came from the builder (not from `Cargo.toml`), needed to
    /// recompute the digests.
    #[serde(default)]
    pub builder_extra_inputs: Vec<String>,
    /// The build-environment facts.
    pub env: EnvSignature,
    /// SHA-256 of the environment signature, lowercase hex.
    pub env_signature: String,
    /// Present when a host sidecar ran.
    #[serde(default)]
    pub sidecar: Option<SidecarOutput>,
}

impl Record {
    /// The sidecar's metadata JSON for a bin target, if a sidecar ran and built that bin.
    pub fn sidecar_metadata(&self, bin: &str) -> Option<&str> {
        self.sidecar
            .as_ref()
            .and_then(|s| s.metadata_json.get(bin))
            .map(String::as_str)
    }
}

/// Why a record cannot be decoded or found.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes do not start with [`RECORD_MAGIC`].
    #[error("not an airflow-build record (bad magic)")]
    BadMagic,
    /// Fewer bytes than the header or the declared payload.
    #[error("airflow-build record truncated: need {needed} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// A format version this crate does not know.
    #[error(
        "airflow-build record format version {0} is not known (this reader knows {RECORD_FORMAT_VERSION}); upgrade cargo-airflow"
    )]
    UnknownVersion(u32),
    /// The payload length is above [`MAX_PAYLOAD_LEN`].
    #[error(
        "airflow-build record payload of {0} bytes is larger than the {MAX_PAYLOAD_LEN}-byte limit"
    )]
    TooLarge(u64),
    /// The payload is not the JSON of a [`Record`].
    #[error("airflow-build record payload is invalid: {0}")]
    Payload(#[from] serde_json::Error),
    /// The record is too large to encode.
    #[error("airflow-build record too large to encode ({0} bytes)")]
    EncodeTooLarge(usize),
    /// The executable cannot be read.
    #[cfg(feature = "io")]
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not an executable format `object` can parse.
    #[cfg(feature = "io")]
    #[error("not a recognised executable (ELF, Mach-O or PE): {0}")]
    Object(#[from] object::Error),
}

/// Encodes a record as header + JSON payload.
pub fn encode(record: &Record) -> Result<Vec<u8>, RecordError> {
    let payload = serde_json::to_vec(record)?;
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(RecordError::EncodeTooLarge(payload.len()));
    }
    let len =
        u32::try_from(payload.len()).map_err(|_| RecordError::EncodeTooLarge(payload.len()))?;
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(RECORD_MAGIC);
    out.extend_from_slice(&RECORD_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes a record from the start of `bytes`; trailing bytes (padding) are ignored.
pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
    let header = bytes
        .get(..RECORD_HEADER_LEN)
        .ok_or(RecordError::Truncated {
            needed: RECORD_HEADER_LEN,
            have: bytes.len(),
        })?;
    let (magic, rest) = header.split_at(8);
    if magic != RECORD_MAGIC {
        return Err(RecordError::BadMagic);
    }
    let (ver, len) = rest.split_at(4);
    let ver = u32::from_le_bytes(ver.try_into().unwrap_or([0; 4]));
    if ver != RECORD_FORMAT_VERSION {
        return Err(RecordError::UnknownVersion(ver));
    }
    let len = u32::from_le_bytes(len.try_into().unwrap_or([0; 4]));
    let len_usize = usize::try_from(len).map_err(|_| RecordError::TooLarge(u64::from(len)))?;
    if len_usize > MAX_PAYLOAD_LEN {
        return Err(RecordError::TooLarge(u64::from(len)));
    }
    let needed = RECORD_HEADER_LEN + len_usize;
    let payload = bytes
        .get(RECORD_HEADER_LEN..needed)
        .ok_or(RecordError::Truncated {
            needed,
            have: bytes.len(),
        })?;
    Ok(serde_json::from_slice(payload)?)
}

/// Finds and decodes the record in an executable's bytes (ELF, PE/COFF or Mach-O).
///
/// Returns `Ok(None)` when the file is a recognised executable without a record section.
#[cfg(feature = "io")]
pub fn find_in_executable(bytes: &[u8]) -> Result<Option<Record>, RecordError> {
    find_in_object(bytes)
}

/// Reads an executable file and finds its record; see [`find_in_executable`].
///
/// Only the headers and the record section are read, so a large executable (or a bundle, whose
/// appended regions the object parser ignores) is never loaded into memory.
#[cfg(feature = "io")]
pub fn find_in_file(path: &std::path::Path) -> Result<Option<Record>, RecordError> {
    let io = |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::read::open_regular(path).map_err(io)?;
    let cache = object::ReadCache::new(file);
    find_in_object(&cache)
}

#[cfg(feature = "io")]
fn find_in_object<'data, R: object::ReadRef<'data>>(
    data: R,
) -> Result<Option<Record>, RecordError> {
    use object::{Object, ObjectSection};

    let file = object::File::parse(data)?;
    let section = file.sections().find(|s| {
        let name_ok = s
            .name()
            .is_ok_and(|n| n == SECTION_ELF_PE || n == SECTION_MACHO.1);
        let segment_ok = match file.format() {
            object::BinaryFormat::MachO => s
                .segment_name()
                .ok()
                .flatten()
                .is_some_and(|seg| seg == SECTION_MACHO.0),
            _ => true,
        };
        name_ok && segment_ok
    });
    let Some(section) = section else {
        return Ok(None);
    };
    // A section larger than any valid record is refused before it is read.
    let cap = (RECORD_HEADER_LEN + MAX_PAYLOAD_LEN) as u64;
    if section.size() > cap.saturating_mul(2) {
        return Err(RecordError::TooLarge(section.size()));
    }
    let data = section.data()?;
    decode(data).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            package: "p".into(),
            version: "0.1.0".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            profile: "debug".into(),
            inputs: InputDigests {
                digest_scheme: 1,
                source: "aa".into(),
                package: "bb".into(),
                lock: "cc".into(),
                extra: "dd".into(),
            },
            files: vec![FileDigest {
                path: "src/main.rs".into(),
                len: 3,
                sha256: "ee".into(),
            }],
            builder_extra_inputs: vec![],
            env: EnvSignature {
                digest_scheme: 1,
                target: "x86_64-unknown-linux-gnu".into(),
                profile: "debug".into(),
                features: vec!["default".into()],
                rustc_version: "rustc 1".into(),
                user: None,
                user_var: "AIRFLOW_BUILD_ENV_SIGNATURE".into(),
            },
            env_signature: "ff".into(),
            sidecar: Some(SidecarOutput {
                host: "x86_64-unknown-linux-gnu".into(),
                metadata_json: [("p".to_string(), "{}".to_string())].into(),
            }),
        }
    }

    #[test]
    fn round_trip_with_padding() {
        let r = sample();
        let mut bytes = encode(&r).unwrap();
        bytes.extend_from_slice(&[0; 13]);
        assert_eq!(decode(&bytes).unwrap(), r);
    }

    #[test]
    fn hostile_inputs_are_errors() {
        let good = encode(&sample()).unwrap();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = good.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&huge), Err(RecordError::TooLarge(_))));
        let mut ver = good.clone();
        ver[8] = 9;
        assert!(matches!(decode(&ver), Err(RecordError::UnknownVersion(9))));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(matches!(decode(&magic), Err(RecordError::BadMagic)));
        let mut garbage = good;
        let n = garbage.len();
        garbage[n - 2] = 0xff;
        assert!(matches!(decode(&garbage), Err(RecordError::Payload(_))));
        // Pseudo-random junk never panics.
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let len = (x % 64) as usize;
            let mut buf = Vec::with_capacity(len + 16);
            buf.extend_from_slice(RECORD_MAGIC);
            buf.extend_from_slice(&1u32.to_le_bytes());
            for _ in 0..len + 4 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                buf.push((x >> 16) as u8);
            }
            let _ = decode(&buf);
        }
    }

    #[cfg(feature = "io")]
    #[test]
    fn not_an_executable() {
        assert!(find_in_executable(b"hello").is_err());
    }
}
