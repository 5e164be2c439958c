//! A declared `execution_timeout` against the scripted fake supervisor: a try that overruns
//! fails with the timeout error and is retried as declared, whether the task stops when asked or
//! is stuck in a blocking call (then the process still ends); `SetExecutionTimeout` is sent only
//! under a schema version that has it.

use super::*;
use crate::Task;
use crate::runtime::task::TERM_GRACE;

/// The limit of the tasks below.
const LIMIT: Duration = Duration::from_millis(300);

/// The declaration of [`stuck`]: a 0.3 s limit.
#[cfg(unix)]
pub(super) fn stuck_task() -> Task {
    Task::new("stuck").execution_timeout(LIMIT)
}

/// Blocks its thread for a minute, deaf to cancellation.
#[cfg(unix)]
pub(super) fn stuck(_: &mut TaskContext) -> TaskResult {
    log::info!("blocking for a minute");
    std::thread::sleep(Duration::from_secs(60));
    Ok(())
}

fn bundle(schema: SchemaVersion) -> Bundle {
    fn sleeps(ctx: &mut TaskContext) -> TaskResult {
        ctx.sleep(Duration::from_secs(60))?;
        Ok(())
    }
    fn quick(_: &mut TaskContext) -> TaskResult {
        Ok(())
    }
    fn never_called(_: &mut TaskContext) -> TaskResult {
        panic!("a task with a zero timeout was called")
    }
    Bundle::new().supervisor_schema(schema).dag(
        Dag::new("d")
            .task(Task::new("sleeps").execution_timeout(LIMIT), sleeps)
            .task(
                Task::new("quick").execution_timeout(Duration::from_millis(2500)),
                quick,
            )
            .task(
                Task::new("zero").execution_timeout(Duration::ZERO),
                never_called,
            ),
    )
}

/// Runs `task` of [`bundle`], acknowledging every request; returns the exit code, every request
/// and how long the run took.
fn run(schema: SchemaVersion, task: &'static str, retry: bool) -> (u8, Vec<Value>, Duration) {
    drive_bundle(bundle(schema), 5000, move |mut s| {
        send(&mut s, &startup(task, retry));
        let mut bodies = Vec::new();
        loop {
            let (id, body) = recv(&mut s);
            ack(&mut s, id);
            let kind = field(&body, "type").unwrap();
            bodies.push(body);
            if matches!(kind.as_str(), "SucceedTask" | "TaskState" | "RetryTask") {
                return bodies;
            }
        }
    })
}

fn kinds(bodies: &[Value]) -> Vec<String> {
    bodies.iter().map(|b| field(b, "type").unwrap()).collect()
}

#[test]
fn a_task_that_stops_when_asked_fails_at_its_limit_and_is_retried_as_declared() {
    for (retry, want) in [(true, "RetryTask"), (false, "TaskState")] {
        let (code, bodies, took) = run(SchemaVersion::V2026_06_16, "sleeps", retry);
        assert_eq!(code, 0);
        assert_eq!(kinds(&bodies), [want]);
        let last = bodies.last().unwrap();
        if retry {
            let reason = field(last, "retry_reason").unwrap();
            assert!(
                reason.starts_with("AirflowTaskTimeout: Timeout, PID: ")
                    && reason.ends_with("execution_timeout of 0.3 s"),
                "{reason}"
            );
        } else {
            assert_eq!(field(last, "state").as_deref(), Some("failed"));
        }
        // Stopped when asked: reported before the grace period ran out.
        assert!(
            took >= LIMIT && took < LIMIT + TERM_GRACE,
            "reported after {took:?}"
        );
    }
}

#[test]
fn a_task_within_its_limit_succeeds_and_a_zero_limit_fails_before_the_task_runs() {
    let (code, bodies, _) = run(SchemaVersion::V2026_06_16, "quick", false);
    assert_eq!((code, kinds(&bodies)), (0, vec!["SucceedTask".to_owned()]));
    let (code, bodies, took) = run(SchemaVersion::V2026_06_16, "zero", true);
    assert_eq!((code, kinds(&bodies)), (0, vec!["RetryTask".to_owned()]));
    let reason = field(&bodies[0], "retry_reason").unwrap();
    assert!(reason.ends_with("execution_timeout of 0 s"), "{reason}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn set_execution_timeout_is_sent_before_the_task_only_under_2026_10_30() {
    let (code, bodies, _) = run(SchemaVersion::V2026_10_30, "quick", false);
    assert_eq!(code, 0);
    assert_eq!(kinds(&bodies), ["SetExecutionTimeout", "SucceedTask"]);
    assert_eq!(
        get(&bodies[0], "timeout_seconds").and_then(Value::as_f64),
        Some(2.5)
    );
    assert_eq!(bodies[0].as_map().unwrap().len(), 2, "{}", bodies[0]);
    // 2026-06-16 has no such message: the supervisor would never answer it.
    let (_, bodies, _) = run(SchemaVersion::V2026_06_16, "quick", false);
    assert_eq!(kinds(&bodies), ["SucceedTask"]);
    // Nor is a zero timeout sent (the message refuses it).
    let (_, bodies, _) = run(SchemaVersion::V2026_10_30, "zero", false);
    assert_eq!(kinds(&bodies), ["TaskState"]);
}

#[test]
fn a_refused_set_execution_timeout_is_logged_and_the_task_still_runs() {
    let (code, bodies, _) = drive_bundle(bundle(SchemaVersion::V2026_10_30), 5000, |mut s| {
        send(&mut s, &startup("quick", false));
        let (id, first) = recv(&mut s);
        let error = m(vec![
            ("error", Value::from("generic_error")),
            ("detail", Value::Nil),
            ("type", Value::from("ErrorResponse")),
        ]);
        send(
            &mut s,
            &Value::Array(vec![Value::from(id), Value::Nil, error]),
        );
        let (id, last) = recv(&mut s);
        ack(&mut s, id);
        vec![first, last]
    });
    assert_eq!(code, 0);
    assert_eq!(kinds(&bodies), ["SetExecutionTimeout", "SucceedTask"]);
}

/// The real thing, in a process of its own: a task thread stuck in `sleep(60 s)` cannot be
/// stopped, so the runtime reports the timeout once the grace period is over and the process
/// ends, with the reasons in the task log.
#[cfg(unix)]
#[test]
fn a_task_stuck_in_a_blocking_call_times_out_and_its_process_ends() {
    for (retry, want) in [(true, "RetryTask"), (false, "TaskState")] {
        let run = in_a_child("stuck", retry);
        let last = run.requests.last().unwrap();
        assert_eq!(field(last, "type").as_deref(), Some(want), "{last}");
        assert_eq!(run.requests.len(), 1, "{:?}", run.requests);
        // The runtime's own exit code (0, plus the child's offset 10), not a kill.
        assert_eq!(run.exit, Some(10));
        assert!(
            has_log(&run, "info", "blocking for a minute"),
            "{:?}",
            run.logs
        );
        let timed_out = run
            .logs
            .iter()
            .find(|l| l["event"] == "Process timed out")
            .unwrap_or_else(|| panic!("no timeout record: {:?}", run.logs));
        assert_eq!(timed_out["level"], "error");
        assert_eq!(timed_out["timeout_seconds"], 0.3);
        assert!(
            has_log(
                &run,
                "error",
                "task failed: AirflowTaskTimeout: Timeout, PID: "
            ),
            "{:?}",
            run.logs
        );
        assert!(
            has_log(&run, "error", "execution_timeout of 0.3 s"),
            "{:?}",
            run.logs
        );
        // The limit, the grace period, and process start-up: nowhere near the minute.
        assert!(
            run.elapsed >= LIMIT + TERM_GRACE && run.elapsed < LIMIT + TERM_GRACE * 3,
            "{:?}",
            run.elapsed
        );
    }
}

/// An async task is dropped at its limit, and reported at once.
#[cfg(feature = "tokio")]
#[test]
fn an_async_task_is_dropped_at_its_limit() {
    async fn waits(_: &TaskContext) -> TaskResult {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    }
    let bundle = Bundle::new()
        .dag(Dag::new("d").task_async(Task::new("waits").execution_timeout(LIMIT), waits));
    let (code, body, took) = drive_bundle(bundle, 5000, |mut s| {
        send(&mut s, &startup("waits", true));
        let (id, body) = recv(&mut s);
        ack(&mut s, id);
        body
    });
    assert_eq!(code, 0);
    assert_eq!(field(&body, "type").as_deref(), Some("RetryTask"));
    let reason = field(&body, "retry_reason").unwrap();
    assert!(reason.contains("execution_timeout of 0.3 s"), "{reason}");
    assert!(took >= LIMIT && took < LIMIT + TERM_GRACE, "{took:?}");
}
