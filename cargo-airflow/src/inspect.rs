//! `cargo airflow inspect`: show a bundle's manifest, source and trailer without running it.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use airflow_bundle::Manifest;
use airflow_bundle::footer::hex;
use airflow_bundle::read::{BundleReader, ReadError};
use cargo_airflow_report::{InspectReport, Layout, Region, TrailerFields};
use serde::Serialize;

use crate::error::{Error, Result};

/// The most source bytes put into `--json` output.
pub const MAX_JSON_SOURCE: u64 = 16 * 1024 * 1024;

/// Writes the manifest (and with `source`, the source region) of the bundle at `path` to `out`.
///
/// With `source`, the output is `# --- source (<name>) ---`, the source, then
/// `# --- manifest ---` and the manifest. Both are streamed from the file, escaped on the way
/// (they are untrusted: control characters are escaped, not sent to the terminal), never held
/// whole.
pub fn human(path: &Path, source: bool, out: &mut impl Write) -> Result<()> {
    let mut reader = open(path)?;
    let write_err = |e: io::Error| Error::io("cannot write the output for", path, e);
    if source {
        let name = {
            let manifest = reader
                .manifest_bytes()
                .map_err(|e| not_a_bundle(path, e.to_string()))?;
            parse(&manifest).map_or_else(|| "?".into(), |m| m.source)
        };
        writeln!(out, "# --- source ({}) ---", crate::escape::line(&name)).map_err(write_err)?;
        let mut tracked = LastByte {
            inner: &mut *out,
            last: None,
        };
        copy_escaped(path, &mut tracked, |mut w| reader.copy_source(&mut w))?;
        if tracked.last.is_some_and(|b| b != b'\n') {
            writeln!(out).map_err(write_err)?;
        }
        writeln!(out, "# --- manifest ---").map_err(write_err)?;
    }
    copy_escaped(path, &mut *out, |mut w| reader.copy_manifest(&mut w))?;
    out.flush().map_err(write_err)
}

/// Streams a region through the escaping writer into `out`, telling a failure to read the
/// bundle from a failure to write the output (a closed pipe, say).
fn copy_escaped<W: Write>(
    path: &Path,
    out: &mut W,
    copy: impl FnOnce(&mut dyn Write) -> std::result::Result<u64, ReadError>,
) -> Result<()> {
    let mut sink = Sink {
        inner: crate::escape::BlockWriter::new(out),
        failed: None,
    };
    let copied = copy(&mut sink);
    let write_err = |e: io::Error| Error::io("cannot write the output for", path, e);
    if let Some(e) = sink.failed.take() {
        return Err(write_err(e));
    }
    copied.map_err(|e| not_a_bundle(path, e.to_string()))?;
    sink.inner.finish().map_err(write_err)?;
    Ok(())
}

/// A writer that keeps the error of the writer it wraps, so it is not taken for a read error.
struct Sink<W: Write> {
    inner: W,
    failed: Option<io::Error>,
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

/// The manifest parsed, when it is UTF-8 and parses (Airflow's reader refuses any other).
fn parse(manifest: &[u8]) -> Option<Manifest> {
    std::str::from_utf8(manifest)
        .ok()
        .and_then(|text| Manifest::from_yaml(text).ok())
}

/// Bytes read from a bundle, serialized as text (invalid UTF-8 as U+FFFD) straight into the
/// JSON being written: a copy as a `String` could take three times the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossyText(Vec<u8>);

impl std::fmt::Display for LossyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_char('\u{fffd}')?;
            }
        }
        Ok(())
    }
}

impl Serialize for LossyText {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A writer that remembers the last byte written, to end the source block with a newline.
struct LastByte<'a, W: Write> {
    inner: &'a mut W,
    last: Option<u8>,
}

impl<W: Write> Write for LastByte<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the airflow-build record's inputs of the bundle (or plain executable) at `path`: a few
/// `# ` header lines with the combined digests, then one `sha256  path` line per input file;
/// for a bundle whose manifest lists the files its build read (cargo's dep-info, digested at
/// pack time), a `# ` line and one `sha256  path` line for each of those.
pub fn inputs(path: &Path, out: &mut impl Write) -> Result<()> {
    let record = crate::embedded::read_record(path)?.ok_or_else(|| Error::NoInputs {
        path: path.to_owned(),
    })?;
    let write_err = |e: io::Error| Error::io("cannot write the output for", path, e);
    let mut text = format!(
        "# package {} {}, target {} ({})\n# source digest {}\n# env signature {}\n",
        crate::escape::line(&record.package),
        crate::escape::line(&record.version),
        crate::escape::line(&record.target),
        crate::escape::line(&record.profile),
        record.inputs.source,
        record.env_signature
    );
    for f in &record.files {
        text.push_str(&format!(
            "{}  {}\n",
            crate::escape::line(&f.sha256),
            crate::escape::line(&f.path)
        ));
    }
    let read = read_inputs(path);
    if !read.is_empty() {
        text.push_str("# read by the build (cargo's dep-info), digested when packed\n");
        for f in &read {
            text.push_str(&format!(
                "{}  {}\n",
                crate::escape::line(&f.sha256),
                crate::escape::line(&f.path)
            ));
        }
    }
    out.write_all(text.as_bytes()).map_err(write_err)?;
    out.flush().map_err(write_err)
}

/// The files the bundle's manifest says its build read; none for a plain executable or a
/// manifest that does not parse (`inspect` without `--inputs` reports those).
fn read_inputs(path: &Path) -> Vec<airflow_bundle::record::FileDigest> {
    let Ok(mut reader) = open(path) else {
        return Vec::new();
    };
    let Ok(manifest) = reader.manifest_bytes() else {
        return Vec::new();
    };
    parse(&manifest)
        .and_then(|m| m.build)
        .map(|b| b.read_inputs)
        .unwrap_or_default()
}

/// The machine-readable report: manifest text, parsed manifest, source and trailer facts, and
/// the airflow-build record when the executable region carries one.
pub fn report(path: &Path) -> Result<InspectReport<LossyText>> {
    let mut reader = open(path)?;
    let manifest = reader
        .manifest_bytes()
        .map_err(|e| not_a_bundle(path, e.to_string()))?;
    // Parsed before the source is read, so the parser's peak and the source do not add up.
    let parsed = parse(&manifest);
    let t = *reader.trailer();
    let l = *reader.layout();
    let record = crate::embedded::read_record(path)?;
    let glibc = glibc_needs(path)?;
    let source = if u64::from(t.source_len) <= MAX_JSON_SOURCE {
        let mut buf = Vec::new();
        reader
            .copy_source(&mut buf)
            .map_err(|e| not_a_bundle(path, e.to_string()))?;
        Some(LossyText(buf))
    } else {
        None
    };
    let region = |offset: u64, end: u64| Region {
        offset,
        len: end - offset,
    };
    Ok(InspectReport {
        format_version: cargo_airflow_report::FORMAT_VERSION,
        path: path.to_owned(),
        record,
        manifest_text: LossyText(manifest),
        manifest: parsed,
        source,
        trailer: TrailerFields {
            source_len: t.source_len,
            metadata_len: t.metadata_len,
            footer_ver: t.footer_ver,
            binary_sha256: hex(&t.binary_sha256),
            reserved_zero: t.reserved.iter().all(|b| *b == 0),
        },
        layout: Layout {
            file_size: l.file_size,
            executable: region(0, l.source_start),
            source: region(l.source_start, l.metadata_start),
            manifest: region(l.metadata_start, l.trailer_start),
            trailer: region(l.trailer_start, l.file_size),
        },
        glibc: Some(glibc),
    })
}

/// Which glibc the bundle or executable at `path` needs.
fn glibc_needs(path: &Path) -> Result<airflow_bundle::glibc::GlibcNeeds> {
    airflow_bundle::glibc::needs_of_file(path).map_err(|source| Error::Glibc {
        path: path.to_owned(),
        source,
    })
}

/// The glibc report of a bundle or a plain executable (`inspect --glibc --json`).
pub fn glibc_report(path: &Path) -> Result<cargo_airflow_report::GlibcReport> {
    Ok(cargo_airflow_report::GlibcReport {
        format_version: cargo_airflow_report::FORMAT_VERSION,
        path: path.to_owned(),
        glibc: glibc_needs(path)?,
    })
}

/// Writes which glibc the bundle or executable at `path` needs: `glibc: needs 2.34 or newer`
/// (or none, and why), then one line per version referenced, newest first, with every symbol
/// bound to it.
pub fn glibc(path: &Path, out: &mut impl Write) -> Result<()> {
    let needs = glibc_needs(path)?;
    let mut text = format!("glibc: needs {}\n", needs.summary());
    for r in needs.versions.iter().rev() {
        // The release is named when the name does not say it (an ABI marker).
        let release = if r.name == format!("GLIBC_{}", r.version) {
            String::new()
        } else {
            format!(" (glibc {})", r.version)
        };
        text.push_str(&format!(
            "{}{release}: {}\n",
            crate::escape::line(&r.name),
            if r.symbols.is_empty() {
                "no symbols (an ABI marker)".to_owned()
            } else {
                crate::escape::line(&r.symbols.join(" ")).into_owned()
            }
        ));
    }
    for n in &needs.undated {
        text.push_str(&format!(
            "{}: a glibc version name cargo-airflow cannot date\n",
            crate::escape::line(n)
        ));
    }
    let write_err = |e: io::Error| Error::io("cannot write the output for", path, e);
    out.write_all(text.as_bytes()).map_err(write_err)?;
    out.flush().map_err(write_err)
}

fn open(path: &Path) -> Result<BundleReader<File>> {
    let file =
        airflow_bundle::read::open_regular(path).map_err(|e| Error::io("cannot read", path, e))?;
    BundleReader::new(file).map_err(|e| not_a_bundle(path, e.to_string()))
}

fn not_a_bundle(path: &Path, reason: String) -> Error {
    Error::NotABundle {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airflow_bundle::write::write_bundle;

    fn bundle(dir: &Path) -> std::path::PathBuf {
        let p = dir.join("b");
        let mut out = Vec::new();
        let manifest = "airflow_bundle_metadata_version: \"1.0\"\nsdk:\n  language: \"rust\"\n  version: \"0.1.0\"\n  supervisor_schema_version: \"2026-06-16\"\nsource: \"main.rs\"\ndags:\n  d:\n    tasks:\n      - \"t\"\n";
        write_bundle(
            &mut &b"EXE"[..],
            &mut out,
            b"fn main() {}",
            manifest.as_bytes(),
        )
        .unwrap();
        std::fs::write(&p, out).unwrap();
        p
    }

    #[test]
    fn prints_manifest_and_source() {
        let dir = tempfile::tempdir().unwrap();
        let p = bundle(dir.path());
        let mut out = Vec::new();
        human(&p, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("airflow_bundle_metadata_version"));
        let mut out = Vec::new();
        human(&p, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("# --- source (main.rs) ---\nfn main() {}\n# --- manifest ---\n"));
    }

    #[test]
    fn the_report_has_trailer_facts() {
        let dir = tempfile::tempdir().unwrap();
        let p = bundle(dir.path());
        let r = report(&p).unwrap();
        assert_eq!(r.trailer.source_len, 12);
        assert_eq!(r.trailer.footer_ver, 1);
        assert_eq!(r.layout.source, Region { offset: 3, len: 12 });
        assert_eq!(r.source.unwrap().to_string(), "fn main() {}");
        assert_eq!(r.manifest.unwrap().dags["d"].tasks, ["t"]);
        assert_eq!(r.record, None);
        assert_eq!(
            r.glibc.unwrap().none_because,
            Some(airflow_bundle::glibc::NoGlibc::NotElf)
        );
    }

    #[test]
    fn a_non_bundle_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"hello").unwrap();
        let e = human(&p, false, &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("is not a readable bundle"), "{e}");
    }
}
