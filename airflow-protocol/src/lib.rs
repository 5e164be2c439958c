//! The coordinator protocol between Apache Airflow's task supervisor (apache-airflow-task-sdk
//! 1.3 and 1.4) and a task runtime, as plain data: nothing here opens a socket.
//!
//! - [`frame`]: the comm socket's framing (a 4-byte big-endian length, then one msgpack array),
//!   read from any [`std::io::Read`] with a deadline and bounds on size and nesting.
//! - [`messages`]: one serde type per message, in the shape of the newest supervisor schema this
//!   crate speaks; [`messages::ToTask`] is what the supervisor sends, [`messages::ToSupervisor`]
//!   what a task sends.
//! - [`versions`]: the supervisor schema versions, and every conversion between them.
//!
//! This is the ground floor of `airflow-sdk`: it depends on no other crate of the workspace,
//! and the SDK's runtime, task context and testing harness build on it.
//!
//! ```
//! use airflow_protocol::SchemaVersion;
//! use airflow_protocol::messages::{ToSupervisor, decode_response};
//!
//! // A request as the task sends it: `[id, body]`, the body a map tagged by `type`.
//! let request: ToSupervisor = ToSupervisor::get_variable("table");
//! let payload = request.encode_request(7);
//! assert_eq!(payload[0], 0x92); // a msgpack array of two
//!
//! // The supervisor's empty answer acknowledges it.
//! let frame = rmpv::Value::Array(vec![7.into(), rmpv::Value::Nil]);
//! let (id, _reply) = decode_response(frame).unwrap();
//! assert_eq!(id, 7);
//! assert_eq!(SchemaVersion::default().as_str(), "2026-06-16");
//! ```

// Product code only: unit tests are held to clippy::all.
#![cfg_attr(not(test), warn(clippy::pedantic))]
// The keep-off list of the root Cargo.toml ([workspace.lints.clippy]), repeated because this
// crate attribute would otherwise switch those lints back on.
#![allow(clippy::must_use_candidate)]

pub mod frame;
pub mod messages;
pub mod versions;

pub use frame::FrameError;
pub use versions::{SchemaVersion, UnknownSchemaVersion};
