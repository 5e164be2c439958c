//! The 64-byte `AFBNDL01` trailer at the end of every bundle.

/// Length of the trailer in bytes.
pub const TRAILER_LEN: usize = 64;
/// The magic in the last 8 bytes of a bundle.
pub const MAGIC: [u8; 8] = *b"AFBNDL01";
/// The only trailer version defined.
pub const FOOTER_VERSION: u32 = 1;

/// Why 64 bytes are not a usable trailer, or why a trailer does not fit its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FooterError {
    /// The file is shorter than a trailer.
    #[error("the file is {size} bytes, shorter than the 64-byte bundle trailer: not a bundle")]
    TooShort {
        /// File size in bytes.
        size: u64,
    },
    /// The last 8 bytes are not `AFBNDL01`.
    #[error("the last 8 bytes are not the AFBNDL01 magic: not a bundle")]
    BadMagic,
    /// `footer_ver` is not 1.
    #[error(
        "unsupported footer_ver {0}: only footer_ver 1 is defined (repack with this cargo-airflow)"
    )]
    UnsupportedVersion(u32),
    /// Bytes 44..56 are not all zero.
    #[error("the trailer's reserved bytes 44..56 are not zero; Airflow rejects such a bundle")]
    NonZeroReserved,
    /// The regions the trailer names do not fit in the file.
    #[error(
        "the trailer names {source_len} source bytes and {metadata_len} manifest bytes, more than the {size}-byte file holds before its trailer"
    )]
    RegionsPastStart {
        /// `source_len` from the trailer.
        source_len: u32,
        /// `metadata_len` from the trailer.
        metadata_len: u32,
        /// File size in bytes.
        size: u64,
    },
    /// The regions leave no bytes for the executable.
    #[error("the trailer's regions leave no room for the executable region (source_start is 0)")]
    EmptyBinaryRegion,
}

/// A decoded trailer. Fields are as stored; [`Trailer::layout`] checks them against a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Length of the source region.
    pub source_len: u32,
    /// Length of the manifest region.
    pub metadata_len: u32,
    /// Trailer format version; only [`FOOTER_VERSION`] is valid.
    pub footer_ver: u32,
    /// SHA-256 of the executable region `[0, source_start)`.
    pub binary_sha256: [u8; 32],
    /// Must be zero.
    pub reserved: [u8; 12],
}

/// Where each region of a bundle starts, from a trailer checked against the file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Size of the whole file.
    pub file_size: u64,
    /// First byte of the source region; also the length of the executable region.
    pub source_start: u64,
    /// First byte of the manifest region.
    pub metadata_start: u64,
    /// First byte of the trailer.
    pub trailer_start: u64,
}

impl Trailer {
    /// A version-1 trailer for the given region lengths and executable digest.
    pub fn new(source_len: u32, metadata_len: u32, binary_sha256: [u8; 32]) -> Self {
        Trailer {
            source_len,
            metadata_len,
            footer_ver: FOOTER_VERSION,
            binary_sha256,
            reserved: [0; 12],
        }
    }

    /// The 64 bytes, little-endian, magic last.
    pub fn to_bytes(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0u8; TRAILER_LEN];
        out[0..4].copy_from_slice(&self.source_len.to_le_bytes());
        out[4..8].copy_from_slice(&self.metadata_len.to_le_bytes());
        out[8..12].copy_from_slice(&self.footer_ver.to_le_bytes());
        out[12..44].copy_from_slice(&self.binary_sha256);
        out[44..56].copy_from_slice(&self.reserved);
        out[56..64].copy_from_slice(&MAGIC);
        out
    }

    /// Decodes 64 bytes in the order the 1.3.2 reader checks them: magic, then `footer_ver`,
    /// then the reserved bytes.
    ///
    /// # Errors
    ///
    /// [`FooterError`] for a wrong magic, an unknown `footer_ver` or non-zero reserved bytes.
    pub fn from_bytes(bytes: &[u8; TRAILER_LEN]) -> Result<Self, FooterError> {
        if bytes[56..64] != MAGIC {
            return Err(FooterError::BadMagic);
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut binary_sha256 = [0u8; 32];
        binary_sha256.copy_from_slice(&bytes[12..44]);
        let mut reserved = [0u8; 12];
        reserved.copy_from_slice(&bytes[44..56]);
        let trailer = Trailer {
            source_len: u32_at(0),
            metadata_len: u32_at(4),
            footer_ver: u32_at(8),
            binary_sha256,
            reserved,
        };
        if trailer.footer_ver != FOOTER_VERSION {
            return Err(FooterError::UnsupportedVersion(trailer.footer_ver));
        }
        if trailer.reserved != [0; 12] {
            return Err(FooterError::NonZeroReserved);
        }
        Ok(trailer)
    }

    /// Places the regions in a file of `file_size` bytes, refusing regions that overrun the file
    /// or leave an empty executable region. Arithmetic is checked, so hostile lengths cannot wrap.
    ///
    /// # Errors
    ///
    /// [`FooterError`] when the regions overrun the file or the executable region is empty.
    pub fn layout(&self, file_size: u64) -> Result<Layout, FooterError> {
        let trailer_start = file_size
            .checked_sub(TRAILER_LEN as u64)
            .ok_or(FooterError::TooShort { size: file_size })?;
        let past = FooterError::RegionsPastStart {
            source_len: self.source_len,
            metadata_len: self.metadata_len,
            size: file_size,
        };
        let metadata_start = trailer_start
            .checked_sub(u64::from(self.metadata_len))
            .ok_or_else(|| past.clone())?;
        let source_start = metadata_start
            .checked_sub(u64::from(self.source_len))
            .ok_or(past)?;
        if source_start == 0 {
            return Err(FooterError::EmptyBinaryRegion);
        }
        Ok(Layout {
            file_size,
            source_start,
            metadata_start,
            trailer_start,
        })
    }
}

/// Lower-case hex of a digest, for display and manifests.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trailer {
        let mut sha = [0u8; 32];
        for (i, b) in sha.iter_mut().enumerate() {
            *b = i as u8;
        }
        Trailer::new(0x0102_0304, 0x0a0b_0c0d, sha)
    }

    #[test]
    fn golden_bytes() {
        let bytes = sample().to_bytes();
        let mut expected = vec![0x04, 0x03, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a, 1, 0, 0, 0];
        expected.extend(0u8..32);
        expected.extend([0u8; 12]);
        expected.extend(b"AFBNDL01");
        assert_eq!(bytes.to_vec(), expected);
    }

    #[test]
    fn round_trip() {
        assert_eq!(Trailer::from_bytes(&sample().to_bytes()), Ok(sample()));
    }

    #[test]
    fn rejects_bad_magic_version_and_reserved() {
        let mut b = sample().to_bytes();
        b[63] = b'2';
        assert_eq!(Trailer::from_bytes(&b), Err(FooterError::BadMagic));
        let mut b = sample().to_bytes();
        b[8] = 2;
        assert_eq!(
            Trailer::from_bytes(&b),
            Err(FooterError::UnsupportedVersion(2))
        );
        for i in 44..56 {
            let mut b = sample().to_bytes();
            b[i] = 1;
            assert_eq!(
                Trailer::from_bytes(&b),
                Err(FooterError::NonZeroReserved),
                "byte {i}"
            );
        }
    }

    #[test]
    fn layout_checks_lengths_without_overflow() {
        let t = Trailer::new(u32::MAX, u32::MAX, [0; 32]);
        assert!(matches!(
            t.layout(200),
            Err(FooterError::RegionsPastStart { .. })
        ));
        assert_eq!(t.layout(10), Err(FooterError::TooShort { size: 10 }));
        // Exactly fills the file before the trailer: no executable bytes left.
        let t = Trailer::new(6, 4, [0; 32]);
        assert_eq!(t.layout(74), Err(FooterError::EmptyBinaryRegion));
        let l = t.layout(75).unwrap();
        assert_eq!(
            (l.source_start, l.metadata_start, l.trailer_start),
            (1, 7, 11)
        );
        // The largest regions a u32 can name still place correctly.
        let big = 2 * u64::from(u32::MAX) + 65;
        let l = Trailer::new(u32::MAX, u32::MAX, [0; 32])
            .layout(big)
            .unwrap();
        assert_eq!(l.source_start, 1);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
