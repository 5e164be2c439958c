#![doc = include_str!("../README.md")]
//!
//! # Where things are
//!
//! [`footer`] ([`Trailer`]), [`glibc`] (which glibc an executable needs; reading one with
//! `io`), [`manifest`] ([`Metadata`], [`Manifest`]), [`declare`], [`ids`],
//! [`dag_ids`] ([`DagIds`]), [`record`], [`sort`] (one stable sort shared by a bundle's callers), and with the `io` feature `read`, `write` and `verify`, with the `stubs` feature `stubs` (the
//! generated Python stub dag file), with the `sha256` feature (part of `io`) `sha256`. The
//! manifest's YAML form needs the `yaml` feature (part of `io`; `yaml-emit` for `to_yaml` alone).
#![forbid(unsafe_code)]
// Product code only: unit tests are held to clippy::all.
#![cfg_attr(not(test), warn(clippy::pedantic))]
// The keep-off list of the root Cargo.toml ([workspace.lints.clippy]), repeated because this
// crate attribute would otherwise switch those lints back on.
#![allow(clippy::must_use_candidate)]

pub mod dag_ids;
pub mod declare;
pub mod footer;
pub mod glibc;
pub mod ids;
pub mod manifest;
#[cfg(feature = "io")]
pub mod read;
pub mod record;
#[cfg(feature = "sha256")]
pub mod sha256;
pub mod sort;
#[cfg(feature = "stubs")]
pub mod stubs;
#[cfg(feature = "io")]
pub mod verify;
#[cfg(feature = "io")]
pub mod write;
#[cfg(feature = "io")]
mod yaml11;

pub use dag_ids::DagIds;
pub use footer::{FOOTER_VERSION, FooterError, MAGIC, TRAILER_LEN, Trailer};
pub use manifest::{BuildInfo, DagEntry, Digests, Manifest, Metadata, Sdk, SourceEntry};

/// The `airflow_bundle_metadata_version` values this crate understands.
pub const KNOWN_METADATA_VERSIONS: &[&str] = &["1.0"];

/// The exit status of a bundle binary that refuses its own declarations when asked for
/// `--airflow-metadata` (a dependency cycle, an unknown task id, catchup without a start date,
/// ...): 65, `EX_DATAERR` of sysexits.h. Its stderr then ends with one `error: ` line naming every
/// problem, so a packer can report them as what they are rather than as a binary it could not
/// introspect.
pub const EXIT_INVALID_DECLARATIONS: u8 = 65;

/// The `sdk.supervisor_schema_version` values a released Airflow is known to accept.
///
/// apache-airflow-task-sdk 1.3.2 accepts exactly one, `"2026-06-16"`; 1.4 (Airflow 3.4) accepts it
/// and `"2026-10-30"`. Which release knows which is `verify::AirflowRelease`'s to say (with the
/// `io` feature).
pub const KNOWN_SUPERVISOR_SCHEMA_VERSIONS: &[&str] = &["2026-06-16", "2026-10-30"];
