//! SHA-256, the one implementation the workspace hashes with (bundles, inputs, manifests).
//!
//! `ring`'s assembly core: as fast as `openssl dgst -sha256` optimised, and still fast at
//! opt-level 0, which is how cargo builds a build script's dependencies (airflow-build digests a
//! crate's inputs there). The root Cargo.toml notes the measurements behind the choice.

/// An incremental SHA-256 computation.
#[derive(Clone)]
pub struct Sha256(ring::digest::Context);

impl Sha256 {
    /// A computation over no bytes yet.
    pub fn new() -> Self {
        Sha256(ring::digest::Context::new(&ring::digest::SHA256))
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything fed.
    pub fn finalize(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // A SHA-256 digest is always 32 bytes.
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }

    /// The digest of `data` in one call.
    pub fn digest(data: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(data);
        h.finalize()
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Sha256;
    use crate::footer::hex;

    /// The FIPS 180-2 test vectors, whole and fed in pieces.
    #[test]
    fn known_answers() {
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = Sha256::new();
        h.update(b"a");
        let forked = h.clone();
        h.update(b"bc");
        assert_eq!(
            hex(&h.finalize()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&forked.finalize()), hex(&Sha256::digest(b"a")));
    }
}
