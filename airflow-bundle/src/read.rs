//! Reading a bundle from any seekable source, streaming, with every length checked first.

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::sha256::Sha256;

use crate::footer::{FooterError, Layout, TRAILER_LEN, Trailer};

/// Chunk size for streaming hashes and copies.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The trailer is missing, malformed, or does not fit the file.
    #[error(transparent)]
    Footer(#[from] FooterError),
    /// The executable region does not hash to the trailer's `binary_sha256`.
    #[error(
        "binary_sha256 mismatch: the trailer records {expected} but the executable region hashes to {actual}; the bundle was modified after packing (repack it)"
    )]
    HashMismatch {
        /// Hex digest in the trailer.
        expected: String,
        /// Hex digest of the bytes.
        actual: String,
    },
    /// The file shrank while it was read.
    #[error("the file ended early while reading it; was it being rewritten?")]
    Truncated,
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A bundle whose trailer has been read and checked against the file size.
#[derive(Debug)]
pub struct BundleReader<R> {
    inner: R,
    trailer: Trailer,
    layout: Layout,
}

impl<R: Read + Seek> BundleReader<R> {
    /// Reads and checks the trailer: magic, `footer_ver`, reserved bytes, region lengths.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when reading fails or the trailer is not one Airflow's reader accepts.
    pub fn new(mut inner: R) -> Result<Self, ReadError> {
        let (trailer, layout) = read_trailer(&mut inner)?;
        Ok(BundleReader {
            inner,
            trailer,
            layout,
        })
    }

    /// The decoded trailer.
    pub fn trailer(&self) -> &Trailer {
        &self.trailer
    }

    /// Where the regions are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// SHA-256 of the executable region, streamed.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when reading the region fails or ends early.
    pub fn hash_executable(&mut self) -> Result<[u8; 32], ReadError> {
        self.inner.seek(SeekFrom::Start(0))?;
        let mut hasher = Sha256::new();
        copy_exact(&mut self.inner, self.layout.source_start, |chunk| {
            hasher.update(chunk);
            Ok(())
        })?;
        Ok(hasher.finalize())
    }

    /// Checks the executable region against the trailer's digest.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when reading fails or the digest differs from the trailer's.
    pub fn check_hash(&mut self) -> Result<(), ReadError> {
        let actual = self.hash_executable()?;
        if actual != self.trailer.binary_sha256 {
            return Err(ReadError::HashMismatch {
                expected: crate::footer::hex(&self.trailer.binary_sha256),
                actual: crate::footer::hex(&actual),
            });
        }
        Ok(())
    }

    /// The manifest bytes (not yet decoded).
    ///
    /// Airflow's reader has no size limit, so neither has this one: the region was checked to fit
    /// in the file, and the buffer grows as bytes actually arrive rather than being sized by the
    /// trailer's `metadata_len` up front.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when reading the region fails or ends early.
    pub fn manifest_bytes(&mut self) -> Result<Vec<u8>, ReadError> {
        let len = self.trailer.metadata_len;
        self.inner
            .seek(SeekFrom::Start(self.layout.metadata_start))?;
        let mut out = Vec::new();
        copy_exact(&mut self.inner, u64::from(len), |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams the manifest region into `out`, never holding more than a chunk.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when reading the region or writing to `out` fails.
    pub fn copy_manifest(&mut self, out: &mut impl Write) -> Result<u64, ReadError> {
        self.inner
            .seek(SeekFrom::Start(self.layout.metadata_start))?;
        let len = u64::from(self.trailer.metadata_len);
        copy_exact(&mut self.inner, len, |chunk| out.write_all(chunk))?;
        Ok(len)
    }

    /// Streams the source region into `out`.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when reading the region or writing to `out` fails.
    pub fn copy_source(&mut self, out: &mut impl Write) -> Result<u64, ReadError> {
        self.inner.seek(SeekFrom::Start(self.layout.source_start))?;
        let len = u64::from(self.trailer.source_len);
        copy_exact(&mut self.inner, len, |chunk| out.write_all(chunk))?;
        Ok(len)
    }

    /// Streams the executable region into `out`.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when reading the region or writing to `out` fails.
    pub fn copy_executable(&mut self, out: &mut impl Write) -> Result<u64, ReadError> {
        self.inner.seek(SeekFrom::Start(0))?;
        copy_exact(&mut self.inner, self.layout.source_start, |chunk| {
            out.write_all(chunk)
        })?;
        Ok(self.layout.source_start)
    }
}

/// Opens `path` for reading only if it is a regular file.
///
/// The file is opened non-blocking and checked with `fstat` on the open descriptor: opening a
/// FIFO normally blocks until a writer appears (forever), and checking the path before opening
/// it would race with a swap. Regular files ignore the flag.
///
/// # Errors
///
/// The I/O error of opening or `fstat`, or `InvalidInput` when `path` is not a regular file.
pub fn open_regular(path: &std::path::Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {what}"),
        ));
    }
    Ok(file)
}

/// Reads the last 64 bytes and places the regions.
pub(crate) fn read_trailer<R: Read + Seek>(inner: &mut R) -> Result<(Trailer, Layout), ReadError> {
    let size = inner.seek(SeekFrom::End(0))?;
    if size < TRAILER_LEN as u64 {
        return Err(FooterError::TooShort { size }.into());
    }
    inner.seek(SeekFrom::Start(size - TRAILER_LEN as u64))?;
    let mut bytes = [0u8; TRAILER_LEN];
    inner.read_exact(&mut bytes).map_err(eof_is_truncation)?;
    let trailer = Trailer::from_bytes(&bytes)?;
    let layout = trailer.layout(size)?;
    Ok((trailer, layout))
}

fn eof_is_truncation(e: io::Error) -> ReadError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ReadError::Truncated
    } else {
        ReadError::Io(e)
    }
}

/// Reads exactly `len` bytes in chunks, handing each to `sink`; never buffers more than a chunk.
pub(crate) fn copy_exact<R: Read>(
    r: &mut R,
    len: u64,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), ReadError> {
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK)).max(1)];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => return Err(ReadError::Truncated),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        sink(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}
