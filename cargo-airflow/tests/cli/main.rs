//! End-to-end tests of the `cargo-airflow` binary against the real `example-bundle` package.
//!
//! Every test writes its bundles to a temp dir with `-o`. Packing builds the example bundle in
//! release mode in the workspace's shared target directory, so cargo may print "Blocking waiting
//! for file lock" while other builds run.

mod errors;
mod glibc;
mod help;
mod hostile;
mod inspect;
mod messages;
mod metadata;
mod outputs;
mod pack;
mod record;
mod stamp;
mod support;
mod verify;
mod workspace;
