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
    #[serde(deserialize_with = "sha256_hex")]
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
    /// A file of a path dependency (a workspace library the bundle uses), recorded with its path
    /// relative to the package directory (`../shared/src/lib.rs`).
    Dependency,
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
    #[serde(deserialize_with = "short_list")]
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
    #[serde(deserialize_with = "short_map")]
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
    #[serde(default, deserialize_with = "short_list")]
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

/// The most entries of a record's lists other than `files` (features, extra inputs, bins): far
/// more than a crate has, few enough that a payload of empty strings (3 bytes of JSON for 24
/// bytes of `String` each) cannot make decoding take many times the payload.
pub const MAX_LIST_LEN: usize = 4096;

/// A list of at most [`MAX_LIST_LEN`] strings.
fn short_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_LIST_LEN} strings")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                if out.len() == MAX_LIST_LEN {
                    return Err(serde::de::Error::invalid_length(out.len() + 1, &self));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Visitor)
}

/// A map of at most [`MAX_LIST_LEN`] strings.
fn short_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a map of at most {MAX_LIST_LEN} strings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<BTreeMap<String, String>, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry()? {
                if out.len() == MAX_LIST_LEN {
                    return Err(serde::de::Error::invalid_length(out.len() + 1, &self));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visitor)
}

/// A SHA-256 digest as 64 lowercase hex digits, as airflow-build writes it. (Each entry of
/// `files` then takes at least 90 bytes of JSON, so the list cannot cost much more memory than
/// the payload.)
fn sha256_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        let shown: String = s.chars().take(70).collect();
        return Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Str(&shown),
            &"64 lowercase hex digits",
        ));
    }
    Ok(s)
}

/// The first 300 characters of a decoding error: serde quotes the offending value whole, and
/// the value comes from the file.
fn shorten_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
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
    #[error("airflow-build record payload is invalid: {}", shorten_error(.0))]
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
    /// The executable's headers declare tables too large for a real executable.
    #[cfg(feature = "io")]
    #[error("not a plausible executable: {0}")]
    Layout(String),
}

/// Encodes a record as header + JSON payload.
///
/// # Errors
///
/// [`RecordError`] when the payload cannot be serialized or is larger than the header allows.
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
///
/// # Errors
///
/// [`RecordError`] for a wrong magic or version, a truncated or oversized payload, or bad JSON.
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
///
/// # Errors
///
/// [`RecordError`] when the bytes are not a recognised executable or the record is malformed.
#[cfg(feature = "io")]
pub fn find_in_executable(bytes: &[u8]) -> Result<Option<Record>, RecordError> {
    find_in_object(bytes)
}

/// Reads an executable file and finds its record; see [`find_in_executable`].
///
/// Only the headers, the section table and the record are read, each checked against a limit
/// before it is read, so a large executable (or a bundle, whose appended regions the object
/// parser ignores) is never loaded into memory, and neither is a hostile one whose headers claim
/// tables the size of the file.
///
/// # Errors
///
/// [`RecordError`] when the file cannot be read, is not a recognised executable, or its record is
/// malformed.
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

/// The most section headers looked through: a linked executable has a few dozen.
#[cfg(feature = "io")]
pub const MAX_SECTIONS: u64 = 4096;

/// The most bytes of Mach-O load commands read (a real executable has a few kilobytes).
#[cfg(feature = "io")]
pub const MAX_LOAD_COMMAND_BYTES: u64 = 1 << 20;

/// Finds the record section with the format's own tables only: `object::File::parse` would also
/// read the symbol tables and program headers, whose sizes the file sets.
#[cfg(feature = "io")]
fn find_in_object<'data, R: object::ReadRef<'data>>(
    data: R,
) -> Result<Option<Record>, RecordError> {
    use object::{FileKind, elf, macho, pe};
    type E = object::Endianness;
    let range = match FileKind::parse(data)? {
        FileKind::Elf32 => elf_section::<elf::FileHeader32<E>, R>(data)?,
        FileKind::Elf64 => elf_section::<elf::FileHeader64<E>, R>(data)?,
        FileKind::MachO32 => macho_section::<macho::MachHeader32<E>, R>(data)?,
        FileKind::MachO64 => macho_section::<macho::MachHeader64<E>, R>(data)?,
        FileKind::Pe32 => pe_section::<pe::ImageNtHeaders32, R>(data)?,
        FileKind::Pe64 => pe_section::<pe::ImageNtHeaders64, R>(data)?,
        _ => None,
    };
    let Some((offset, size)) = range else {
        return Ok(None);
    };
    // The header first, then exactly the payload it announces (the section may be padded).
    let truncated = |needed: u64| RecordError::Truncated {
        needed: usize::try_from(needed).unwrap_or(usize::MAX),
        have: usize::try_from(size).unwrap_or(usize::MAX),
    };
    if size < RECORD_HEADER_LEN as u64 {
        return Err(truncated(RECORD_HEADER_LEN as u64));
    }
    let header = data
        .read_bytes_at(offset, RECORD_HEADER_LEN as u64)
        .map_err(|()| truncated(RECORD_HEADER_LEN as u64))?;
    let declared = header
        .get(12..16)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes);
    if declared as usize > MAX_PAYLOAD_LEN {
        return Err(RecordError::TooLarge(u64::from(declared)));
    }
    let needed = RECORD_HEADER_LEN as u64 + u64::from(declared);
    if needed > size {
        // `decode` names what is wrong with the header (magic, version) before the length.
        decode(header)?;
        return Err(truncated(needed));
    }
    let bytes = data
        .read_bytes_at(offset, needed)
        .map_err(|()| truncated(needed))?;
    decode(bytes).map(Some)
}

/// The file range of the ELF section named [`SECTION_ELF_PE`].
#[cfg(feature = "io")]
fn elf_section<'data, Elf, R>(data: R) -> Result<Option<(u64, u64)>, RecordError>
where
    Elf: object::read::elf::FileHeader<Endian = object::Endianness>,
    R: object::ReadRef<'data>,
{
    use object::read::elf::SectionHeader;
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let count = header.shnum(endian, data)?;
    if u64::from(count) > MAX_SECTIONS {
        return Err(RecordError::Layout(format!(
            "the executable declares {count} sections, more than the {MAX_SECTIONS} a linked executable could have"
        )));
    }
    let sections = header.section_headers(endian, data)?;
    if sections.is_empty() {
        return Ok(None);
    }
    let strtab = sections
        .get(header.shstrndx(endian, data)? as usize)
        .and_then(|s| s.file_range(endian));
    let Some((strtab_start, strtab_len)) = strtab else {
        return Ok(None);
    };
    // Each name is compared in place: 8 bytes read, never a whole string table.
    let wanted = b".afmeta\0";
    for section in sections {
        let at = u64::from(section.sh_name(endian));
        if at + wanted.len() as u64 > strtab_len {
            continue;
        }
        if data.read_bytes_at(strtab_start + at, wanted.len() as u64) == Ok(&wanted[..]) {
            return Ok(section.file_range(endian));
        }
    }
    Ok(None)
}

/// The file range of the Mach-O section `__DATA,__afmeta`.
#[cfg(feature = "io")]
fn macho_section<'data, Mach, R>(data: R) -> Result<Option<(u64, u64)>, RecordError>
where
    Mach: object::read::macho::MachHeader<Endian = object::Endianness>,
    R: object::ReadRef<'data>,
{
    use object::read::macho::{Section, Segment};
    let header = Mach::parse(data, 0)?;
    let endian = header.endian()?;
    let table = u64::from(header.sizeofcmds(endian));
    if table > MAX_LOAD_COMMAND_BYTES {
        return Err(RecordError::Layout(format!(
            "the executable declares {table} bytes of load commands, more than the {MAX_LOAD_COMMAND_BYTES} this reader looks through"
        )));
    }
    let mut commands = header.load_commands(endian, data, 0)?;
    while let Some(command) = commands.next()? {
        let Some((segment, section_data)) = Mach::Segment::from_command(command)? else {
            continue;
        };
        for section in segment.sections(endian, section_data)? {
            if section.segment_name() == SECTION_MACHO.0.as_bytes()
                && section.name() == SECTION_MACHO.1.as_bytes()
            {
                return Ok(section.file_range(endian, 0));
            }
        }
    }
    Ok(None)
}

/// The file range of the PE section named [`SECTION_ELF_PE`].
#[cfg(feature = "io")]
fn pe_section<'data, Pe, R>(data: R) -> Result<Option<(u64, u64)>, RecordError>
where
    Pe: object::read::pe::ImageNtHeaders,
    R: object::ReadRef<'data>,
{
    let dos = object::pe::ImageDosHeader::parse(data)?;
    let mut offset = u64::from(dos.nt_headers_offset());
    let (nt, _) = Pe::parse(data, &mut offset)?;
    // At most 65535 headers of 40 bytes: the count is 16 bits.
    let sections = nt.sections(data, offset)?;
    Ok(sections
        .iter()
        .find(|s| s.raw_name() == SECTION_ELF_PE.as_bytes())
        .map(|s| {
            let (at, len) = s.pe_file_range();
            (u64::from(at), u64::from(len))
        }))
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
                sha256: "ee".repeat(32),
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

    #[test]
    fn lists_and_digests_are_checked_while_decoding() {
        let json = serde_json::to_string(&sample()).unwrap();
        let with = |from: &str, to: &str| {
            let mut b = encode(&sample()).unwrap();
            let payload = json.replace(from, to);
            b.truncate(RECORD_HEADER_LEN);
            b[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
            b.extend_from_slice(payload.as_bytes());
            decode(&b)
        };
        let many = vec!["\"\""; MAX_LIST_LEN + 1].join(",");
        let e = with(
            r#""features":["default"]"#,
            &format!(r#""features":[{many}]"#),
        );
        assert!(matches!(&e, Err(RecordError::Payload(_))), "{e:?}");
        let e = with(&"ee".repeat(32), &"E".repeat(64))
            .unwrap_err()
            .to_string();
        assert!(e.contains("64 lowercase hex digits"), "{e}");
        let long = "x".repeat(100_000);
        let e = with(&"ee".repeat(32), &long).unwrap_err().to_string();
        assert!(e.len() < 400, "{}", e.len());
        let few = vec!["\"\""; MAX_LIST_LEN].join(",");
        assert!(
            with(
                r#""features":["default"]"#,
                &format!(r#""features":[{few}]"#)
            )
            .is_ok()
        );
    }

    /// A little-endian ELF64 file: the header, `body` at offset 64, then the section names and
    /// headers. Each section is (name, type, offset, size).
    #[cfg(feature = "io")]
    fn elf(body: &[u8], sections: &[(&str, u32, u64, u64)], shnum: Option<u16>) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_at = Vec::new();
        for (name, ..) in sections.iter().chain([&(".shstrtab", 3, 0, 0)]) {
            name_at.push(names.len() as u32);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let names_at = 64 + body.len() as u64;
        let shoff = (names_at + names.len() as u64).next_multiple_of(8);
        let count = sections.len() as u16 + 2;
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        out.extend_from_slice(&2u16.to_le_bytes()); // executable
        out.extend_from_slice(&62u16.to_le_bytes()); // x86-64
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // entry
        out.extend_from_slice(&0u64.to_le_bytes()); // no program headers
        out.extend_from_slice(&shoff.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for v in [64u16, 56, 0, 64, shnum.unwrap_or(count), count - 1] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(body);
        out.extend_from_slice(&names);
        out.resize(shoff as usize, 0);
        let header = |out: &mut Vec<u8>, name: u32, kind: u32, offset: u64, size: u64| {
            out.extend_from_slice(&name.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            for v in [0u64, 0, offset, size] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&[0; 24]);
        };
        header(&mut out, 0, 0, 0, 0);
        for (i, (_, kind, offset, size)) in sections.iter().enumerate() {
            header(&mut out, name_at[i], *kind, *offset, *size);
        }
        header(
            &mut out,
            name_at[sections.len()],
            3,
            names_at,
            names.len() as u64,
        );
        out
    }

    #[cfg(feature = "io")]
    #[test]
    fn the_section_is_found_without_reading_other_tables() {
        let record = encode(&sample()).unwrap();
        let len = record.len() as u64;
        // A symbol table that claims the whole file (and more) is never read.
        let exe = elf(
            &record,
            &[(".symtab", 2, 0, u64::MAX / 2), (".afmeta", 1, 64, len + 5)],
            None,
        );
        assert_eq!(find_in_executable(&exe).unwrap(), Some(sample()));
        // No record section; a name at the end of the string table.
        let exe = elf(&record, &[(".afmet", 1, 64, len)], None);
        assert_eq!(find_in_executable(&exe).unwrap(), None);
        // A section shorter than the payload it announces.
        let exe = elf(&record, &[(".afmeta", 1, 64, len - 1)], None);
        assert!(matches!(
            find_in_executable(&exe),
            Err(RecordError::Truncated { .. })
        ));
        // A section table past any real executable's.
        let exe = elf(&record, &[(".afmeta", 1, 64, len)], Some(5000));
        let e = find_in_executable(&exe).unwrap_err().to_string();
        assert!(e.contains("5000 sections"), "{e}");
    }
}
