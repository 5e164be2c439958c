//! Which glibc an executable needs: the `GLIBC_x.y[.z]` symbol versions its ELF version
//! references (`.gnu.version_r`) name, and the undefined dynamic symbols bound to each
//! (`.gnu.version`).
//!
//! glibc's dynamic loader refuses to start an executable that references a version the host's
//! glibc does not define (`version 'GLIBC_2.39' not found`), so the newest version referenced is
//! the oldest glibc a worker can have. An executable that is not ELF, or an ELF file without
//! glibc version references (a static or musl executable), needs no glibc version.
//!
//! [`GlibcVersion`] and [`GlibcNeeds`] are plain types; reading a file ([`needs_of`],
//! [`needs_of_file`], [`needs_of_reader`]) needs the `io` feature. The reader is safe on hostile
//! input: it reads only the section headers and the four tables it needs, each checked against a
//! limit before it is read, counts every version entry it walks, and never panics.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A glibc release or symbol version: `2.36`, `2.2.5`.
///
/// Ordered by its numbers (`2.9 < 2.10`), then by how many there are (`2.2 < 2.2.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    numbers: [u16; 3],
    len: usize,
}

impl GlibcVersion {
    /// `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        GlibcVersion {
            numbers: [major, minor, 0],
            len: 2,
        }
    }

    /// `major.minor.patch`.
    pub const fn with_patch(major: u16, minor: u16, patch: u16) -> Self {
        GlibcVersion {
            numbers: [major, minor, patch],
            len: 3,
        }
    }

    /// The version of a symbol version name: `GLIBC_2.34` → 2.34, and the ABI markers glibc
    /// dates (`GLIBC_ABI_DT_RELR` → 2.36). `None` for `GLIBC_PRIVATE`, other names glibc's
    /// loader accepts from no particular release, and names that are not glibc's.
    pub fn of_symbol_version(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("GLIBC_")?;
        if let Some((_, v)) = ABI_MARKERS.iter().find(|(m, _)| *m == name) {
            return Some(*v);
        }
        rest.parse().ok()
    }
}

/// glibc's ABI marker versions and the release that defines them: an object built to need the
/// feature references the marker, so an older loader refuses it instead of running it wrongly.
/// `GLIBC_ABI_DT_RELR`: packed relative relocations (`-z pack-relative-relocs`), glibc 2.36.
const ABI_MARKERS: &[(&str, GlibcVersion)] = &[("GLIBC_ABI_DT_RELR", GlibcVersion::new(2, 36))];

/// Why a string is not a glibc version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a glibc version ({why}); write it as glibc prints it, such as \"2.36\"")]
pub struct GlibcVersionError {
    /// The text (its first 40 characters).
    pub given: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl FromStr for GlibcVersion {
    type Err = GlibcVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| GlibcVersionError {
            given: s.chars().take(40).collect(),
            why,
        };
        let mut numbers = [0u16; 3];
        let mut len = 0usize;
        for part in s.split('.') {
            if len == 3 {
                return Err(err("more than three numbers"));
            }
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("each part is a decimal number"));
            }
            numbers[len] = part.parse().map_err(|_| err("a part is too large"))?;
            len += 1;
        }
        if len < 2 {
            return Err(err("it needs a major and a minor number"));
        }
        Ok(GlibcVersion { numbers, len })
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.numbers[0], self.numbers[1])?;
        if self.len == 3 {
            write!(f, ".{}", self.numbers[2])?;
        }
        Ok(())
    }
}

impl Serialize for GlibcVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GlibcVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why an executable needs no glibc version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoGlibc {
    /// It is not an ELF file (a PE or Mach-O executable, or not an executable at all).
    NotElf,
    /// It is ELF without glibc version references: statically linked, or linked against
    /// another libc (musl).
    NoVersionReferences,
}

impl fmt::Display for NoGlibc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoGlibc::NotElf => "not an ELF executable",
            NoGlibc::NoVersionReferences => {
                "no glibc symbol versions referenced: static, or linked against another libc such as musl"
            }
        })
    }
}

/// One glibc symbol version an executable references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlibcRequirement {
    /// The version name as the executable spells it: `GLIBC_2.34`, `GLIBC_ABI_DT_RELR`.
    pub name: String,
    /// The glibc release that defines it.
    pub version: GlibcVersion,
    /// The undefined dynamic symbols bound to it, sorted (none for an ABI marker).
    pub symbols: Vec<String>,
}

/// What glibc an executable needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlibcNeeds {
    /// The newest glibc version referenced: the oldest glibc that can load the executable. None
    /// when it needs no glibc version.
    pub newest: Option<GlibcVersion>,
    /// Why it needs none, when [`GlibcNeeds::newest`] is none.
    #[serde(default)]
    pub none_because: Option<NoGlibc>,
    /// Every glibc version referenced, oldest first.
    #[serde(default)]
    pub versions: Vec<GlibcRequirement>,
    /// `GLIBC_` version names (other than `GLIBC_PRIVATE`) this reader cannot date, such as an
    /// ABI marker newer than it: some glibc release defines them, which one is unknown.
    #[serde(default)]
    pub undated: Vec<String>,
}

impl GlibcNeeds {
    /// Needs no glibc version, for this reason.
    pub fn none(why: NoGlibc) -> Self {
        GlibcNeeds {
            newest: None,
            none_because: Some(why),
            versions: Vec::new(),
            undated: Vec::new(),
        }
    }

    /// The requirements newer than `floor`, newest first.
    pub fn newer_than(&self, floor: GlibcVersion) -> Vec<&GlibcRequirement> {
        let mut out: Vec<_> = self.versions.iter().filter(|r| r.version > floor).collect();
        out.reverse();
        out
    }

    /// One line for people: `2.34 or newer` or why none.
    pub fn summary(&self) -> String {
        match (&self.newest, self.none_because) {
            (Some(v), _) => format!("{v} or newer"),
            (None, Some(why)) if self.undated.is_empty() => format!("none ({why})"),
            (None, _) if !self.undated.is_empty() => {
                format!("a glibc that defines {}", self.undated.join(", "))
            }
            (None, _) => "none".to_owned(),
        }
    }
}

#[cfg(feature = "io")]
pub use reader::*;

#[cfg(feature = "io")]
mod reader {
    use std::collections::BTreeMap;

    use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
    use object::{Endianness, FileKind, ReadRef, elf};

    use super::{GlibcNeeds, GlibcRequirement, GlibcVersion, NoGlibc};

    /// The most section headers looked through (as for the build record).
    pub const MAX_SECTIONS: u64 = crate::record::MAX_SECTIONS;
    /// The largest version-reference table read (a real one has a few hundred bytes).
    pub const MAX_VERNEED_BYTES: u64 = 1 << 20;
    /// The largest dynamic symbol table, symbol version table or string table read.
    pub const MAX_TABLE_BYTES: u64 = 64 << 20;
    /// The most version-reference entries (files and versions) walked: real executables have
    /// a few dozen; a hostile table could loop one entry 65535 times per file.
    pub const MAX_VERSION_ENTRIES: usize = 4096;
    /// The most undefined symbols named under glibc versions (glibc exports a few thousand).
    pub const MAX_GLIBC_SYMBOLS: usize = 65_536;
    /// The longest symbol or version name read (glibc's are short).
    pub const MAX_NAME_LEN: usize = 1024;

    /// Why an executable's glibc needs cannot be read.
    #[derive(Debug, thiserror::Error)]
    pub enum GlibcError {
        /// The file cannot be read.
        #[error("{path}: {source}")]
        Io {
            /// The file.
            path: std::path::PathBuf,
            /// What failed.
            source: std::io::Error,
        },
        /// It starts as an ELF file but its headers or tables cannot be read.
        #[error("not a readable ELF file: {0}")]
        Elf(#[from] object::Error),
        /// Its tables are larger or more tangled than an executable's.
        #[error("not a plausible executable: {0}")]
        Layout(String),
        /// A dynamically linked ELF file without section headers: the version tables cannot be
        /// found by this reader.
        #[error(
            "it is dynamically linked but has no section headers (stripped with sstrip?), so its glibc version references cannot be read"
        )]
        NoSectionHeaders,
    }

    fn layout(what: String) -> GlibcError {
        GlibcError::Layout(what)
    }

    /// The glibc needs of an executable's bytes (a bundle's too: the regions appended to the
    /// executable are ignored).
    ///
    /// # Errors
    ///
    /// [`GlibcError`] when the bytes start as ELF but its tables cannot be read or are not
    /// plausible.
    pub fn needs_of<'data, R: ReadRef<'data>>(data: R) -> Result<GlibcNeeds, GlibcError> {
        type E = Endianness;
        match FileKind::parse(data) {
            Ok(FileKind::Elf32) => elf::<elf::FileHeader32<E>, R>(data),
            Ok(FileKind::Elf64) => elf::<elf::FileHeader64<E>, R>(data),
            // An ELF magic with a class object does not know is a damaged ELF file.
            Err(e) if data.read_bytes_at(0, 4) == Ok(&elf::ELFMAG[..]) => Err(e.into()),
            _ => Ok(GlibcNeeds::none(NoGlibc::NotElf)),
        }
    }

    /// [`needs_of`] of a file, reading only the headers and the tables it needs.
    ///
    /// # Errors
    ///
    /// [`GlibcError`] when the file cannot be read, or as for [`needs_of`].
    pub fn needs_of_file(path: &std::path::Path) -> Result<GlibcNeeds, GlibcError> {
        let file = crate::read::open_regular(path).map_err(|source| GlibcError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        needs_of_reader(&file)
    }

    /// [`needs_of`] of an open file (or any seekable reader), reading only the headers and the
    /// tables it needs.
    ///
    /// # Errors
    ///
    /// As for [`needs_of`].
    pub fn needs_of_reader<R: std::io::Read + std::io::Seek>(
        reader: R,
    ) -> Result<GlibcNeeds, GlibcError> {
        let cache = object::ReadCache::new(reader);
        needs_of(&cache)
    }

    /// The bytes of a section, refused above `limit`.
    fn table<'data, S: SectionHeader, R: ReadRef<'data>>(
        section: &S,
        endian: S::Endian,
        data: R,
        what: &str,
        limit: u64,
    ) -> Result<&'data [u8], GlibcError> {
        let size: u64 = section.sh_size(endian).into();
        if size > limit {
            return Err(layout(format!(
                "its {what} declares {size} bytes, more than the {limit} this reader reads"
            )));
        }
        Ok(section.data(endian, data)?)
    }

    /// The NUL-terminated string at `at` in `strings`, at most [`MAX_NAME_LEN`] bytes.
    fn string_at<'a>(strings: &'a [u8], at: u32, what: &str) -> Result<&'a [u8], GlibcError> {
        let rest = strings.get(at as usize..).ok_or_else(|| {
            layout(format!(
                "a {what} name at offset {at} lies outside its string table"
            ))
        })?;
        let window = &rest[..rest.len().min(MAX_NAME_LEN + 1)];
        let end = window.iter().position(|b| *b == 0).ok_or_else(|| {
            layout(format!(
                "a {what} name at offset {at} is not terminated within {MAX_NAME_LEN} bytes"
            ))
        })?;
        Ok(&window[..end])
    }

    /// The section at `index`, which `what` links to.
    fn linked<'a, S>(sections: &'a [S], index: usize, what: &str) -> Result<&'a S, GlibcError> {
        sections.get(index).ok_or_else(|| {
            layout(format!(
                "its {what} links to section {index}, which does not exist"
            ))
        })
    }

    /// The glibc versions of the version reference table, in the order met, and the version
    /// index of each (`vna_other`, what `.gnu.version` entries name), and the undated names.
    type References = (Vec<GlibcRequirement>, BTreeMap<u16, usize>, Vec<String>);

    fn references<'data, Elf, R>(
        sections: &'data [Elf::SectionHeader],
        verneed: &Elf::SectionHeader,
        endian: Endianness,
        data: R,
    ) -> Result<References, GlibcError>
    where
        Elf: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        table(
            verneed,
            endian,
            data,
            "version reference table",
            MAX_VERNEED_BYTES,
        )?;
        let (mut files, strtab) = verneed
            .gnu_verneed(endian, data)?
            .ok_or_else(|| layout("its version reference table cannot be read".into()))?;
        let version_strings = table(
            linked(sections, strtab.0, "version reference table")?,
            endian,
            data,
            "version string table",
            MAX_TABLE_BYTES,
        )?;
        let mut by_index: BTreeMap<u16, usize> = BTreeMap::new();
        let mut versions: Vec<GlibcRequirement> = Vec::new();
        let mut undated: Vec<String> = Vec::new();
        let mut walked = 0usize;
        let mut walk = || {
            walked += 1;
            if walked > MAX_VERSION_ENTRIES {
                Err(layout(format!(
                    "its version reference table has more than {MAX_VERSION_ENTRIES} entries"
                )))
            } else {
                Ok(())
            }
        };
        while let Some((_, mut entries)) = files.next()? {
            walk()?;
            while let Some(aux) = entries.next()? {
                walk()?;
                // A weak reference is one the loader lets pass when the version is missing.
                if aux.vna_flags.get(endian).contains(elf::VER_FLG_WEAK) {
                    continue;
                }
                let name = string_at(version_strings, aux.vna_name.get(endian), "version")?;
                let name = String::from_utf8_lossy(name);
                if !name.starts_with("GLIBC_") || name == "GLIBC_PRIVATE" {
                    continue;
                }
                let Some(version) = GlibcVersion::of_symbol_version(&name) else {
                    undated.push(name.into_owned());
                    continue;
                };
                let at = versions
                    .iter()
                    .position(|r| r.name == name)
                    .unwrap_or_else(|| {
                        versions.push(GlibcRequirement {
                            name: name.into_owned(),
                            version,
                            symbols: Vec::new(),
                        });
                        versions.len() - 1
                    });
                by_index.insert(aux.vna_other(endian).index().0, at);
            }
        }
        Ok((versions, by_index, undated))
    }

    /// Adds to `versions` the undefined dynamic symbols bound to each: `.gnu.version` has one
    /// entry per `.dynsym` symbol (its `sh_link`), whose names are in that table's string table.
    fn bind_symbols<'data, Elf, R>(
        sections: &'data [Elf::SectionHeader],
        versym: &Elf::SectionHeader,
        endian: Endianness,
        data: R,
        by_index: &BTreeMap<u16, usize>,
        versions: &mut [GlibcRequirement],
    ) -> Result<(), GlibcError>
    where
        Elf: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        table(
            versym,
            endian,
            data,
            "symbol version table",
            MAX_TABLE_BYTES,
        )?;
        let (indexes, symtab) = versym
            .gnu_versym(endian, data)?
            .ok_or_else(|| layout("its symbol version table cannot be read".into()))?;
        let symtab = linked(sections, symtab.0, "symbol version table")?;
        if symtab.sh_type(endian) != elf::SHT_DYNSYM {
            return Err(layout(
                "its symbol version table does not link to the dynamic symbol table".into(),
            ));
        }
        table(
            symtab,
            endian,
            data,
            "dynamic symbol table",
            MAX_TABLE_BYTES,
        )?;
        let symbols: &[Elf::Sym] = symtab.data_as_array(endian, data)?;
        let strings = table(
            linked(
                sections,
                symtab.sh_link(endian) as usize,
                "dynamic symbol table",
            )?,
            endian,
            data,
            "dynamic string table",
            MAX_TABLE_BYTES,
        )?;
        let mut bound = 0usize;
        for (symbol, index) in symbols.iter().zip(indexes).skip(1) {
            if symbol.st_shndx(endian) != elf::SHN_UNDEF {
                continue;
            }
            let Some(&at) = by_index.get(&index.0.get(endian).index().0) else {
                continue;
            };
            bound += 1;
            if bound > MAX_GLIBC_SYMBOLS {
                return Err(layout(format!(
                    "it binds more than {MAX_GLIBC_SYMBOLS} symbols to glibc versions"
                )));
            }
            let name = string_at(strings, symbol.st_name(endian), "symbol")?;
            versions[at]
                .symbols
                .push(String::from_utf8_lossy(name).into_owned());
        }
        Ok(())
    }

    fn elf<'data, Elf, R>(data: R) -> Result<GlibcNeeds, GlibcError>
    where
        Elf: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        let header = Elf::parse(data)?;
        let endian = header.endian()?;
        let count = header.shnum(endian, data)?;
        if u64::from(count) > MAX_SECTIONS {
            return Err(layout(format!(
                "it declares {count} sections, more than the {MAX_SECTIONS} a linked executable could have"
            )));
        }
        let sections = header.section_headers(endian, data)?;
        if sections.is_empty() {
            // The loader finds the tables through the dynamic segment; without section headers
            // this reader cannot, and must not call a dynamic executable free of glibc.
            let dynamic = header
                .program_headers(endian, data)?
                .iter()
                .any(|p| p.p_type(endian) == elf::PT_DYNAMIC);
            return if dynamic {
                Err(GlibcError::NoSectionHeaders)
            } else {
                Ok(GlibcNeeds::none(NoGlibc::NoVersionReferences))
            };
        }
        let find = |kind| sections.iter().find(|s| s.sh_type(endian) == kind);
        let Some(verneed) = find(elf::SHT_GNU_VERNEED) else {
            return Ok(GlibcNeeds::none(NoGlibc::NoVersionReferences));
        };
        let (mut versions, by_index, mut undated) =
            references::<Elf, R>(sections, verneed, endian, data)?;
        if versions.is_empty() && undated.is_empty() {
            return Ok(GlibcNeeds::none(NoGlibc::NoVersionReferences));
        }
        if let Some(versym) = find(elf::SHT_GNU_VERSYM) {
            bind_symbols::<Elf, R>(sections, versym, endian, data, &by_index, &mut versions)?;
        }
        for r in &mut versions {
            r.symbols.sort();
            r.symbols.dedup();
        }
        versions.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.name.cmp(&b.name)));
        undated.sort();
        undated.dedup();
        Ok(GlibcNeeds {
            newest: versions.last().map(|r| r.version),
            none_because: None,
            versions,
            undated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_order_and_print() {
        let v = |s: &str| s.parse::<GlibcVersion>().unwrap();
        assert_eq!(v("2.36"), GlibcVersion::new(2, 36));
        assert_eq!(v("2.2.5"), GlibcVersion::with_patch(2, 2, 5));
        assert!(v("2.9") < v("2.10"));
        assert!(v("2.2.5") < v("2.3"));
        assert!(v("2.2") < v("2.2.5"));
        assert_eq!(v("2.2.5").to_string(), "2.2.5");
        assert_eq!(v("2.36").to_string(), "2.36");
        for bad in [
            "", "2", "2.", ".36", "2.36.1.1", "v2.36", "2.x", "2.99999", "2. 3", "-2.3",
        ] {
            let e = bad.parse::<GlibcVersion>().unwrap_err();
            assert!(e.to_string().contains("is not a glibc version"), "{e}");
        }
        let long = "9".repeat(1000);
        assert!(long.parse::<GlibcVersion>().unwrap_err().given.len() <= 40);
        assert_eq!(
            serde_json::to_string(&v("2.17")).unwrap(),
            "\"2.17\"".to_owned()
        );
        assert_eq!(
            serde_json::from_str::<GlibcVersion>("\"2.2.5\"").unwrap(),
            v("2.2.5")
        );
        assert!(serde_json::from_str::<GlibcVersion>("\"2\"").is_err());
    }

    #[test]
    fn symbol_version_names() {
        let of = GlibcVersion::of_symbol_version;
        assert_eq!(of("GLIBC_2.34"), Some(GlibcVersion::new(2, 34)));
        assert_eq!(of("GLIBC_2.2.5"), Some(GlibcVersion::with_patch(2, 2, 5)));
        assert_eq!(of("GLIBC_ABI_DT_RELR"), Some(GlibcVersion::new(2, 36)));
        assert_eq!(of("GLIBC_PRIVATE"), None);
        assert_eq!(of("GLIBCXX_3.4.29"), None);
        assert_eq!(of("GCC_3.0"), None);
    }
}

#[cfg(all(test, feature = "io"))]
mod reader_tests {
    use super::*;

    /// A little-endian ELF64 executable with one `.gnu.version_r` entry per (file, version),
    /// `.dynsym`/`.dynstr`/`.gnu.version` binding each `(symbol, version index)`, and the
    /// section headers last. Index 0 of `symbols` is the null symbol.
    /// A version reference: (name, version index, `vna_flags`).
    type Version<'a> = (&'a str, u16, u16);

    fn elf(needs: &[(&str, &[Version<'_>])], symbols: &[(&str, u16, bool)]) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut add = |s: &str| {
            let at = strings.len() as u32;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            at
        };
        // .gnu.version_r
        let mut verneed = Vec::new();
        for (i, (file, versions)) in needs.iter().enumerate() {
            let file_at = add(file);
            let last = i + 1 == needs.len();
            let size = 16 + 16 * versions.len() as u32;
            verneed.extend_from_slice(&1u16.to_le_bytes());
            verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes());
            verneed.extend_from_slice(&file_at.to_le_bytes());
            verneed.extend_from_slice(&16u32.to_le_bytes());
            verneed.extend_from_slice(&(if last { 0 } else { size }).to_le_bytes());
            for (j, (name, index, flags)) in versions.iter().enumerate() {
                let name_at = add(name);
                verneed.extend_from_slice(&0u32.to_le_bytes());
                verneed.extend_from_slice(&flags.to_le_bytes());
                verneed.extend_from_slice(&index.to_le_bytes());
                verneed.extend_from_slice(&name_at.to_le_bytes());
                let next: u32 = if j + 1 == versions.len() { 0 } else { 16 };
                verneed.extend_from_slice(&next.to_le_bytes());
            }
        }
        // .dynsym and .gnu.version
        let mut dynsym = vec![0u8; 24];
        let mut versym = vec![0u8; 2];
        for (name, index, undefined) in symbols {
            let at = add(name);
            dynsym.extend_from_slice(&at.to_le_bytes());
            dynsym.push(0x12); // global function
            dynsym.push(0);
            dynsym.extend_from_slice(&(if *undefined { 0u16 } else { 5 }).to_le_bytes());
            dynsym.extend_from_slice(&[0; 16]);
            versym.extend_from_slice(&index.to_le_bytes());
        }
        let mut body = Vec::new();
        let mut place = |bytes: &[u8]| {
            let at = 64 + body.len() as u64;
            body.extend_from_slice(bytes);
            body.resize(body.len().next_multiple_of(8), 0);
            (at, bytes.len() as u64)
        };
        let dynstr = place(&strings);
        let dynsym_r = place(&dynsym);
        let versym_r = place(&versym);
        let verneed_r = place(&verneed);
        // Sections: 0 null, 1 .dynstr, 2 .dynsym (link 1), 3 .gnu.version (link 2),
        // 4 .gnu.version_r (link 1).
        let shoff = 64 + body.len() as u64;
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        out.extend_from_slice(&3u16.to_le_bytes()); // shared object (PIE)
        out.extend_from_slice(&62u16.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&shoff.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for v in [64u16, 56, 0, 64, 5, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&body);
        let header = |out: &mut Vec<u8>, kind: u32, (offset, size): (u64, u64), link: u32| {
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            for v in [0u64, 0, offset, size] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&link.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&8u64.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
        };
        header(&mut out, 0, (0, 0), 0);
        header(&mut out, 3, dynstr, 0);
        header(&mut out, 11, dynsym_r, 1);
        header(&mut out, 0x6fff_ffff, versym_r, 2);
        header(&mut out, 0x6fff_fffe, verneed_r, 1);
        out
    }

    fn typical() -> Vec<u8> {
        elf(
            &[
                (
                    "libc.so.6",
                    &[
                        ("GLIBC_2.34", 2, 0),
                        ("GLIBC_2.2.5", 3, 0),
                        ("GLIBC_PRIVATE", 4, 0),
                        ("GLIBC_2.39", 6, 2), // weak: not required
                    ],
                ),
                ("libgcc_s.so.1", &[("GCC_3.0", 5, 0)]),
            ],
            &[
                ("__libc_start_main", 2, true),
                ("pthread_create", 2, true),
                ("malloc", 3, true),
                ("free", 3, true),
                ("_dl_private", 4, true),
                ("_Unwind_Resume", 5, true),
                ("defined_here", 3, false),
                ("weakly", 6, true),
            ],
        )
    }

    #[test]
    fn crafted_executable() {
        let needs = needs_of(&typical()[..]).unwrap();
        assert_eq!(needs.newest, Some(GlibcVersion::new(2, 34)));
        assert_eq!(needs.none_because, None);
        let got: Vec<_> = needs
            .versions
            .iter()
            .map(|r| (r.name.as_str(), r.symbols.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                ("GLIBC_2.2.5", "free,malloc".to_owned()),
                ("GLIBC_2.34", "__libc_start_main,pthread_create".to_owned())
            ]
        );
        assert_eq!(
            needs.newer_than(GlibcVersion::new(2, 28))[0].name,
            "GLIBC_2.34"
        );
        assert!(needs.newer_than(GlibcVersion::new(2, 36)).is_empty());
        assert_eq!(needs.summary(), "2.34 or newer");
    }

    #[test]
    fn markers_and_undated_names() {
        let exe = elf(
            &[(
                "libc.so.6",
                &[
                    ("GLIBC_2.17", 2, 0),
                    ("GLIBC_ABI_DT_RELR", 3, 0),
                    ("GLIBC_ABI_FUTURE", 4, 0),
                ],
            )],
            &[("read", 2, true)],
        );
        let needs = needs_of(&exe[..]).unwrap();
        assert_eq!(needs.newest, Some(GlibcVersion::new(2, 36)));
        assert_eq!(needs.undated, ["GLIBC_ABI_FUTURE"]);
        // Only non-glibc references: none needed.
        let exe = elf(&[("libfoo.so", &[("FOO_1.0", 2, 0)])], &[("foo", 2, true)]);
        assert_eq!(
            needs_of(&exe[..]).unwrap(),
            GlibcNeeds::none(NoGlibc::NoVersionReferences)
        );
    }

    #[test]
    fn not_elf_needs_nothing_and_damaged_elf_is_an_error() {
        assert_eq!(
            needs_of(&b"hello"[..]).unwrap().none_because,
            Some(NoGlibc::NotElf)
        );
        assert_eq!(
            needs_of(&b""[..]).unwrap().none_because,
            Some(NoGlibc::NotElf)
        );
        assert!(needs_of(&b"\x7fELF\x09"[..]).is_err());
    }

    #[test]
    fn every_truncation_and_byte_flip_is_handled() {
        let good = typical();
        for cut in 0..good.len() {
            let _ = needs_of(&good[..cut]);
        }
        // Pseudo-random byte changes anywhere, several at once: never a panic.
        let mut x: u32 = 7;
        for _ in 0..3000 {
            let mut bad = good.clone();
            for _ in 0..4 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let at = (x >> 8) as usize % bad.len();
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                bad[at] = (x >> 16) as u8;
            }
            let _ = needs_of(&bad[..]);
        }
    }

    #[test]
    fn a_looping_table_is_refused_quickly() {
        // One file claiming 65535 versions whose entries all point at themselves (vna_next 0).
        let mut exe = elf(&[("libc.so.6", &[("GLIBC_2.17", 2, 0)])], &[]);
        // vn_cnt of the one Verneed entry (at the start of the table) set to 65535.
        let verneed_at = {
            // The last section header is .gnu.version_r; its sh_offset is 24 bytes in.
            let h = exe.len() - 64;
            u64::from_le_bytes(exe[h + 24..h + 32].try_into().unwrap()) as usize
        };
        exe[verneed_at + 2..verneed_at + 4].copy_from_slice(&u16::MAX.to_le_bytes());
        let start = std::time::Instant::now();
        let e = needs_of(&exe[..]).unwrap_err().to_string();
        assert!(e.contains("more than 4096 entries"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn huge_declared_tables_are_refused_before_reading() {
        let mut exe = typical();
        // .dynsym's sh_size (section 2, field at 32).
        let shoff = u64::from_le_bytes(exe[40..48].try_into().unwrap()) as usize;
        let at = shoff + 2 * 64 + 32;
        exe[at..at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        let e = needs_of(&exe[..]).unwrap_err().to_string();
        assert!(e.contains("dynamic symbol table declares"), "{e}");
    }

    /// The test executable itself: built for this host, by rustc, against this host's libc.
    #[test]
    fn this_test_executable() {
        let exe = std::env::current_exe().unwrap();
        let needs = needs_of_file(&exe).unwrap();
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            let newest = needs
                .newest
                .expect("a glibc executable references GLIBC_ versions");
            assert!(newest >= GlibcVersion::new(2, 2), "{newest}");
            // Every executable linked against glibc calls its start routine.
            assert!(
                needs
                    .versions
                    .iter()
                    .any(|r| r.symbols.iter().any(|s| s == "__libc_start_main")),
                "{needs:?}"
            );
            assert_eq!(Some(newest), needs.versions.last().map(|r| r.version));
        } else if cfg!(not(target_os = "linux")) {
            assert_eq!(needs.newest, None);
        }
    }

    /// A system binary, when there is one (Debian's are glibc executables).
    #[test]
    fn system_binaries() {
        for path in ["/bin/ls", "/usr/bin/env"] {
            let path = std::path::Path::new(path);
            if !cfg!(all(target_os = "linux", target_env = "gnu")) || !path.exists() {
                continue;
            }
            let needs = needs_of_file(path).unwrap();
            assert!(needs.newest.is_some(), "{}: {needs:?}", path.display());
        }
        // A static glibc executable (Debian's ldconfig is static-pie): no version references.
        let ldconfig = std::path::Path::new("/sbin/ldconfig");
        if let Ok(bytes) = std::fs::read(ldconfig) {
            use object::read::elf::{ElfFile64, ProgramHeader};
            let dynamic = ElfFile64::<object::Endianness>::parse(&*bytes).is_ok_and(|f| {
                f.elf_program_headers()
                    .iter()
                    .any(|p| p.p_type(f.endian()) == object::elf::PT_INTERP)
            });
            if !dynamic {
                assert_eq!(
                    needs_of_file(ldconfig).unwrap(),
                    GlibcNeeds::none(NoGlibc::NoVersionReferences)
                );
            }
        }
        // An aarch64 ELF file, from Debian's cross toolchain (scripts/cross-setup.sh): aarch64
        // glibc starts at 2.17, and this libm asks for nothing newer (two files, one version).
        let arm = std::path::Path::new("/usr/aarch64-linux-gnu/lib/libm.so.6");
        if arm.exists() {
            let needs = needs_of_file(arm).unwrap();
            assert_eq!(needs.newest, Some(GlibcVersion::new(2, 17)), "{needs:?}");
            assert_eq!(needs.versions.len(), 1, "{needs:?}");
        }
    }
}
