//! The glibc a bundle needs, and the floor a package declares for it: `--glibc 2.36` or
//! `[package.metadata.airflow] glibc = "2.36"` (the flag wins). A bundle built on a newer host
//! than the workers' OS fails on every worker with `version 'GLIBC_2.39' not found`; `pack`
//! refuses it instead, before anything is written.

use std::fmt;
use std::path::{Path, PathBuf};

use airflow_bundle::glibc::{GlibcNeeds, GlibcRequirement, GlibcVersion};

use crate::error::{Error, Result};

/// How many symbols of one version a message names before `and N more`.
const SYMBOLS_SHOWN: usize = 3;

/// Where a floor was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloorOrigin {
    /// `--glibc`.
    Flag,
    /// `[package.metadata.airflow] glibc` of this `Cargo.toml`.
    Metadata(PathBuf),
}

impl fmt::Display for FloorOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FloorOrigin::Flag => f.write_str("--glibc"),
            FloorOrigin::Metadata(path) => {
                write!(f, "[package.metadata.airflow] glibc in {}", path.display())
            }
        }
    }
}

/// The oldest glibc the bundle must run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Floor {
    /// The version.
    pub version: GlibcVersion,
    /// Where it was declared.
    pub origin: FloorOrigin,
}

/// The floor: `--glibc` when given, else the package's `[package.metadata.airflow] glibc`.
///
/// # Errors
///
/// [`Error::BadGlibcFloor`] when the metadata value is not a string holding a glibc version.
pub fn floor(flag: Option<GlibcVersion>, manifest_dir: Option<&Path>) -> Result<Option<Floor>> {
    if let Some(version) = flag {
        return Ok(Some(Floor {
            version,
            origin: FloorOrigin::Flag,
        }));
    }
    let Some(dir) = manifest_dir else {
        return Ok(None);
    };
    let path = dir.join("Cargo.toml");
    // Cargo has read this file already; one it could not read declares nothing here.
    let Some(doc) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
    else {
        return Ok(None);
    };
    let value = doc
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("airflow"))
        .and_then(|a| a.get("glibc"));
    let bad = |reason: String| Error::BadGlibcFloor {
        origin: FloorOrigin::Metadata(path.clone()),
        reason,
    };
    match value {
        None => Ok(None),
        Some(toml::Value::String(s)) => s
            .parse()
            .map(|version| {
                Some(Floor {
                    version,
                    origin: FloorOrigin::Metadata(path.clone()),
                })
            })
            .map_err(|e: airflow_bundle::glibc::GlibcVersionError| bad(e.to_string())),
        Some(other) => Err(bad(format!(
            "it is a {}, not a string such as \"2.36\"",
            other.type_str()
        ))),
    }
}

/// Refuses an executable that needs a newer glibc than `floor`, or a glibc version name no
/// release can be named for.
///
/// # Errors
///
/// [`Error::GlibcTooNew`], naming the versions over the floor and their symbols.
pub fn check(needs: &GlibcNeeds, floor: &Floor, package: &str, target: &str) -> Result<()> {
    let over = needs.newer_than(floor.version);
    if over.is_empty() && needs.undated.is_empty() {
        return Ok(());
    }
    Err(Error::GlibcTooNew(Box::new(TooNew {
        package: package.to_owned(),
        floor: floor.clone(),
        needs: needs.summary(),
        over: over.iter().map(|r| describe(r)).collect(),
        undated: needs.undated.clone(),
        target: target.to_owned(),
    })))
}

/// What a bundle needs beyond its glibc floor ([`Error::GlibcTooNew`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "package `{package}` needs glibc {needs}, newer than its floor {} ({}): {}",
    floor.version,
    floor.origin,
    too_new(over, undated)
)]
pub struct TooNew {
    /// The package (or bin) packed.
    pub package: String,
    /// The floor and where it was declared.
    pub floor: Floor,
    /// What it needs (`2.39 or newer`).
    pub needs: String,
    /// The versions over the floor, newest first, each with a few of its symbols.
    pub over: Vec<String>,
    /// glibc version names no release can be named for.
    pub undated: Vec<String>,
    /// The target triple (the advice names targets like it).
    pub target: String,
}

/// The versions over a glibc floor, then the names no release can be named for.
fn too_new(over: &[String], undated: &[String]) -> String {
    let mut parts = over.to_vec();
    parts.extend(
        undated
            .iter()
            .map(|n| format!("{n} (a glibc version name cargo-airflow cannot date)")),
    );
    parts.join(", ")
}

/// `GLIBC_2.34 (__libc_start_main, pthread_create, and 2 more)`.
pub fn describe(r: &GlibcRequirement) -> String {
    let mut text = r.name.clone();
    if r.symbols.is_empty() {
        return text;
    }
    let shown: Vec<&str> = r
        .symbols
        .iter()
        .take(SYMBOLS_SHOWN)
        .map(String::as_str)
        .collect();
    text.push_str(&format!(" ({}", crate::escape::line(&shown.join(", "))));
    if r.symbols.len() > SYMBOLS_SHOWN {
        text.push_str(&format!(", and {} more", r.symbols.len() - SYMBOLS_SHOWN));
    }
    text.push(')');
    text
}

/// The summary line's text: `2.34 or newer (GLIBC_2.34: __libc_start_main, ...)`, or why none.
pub fn summary(needs: &GlibcNeeds, floor: Option<&GlibcVersion>) -> String {
    let mut text = needs.summary();
    if let Some(newest) = needs.versions.last() {
        text = format!("{text}, for {}", describe(newest));
    }
    if let Some(f) = floor {
        text.push_str(&format!("; floor {f}"));
    }
    text
}

/// The advice for a bundle that needs too new a glibc, for this target triple.
pub fn advice(floor: &GlibcVersion, target: &str) -> String {
    let (musl, versioned) = match target.strip_suffix("-gnu") {
        Some(stem) => (format!("{stem}-musl"), format!("{target}.{floor}")),
        None => (
            "x86_64-unknown-linux-musl".to_owned(),
            format!("x86_64-unknown-linux-gnu.{floor}"),
        ),
    };
    format!(
        "build it where the glibc is {floor} or older (an older build host, or the oldest \
         worker image), for a static musl target (`cargo airflow pack --target {musl}`), or \
         with a glibc-versioned toolchain such as cargo-zigbuild (`cargo zigbuild --release \
         --target {versioned}`, then `cargo airflow pack --executable` on its output)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs() -> GlibcNeeds {
        let req = |name: &str, v: GlibcVersion, n: usize| GlibcRequirement {
            name: name.into(),
            version: v,
            symbols: (0..n).map(|i| format!("sym{i}")).collect(),
        };
        GlibcNeeds {
            newest: Some(GlibcVersion::new(2, 39)),
            none_because: None,
            versions: vec![
                req("GLIBC_2.2.5", GlibcVersion::with_patch(2, 2, 5), 10),
                req("GLIBC_2.34", GlibcVersion::new(2, 34), 1),
                req("GLIBC_2.39", GlibcVersion::new(2, 39), 5),
            ],
            undated: vec![],
        }
    }

    #[test]
    fn a_floor_below_the_newest_version_is_refused_naming_symbols() {
        let floor = Floor {
            version: GlibcVersion::new(2, 28),
            origin: FloorOrigin::Flag,
        };
        let e = check(&needs(), &floor, "p", "x86_64-unknown-linux-gnu").unwrap_err();
        let line = crate::error::render(&e);
        assert!(
            line.contains("GLIBC_2.39 (sym0, sym1, sym2, and 2 more), GLIBC_2.34 (sym0); build it"),
            "{line}"
        );
        assert!(line.contains("x86_64-unknown-linux-gnu.2.28"), "{line}");
        let at = Floor {
            version: GlibcVersion::new(2, 39),
            origin: FloorOrigin::Flag,
        };
        check(&needs(), &at, "p", "x86_64-unknown-linux-gnu").unwrap();
    }

    #[test]
    fn the_metadata_floor_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join("Cargo.toml"), text).unwrap();
        write("[package]\nname = \"p\"\n[package.metadata.airflow]\nglibc = \"2.36\"\n");
        let f = floor(None, Some(dir.path())).unwrap().unwrap();
        assert_eq!(f.version, GlibcVersion::new(2, 36));
        assert!(matches!(f.origin, FloorOrigin::Metadata(_)));
        // The flag wins.
        let f = floor(Some(GlibcVersion::new(2, 28)), Some(dir.path()))
            .unwrap()
            .unwrap();
        assert_eq!(
            (f.version, f.origin),
            (GlibcVersion::new(2, 28), FloorOrigin::Flag)
        );
        write("[package]\nname = \"p\"\n[package.metadata.airflow]\nglibc = 2.36\n");
        let e = floor(None, Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("it is a float"), "{e}");
        write("[package]\nname = \"p\"\n[package.metadata.airflow]\nglibc = \"bookworm\"\n");
        let e = floor(None, Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("`bookworm` is not a glibc version"), "{e}");
        write("[package]\nname = \"p\"\n");
        assert_eq!(floor(None, Some(dir.path())).unwrap(), None);
    }
}
