//! Writing a bundle: the executable streamed through a hasher, then source, manifest, trailer.

use std::io::{self, Read, Write};

use crate::sha256::Sha256;

use crate::footer::Trailer;
use crate::read::CHUNK;

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The executable is empty; Airflow requires a non-empty executable region.
    #[error("the executable is empty; a bundle needs a non-empty executable region")]
    EmptyExecutable,
    /// A region does not fit the trailer's 32-bit length.
    #[error(
        "the {region} region is {len} bytes, over the format's limit of {} bytes",
        u32::MAX
    )]
    RegionTooLarge {
        /// `source` or `manifest`.
        region: &'static str,
        /// Its length.
        len: usize,
    },
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// SHA-256 and length of everything `r` yields, streamed.
///
/// # Errors
///
/// The I/O error of reading `r`.
pub fn sha256_stream(r: &mut impl Read) -> io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let n = pump(r, |chunk| {
        hasher.update(chunk);
        Ok(())
    })?;
    Ok((hasher.finalize(), n))
}

/// Copies `executable` to `out` while hashing it, then appends `source`, `manifest` and the
/// trailer. Returns the trailer written. Memory use is one chunk, whatever the executable's size.
///
/// # Errors
///
/// The I/O error of reading an input or writing `out`.
pub fn write_bundle(
    executable: &mut impl Read,
    out: &mut impl Write,
    source: &[u8],
    manifest: &[u8],
) -> Result<Trailer, WriteError> {
    let source_len = u32::try_from(source.len()).map_err(|_| WriteError::RegionTooLarge {
        region: "source",
        len: source.len(),
    })?;
    let metadata_len = u32::try_from(manifest.len()).map_err(|_| WriteError::RegionTooLarge {
        region: "manifest",
        len: manifest.len(),
    })?;
    let mut hasher = Sha256::new();
    let n = pump(executable, |chunk| {
        hasher.update(chunk);
        out.write_all(chunk)
    })?;
    if n == 0 {
        return Err(WriteError::EmptyExecutable);
    }
    let trailer = Trailer::new(source_len, metadata_len, hasher.finalize());
    out.write_all(source)?;
    out.write_all(manifest)?;
    out.write_all(&trailer.to_bytes())?;
    out.flush()?;
    Ok(trailer)
}

fn pump(r: &mut impl Read, mut sink: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sink(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::footer::FooterError;
    use crate::read::{BundleReader, ReadError};

    fn bundle(exe: &[u8], src: &[u8], man: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_bundle(&mut &exe[..], &mut out, src, man).unwrap();
        out
    }

    #[test]
    fn round_trip() {
        let b = bundle(b"\x7fELF-ish executable", b"fn main() {}\n", b"dags: {}\n");
        assert_eq!(b.len(), 19 + 13 + 9 + 64);
        let mut r = BundleReader::new(Cursor::new(&b)).unwrap();
        r.check_hash().unwrap();
        assert_eq!(r.manifest_bytes().unwrap(), b"dags: {}\n");
        let mut src = Vec::new();
        r.copy_source(&mut src).unwrap();
        assert_eq!(src, b"fn main() {}\n");
        let mut exe = Vec::new();
        r.copy_executable(&mut exe).unwrap();
        assert_eq!(exe, b"\x7fELF-ish executable");
    }

    #[test]
    fn golden_bundle_for_fixed_input() {
        let b = bundle(b"abc", b"", b"x");
        // sha256("abc")
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let t = &b[b.len() - 64..];
        assert_eq!(&t[0..12], &[0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(crate::footer::hex(&t[12..44]), sha);
        assert_eq!(&t[56..], b"AFBNDL01");
    }

    #[test]
    fn empty_executable_is_refused() {
        assert!(matches!(
            write_bundle(&mut &b""[..], &mut Vec::new(), b"", b""),
            Err(WriteError::EmptyExecutable)
        ));
    }

    #[test]
    fn every_flipped_executable_byte_is_caught() {
        let b = bundle(b"0123456789", b"src", b"man");
        for i in 0..10 {
            let mut bad = b.clone();
            bad[i] ^= 1;
            let mut r = BundleReader::new(Cursor::new(&bad)).unwrap();
            assert!(matches!(
                r.check_hash(),
                Err(ReadError::HashMismatch { .. })
            ));
        }
    }

    #[test]
    fn hostile_trailers_are_errors_not_panics() {
        let good = bundle(b"exe", b"s", b"m");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "short"),
            (good[..63].to_vec(), "short"),
            (good[..good.len() - 1].to_vec(), "magic"),
            (
                {
                    let mut b = good.clone();
                    let n = b.len();
                    b[n - 64..n - 60].copy_from_slice(&u32::MAX.to_le_bytes());
                    b
                },
                "past",
            ),
            (
                {
                    let mut b = good.clone();
                    let n = b.len();
                    b[n - 60..n - 56].copy_from_slice(&u32::MAX.to_le_bytes());
                    b
                },
                "past",
            ),
            (
                {
                    let mut b = good.clone();
                    let n = b.len();
                    b[n - 64] = 4;
                    b
                },
                "empty",
            ),
            (
                {
                    let mut b = good.clone();
                    let n = b.len();
                    b[n - 56] = 9;
                    b
                },
                "version",
            ),
            (
                {
                    let mut b = good.clone();
                    let n = b.len();
                    b[n - 10] = 1;
                    b
                },
                "reserved",
            ),
        ];
        for (bytes, what) in cases {
            let err = BundleReader::new(Cursor::new(&bytes)).unwrap_err();
            let ok = matches!(
                (&err, what),
                (ReadError::Footer(FooterError::TooShort { .. }), "short")
                    | (ReadError::Footer(FooterError::BadMagic), "magic")
                    | (
                        ReadError::Footer(FooterError::RegionsPastStart { .. }),
                        "past"
                    )
                    | (ReadError::Footer(FooterError::EmptyBinaryRegion), "empty")
                    | (
                        ReadError::Footer(FooterError::UnsupportedVersion(9)),
                        "version"
                    )
                    | (ReadError::Footer(FooterError::NonZeroReserved), "reserved")
            );
            assert!(ok, "{what}: {err:?}");
        }
    }
}
