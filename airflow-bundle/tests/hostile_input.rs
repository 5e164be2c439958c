//! The reader is safe on untrusted input: any bytes give a report or an error, never a panic,
//! and a valid bundle survives the round trip.

use std::io::Cursor;

use airflow_bundle::read::BundleReader;
use airflow_bundle::verify::{AirflowRelease, Check, Report};
use airflow_bundle::write::write_bundle;
use airflow_bundle::{MAGIC, Trailer};
use proptest::prelude::*;

/// Judged for every release.
fn verify(bytes: Cursor<impl AsRef<[u8]>>) -> Report {
    airflow_bundle::verify::verify(bytes, &AirflowRelease::ALL)
}

fn bundle(exe: &[u8], src: &[u8], man: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_bundle(&mut &exe[..], &mut out, src, man).unwrap();
    out
}

/// Bytes that end in a plausible trailer with arbitrary lengths, so the interesting paths run.
fn with_trailer() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(any::<u8>(), 0..300),
        any::<u32>(),
        any::<u32>(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(mut body, source_len, metadata_len, sha)| {
            body.extend_from_slice(
                &Trailer::new(source_len % 400, metadata_len % 400, sha).to_bytes(),
            );
            body
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let report = verify(Cursor::new(&bytes));
        if !bytes.ends_with(&MAGIC) {
            prop_assert!(!report.accepted());
        }
    }

    #[test]
    fn arbitrary_trailers_never_panic(bytes in with_trailer()) {
        let _ = verify(Cursor::new(&bytes));
        if let Ok(mut r) = BundleReader::new(Cursor::new(&bytes)) {
            let _ = r.manifest_bytes();
            let _ = r.copy_source(&mut Vec::new());
            let _ = r.check_hash();
        }
    }

    #[test]
    fn manifests_of_any_text_never_panic(man in ".{0,200}", exe in prop::collection::vec(any::<u8>(), 1..50)) {
        let report = verify(Cursor::new(bundle(&exe, b"", man.as_bytes())));
        // The trailer and hash are right whatever the manifest says.
        for v in &report.verdicts {
            prop_assert!(v.failures().all(|(c, _)| !matches!(c, Check::Trailer | Check::BinarySha256)));
        }
        // The releases differ only where their readers do: the schema versions they know and
        // the exceptions they catch (the execute bit is not known from bytes).
        let (old, new) = (&report.verdicts[0], &report.verdicts[1]);
        for ((c, a), (_, b)) in old.outcomes.iter().zip(&new.outcomes) {
            if a != b {
                prop_assert!(matches!(c, Check::SupervisorSchemaVersion | Check::ManifestMapping), "{c}: {a:?} / {b:?}");
            }
        }
        prop_assert!(!old.accepted() || new.accepted());
        prop_assert!(new.breaks_lookup.is_none() || old.breaks_lookup.is_some());
    }

    #[test]
    fn one_flipped_byte_is_never_accepted_silently(
        exe in prop::collection::vec(any::<u8>(), 1..64),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let man = "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d:\n    tasks: [t]\n";
        let good = bundle(&exe, b"fn main() {}\n", man.as_bytes());
        prop_assert!(verify(Cursor::new(&good)).accepted());
        let mut bad = good.clone();
        let i = at.index(exe.len());
        bad[i] ^= 1 << bit;
        prop_assert!(!verify(Cursor::new(&bad)).accepted());
    }
}
