#![doc = include_str!("../README.md")]
//!
//! # What a task can do
//!
//! A task function gets a [`TaskContext`]: the task instance and dag run facts
//! ([`dag_id`](TaskContext::dag_id), [`run_id`](TaskContext::run_id),
//! [`try_number`](TaskContext::try_number), [`logical_date`](TaskContext::logical_date),
//! [`conf`](TaskContext::conf), ...), XComs ([`xcom_push`](TaskContext::xcom_push),
//! [`xcom_pull`](TaskContext::xcom_pull)), [`variable`](TaskContext::variable) and
//! [`connection`](TaskContext::connection) (which return `Ok(None)` when not found and a
//! [`RequestError`] when Airflow failed), and [`is_cancelled`](TaskContext::is_cancelled) /
//! [`sleep`](TaskContext::sleep) for long tasks that must stop when Airflow sends SIGTERM.
//!
//! Beyond those, the context speaks the rest of the task SDK 1.3.2 protocol: Variables written,
//! read as JSON and deleted ([`set_variable`](TaskContext::set_variable),
//! [`variable_json`](TaskContext::variable_json), [`delete_variable`](TaskContext::delete_variable);
//! `AIRFLOW_VAR_<KEY>` and `AIRFLOW_CONN_<ID>` environment variables are consulted first, as
//! Airflow does), [`Connection::uri`] as Airflow's `get_uri()`, XComs of any dag, run, task and
//! map index ([`xcom_pull_from`](TaskContext::xcom_pull_from),
//! [`xcom_count`](TaskContext::xcom_count)), the task state store kept across tries
//! ([`state_store`](TaskContext::state_store)), branching ([`branch`](TaskContext::branch)),
//! triggering a dag and waiting for it ([`trigger_dag`](TaskContext::trigger_dag),
//! [`wait_dag_run`](TaskContext::wait_dag_run)), run history
//! ([`ti_count`](TaskContext::ti_count), [`task_states`](TaskContext::task_states),
//! [`previous_dag_run`](TaskContext::previous_dag_run), ...), what the UI shows
//! ([`set_rendered_fields`](TaskContext::set_rendered_fields)), assets produced and read
//! ([`emit_asset`](TaskContext::emit_asset), [`asset_events`](TaskContext::asset_events)),
//! events through asset aliases ([`emit_asset_via_alias`](TaskContext::emit_asset_via_alias),
//! [`asset_events_by_alias`](TaskContext::asset_events_by_alias),
//! [`assets_by_alias`](TaskContext::assets_by_alias)), the asset state store shared by every
//! task of an asset ([`asset_state_by_name`](TaskContext::asset_state_by_name),
//! [`asset_state_by_uri`](TaskContext::asset_state_by_uri)), questions to a person (human in
//! the loop: [`await_input`](TaskContext::await_input) sends an [`InputRequest`], the task waits
//! in `awaiting_input` holding no worker slot, and its resume handler gets the
//! [`HumanResponse`]), and
//! secrets kept out of the task log ([`mask_secret`](TaskContext::mask_secret); connection
//! passwords and Variables with sensitive keys are masked on their own). Every failure is a
//! [`RequestError`] naming the request and its key. The context is `Sync`: threads of a task
//! can make requests at once, each matched to its reply by id.
//!
//! Whatever the function returns (any `serde` type) is pushed as its `return_value` XCom (`()`
//! pushes nothing). An error ([`TaskError`], or any error via `?`) or a panic fails the task:
//! Airflow retries it when the try is not the last one; [`TaskError::fail_no_retry`] never
//! retries, [`TaskError::retry_after`] retries after a delay the task picks instead of the
//! declared `retry_delay`, [`TaskError::skip`] ends it as skipped and [`TaskError::remove`] as
//! removed.
//!
//! A task that waits for a condition is a [`Sensor`], as Airflow's `BaseSensorOperator`:
//! [`Sensor::poke`] pokes the condition at an interval until it holds, either in process
//! ([`SensorMode::Poke`]) or once per run, ending the run `up_for_reschedule` so Airflow starts
//! the task again later without holding a worker slot ([`SensorMode::Reschedule`], through
//! [`TaskError::reschedule_at`]). It times out counted from the first run of the try
//! ([`TaskContext::first_try_start`]), failing without retry or, with `soft_fail`, skipped;
//! optionally with exponential backoff.
//!
//! ```no_run
//! use airflow_sdk::log::info;
//! use airflow_sdk::{TaskContext, TaskResult};
//!
//! fn report(ctx: &mut TaskContext) -> TaskResult<u64> {
//!     let rows: Vec<u64> = ctx.xcom_pull("extract", "return_value")?.unwrap_or_default();
//!     let db = ctx.connection("warehouse")?.ok_or("no connection `warehouse`")?;
//!     let table = ctx.variable("report_table")?.unwrap_or_else(|| "report".into());
//!     info!(rows = rows.len(), host = db.host.as_deref().unwrap_or("?"); "writing {table}");
//!     Ok(rows.iter().sum())
//! }
//! # fn main() {}
//! ```
//!
//! # Deferring
//!
//! A task that would wait (for a time, another dag run, anything a Python trigger watches)
//! returns [`TaskError::defer`] with a [`Defer`]: Airflow's triggerer runs the [`Trigger`] (any
//! trigger class by path and kwargs, or the standard provider's time-delta, date-time and
//! Dag-state triggers, typed) while the task holds no worker slot, then starts the task again in
//! the resume handler the deferral names, registered with [`Dag::on_resume`]. The handler gets
//! the trigger's event and the deferral's kwargs, each typed through `serde` ([`Resumed`]); it
//! returns like a task (and may defer again). A trigger that fails or passes its
//! [`Defer::timeout`] fails the try, retried as declared. [`Defer::dag_run_end`] is the
//! deferrable way to wait for a triggered dag run.
//!
//! # Human in the loop
//!
//! A task that needs a person's decision sends an [`InputRequest`] (subject, options, body,
//! defaults, params to fill in, assigned users, timeout) with [`TaskContext::await_input`] and
//! returns the error it gives back: the task then waits in `awaiting_input`, holding no worker
//! slot and needing no triggerer, until someone answers in the UI or through the REST API. It
//! starts again in the request's resume handler ([`Dag::on_resume`]), which gets the
//! [`HumanResponse`] (chosen options, params, who answered and when) typed through `serde`. When
//! the timeout passes, Airflow takes the defaults ([`HumanResponse::timedout`]); without
//! defaults the try fails with Airflow's timeout error, retried as declared. An invalid request
//! fails the task without retry before anything is sent ([`InputRequestError`]).
//!
//! # Async tasks
//!
//! With the cargo feature `tokio`, `Dag::task_async` registers an
//! `async fn(&TaskContext) -> TaskResult<T>` the same way (and
//! `Dag::task_async_with_args` one with typed arguments). Its return value, errors and skips
//! mean what they mean for a sync task. A tokio current-thread runtime is built on the task's
//! thread when the task starts, and only then: `--airflow-metadata`, the Dag processor's parse
//! request and sync tasks never build one. The context's requests are the same blocking calls
//! (no `.await`), which pause the task's other futures for one round trip to the supervisor. On
//! SIGTERM or SIGINT the task's future is dropped, and the task ends as a sync task that stops
//! when asked does (see `Dag::task_async`, documented with the feature on).
//!
//! ```no_run
//! # #[cfg(feature = "tokio")] {
//! use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};
//!
//! async fn ping(ctx: &TaskContext) -> TaskResult<String> {
//!     let host = ctx.variable("ping_host")?.unwrap_or_else(|| "127.0.0.1:7".into());
//!     tokio::time::sleep(std::time::Duration::from_millis(5)).await;
//!     Ok(host)
//! }
//!
//! fn bundle() -> Bundle {
//!     Bundle::new().dag(Dag::new("net").task_async("ping", ping))
//! }
//! # }
//! ```
//!
//! Without the feature, nothing of tokio is compiled in. In unit tests, the `testing` feature's
//! `TestRun::run_in` runs an async task as the bundle declares it (runtime, cancellation and all).
//!
//! # Object storage
//!
//! With the cargo feature `object-store` (it implies `tokio`),
//! `TaskContext::object_storage(conn_id, bucket)` turns an Airflow Connection of type `aws`,
//! `google_cloud_platform`, `wasb` or `fs` into a store of Apache Arrow's `object_store` crate
//! (re-exported as `airflow_sdk::object_store`), reading the fields Airflow's providers read;
//! async tasks `.await` its operations, sync tasks use its blocking `read`, `write`, `list` and
//! `delete`. See the `storage` module (documented with the feature on). Without the feature,
//! none of it is compiled.
//!
//! # Declaring a dag's shape
//!
//! A [`Dag`] also declares what Airflow needs to schedule it: [`Schedule`] (none, `@once`,
//! `@continuous`, cron or a preset, with a time zone), start and end dates, catchup, description,
//! tags, params ([`TaskContext::param`]), run limits and timeout, default task settings, and
//! dependencies written as the pipeline reads ([`flow`]`("extract") >> "transform" >> "load"`,
//! fan-out with arrays, or [`Dag::chain`]). A [`Task`] carries its own settings (retries, delay,
//! backoff, timeout, [`TriggerRule`], pool, priority, queue, owner, docs). [`Bundle::queue`]
//! names the queue Airflow routes to the executable coordinator. These declarations travel in
//! `--airflow-metadata`; from them `cargo airflow pack` writes the Python stub dag file, and on
//! Airflow 3.4 a [`Dag::native`] dag needs no Python file at all. A native dag may also put its
//! tasks in task groups ([`Dag::group`], [`TaskGroup`]), pass return values to typed arguments
//! ([`arg`]) and branch ([`Dag::branch`]).
//!
//! # Logging
//!
//! The logging facade is the [`log`] crate (re-exported as `airflow_sdk::log`, with its `kv`
//! feature on): use `log::info!`, `log::warn!`, ... as usual, with structured fields as
//! `info!(rows = 3, table = "t"; "message")`. While a task runs, each record reaches Airflow's
//! task log as one JSON line with `timestamp`, a lowercase `level` (`error`, `warning`, `info`,
//! `debug`; `trace` is sent as `debug`), `event` (the message), `logger` (the record's target,
//! by default the module path) and the fields. Fields named like the keys the supervisor uses
//! itself (`timestamp`, `level`, `event`, `logger`, `msg`, `target`, `self`, `exception`,
//! `error_detail`) are renamed `field.<name>`. Levels are filtered as Airflow configures them:
//! `AIRFLOW__LOGGING__LOGGING_LEVEL` (default `INFO`) and `AIRFLOW__LOGGING__NAMESPACE_LEVELS`
//! (`logger=LEVEL` pairs separated by spaces or commas; the longest matching logger prefix
//! wins, `a::b` and `a.b` are the same logger). `println!`/`eprintln!` still work: Airflow logs
//! those lines as `task.stdout` / `task.stderr`.
//!
//! # Unit tests
//!
//! With the `testing` feature (enable it in `[dev-dependencies]` only), the `airflow_sdk::testing`
//! module runs task functions inside `cargo test`: the test sets up the task instance and what
//! Airflow holds, the task runs through this runtime's own code against an in-process
//! supervisor, and the test sees the state it ends in, its return value, XComs, logs and
//! requests, and can make chosen requests fail. No sockets, network, Python or Airflow.
//!
//! # Running under the supervisor
//!
//! The runtime speaks the coordinator protocol of apache-airflow-task-sdk 1.3 and 1.4, in the
//! supervisor schema version the bundle declares ([`SchemaVersion`]; by default
//! [`SUPERVISOR_SCHEMA_VERSION`]). Airflow 3.4's Dag processor also runs every bundle file it
//! finds in a Dag bundle, with a `DagFileParseRequest` as the first message: the runtime answers
//! with its native dags ([`Dag::native`]) serialized as Airflow's `DagSerialization` reads them
//! (the other dags are declared by Python stub dag files, which `cargo airflow pack` generates
//! from the same declarations) and exits 0. Upstream main's Dag processor (no release yet) asks
//! with a `TaskHandlerParseRequest` (also spelled `SDKTaskHandlerParseRequest`) which stub tasks
//! the bundle handles: the runtime answers with every task of its stub dags, each bound by name
//! with a `value_schema` per typed argument derived from its Rust type, without running any
//! task, and exits 0; `cargo airflow pack` records their digest as the manifest's
//! `digests.cache`. For a task, it always
//! sends exactly one terminal message (success,
//! up-for-retry, failed, skipped, removed, deferred, awaiting input or up-for-reschedule; failed
//! without retry for a task id it does not know, naming the dag's task ids), waits for its
//! acknowledgement, and exits 0. Every wait for the supervisor is bounded (60 s by default;
//! `AIRFLOW_SDK_REQUEST_TIMEOUT`, in seconds from 0.1 to 86400, changes it: a larger or smaller
//! value is clamped, one that is not a positive number is ignored, each with a warning on
//! stderr and in the task log). On SIGTERM or SIGINT the task is
//! told to stop ([`TaskContext::is_cancelled`]); if it has not returned 2 s later, the runtime
//! reports it failed (or up for retry) on its own and exits. When no state can be reported (a
//! socket cannot be reached, the supervisor sends something malformed, closes the socket, or
//! never acknowledges), the bundle says why on stderr and exits 1. When the first message is
//! none of `StartupDetails`, `DagFileParseRequest` and `TaskHandlerParseRequest` (a newer
//! Airflow asking for something this
//! SDK does not do), it says so and exits 3. A task that ends the process itself
//! (`std::process::exit`) before returning is reported failed (or up for retry) from an exit
//! handler, with the reason in the task log (Unix).
//!
//! # Architecture
//!
//! For contributors: the crate is built in floors, and code only ever uses its own floor or
//! lower ones (`tests/layers.rs` reads the sources and fails on an import that goes up).
//!
//! | floor | modules | what |
//! |---|---|---|
//! | 0 | the `airflow-protocol` crate; the crate's constants | frames, message types per schema version, versions |
//! | 1 | `error`, `suspend`, `connection`, `declare` | plain data: task errors, deferral and resumption, Connections, task declarations |
//! | 2 | `runtime::messages`, `runtime::native` | the messages as this runtime sends them; native dags serialized |
//! | 3 | `transport`, `runtime::comms`, `runtime::signals` | the `Supervisor` trait, the comm socket behind it, SIGTERM |
//! | 4 | `runtime::logging` | the task log (the testing harness plugs in through a tap) |
//! | 5 | `context` (`xcom`, `variables`, `connections`, `runs`, `assets`, `asset_state`, `asset_alias`, `state`, `rendered`, `secrets`, `sensor`, `args`, `hitl`); `storage` (feature `object-store`) | what a task can see and do; object stores from Connections |
//! | 6 | `runtime::task`, `runtime::timeout` | `run_one`: one task run, the runtime's and the harness's, with its execution timeout |
//! | 7, 8 | `bundle`; `asyncs` | declaring a bundle; async tasks |
//! | 9 | `runtime`, `runtime::exit`, `runtime::identity` | running under Airflow's supervisor; the running bundle's digest in the task log |
//! | 10 | `cli`, `testing`, the crate root | entry points: `serve`, the unit-test harness |
// `deny`, not `forbid`: the one exception is registering that exit handler with C's `atexit`.
#![deny(unsafe_code)]

#[cfg(feature = "tokio")]
mod asyncs;
mod bundle;
mod cli;
mod connection;
mod context;
mod declare;
mod error;
mod runtime;
#[cfg(feature = "object-store")]
pub mod storage;
mod suspend;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;

pub use airflow_bundle::declare::{
    AssetCondition, AssetOrAlias, Schedule, TaskSettings, TriggerRule,
};
pub use airflow_protocol::messages::HitlUser;
pub use airflow_protocol::{SchemaVersion, UnknownSchemaVersion};
#[cfg(feature = "tokio")]
pub use asyncs::AsyncTaskWithArgs;
pub use bundle::{Bundle, Dag, DeclarationError, DeclarationProblem, TaskWithArgs};
pub use cli::serve;
pub use connection::{Connection, ConnectionParseError};
pub use context::{
    Asset, AssetAlias, AssetEvent, AssetInfo, AssetStateStore, CancelToken, DagRunInfo,
    DagRunQuery, HumanResponse, InputRequest, InputRequestError, PrevSuccessfulRun, RequestError,
    Sensor, SensorMode, SensorTimeout, StateStore, TaskContext, TiQuery, TriggerOptions, XComRef,
};
pub use declare::{Arg, Flow, IntoUtc, Task, TaskGroup, arg, asset, flow};
pub use error::{TaskError, TaskOutcome, TaskResult};
/// Apache Arrow's `object_store` crate, as the `object-store` feature builds it: name its types
/// (`ObjectStore`, `path::Path`, `PutPayload`, ...) through here to get the same version.
#[cfg(feature = "object-store")]
pub use object_store;
#[cfg(feature = "object-store")]
pub use storage::{ObjectStorage, StorageError};
pub use suspend::{DagStateEvent, Defer, Resumed, Trigger};

/// The logging facade task code uses (`log`, with its `kv` feature for structured fields).
pub use log;
/// The date-time crate of [`TaskContext`]'s dates ([`time::OffsetDateTime`], in UTC).
pub use time;

/// The version of this SDK, recorded in the manifest as `sdk.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The manifest format this SDK emits (`airflow_bundle_metadata_version`).
pub const METADATA_VERSION: &str = "1.0";

/// The supervisor schema (coordinator protocol) version a bundle declares unless it chooses
/// another with [`Bundle::supervisor_schema`] (see [`SchemaVersion`]).
///
/// `apache-airflow-task-sdk` 1.3.2 accepts exactly this value; 1.4 accepts it too.
pub const SUPERVISOR_SCHEMA_VERSION: &str = SchemaVersion::V2026_06_16.as_str();

/// Defines the bundle's `fn main` from an expression that yields a [`Bundle`].
///
/// ```no_run
/// # use airflow_sdk::{Bundle, Dag};
/// fn bundle() -> Bundle {
///     Bundle::new().dag(Dag::new("my_dag"))
/// }
/// airflow_sdk::main!(bundle());
/// ```
///
/// When the crate's `build.rs` calls `airflow_build::build()`, the macro also embeds the build
/// record that airflow-build wrote (`$OUT_DIR/airflow-record.bin`) in a link section of its own:
/// `.afmeta` on ELF and PE, `__DATA,__afmeta` on Mach-O. `main` keeps a reference to it, so
/// neither the linker's section garbage collection, LTO nor `strip` removes it.
#[macro_export]
macro_rules! main {
    ($bundle:expr) => {
        // `airflow_build_record` is set by airflow-build's build script; crates without it get no
        // record (and no unexpected-cfg warning).
        #[allow(unexpected_cfgs)]
        #[doc(hidden)]
        mod __airflow_build_record {
            #[cfg(airflow_build_record)]
            #[used]
            // SAFETY: the section holds only this read-only byte array, under a name no linker,
            // loader or runtime gives a meaning to; nothing reads it through the section at run
            // time.
            #[cfg_attr(target_vendor = "apple", unsafe(link_section = "__DATA,__afmeta"))]
            // SAFETY: as above.
            #[cfg_attr(not(target_vendor = "apple"), unsafe(link_section = ".afmeta"))]
            static RECORD: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/airflow-record.bin"))
                .len()] = *include_bytes!(concat!(env!("OUT_DIR"), "/airflow-record.bin"));

            /// Keeps the record referenced, so no linker garbage collection or LTO drops it.
            #[inline(always)]
            pub(super) fn keep() {
                #[cfg(airflow_build_record)]
                ::std::hint::black_box(&RECORD);
            }
        }

        fn main() -> ::std::process::ExitCode {
            __airflow_build_record::keep();
            $crate::serve($bundle)
        }
    };
}

/// Entry points for the fuzz targets under `fuzz/` (internal feature `fuzzing`).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
