//! The Apache Airflow *executable bundle* format, free of cargo and process concerns.
//!
//! An executable bundle is a runnable native executable with three regions appended:
//!
//! ```text
//! [0, source_start)                native executable (must be non-empty)
//! [source_start, metadata_start)   the root source file, verbatim (may be empty)
//! [metadata_start, size - 64)      the airflow-metadata manifest (YAML, UTF-8)
//! [size - 64, size)                the 64-byte AFBNDL01 trailer (little-endian)
//! ```
//!
//! * [`footer`]: the 64-byte trailer, encoded and decoded.
//! * [`manifest`]: what a bundle binary says about itself ([`Metadata`]) and the manifest a
//!   packer embeds ([`Manifest`]), emitted as YAML that PyYAML's YAML 1.1 loader reads back to the
//!   same strings.
//! * [`declare`]: the shape of a dag as a bundle declares it (schedule, settings, dependencies),
//!   carried in the metadata for the packer's checks, the Python stubs and native Dags.
//! * [`ids`]: Airflow's rules for dag and task ids.
//! * `read`, `write` and `verify` (feature `io`, on by default): stream a bundle from or to a file
//!   without holding the executable in memory, and check a file the way the released
//!   `apache-airflow-task-sdk` 1.3.2 reader does. The reader is safe on hostile input: every length
//!   is checked against the file size before anything is allocated or read.
#![forbid(unsafe_code)]

pub mod declare;
pub mod footer;
pub mod ids;
pub mod manifest;
#[cfg(feature = "io")]
pub mod read;
pub mod record;
#[cfg(feature = "io")]
pub mod verify;
#[cfg(feature = "io")]
pub mod write;
#[cfg(feature = "io")]
mod yaml11;

pub use footer::{FOOTER_VERSION, FooterError, MAGIC, TRAILER_LEN, Trailer};
pub use manifest::{BuildInfo, DagEntry, Manifest, Metadata, Sdk, SourceEntry};

/// The `airflow_bundle_metadata_version` values this crate understands.
pub const KNOWN_METADATA_VERSIONS: &[&str] = &["1.0"];

/// The `sdk.supervisor_schema_version` values a released Airflow is known to accept.
///
/// apache-airflow-task-sdk 1.3.2 accepts exactly one, `"2026-06-16"`; 1.4 (Airflow 3.4) accepts it
/// and `"2026-10-30"`.
pub const KNOWN_SUPERVISOR_SCHEMA_VERSIONS: &[&str] = &["2026-06-16", "2026-10-30"];
