//! End-to-end tests against the released `apache-airflow-task-sdk==1.3.2`.
//!
//! One test binary, one module per area (so it links once). Every test uses the venv from
//! `airflow_e2e::venv` (created under `target/airflow-venv` on first use) and fails, never
//! skips, when it cannot be made.

mod capabilities;
mod connection_uri;
mod cross;
mod declared;
mod deferral;
mod deployment;
mod git_bundle;
mod harness_selftest;
mod hitl;
mod multihost;
mod native_dag_test;
mod reader;
mod retry_assets;
mod runtime;
mod schema_check;
mod sensors;
mod stub_boundary;
mod task_api;
