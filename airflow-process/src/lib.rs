#![doc = include_str!("../README.md")]
//!
//! # Where things are
//!
//! [`child::run`] runs a command under [`child::Limits`] ([`child::run_watched`] also tells the
//! caller the child's pid), giving a [`child::Finished`] or a [`child::RunError`];
//! [`lines::run`] runs a command whose stdout lines (cargo's JSON messages) it hands to the
//! caller as they come, under [`lines::LineLimits`], giving a [`lines::Ended`] or a
//! [`lines::LinesError`];
//! [`error_line::Chain`] renders an error with its causes on one line;
//! [`toolchain::cargo`], [`toolchain::rustc`], [`toolchain::rustc_version`] and
//! [`toolchain::host_triple`] find the toolchain, failing with a [`toolchain::ToolchainError`].
#![forbid(unsafe_code)]

pub mod child;
pub mod error_line;
pub mod lines;
pub mod toolchain;
