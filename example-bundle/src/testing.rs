//! The `testing` dag: one task per runtime behaviour, for the end-to-end tests.

use std::time::{Duration, Instant};

use airflow_sdk::log::{debug, error, info, warn};
use airflow_sdk::{Dag, Task, TaskContext, TaskError, TaskResult};
use serde_json::{Value, json};

fn succeed(_: &mut TaskContext) -> TaskResult {
    info!("nothing to do, done");
    Ok(())
}

fn fail(_: &mut TaskContext) -> TaskResult {
    Err(TaskError::fail("failing on purpose"))
}

fn fail_no_retry(_: &mut TaskContext) -> TaskResult {
    Err(TaskError::fail_no_retry("failing on purpose, no retry"))
}

fn io_error(_: &mut TaskContext) -> TaskResult {
    std::fs::read("/nonexistent/airflow-sdk-e2e")?;
    Ok(())
}

fn panics(_: &mut TaskContext) -> TaskResult {
    panic!("boom from a task");
}

/// A value whose `Display` panics: logging it must fail the task, not hang the bundle.
struct PanicsWhenShown;

impl std::fmt::Display for PanicsWhenShown {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display of a logged value exploded")
    }
}

fn display_panics(_: &mut TaskContext) -> TaskResult {
    info!("about to log a value whose Display panics");
    info!("value: {PanicsWhenShown}");
    Ok(())
}

/// Ends the process without returning: the runtime must still report the task.
fn exit_early(_: &mut TaskContext) -> TaskResult {
    info!("calling std::process::exit(0)");
    std::process::exit(0)
}

fn skip(_: &mut TaskContext) -> TaskResult {
    Err(TaskError::skip("nothing to process today"))
}

/// Sleeps (cooperatively) until Airflow cancels it, up to 5 minutes.
fn sleep_until_cancelled(ctx: &mut TaskContext) -> TaskResult {
    info!("sleeping until cancelled");
    ctx.sleep(Duration::from_secs(300))?;
    Ok(())
}

/// Ignores cancellation: the runtime must report on its own.
fn ignore_sigterm(_: &mut TaskContext) -> TaskResult {
    info!("sleeping, deaf to SIGTERM");
    let end = Instant::now() + Duration::from_secs(300);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// An async task doing real async I/O: it reads the Variable `my_var` (a request from async
/// code), starts a TCP echo server on loopback, sends it the value and returns what came back.
async fn async_echo(ctx: &TaskContext) -> TaskResult<Value> {
    let text = ctx
        .variable("my_var")?
        .ok_or("the Variable my_var is not set")?;
    let echoed = tokio::time::timeout(Duration::from_secs(30), echo_over_loopback(&text)).await??;
    info!(bytes = echoed.len(), echoed = echoed.as_str(); "echoed over loopback");
    Ok(json!({"sent": text, "echoed": echoed}))
}

/// Serves one echo connection on `127.0.0.1` (a task spawned on the task's runtime) and sends
/// it `text`; returns the echo.
async fn echo_over_loopback(text: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let (mut r, mut w) = stream.split();
        tokio::io::copy(&mut r, &mut w).await
    });
    let mut client = tokio::net::TcpStream::connect(addr).await?;
    client.write_all(text.as_bytes()).await?;
    // Half-closes: the server's copy ends, and it closes its side.
    client.shutdown().await?;
    let mut echoed = String::new();
    client.read_to_string(&mut echoed).await?;
    server.await??;
    Ok(echoed)
}

/// Logs when dropped: shows that cancelling an async task drops its future.
struct LogOnDrop;

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        info!("the async task's future was dropped");
    }
}

/// Sleeps asynchronously until Airflow cancels it, up to 5 minutes: the runtime drops the
/// future, whose destructors run.
async fn async_sleep_until_cancelled(_: &TaskContext) -> TaskResult {
    let _dropped = LogOnDrop;
    info!("sleeping asynchronously until cancelled");
    tokio::time::sleep(Duration::from_secs(300)).await;
    Ok(())
}

fn return_complex(_: &mut TaskContext) -> TaskResult<Value> {
    Ok(
        json!({"answer": 42, "xs": [1, 2.5, -3], "nested": {"ok": true, "none": null}, "s": "héllo"}),
    )
}

/// Pushes a custom XCom and pulls a seeded one (`upstream`/`seeded`) and a missing one.
fn push_pull(ctx: &mut TaskContext) -> TaskResult<Value> {
    ctx.xcom_push("custom", &json!({"pushed": [1, 2, 3]}))?;
    let seeded: Option<Value> = ctx.xcom_pull("upstream", "seeded")?;
    let missing: Option<Value> = ctx.xcom_pull("upstream", "missing")?;
    Ok(json!({"seeded": seeded, "missing_is_none": missing.is_none()}))
}

/// Reads `my_var` and `my_conn`, and checks that missing ones are `None`.
fn read_var_conn(ctx: &mut TaskContext) -> TaskResult<Value> {
    let var = ctx.variable("my_var")?;
    let missing_var = ctx.variable("missing_var")?;
    let conn = ctx.connection("my_conn")?;
    let missing_conn = ctx.connection("missing_conn")?;
    info!(conn = format!("{conn:?}").as_str(); "read connection");
    let conn = conn.map(|c| {
        json!({"conn_id": c.conn_id, "conn_type": c.conn_type, "host": c.host, "schema": c.schema,
               "login": c.login, "password": c.password, "port": c.port, "extra": c.extra})
    });
    Ok(json!({
        "var": var,
        "missing_var_is_none": missing_var.is_none(),
        "conn": conn,
        "missing_conn_is_none": missing_conn.is_none(),
    }))
}

/// Fails when the Variable `missing_var` does not exist.
fn require_var(ctx: &mut TaskContext) -> TaskResult {
    let v = ctx
        .variable("missing_var")?
        .ok_or("the Variable missing_var is not set")?;
    info!(value = v.as_str(); "got it");
    Ok(())
}

fn log_levels(_: &mut TaskContext) -> TaskResult {
    debug!(detail = 1; "a debug record");
    info!(rows = 3, ratio = 0.5, ok = true, table = "orders"; "an info record");
    warn!(msg = "user field named msg", target = "user field named target"; "a warning record");
    error!("an error record");
    debug!(target: "chatty::inner", "a debug record from chatty");
    println!("a line on stdout");
    eprintln!("a line on stderr");
    Ok(())
}

/// Returns what the context says about the task instance and dag run.
fn context_facts(ctx: &mut TaskContext) -> TaskResult<Value> {
    let fmt = |t: Option<airflow_sdk::time::OffsetDateTime>| {
        t.map(|t| {
            t.format(&airflow_sdk::time::format_description::well_known::Rfc3339)
                .unwrap()
        })
    };
    Ok(json!({
        "ti_id": ctx.ti_id(), "dag_id": ctx.dag_id(), "task_id": ctx.task_id(),
        "run_id": ctx.run_id(), "try_number": ctx.try_number(), "max_tries": ctx.max_tries(),
        "map_index": ctx.map_index(), "run_type": ctx.run_type(), "conf": ctx.conf(),
        "logical_date": fmt(ctx.logical_date()),
        "data_interval_start": fmt(ctx.data_interval_start()),
        "data_interval_end": fmt(ctx.data_interval_end()),
        "start_date_set": ctx.start_date().is_some(),
    }))
}

/// The limit the `testing_timeout` tasks declare.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Blocks its thread, deaf to cancellation, for the conf's `sleep_seconds` (default 60): past
/// its execution timeout, the runtime must report the try failed and end the process anyway.
pub fn sleep_past_timeout(ctx: &mut TaskContext) -> TaskResult {
    let seconds = ctx.conf()["sleep_seconds"].as_f64().unwrap_or(60.0);
    info!(seconds = seconds; "blocking past the execution timeout");
    std::thread::sleep(Duration::try_from_secs_f64(seconds).unwrap_or_default());
    Ok(())
}

/// Sleeps asynchronously for a minute, past its execution timeout: the runtime drops the future.
async fn async_sleep_past_timeout(_: &TaskContext) -> TaskResult {
    let _dropped = LogOnDrop;
    info!("sleeping asynchronously past the execution timeout");
    tokio::time::sleep(Duration::from_secs(60)).await;
    Ok(())
}

/// The `testing_timeout` dag: tasks that overrun their declared execution timeout (3 s), one
/// retried once.
pub fn timeout_dag() -> Dag {
    Dag::new("testing_timeout")
        .task(
            Task::new("sleep_past_timeout")
                .execution_timeout(TIMEOUT)
                .retries(1)
                .retry_delay(Duration::from_secs(1)),
            sleep_past_timeout,
        )
        .task_async(
            Task::new("async_sleep_past_timeout").execution_timeout(TIMEOUT),
            async_sleep_past_timeout,
        )
}

/// The `testing_missing_task` dag: its Python stub also declares a task this bundle lacks, to
/// show that such a task fails loudly and stops its downstream.
pub fn missing_task_dag() -> Dag {
    Dag::new("testing_missing_task")
        .task("first", succeed)
        .task("after", succeed)
}

/// The `bench` dag: one task that does nothing, to measure what running a task costs.
pub fn bench_dag() -> Dag {
    Dag::new("bench").task("noop", succeed)
}

/// The `testing` dag.
pub fn dag() -> Dag {
    Dag::new("testing")
        .task("succeed", succeed)
        .task("fail", fail)
        .task("fail_no_retry", fail_no_retry)
        .task("io_error", io_error)
        .task("panic", panics)
        .task("display_panics", display_panics)
        .task("exit_early", exit_early)
        .task("skip", skip)
        .task("sleep_until_cancelled", sleep_until_cancelled)
        .task("ignore_sigterm", ignore_sigterm)
        .task("return_complex", return_complex)
        .task("push_pull", push_pull)
        .task("read_var_conn", read_var_conn)
        .task("require_var", require_var)
        .task("log_levels", log_levels)
        .task("context_facts", context_facts)
        .task_async("async_echo", async_echo)
        .task_async("async_sleep_until_cancelled", async_sleep_until_cancelled)
}

#[cfg(test)]
mod tests {
    //! The async tasks as the bundle declares them (`run_in` runs the registered function, which
    //! builds the tokio runtime), and a task whose logged value panics, with
    //! `airflow_sdk::testing`. (`exit_early` ends the process: it is tested in a deployment and
    //! by the SDK's runtime tests, in a process of its own.)

    use airflow_sdk::testing::{TestRun, TestState};
    use serde_json::json;

    #[test]
    fn async_echo_echoes_the_variable_through_a_loopback_server() {
        let out = TestRun::new("testing", "async_echo")
            .variable("my_var", "hello over loopback")
            .run_in(&crate::bundle());
        out.assert_success();
        assert_eq!(
            out.return_value,
            Some(json!({"sent": "hello over loopback", "echoed": "hello over loopback"}))
        );
        let log = out.log_containing("echoed over loopback").unwrap();
        assert_eq!(log.fields["bytes"], 19);
        // Without the Variable the task fails, naming it.
        let out = TestRun::new("testing", "async_echo").run_in(&crate::bundle());
        assert_eq!(out.state, TestState::Failed);
        assert_eq!(out.error.as_deref(), Some("the Variable my_var is not set"));
    }

    #[test]
    fn cancelling_an_async_task_drops_its_future() {
        let out = TestRun::new("testing", "async_sleep_until_cancelled")
            .cancel_after(std::time::Duration::from_millis(100))
            .run_in(&crate::bundle());
        assert_eq!(out.state, TestState::Failed);
        assert_eq!(
            out.error.as_deref(),
            Some("the task was asked to stop (SIGTERM)")
        );
        assert!(
            out.log_containing("the async task's future was dropped")
                .is_some()
        );
    }

    #[test]
    fn a_task_past_its_execution_timeout_fails_with_the_timeout_error_and_is_retried() {
        // The declared 3 s, shortened for the test; the task blocks for 0.5 s.
        let run = |try_number| {
            TestRun::new("testing_timeout", "sleep_past_timeout")
                .conf(json!({"sleep_seconds": 0.5}))
                .execution_timeout(std::time::Duration::from_millis(100))
                .try_number(try_number)
                .run_in(&crate::bundle())
        };
        let first = run(1);
        assert_eq!(first.state, TestState::UpForRetry, "{first}");
        let error = first.error.as_deref().unwrap();
        assert!(
            error.starts_with("AirflowTaskTimeout: Timeout, PID: "),
            "{error}"
        );
        assert!(error.ends_with("execution_timeout of 0.1 s"), "{error}");
        assert!(
            first.log_containing("Process timed out").is_some(),
            "{first}"
        );
        assert_eq!(run(2).state, TestState::Failed);
        // Within its limit, the same task succeeds.
        let out = TestRun::new("testing_timeout", "sleep_past_timeout")
            .conf(json!({"sleep_seconds": 0.01}))
            .run_in(&crate::bundle());
        out.assert_success();
    }

    #[test]
    fn an_async_task_past_its_execution_timeout_is_dropped() {
        let out = TestRun::new("testing_timeout", "async_sleep_past_timeout")
            .execution_timeout(std::time::Duration::from_millis(100))
            .run_in(&crate::bundle());
        assert_eq!(out.state, TestState::Failed, "{out}");
        assert!(
            out.error
                .as_deref()
                .unwrap()
                .contains("execution_timeout of 0.1 s"),
            "{out}"
        );
        assert!(
            out.log_containing("the async task's future was dropped")
                .is_some()
        );
    }

    #[test]
    fn a_logged_value_whose_display_panics_fails_the_task_with_the_panic_logged() {
        let out = TestRun::new("testing", "display_panics").run_in(&crate::bundle());
        assert_eq!(out.state, TestState::Failed, "{out}");
        assert_eq!(
            out.error.as_deref(),
            Some("panicked: Display of a logged value exploded")
        );
        let record = out
            .log_containing("panicked: Display of a logged value exploded")
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            record.fields["location"]
                .as_str()
                .unwrap()
                .contains("testing.rs")
        );
    }
}
