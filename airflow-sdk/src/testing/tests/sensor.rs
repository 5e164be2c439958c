//! The harness on sensors: poke mode waiting in process, reschedule mode ending each run
//! `up_for_reschedule` with its `RescheduleTask`, the timeout counted from the first run of the
//! try, soft fail, errors from the condition, and exponential backoff.

use std::cell::Cell;
use std::time::{Duration, Instant};

use serde_json::json;
use time::OffsetDateTime;

use super::super::*;
use crate::{Sensor, SensorMode, SensorTimeout, TaskError};

/// Seconds from now until `at`.
fn from_now(at: OffsetDateTime) -> f64 {
    (at - OffsetDateTime::now_utc()).as_seconds_f64()
}

/// A reschedule-mode sensor whose condition holds on its `holds_on`-th poke, counted in the task
/// state store (each poke is a run of its own).
fn counting(sensor: Sensor, holds_on: u32) -> impl Fn(&mut TaskContext) -> TaskResult<u32> {
    move |ctx| {
        sensor.poke(ctx, |ctx| {
            let pokes = ctx.state_store().get::<u32>("pokes")?.unwrap_or(0) + 1;
            ctx.state_store().set("pokes", &pokes)?;
            Ok((pokes >= holds_on).then_some(pokes))
        })
    }
}

fn rescheduling(interval: u64, timeout: u64) -> Sensor {
    Sensor::new(Duration::from_secs(interval))
        .mode(SensorMode::Reschedule)
        .timeout(Duration::from_secs(timeout))
}

// --- poke mode --------------------------------------------------------------------------------

#[test]
fn poke_mode_pokes_in_process_until_the_condition_holds_and_returns_its_value() {
    let pokes = Cell::new(0u32);
    let started = Instant::now();
    let out = TestRun::new("d", "s").run(|ctx| {
        Sensor::new(Duration::from_millis(40)).poke(ctx, |_| {
            pokes.set(pokes.get() + 1);
            Ok((pokes.get() == 3).then_some(json!({"pokes": pokes.get()})))
        })
    });
    out.assert_success();
    assert_eq!(out.return_value, Some(json!({"pokes": 3})));
    assert_eq!(pokes.get(), 3);
    // Two waits of the interval between three pokes, in one run.
    assert!(started.elapsed() >= Duration::from_millis(80));
    assert_eq!(out.terminal.kind, RequestKind::SucceedTask);
    // Poke mode counts its timeout in process: no question to Airflow.
    assert_eq!(
        out.requests_of(RequestKind::GetTaskRescheduleStartDate)
            .count(),
        0
    );
    assert!(out.log_containing("poking again in").is_some(), "{out}");
    assert!(
        out.log_containing("sensor condition met").is_some(),
        "{out}"
    );
}

#[test]
fn poke_mode_times_out_failing_without_retry_with_a_final_poke_at_the_timeout() {
    let pokes = Cell::new(0u32);
    let started = Instant::now();
    let out = TestRun::new("d", "s")
        .max_tries(3)
        .run(|ctx| -> TaskResult {
            Sensor::new(Duration::from_millis(40))
                .timeout(Duration::from_millis(100))
                .poke(ctx, |_| {
                    pokes.set(pokes.get() + 1);
                    Ok(None)
                })
        });
    let took = started.elapsed();
    // Tries remain, yet a timed-out sensor is not retried.
    out.assert_state(TestState::Failed);
    let error = out.error.as_deref().unwrap_or_default();
    assert!(error.contains("sensor timed out"), "{error}");
    assert!(error.contains("timeout of 100ms"), "{error}");
    assert!(error.contains("poke mode"), "{error}");
    assert_eq!(out.terminal.body["state"], "failed");
    // Pokes at 0, 40, 80 and 100 ms: the last wait is cut to end at the timeout.
    assert_eq!(pokes.get(), 4, "{took:?}");
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn poke_mode_with_soft_fail_ends_skipped_on_timeout() {
    let out = TestRun::new("d", "s")
        .max_tries(3)
        .run(|ctx| -> TaskResult {
            Sensor::new(Duration::from_millis(10))
                .timeout(Duration::from_millis(30))
                .soft_fail(true)
                .poke(ctx, |_| Ok(None::<()>))
        });
    out.assert_state(TestState::Skipped);
    assert!(
        out.error
            .as_deref()
            .unwrap_or_default()
            .contains("sensor timed out"),
        "{out}"
    );
    assert_eq!(out.terminal.body["state"], "skipped");
}

#[test]
fn a_poke_mode_sensor_stops_waiting_when_the_task_is_asked_to_stop() {
    let started = Instant::now();
    let out = TestRun::new("d", "s")
        .cancel_after(Duration::from_millis(50))
        .run(|ctx| -> TaskResult {
            Sensor::new(Duration::from_secs(30)).poke(ctx, |_| Ok(None::<()>))
        });
    out.assert_state(TestState::Failed);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        out.error
            .as_deref()
            .unwrap_or_default()
            .contains("asked to stop"),
        "{out}"
    );
}

// --- reschedule mode ----------------------------------------------------------------------------

#[test]
fn reschedule_mode_pokes_once_and_sends_reschedule_task_for_now_plus_the_interval() {
    let out = TestRun::new("d", "s")
        .max_tries(2)
        .run(counting(rescheduling(30, 600), 3));
    out.assert_state(TestState::UpForReschedule);
    assert_eq!(out.terminal.kind, RequestKind::RescheduleTask);
    assert_eq!(out.terminal.body["type"], "RescheduleTask");
    let at = out.reschedule_date.expect("the reschedule date is shown");
    let wire = OffsetDateTime::parse(
        out.terminal.body["reschedule_date"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(wire, at);
    let secs = from_now(at);
    assert!((28.0..=30.5).contains(&secs), "{secs}");
    assert!(out.terminal.body["end_date"].is_string(), "{out}");
    // One poke, counted in the state store for the next run; nothing pushed, no error.
    assert_eq!(out.state_store["pokes"], json!(1));
    assert!(out.xcoms_pushed.is_empty());
    assert_eq!(out.error, None);
    // It asked Airflow when the try first started, for this task instance and try.
    let asked: Vec<_> = out
        .requests_of(RequestKind::GetTaskRescheduleStartDate)
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].body["ti_id"],
        "01960000-0000-7000-8000-000000000001"
    );
    assert_eq!(asked[0].body["try_number"], 1);
    assert!(out.log_containing("task rescheduled").is_some(), "{out}");
}

#[test]
fn a_later_poke_of_a_rescheduled_sensor_succeeds_with_the_conditions_value() {
    let out = TestRun::new("d", "s")
        .first_try_start(OffsetDateTime::now_utc() - Duration::from_secs(70))
        .state_store("pokes", json!(2))
        .run(counting(rescheduling(30, 600), 3));
    out.assert_success();
    assert_eq!(out.return_value, Some(json!(3)));
    assert_eq!(out.terminal.kind, RequestKind::SucceedTask);
    assert_eq!(out.reschedule_date, None);
}

#[test]
fn the_timeout_counts_from_the_first_run_of_the_try_not_from_this_run() {
    // 50 s after the first run, 10 s left of 60: rescheduled after the whole interval still
    // (never sooner, as Airflow's sensor), to time out on the next poke.
    let out = TestRun::new("d", "s")
        .first_try_start(OffsetDateTime::now_utc() - Duration::from_secs(50))
        .run(counting(rescheduling(30, 60), 99));
    out.assert_state(TestState::UpForReschedule);
    let secs = from_now(out.reschedule_date.unwrap());
    assert!((28.0..=30.5).contains(&secs), "{secs}");

    // 61 s after it: timed out, though this run just started; not retried though tries remain.
    let out = TestRun::new("d", "s")
        .first_try_start(OffsetDateTime::now_utc() - Duration::from_secs(61))
        .max_tries(3)
        .run(counting(rescheduling(30, 60), 99));
    out.assert_state(TestState::Failed);
    assert_eq!(out.terminal.kind, RequestKind::TaskState);
    assert_eq!(out.terminal.body["state"], "failed");
    let error = out.error.as_deref().unwrap_or_default();
    assert!(error.contains("sensor timed out"), "{error}");
    assert!(error.contains("timeout of 60s"), "{error}");
    assert!(error.contains("reschedule mode"), "{error}");
    // It still poked once, as Airflow's sensor does before it checks the timeout.
    assert_eq!(out.state_store["pokes"], json!(1));
    // Without a recorded first run, the timeout counts from this run's start.
    let out = TestRun::new("d", "s")
        .start_date(OffsetDateTime::now_utc() - Duration::from_secs(61))
        .run(counting(rescheduling(30, 60), 99));
    out.assert_state(TestState::Failed);
}

#[test]
fn reschedule_mode_with_soft_fail_ends_skipped_on_timeout_with_a_typed_error() {
    let out = TestRun::new("d", "s")
        .first_try_start(OffsetDateTime::now_utc() - Duration::from_secs(120))
        .max_tries(3)
        .run(|ctx| -> TaskResult {
            let sensor = rescheduling(10, 60).soft_fail(true);
            let e = sensor.poke(ctx, |_| Ok(None::<()>)).unwrap_err();
            let timeout = e
                .source()
                .downcast_ref::<SensorTimeout>()
                .expect("the source is a SensorTimeout");
            assert_eq!(timeout.timeout, Duration::from_secs(60));
            assert!(timeout.waited >= Duration::from_secs(120));
            assert_eq!(timeout.mode, SensorMode::Reschedule);
            Err(e)
        });
    out.assert_state(TestState::Skipped);
    assert_eq!(out.terminal.body["state"], "skipped");
    assert!(
        out.error
            .as_deref()
            .unwrap_or_default()
            .contains("sensor timed out"),
        "{out}"
    );
}

#[test]
fn errors_of_the_condition_end_the_task_as_they_say_and_soft_fail_skips_a_no_retry_one() {
    let broken = |soft: bool, e: fn() -> TaskError| {
        move |ctx: &mut TaskContext| -> TaskResult {
            rescheduling(10, 60)
                .soft_fail(soft)
                .poke(ctx, |_| Err::<Option<()>, _>(e()))
        }
    };
    let retryable = || TaskError::fail("the source is down");
    let final_ = || TaskError::fail_no_retry("the source is gone");
    let out = TestRun::new("d", "s")
        .max_tries(1)
        .run(broken(true, retryable));
    out.assert_state(TestState::UpForRetry);
    assert_eq!(out.error.as_deref(), Some("the source is down"));
    let out = TestRun::new("d", "s")
        .max_tries(1)
        .run(broken(false, final_));
    out.assert_state(TestState::Failed);
    let out = TestRun::new("d", "s")
        .max_tries(1)
        .run(broken(true, final_));
    out.assert_state(TestState::Skipped);
    assert!(
        out.error
            .as_deref()
            .unwrap_or_default()
            .contains("the source is gone"),
        "{out}"
    );
}

#[test]
fn a_failed_reschedule_start_request_fails_the_try_naming_it() {
    let out = TestRun::new("d", "s")
        .max_tries(1)
        .fail_request(
            RequestKind::GetTaskRescheduleStartDate,
            Failure::api_server(500, "database is down"),
        )
        .run(counting(rescheduling(10, 60), 1));
    out.assert_state(TestState::UpForRetry);
    let error = out.error.as_deref().unwrap_or_default();
    assert!(error.contains("GetTaskRescheduleStartDate"), "{error}");
    // The condition was not poked.
    assert!(!out.state_store.contains_key("pokes"));
}

#[test]
fn first_try_start_answers_what_airflow_recorded() {
    let at = OffsetDateTime::parse(
        "2026-03-01T10:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let out = TestRun::new("d", "s").run(|ctx| Ok(ctx.first_try_start()?.is_none()));
    assert_eq!(out.return_value, Some(json!(true)));
    let out = TestRun::new("d", "s")
        .first_try_start("2026-03-01T10:00:00Z")
        .run(|ctx| Ok(ctx.first_try_start()? == Some(at)));
    assert_eq!(out.return_value, Some(json!(true)));
}

// --- exponential backoff --------------------------------------------------------------------------

#[test]
fn exponential_backoff_grows_the_waits_with_jitter_and_max_wait_caps_them() {
    let backoff = |first_ago: u64, max_wait: Option<u64>| {
        let mut sensor = rescheduling(10, 100_000).exponential_backoff(true);
        if let Some(m) = max_wait {
            sensor = sensor.max_wait(Duration::from_secs(m));
        }
        let mut run = TestRun::new("d", "s");
        if first_ago > 0 {
            run = run.first_try_start(OffsetDateTime::now_utc() - Duration::from_secs(first_ago));
        }
        let out = run.run(move |ctx| -> TaskResult { sensor.poke(ctx, |_| Ok(None::<()>)) });
        out.assert_state(TestState::UpForReschedule);
        from_now(out.reschedule_date.unwrap())
    };
    // After the first poke: between half the interval and the interval.
    let first = backoff(0, None);
    assert!((4.5..=10.5).contains(&first), "{first}");
    // An hour on, many pokes later: far longer than the interval.
    let later = backoff(3600, None);
    assert!(later > 100.0, "{later}");
    // Capped by max_wait.
    let capped = backoff(3600, Some(20));
    assert!((18.0..=20.5).contains(&capped), "{capped}");
    // The jitter is fixed per task instance and poke: the same wait twice.
    let again = backoff(0, None);
    assert!((again - first).abs() < 1.0, "{first} then {again}");
}

#[test]
fn with_backoff_a_reschedule_is_cut_to_the_timeout_but_never_under_the_interval() {
    let reschedule_in = |first_ago: u64, timeout: u64| {
        let sensor = rescheduling(10, timeout).exponential_backoff(true);
        let out = TestRun::new("d", "s")
            .first_try_start(OffsetDateTime::now_utc() - Duration::from_secs(first_ago))
            .run(move |ctx| -> TaskResult { sensor.poke(ctx, |_| Ok(None::<()>)) });
        out.assert_state(TestState::UpForReschedule);
        from_now(out.reschedule_date.unwrap())
    };
    // An hour on, the backoff is long; 60 s are left: cut to them.
    let cut = reschedule_in(3600, 3660);
    assert!((58.0..=60.5).contains(&cut), "{cut}");
    // 3 s left: the whole interval still.
    let floor = reschedule_in(3600, 3603);
    assert!((8.0..=10.5).contains(&floor), "{floor}");
}
