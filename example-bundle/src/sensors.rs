//! The `sensors` dag: sensors in reschedule mode (each poke a run of its own, `up_for_reschedule`
//! in between) and in poke mode, one whose condition holds on its third poke in each mode, one
//! that times out in each mode, and one that times out with `soft_fail`. For the real-deployment
//! test `tests/tests/e2e/sensors.rs` (stubs in `tests/harness/dags/sensor_stubs.py`, which
//! declare retries on the timing-out sensors to show they are not retried).

use std::time::Duration;

use airflow_sdk::{Dag, Sensor, SensorMode, TaskContext, TaskResult};
use serde_json::{Value, json};

/// The poke on which the waiting sensors' condition holds.
pub const HOLDS_ON: u32 = 3;
/// The reschedule-mode sensors' poke interval: short, yet long enough to keep clear of
/// Airflow's race for quick reschedules (see `SensorMode::Reschedule`).
pub const RESCHEDULE_INTERVAL: Duration = Duration::from_secs(5);
/// The poke-mode sensors' poke interval.
pub const POKE_INTERVAL: Duration = Duration::from_secs(1);
/// The timeout of `timeout_reschedule`.
pub const RESCHEDULE_TIMEOUT: Duration = Duration::from_secs(12);
/// The timeout of `timeout_poke`.
pub const POKE_TIMEOUT: Duration = Duration::from_secs(3);
/// The timeout of `soft_fail`.
pub const SOFT_FAIL_TIMEOUT: Duration = Duration::from_secs(6);

fn rescheduling(timeout: Duration) -> Sensor {
    Sensor::new(RESCHEDULE_INTERVAL)
        .mode(SensorMode::Reschedule)
        .timeout(timeout)
}

/// One poke that counts itself in the task state store (kept across the runs of a
/// reschedule-mode sensor) and holds on poke [`HOLDS_ON`], when `holds` says it ever does.
fn counted_poke(ctx: &TaskContext, holds: bool) -> TaskResult<Option<u32>> {
    let pokes = ctx.state_store().get::<u32>("pokes")?.unwrap_or(0) + 1;
    ctx.state_store().set("pokes", &pokes)?;
    airflow_sdk::log::info!(pokes; "poke {pokes}");
    Ok((holds && pokes >= HOLDS_ON).then_some(pokes))
}

/// Reschedule mode: holds on the third poke, in the third run of try 1; returns the poke
/// count, the try number and when Airflow says the try first started.
fn wait_reschedule(ctx: &mut TaskContext) -> TaskResult<Value> {
    let pokes = rescheduling(Duration::from_secs(120)).poke(ctx, |ctx| counted_poke(ctx, true))?;
    let first = ctx
        .first_try_start()?
        .map(airflow_sdk::time::OffsetDateTime::unix_timestamp);
    Ok(json!({"pokes": pokes, "try_number": ctx.try_number(), "first_try_start": first}))
}

/// Poke mode: holds on the third poke, in one run.
fn wait_poke(ctx: &mut TaskContext) -> TaskResult<Value> {
    let mut pokes = 0;
    Sensor::new(POKE_INTERVAL)
        .timeout(Duration::from_secs(60))
        .poke(ctx, |_| {
            pokes += 1;
            Ok((pokes >= HOLDS_ON).then(|| json!({"pokes": pokes})))
        })
}

/// Reschedule mode, never holds: fails after [`RESCHEDULE_TIMEOUT`] from the first run.
fn timeout_reschedule(ctx: &mut TaskContext) -> TaskResult {
    rescheduling(RESCHEDULE_TIMEOUT)
        .poke(ctx, |ctx| counted_poke(ctx, false))
        .map(drop)
}

/// Poke mode, never holds: fails after [`POKE_TIMEOUT`].
fn timeout_poke(ctx: &mut TaskContext) -> TaskResult {
    Sensor::new(POKE_INTERVAL)
        .timeout(POKE_TIMEOUT)
        .poke(ctx, |_| Ok(None::<()>))
}

/// Reschedule mode with `soft_fail`, never holds: skipped after [`SOFT_FAIL_TIMEOUT`].
fn soft_fail(ctx: &mut TaskContext) -> TaskResult {
    rescheduling(SOFT_FAIL_TIMEOUT)
        .soft_fail(true)
        .poke(ctx, |ctx| counted_poke(ctx, false))
        .map(drop)
}

/// The `sensors` dag.
pub fn dag() -> Dag {
    Dag::new("sensors")
        .task("wait_reschedule", wait_reschedule)
        .task("wait_poke", wait_poke)
        .task("timeout_reschedule", timeout_reschedule)
        .task("timeout_poke", timeout_poke)
        .task("soft_fail", soft_fail)
}

#[cfg(test)]
mod tests {
    //! The same tasks under `airflow_sdk::testing`.

    use airflow_sdk::testing::{RequestKind, TestRun, TestState};
    use airflow_sdk::time::OffsetDateTime;

    use super::*;

    #[test]
    fn wait_reschedule_is_rescheduled_until_its_third_poke() {
        let first = TestRun::new("sensors", "wait_reschedule").run(wait_reschedule);
        first.assert_state(TestState::UpForReschedule);
        assert_eq!(first.terminal.kind, RequestKind::RescheduleTask);
        assert_eq!(first.state_store["pokes"], json!(1));
        let started = OffsetDateTime::now_utc() - Duration::from_secs(5);
        let third = TestRun::new("sensors", "wait_reschedule")
            .first_try_start(started)
            .state_store("pokes", json!(2))
            .run(wait_reschedule);
        third.assert_success();
        assert_eq!(
            third.return_value,
            Some(json!({"pokes": 3, "try_number": 1, "first_try_start": started.unix_timestamp()}))
        );
    }

    #[test]
    fn wait_poke_succeeds_on_its_third_poke_in_one_run() {
        let out = TestRun::new("sensors", "wait_poke").run(wait_poke);
        out.assert_success();
        assert_eq!(out.return_value, Some(json!({"pokes": 3})));
    }

    #[test]
    fn the_never_holding_sensors_time_out_failed_or_skipped() {
        let late = |secs| OffsetDateTime::now_utc() - Duration::from_secs(secs);
        TestRun::new("sensors", "timeout_reschedule")
            .first_try_start(late(13))
            .max_tries(2)
            .run(timeout_reschedule)
            .assert_state(TestState::Failed);
        TestRun::new("sensors", "soft_fail")
            .first_try_start(late(7))
            .run(soft_fail)
            .assert_state(TestState::Skipped);
        TestRun::new("sensors", "soft_fail")
            .first_try_start(late(1))
            .run(soft_fail)
            .assert_state(TestState::UpForReschedule);
    }
}
