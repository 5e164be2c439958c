//! Async tasks (feature `tokio`): `async fn(&TaskContext) -> TaskResult<T>` functions, run on a
//! tokio current-thread runtime that exists only while such a task runs.
//!
//! The runtime of [`crate::runtime`] runs every task function on its own thread and watches for
//! SIGTERM from the main thread. An async task is a task function like any other to it: the
//! function registered by [`Dag::task_async`] builds the tokio runtime on the task thread, drives
//! the task's future there, and drops the future when the task is asked to stop. Everything after
//! (the `return_value` XCom, the terminal state, the grace period) is the sync path's.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bundle::{TaskFn, to_return_value};
use crate::context::BoundArg;
use crate::declare::Task;
use crate::{Dag, TaskContext, TaskError, TaskResult};

const LOGGER: &str = "airflow_sdk::runtime";

/// How often the runtime looks at the cancellation flag while the task's future waits, as often
/// as the runtime's main thread does.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// The error an async task ends with when it was asked to stop: the one
/// [`TaskContext::sleep`] returns, so both kinds of task end alike.
const CANCELLED: &str = "the task was asked to stop (SIGTERM)";

/// Runtimes built so far (tests check that only async tasks build one).
#[cfg(test)]
pub(crate) static RUNTIMES_BUILT: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Shuts the runtime down without waiting for blocking work when the task is done, whichever way
/// (return, cancellation, panic): the terminal state must not wait on work the task left behind.
struct ShutdownOnDrop(Option<tokio::runtime::Runtime>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `task` to completion on a new current-thread runtime, unless `ctx` is cancelled first:
/// then the future is dropped (its destructors run) and the task fails as a sync task that
/// stopped on [`TaskContext::is_cancelled`] does.
pub(crate) fn block_on<T>(
    ctx: &TaskContext,
    task: impl Future<Output = TaskResult<T>>,
) -> TaskResult<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            TaskError::fail(format!(
                "cannot start the tokio runtime of async task {:?}: {e}",
                ctx.task_id()
            ))
        })?;
    #[cfg(test)]
    RUNTIMES_BUILT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    log::debug!(target: LOGGER, "started the tokio runtime of the async task");
    let rt = ShutdownOnDrop(Some(rt));
    let cancelled = async {
        while !ctx.is_cancelled() {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    };
    let Some(runtime) = rt.0.as_ref() else {
        unreachable!("the runtime is set above")
    };
    // The task's future is dropped inside `block_on`, while the runtime's drivers still run.
    match runtime.block_on(first(task, cancelled)) {
        Some(result) => result,
        None => {
            log::debug!(target: LOGGER, "dropped the async task's future: asked to stop");
            Err(TaskError::fail(CANCELLED))
        }
    }
}

/// `Some(task's output)`, or `None` when `cancelled` completes first. The task is polled first,
/// so a task that is ready when the signal arrives still counts as finished.
async fn first<T>(task: impl Future<Output = T>, cancelled: impl Future<Output = ()>) -> Option<T> {
    let mut task = pin!(task);
    let mut cancelled = pin!(cancelled);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = task.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        cancelled.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// An async task function with typed arguments after its [`TaskContext`]:
/// `AsyncFn(&TaskContext, A1, ..., An) -> TaskResult<T>` for 1 to 8 arguments, each
/// `A: DeserializeOwned` (an `async fn` of that shape). See [`Dag::task_async_with_args`].
pub trait AsyncTaskWithArgs<Args>: Send + Sync + 'static {
    /// What the task returns (its `return_value` XCom).
    type Output: Serialize;
    /// How many arguments the function takes.
    const ARITY: usize;
    /// Converts the bound values (one per argument, in order) and calls the function. A value
    /// that does not fit its parameter's type fails the task, naming the parameter, the type and
    /// what arrived.
    #[doc(hidden)]
    fn call<'a>(
        &'a self,
        ctx: &'a TaskContext,
        args: Vec<BoundArg>,
    ) -> impl Future<Output = TaskResult<Self::Output>> + 'a;
    /// The JSON Schema of the values each argument accepts (`None` where it cannot be stated),
    /// for the Dag processor's `TaskHandlerParseRequest`.
    #[doc(hidden)]
    fn value_schemas() -> Vec<Option<serde_json::Value>>
    where
        Self: Sized,
    {
        Vec::new()
    }
}

macro_rules! async_task_with_args {
    ($($a:ident),+) => {
        impl<F, T, $($a),+> AsyncTaskWithArgs<($($a,)+)> for F
        where
            F: AsyncFn(&TaskContext, $($a),+) -> TaskResult<T> + Send + Sync + 'static,
            T: Serialize,
            $($a: DeserializeOwned,)+
        {
            type Output = T;
            const ARITY: usize = [$(stringify!($a)),+].len();
            #[allow(non_snake_case)]
            fn call<'a>(
                &'a self,
                ctx: &'a TaskContext,
                args: Vec<BoundArg>,
            ) -> impl Future<Output = TaskResult<T>> + 'a {
                async move {
                    let mut args = args.into_iter();
                    $(let $a: $a = args
                        .next()
                        .ok_or_else(|| TaskError::fail_no_retry("too few bound arguments"))?
                        .convert()?;)+
                    self(ctx, $($a),+).await
                }
            }
            fn value_schemas() -> Vec<Option<serde_json::Value>> {
                vec![$(crate::runtime::handlers::value_schema::<$a>()),+]
            }
        }
    };
}

async_task_with_args!(A1);
async_task_with_args!(A1, A2);
async_task_with_args!(A1, A2, A3);
async_task_with_args!(A1, A2, A3, A4);
async_task_with_args!(A1, A2, A3, A4, A5);
async_task_with_args!(A1, A2, A3, A4, A5, A6);
async_task_with_args!(A1, A2, A3, A4, A5, A6, A7);
async_task_with_args!(A1, A2, A3, A4, A5, A6, A7, A8);

impl Dag {
    /// Adds an async task (feature `tokio`): an id or a [`Task`] with settings, and an
    /// `async fn(&TaskContext) -> TaskResult<T>` (or an async closure of that shape). Its return
    /// value, errors and skips mean what they mean for [`task`](Self::task).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};
    ///
    /// async fn fetch(ctx: &TaskContext) -> TaskResult<u64> {
    ///     let region = ctx.variable("region")?.unwrap_or_else(|| "eu".into());
    ///     // Any tokio I/O the bundle's own tokio dependency enables (net, fs, ...).
    ///     tokio::time::sleep(Duration::from_millis(10)).await;
    ///     Ok(region.len() as u64)
    /// }
    ///
    /// fn bundle() -> Bundle {
    ///     Bundle::new().dag(Dag::new("etl").task_async("fetch", fetch))
    /// }
    /// ```
    ///
    /// **The runtime.** When the task starts, and only then, a tokio current-thread runtime
    /// (with the I/O and timer drivers of whichever tokio features the bundle compiles in) is
    /// built on the task's thread, and the future runs there. `tokio::spawn` runs futures on the
    /// same thread; `tokio::task::spawn_blocking` on tokio's blocking threads. When the task's
    /// future completes, futures it spawned and did not await are dropped, and the runtime is
    /// shut down without waiting for `spawn_blocking` work still running (as for a thread a sync
    /// task leaves behind, the process ends it when it exits).
    ///
    /// **Requests.** The context's methods are the sync ones, called without `.await`. Each
    /// blocks the task's thread for one round trip to the supervisor on the same machine
    /// (bounded by `AIRFLOW_SDK_REQUEST_TIMEOUT`, ended early by SIGTERM), so the task's other
    /// futures pause meanwhile; no other task shares the runtime, so nothing else waits. Do the
    /// requests before or after the concurrent part of the task when that pause matters.
    ///
    /// **Cancellation.** On SIGTERM or SIGINT the task's future is dropped at its next `.await`
    /// (within 20 ms; its destructors run) and the task fails with "the task was asked to stop
    /// (SIGTERM)", up for retry or failed as Airflow decides, as a sync task that stops on
    /// [`TaskContext::is_cancelled`]. A future that blocks its thread without awaiting cannot be
    /// dropped: 2 s after the signal the runtime reports the task failed on its own, as for a
    /// sync task that ignores the signal. Use `tokio::time::sleep`, not
    /// [`TaskContext::sleep`], which blocks the thread.
    pub fn task_async<T, F>(self, task: impl Into<Task>, f: F) -> Self
    where
        T: Serialize,
        F: AsyncFn(&TaskContext) -> TaskResult<T> + Send + Sync + 'static,
    {
        let run: TaskFn = Arc::new(move |ctx| {
            let ctx: &TaskContext = ctx;
            to_return_value(block_on(ctx, f(ctx))?)
        });
        self.push_task(task.into(), run, None)
    }

    /// Like [`task_with_args`](Self::task_with_args) for an async function:
    /// `async fn(&TaskContext, A1, ..., An) -> TaskResult<T>` (feature `tokio`; needs
    /// [`SchemaVersion::V2026_10_30`](crate::SchemaVersion::V2026_10_30), Airflow 3.4). The
    /// arguments are bound and converted as for a sync task, and the function runs as
    /// [`task_async`](Self::task_async) describes.
    ///
    /// ```no_run
    /// use airflow_sdk::{Bundle, Dag, SchemaVersion, TaskContext, TaskResult};
    ///
    /// async fn load(_ctx: &TaskContext, rows: Vec<u64>, table: String) -> TaskResult<String> {
    ///     Ok(format!("{} rows into {table}", rows.len()))
    /// }
    ///
    /// fn bundle() -> Bundle {
    ///     Bundle::new()
    ///         .supervisor_schema(SchemaVersion::V2026_10_30)
    ///         .dag(Dag::new("etl").task_async_with_args("load", ["rows", "table"], load))
    /// }
    /// ```
    pub fn task_async_with_args<A, F, P>(
        self,
        task: impl Into<Task>,
        params: impl IntoIterator<Item = P>,
        f: F,
    ) -> Self
    where
        F: AsyncTaskWithArgs<A>,
        P: Into<crate::Arg>,
    {
        // Bound (and upstream outputs pulled) before the runtime starts, as for sync tasks.
        let shape = (F::ARITY, F::value_schemas as crate::bundle::ValueSchemas);
        self.push_bound_task(task.into(), params, shape, move |ctx, args| {
            let ctx: &TaskContext = ctx;
            to_return_value(block_on(ctx, f.call(ctx, args))?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Sets its flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn cancellation_drops_the_task_future_and_runs_its_destructors() {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(Arc::clone(&dropped));
        let task = async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(300)).await;
            1
        };
        let start = std::time::Instant::now();
        let out = runtime().block_on(async {
            let cancel = tokio::time::sleep(Duration::from_millis(30));
            let out = first(task, cancel).await;
            // Dropped before `first` returns, inside the runtime.
            assert!(dropped.load(Ordering::SeqCst));
            out
        });
        assert_eq!(out, None);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_finished_task_wins_over_a_cancellation_that_is_also_ready() {
        let out = runtime().block_on(first(async { 7 }, async {}));
        assert_eq!(out, Some(7));
        let out = runtime().block_on(first(
            async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                8
            },
            std::future::pending(),
        ));
        assert_eq!(out, Some(8));
    }
}
