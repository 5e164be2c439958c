//! airflow-build's integration tests: real cargo builds of a small fixture bundle
//! (`tests/fixtures/mini-bundle`), copied under `target/airflow-build-tests/`.
//!
//! Cross-compilation tests run when `AIRFLOW_CROSS_TESTS=1` (set by CI after
//! `scripts/cross-setup.sh`); with `CI=true` and the variable unset they fail, so a missing
//! setup cannot hide.

mod changes;
mod cross;
mod release;
mod sidecar;
mod support;
