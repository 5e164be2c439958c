//! The example bundle in a real Airflow deployment: api-server, scheduler and dag-processor of
//! the pinned release, the packed bundle under `executables_root`, the Python stub dags of
//! `tests/harness/dags`, everything driven and judged through Airflow's REST API.
//!
//! One deployment per test (starting one costs about half a minute), many scenarios in it, run
//! concurrently as separate dag runs; [`Checks`] reports every scenario that failed, not only the
//! first.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use airflow_e2e::deploy::{Api, Checks, DeployOptions, Deployment, TaskLog, states, unix_seconds};
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

/// Generous: the first tasks of a fresh deployment pay for Airflow's imports, on two cores.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
/// How long `airflow dags test --use-executor` of the example's three tasks may take.
const DAGS_TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The runtime's grace period after SIGTERM, plus slack for a loaded machine.
const TERM_GRACE_WITH_SLACK: f64 = 2.0 + 1.5;

fn example_bundle() -> Result<PathBuf> {
    airflow_e2e::pack::example_bundle()
}

fn stub_dags() -> PathBuf {
    airflow_e2e::harness_dir()
        .join("dags")
        .join("example_stubs.py")
}

/// Connections and Variables the example's dags read.
pub(crate) fn define_inputs(api: &Api) -> Result<()> {
    api.set_variable("example_region", "us")?;
    api.set_variable("my_var", "hello from the REST API")?;
    api.set_connection(
        "example_warehouse",
        json!({"conn_type": "postgres", "host": "db.example", "login": "etl",
               "password": "s3cret", "port": 5432, "extra": "{\"table\": \"totals_t\"}"}),
    )?;
    api.set_connection(
        "my_conn",
        json!({"conn_type": "http", "host": "api.example", "schema": "https", "port": 8443,
               "login": "me", "password": "pw", "extra": "{\"timeout\": 5}"}),
    )
}

/// Expects each `(task, state)` of a run.
fn expect_states(api: &Api, dag: &str, run: &str, want: &[(&str, &str)]) -> Result<()> {
    let tis = api.task_instances(dag, run)?;
    for (task, state) in want {
        let ti = tis
            .iter()
            .find(|t| t.task_id == *task)
            .with_context(|| format!("{dag}/{run} has no task {task}: {}", states(&tis)))?;
        ensure!(
            ti.state.as_deref() == Some(*state),
            "{dag}/{run}/{task} is {:?}, want {state}; all: {}",
            ti.state,
            states(&tis)
        );
    }
    Ok(())
}

fn xcom(api: &Api, dag: &str, run: &str, task: &str, key: &str) -> Result<Value> {
    api.xcom(dag, run, task, key)?
        .with_context(|| format!("{dag}/{run}/{task} has no XCom {key:?}"))
}

/// Expects a record of `level` whose message contains `text` and whose fields include `fields`.
fn expect_record(log: &TaskLog, level: &str, text: &str, fields: &[(&str, Value)]) -> Result<()> {
    let r = log.expect(text)?;
    ensure!(
        r.level.as_deref() == Some(level),
        "{text:?} was logged at {:?}, want {level}: {r}",
        r.level
    );
    for (k, v) in fields {
        ensure!(r.fields.get(*k) == Some(v), "{r} lacks the field {k}={v}");
    }
    Ok(())
}

/// Waits until each task is running inside the bundle (its first log record, `marker`, is
/// there), then marks it failed through the REST API, as a user would in the UI. Returns when
/// each was marked (Unix seconds), in the order given.
fn cancel_when_running(
    api: &Api,
    dag: &str,
    run: &str,
    tasks: &[(&str, &str)],
) -> Result<Vec<f64>> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut marked: Vec<Option<f64>> = vec![None; tasks.len()];
    while marked.iter().any(Option::is_none) {
        for (i, (task, marker)) in tasks.iter().enumerate() {
            if marked[i].is_some() {
                continue;
            }
            let ti = api.task_instance(dag, run, task)?;
            ensure!(
                matches!(
                    ti.state.as_deref(),
                    None | Some("scheduled" | "queued" | "running")
                ),
                "{dag}/{run}/{task} ended {:?} before it could be cancelled",
                ti.state
            );
            if ti.state.as_deref() == Some("running")
                && api
                    .log(dag, run, task, ti.try_number.max(1))
                    .is_ok_and(|log| log.find(marker).is_some())
            {
                marked[i] =
                    Some(time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9);
                api.set_task_state(dag, run, task, "failed")?;
            }
        }
        ensure!(
            Instant::now() < deadline,
            "{dag}/{run}: {tasks:?} never ran"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(marked.into_iter().flatten().collect())
}

/// No process of a bundle under the deployment's executables root is left.
fn no_bundle_process_left(dep: &Deployment) -> Result<()> {
    let root = dep.bundles_dir.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut left = Vec::new();
        for entry in std::fs::read_dir("/proc")?.flatten() {
            if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
                && String::from_utf8_lossy(&cmd).starts_with(&root)
            {
                left.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("bundle processes still running: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Scenarios a–f of the example in one deployment of `release` with `opts`.
fn example_scenarios(dep: &Deployment) -> Result<()> {
    let api = &dep.api;
    api.wait_for_dags(
        &["example_etl", "testing", "testing_missing_task"],
        DAGS_TIMEOUT,
    )?;
    let errors = api.import_errors()?;
    ensure!(errors.is_empty(), "import errors: {errors:?}");
    define_inputs(api)?;

    api.trigger("example_etl", "happy", json!({}))?;
    api.trigger("example_etl", "fail", json!({"fail": true}))?;
    api.trigger("testing", "all", json!({"from": "the e2e tests"}))?;
    api.trigger("testing_missing_task", "missing", json!({}))?;

    let mut checks = Checks::default();
    // Cancellation first: these tasks block until cancelled.
    let mut cancelled_at = vec![0.0; 3];
    checks.check(
        "(e) running tasks are marked failed through the REST API",
        || {
            cancelled_at = cancel_when_running(
                api,
                "testing",
                "all",
                &[
                    ("sleep_until_cancelled", "sleeping until cancelled"),
                    ("ignore_sigterm", "sleeping, deaf to SIGTERM"),
                    (
                        "async_sleep_until_cancelled",
                        "sleeping asynchronously until cancelled",
                    ),
                ],
            )?;
            Ok(())
        },
    );

    let mut ended = std::collections::BTreeMap::new();
    for (dag, run) in [
        ("example_etl", "happy"),
        ("example_etl", "fail"),
        ("testing", "all"),
        ("testing_missing_task", "missing"),
    ] {
        ended.insert(run, api.wait_run(dag, run, RUN_TIMEOUT)?.state);
    }

    checks.check(
        "(a) example_etl: every task succeeds, with its XComs and logs",
        || {
            ensure!(ended["happy"] == "success", "run ended {}", ended["happy"]);
            expect_states(
                api,
                "example_etl",
                "happy",
                &[
                    ("extract", "success"),
                    ("transform", "success"),
                    ("load", "success"),
                ],
            )?;
            let orders = xcom(api, "example_etl", "happy", "extract", "return_value")?;
            ensure!(
                orders
                    == json!([
                        {"customer": "ada", "amount_cents": 1250},
                        {"customer": "brian", "amount_cents": 300},
                        {"customer": "ada", "amount_cents": 999},
                    ]),
                "extract pushed {orders}"
            );
            let totals = xcom(api, "example_etl", "happy", "transform", "return_value")?;
            ensure!(
                totals == json!({"orders": 3, "per_customer": {"ada": 2249, "brian": 300}}),
                "transform pushed {totals}"
            );
            let rows = xcom(api, "example_etl", "happy", "load", "loaded_rows")?;
            ensure!(rows == json!(2), "load pushed loaded_rows={rows}");
            let log = api.wait_log("example_etl", "happy", "extract", 1, &["extracted orders"])?;
            expect_record(
                &log,
                "info",
                "extracted orders",
                &[("orders", json!(3)), ("region", json!("us"))],
            )?;
            ensure!(
                log.expect("extracted orders")?.logger.as_deref() == Some("example_bundle"),
                "{log}"
            );
            let log = api.wait_log("example_etl", "happy", "load", 1, &["loading totals"])?;
            expect_record(
                &log,
                "info",
                "loading totals",
                &[
                    ("host", json!("db.example")),
                    ("table", json!("totals_t")),
                    ("rows", json!(2)),
                ],
            )
        },
    );

    checks.check(
        "(b) conf fail=true: transform is retried once, then fails",
        || {
            ensure!(ended["fail"] == "failed", "run ended {}", ended["fail"]);
            expect_states(
                api,
                "example_etl",
                "fail",
                &[
                    ("extract", "success"),
                    ("transform", "failed"),
                    ("load", "upstream_failed"),
                ],
            )?;
            // Airflow's own record of the retry: two tries, both failed (the archived try is
            // recorded failed), the second queued after the declared 1 s retry delay. (Polling
            // for the transient up_for_retry state missed it on a loaded machine.)
            let tries = api.tries("example_etl", "fail", "transform")?;
            let numbers: Vec<u32> = tries.iter().map(|t| t.try_number).collect();
            ensure!(numbers == [1, 2], "transform's tries: {tries:?}");
            ensure!(
                tries.iter().all(|t| t.state.as_deref() == Some("failed")),
                "transform's tries: {tries:?}"
            );
            let pause = tries[0].pause_before(&tries[1]);
            ensure!(
                pause.is_some_and(|p| p >= 0.95),
                "try 2 was queued {pause:?} s after try 1 ended, before the 1 s retry delay: {tries:?}"
            );
            let first = api.wait_log(
                "example_etl",
                "fail",
                "transform",
                1,
                &["the task will be retried"],
            )?;
            expect_record(
                &first,
                "error",
                "failing on purpose (conf fail=true), try 1 of 2",
                &[],
            )?;
            expect_record(&first, "info", "the task will be retried", &[])?;
            let second = api.wait_log("example_etl", "fail", "transform", 2, &["try 2 of 2"])?;
            expect_record(
                &second,
                "error",
                "failing on purpose (conf fail=true), try 2 of 2",
                &[],
            )?;
            ensure!(
                second.find("the task will be retried").is_none(),
                "the last try says it will be retried:\n{second}"
            );
            Ok(())
        },
    );

    checks.check("(d) a stub task the bundle lacks fails, and stops its downstream", || {
        ensure!(ended["missing"] == "failed", "run ended {}", ended["missing"]);
        expect_states(
            api,
            "testing_missing_task",
            "missing",
            &[
                ("first", "success"),
                ("not_in_the_bundle", "failed"),
                ("after", "upstream_failed"),
            ],
        )?;
        let tries = api.tries("testing_missing_task", "missing", "not_in_the_bundle")?;
        ensure!(tries.len() == 1, "retried although it can never succeed: {tries:?}");
        let log = api.wait_log("testing_missing_task", "missing", "not_in_the_bundle", 1, &["this bundle has no task"])?;
        expect_record(
            &log,
            "error",
            "this bundle has no task \"not_in_the_bundle\" in dag \"testing_missing_task\"; the tasks of dag \"testing_missing_task\" are: first, after",
            &[],
        )
    });

    checks.check(
        "(e) the testing dag: every task ends as the bundle intends",
        || {
            ensure!(ended["all"] == "failed", "run ended {}", ended["all"]);
            expect_states(
                api,
                "testing",
                "all",
                &[
                    ("succeed", "success"),
                    ("fail", "failed"),
                    ("fail_no_retry", "failed"),
                    ("io_error", "failed"),
                    ("panic", "failed"),
                    ("display_panics", "failed"),
                    ("exit_early", "failed"),
                    ("skip", "skipped"),
                    ("return_complex", "success"),
                    ("upstream", "success"),
                    ("push_pull", "success"),
                    ("read_var_conn", "success"),
                    ("require_var", "failed"),
                    ("log_levels", "success"),
                    ("context_facts", "success"),
                    ("sleep_until_cancelled", "failed"),
                    ("ignore_sigterm", "failed"),
                    ("async_echo", "success"),
                    ("async_sleep_until_cancelled", "failed"),
                ],
            )
        },
    );

    checks.check(
        "(e) an async task does async I/O and requests, and pushes its result",
        || {
            let v = xcom(api, "testing", "all", "async_echo", "return_value")?;
            let want =
                json!({"sent": "hello from the REST API", "echoed": "hello from the REST API"});
            ensure!(v == want, "async_echo returned {v}, want {want}");
            let log = api.wait_log("testing", "all", "async_echo", 1, &["echoed over loopback"])?;
            expect_record(
                &log,
                "info",
                "echoed over loopback",
                &[
                    ("bytes", json!(23)),
                    ("echoed", json!("hello from the REST API")),
                ],
            )
        },
    );

    checks.check(
        "(e) retries: fail is retried once; fail_no_retry is not",
        || {
            let n = |task| -> Result<usize> { Ok(api.tries("testing", "all", task)?.len()) };
            ensure!(n("fail")? == 2, "fail ran {} tries", n("fail")?);
            ensure!(
                n("fail_no_retry")? == 1,
                "fail_no_retry ran {} tries",
                n("fail_no_retry")?
            );
            let log = api.wait_log(
                "testing",
                "all",
                "fail_no_retry",
                1,
                &["task failed (no retry)"],
            )?;
            expect_record(
                &log,
                "error",
                "task failed (no retry): failing on purpose, no retry",
                &[],
            )
        },
    );

    checks.check("(e) errors and panics reach the task log", || {
        let log = api.wait_log("testing", "all", "io_error", 1, &["No such file"])?;
        expect_record(&log, "error", "No such file or directory", &[])?;
        let log = api.wait_log("testing", "all", "panic", 1, &["panicked"])?;
        expect_record(&log, "error", "panicked: boom from a task", &[])?;
        let r = log.expect("panicked: boom from a task")?;
        ensure!(
            r.fields
                .get("location")
                .and_then(Value::as_str)
                .is_some_and(|l| l.contains("testing.rs")),
            "the panic record names no location: {r}"
        );
        let log = api.wait_log("testing", "all", "skip", 1, &["task skipped"])?;
        expect_record(&log, "info", "task skipped: nothing to process today", &[])?;
        let log = api.wait_log("testing", "all", "require_var", 1, &["missing_var"])?;
        expect_record(&log, "error", "the Variable missing_var is not set", &[])
    });

    checks.check(
        "(e) a Display that panics and a task that calls exit end failed promptly, saying why",
        || {
            for task in ["display_panics", "exit_early"] {
                let ti = api.task_instance("testing", "all", task)?;
                let took = ti.duration().context("no start or end date")?;
                eprintln!("{task}: {:?} after {took:.1} s", ti.state);
                // A hang ends only at SIGKILL or zombie detection, minutes later.
                ensure!(
                    ti.state.as_deref() == Some("failed") && took < 30.0,
                    "{task} ended {:?} after {took:.1} s",
                    ti.state
                );
            }
            let log = api.wait_log(
                "testing",
                "all",
                "display_panics",
                1,
                &["task failed: it panicked"],
            )?;
            expect_record(
                &log,
                "error",
                "panicked: Display of a logged value exploded",
                &[],
            )?;
            expect_record(
                &log,
                "error",
                "task failed: it panicked: Display of a logged value exploded",
                &[],
            )?;
            let log = api.wait_log("testing", "all", "exit_early", 1, &["std::process::exit"])?;
            expect_record(&log, "info", "calling std::process::exit(0)", &[])?;
            expect_record(
                &log,
                "error",
                "task failed: the task called std::process::exit (or C exit) before returning",
                &[],
            )
        },
    );

    checks.check("(e) XComs: complex values, and a Python task's XCom read by Rust", || {
        let v = xcom(api, "testing", "all", "return_complex", "return_value")?;
        ensure!(
            v == json!({"answer": 42, "xs": [1, 2.5, -3], "nested": {"ok": true, "none": null}, "s": "héllo"}),
            "return_complex pushed {v}"
        );
        let v = xcom(api, "testing", "all", "push_pull", "return_value")?;
        ensure!(
            v == json!({"seeded": {"n": [1, 2, 3], "from": "python"}, "missing_is_none": true}),
            "push_pull returned {v}"
        );
        let v = xcom(api, "testing", "all", "push_pull", "custom")?;
        ensure!(v == json!({"pushed": [1, 2, 3]}), "push_pull pushed custom={v}");
        Ok(())
    });

    checks.check("(e) Variables and Connections from the API server", || {
        let v = xcom(api, "testing", "all", "read_var_conn", "return_value")?;
        let want = json!({
            "var": "hello from the REST API",
            "missing_var_is_none": true,
            "conn": {"conn_id": "my_conn", "conn_type": "http", "host": "api.example",
                     "schema": "https", "login": "me", "password": "pw", "port": 8443,
                     "extra": {"timeout": 5}},
            "missing_conn_is_none": true,
        });
        ensure!(v == want, "read_var_conn returned {v}, want {want}");
        Ok(())
    });

    checks.check(
        "(e) context facts: Airflow's max_tries, conf, run type",
        || {
            let v = xcom(api, "testing", "all", "context_facts", "return_value")?;
            for (k, want) in [
                ("dag_id", json!("testing")),
                ("task_id", json!("context_facts")),
                ("run_id", json!("all")),
                ("try_number", json!(1)),
                // Airflow's max_tries is the task's retries (0 here), not retries + 1.
                ("max_tries", json!(0)),
                ("map_index", Value::Null),
                ("run_type", json!("manual")),
                ("conf", json!({"from": "the e2e tests"})),
                ("start_date_set", json!(true)),
            ] {
                ensure!(
                    v[k] == want,
                    "context_facts.{k} = {}, want {want}; all: {v}",
                    v[k]
                );
            }
            ensure!(
                v["ti_id"].as_str().is_some_and(|s| s.len() == 36),
                "ti_id {}",
                v["ti_id"]
            );
            Ok(())
        },
    );

    checks.check(
        "(e) log records keep their levels and fields; levels below INFO are filtered",
        || {
            let log = api.wait_log(
                "testing",
                "all",
                "log_levels",
                1,
                &["an error record", "a line on stderr"],
            )?;
            expect_record(
                &log,
                "info",
                "an info record",
                &[
                    ("rows", json!(3)),
                    ("ratio", json!(0.5)),
                    ("ok", json!(true)),
                    ("table", json!("orders")),
                ],
            )?;
            expect_record(
                &log,
                "warning",
                "a warning record",
                &[
                    ("field.msg", json!("user field named msg")),
                    ("field.target", json!("user field named target")),
                ],
            )?;
            expect_record(&log, "error", "an error record", &[])?;
            ensure!(
                log.find("a debug record").is_none(),
                "a debug record passed the INFO filter:\n{log}"
            );
            let out = log.expect("a line on stdout")?;
            ensure!(out.logger.as_deref() == Some("task.stdout"), "{out}");
            let err = log.expect("a line on stderr")?;
            ensure!(err.logger.as_deref() == Some("task.stderr"), "{err}");
            Ok(())
        },
    );

    for (i, (task, record)) in [
        (
            "sleep_until_cancelled",
            "task failed: the task was asked to stop (SIGTERM)",
        ),
        (
            "ignore_sigterm",
            "task failed: it did not stop within 2.0 s of SIGTERM",
        ),
        (
            "async_sleep_until_cancelled",
            "task failed: the task was asked to stop (SIGTERM)",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        checks.check(
            &format!("(e) {task}: the runtime stops and reports within its grace period"),
            || {
                let log = api.wait_log("testing", "all", task, 1, &[record])?;
                let reported = log.expect(record)?;
                let took = unix_seconds(reported.timestamp.as_deref())? - cancelled_at[i];
                // From the REST call to the runtime's report: the supervisor's next heartbeat
                // (every second here) learns the task was marked failed, sends SIGTERM, and the
                // runtime reports within its grace period.
                ensure!(
                    took < 1.0 + TERM_GRACE_WITH_SLACK,
                    "{task} reported {took:.2} s after it was marked failed:\n{log}"
                );
                ensure!(reported.level.as_deref() == Some("error"), "{reported}");
                if task == "async_sleep_until_cancelled" {
                    // The future was dropped (its destructor logged) before the report.
                    let dropped = log
                        .0
                        .iter()
                        .position(|r| r.message().contains("the async task's future was dropped"));
                    let failed = log.0.iter().position(|r| r.message().contains(record));
                    ensure!(
                        matches!((dropped, failed), (Some(d), Some(f)) if d < f),
                        "the future was not dropped before the report:\n{log}"
                    );
                }
                let ti = api.task_instance("testing", "all", task)?;
                ensure!(
                    ti.state.as_deref() == Some("failed"),
                    "{task} is {:?}",
                    ti.state
                );
                Ok(())
            },
        );
    }

    // (c) needs the Connection gone, so it runs after (a) read it.
    checks.check("(c) without its Connection, load fails naming it", || {
        api.delete_connection("example_warehouse")?;
        api.trigger("example_etl", "no_connection", json!({}))?;
        let run = api.wait_run("example_etl", "no_connection", RUN_TIMEOUT)?;
        ensure!(run.state == "failed", "run ended {}", run.state);
        expect_states(
            api,
            "example_etl",
            "no_connection",
            &[
                ("extract", "success"),
                ("transform", "success"),
                ("load", "failed"),
            ],
        )?;
        let log = api.wait_log(
            "example_etl",
            "no_connection",
            "load",
            1,
            &["example_warehouse"],
        )?;
        expect_record(
            &log,
            "error",
            "the Connection example_warehouse is not defined",
            &[],
        )
    });

    checks.check("no bundle process outlives its task", || {
        no_bundle_process_left(dep)
    });
    checks.finish()
}

/// The README's `airflow dags test example_etl --use-executor`, with one LocalExecutor worker.
///
/// With more, `LocalExecutor.end()` of Airflow 3.3.2 and 3.4.0b2 can hang after the run ended: it
/// sends one stop message per worker it finds alive, one after the other, and a worker that took
/// an earlier message and exited in between is not counted, so a live worker never gets one and
/// the join waits forever (seen here in about 1 of 10 runs on a loaded machine, and in CI).
fn dags_test_command(dep: &Deployment) -> std::process::Command {
    let mut cmd = dep.airflow_cli();
    cmd.args(["dags", "test", "example_etl", "--use-executor"])
        .env("AIRFLOW__CORE__PARALLELISM", "1");
    cmd
}

/// (f) `airflow dags test --use-executor` runs the Rust tasks through the coordinator.
fn dags_test_with_executor(dep: &Deployment) -> Result<()> {
    // Paused, so that the deployment's own scheduler leaves the run to `dags test`'s loop.
    dep.api.call::<Value>(
        "PATCH",
        "/api/v2/dags/example_etl",
        Some(json!({"is_paused": true})),
    )?;
    // Owned: if this test fails, panics, times out or is interrupted, `dags test` and the
    // workers and bundles it started are stopped with it, not left running.
    let cmd = dags_test_command(dep);
    let out = dep
        .run_owned(&cmd, DAGS_TEST_TIMEOUT)
        .context("running airflow dags test")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(out.status.success(), "airflow dags test failed: {text}");
    let finished: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("DagRun Finished: dag_id=example_etl"))
        .collect();
    ensure!(
        finished.len() == 1 && finished[0].contains("state=success"),
        "airflow dags test did not end in one successful run:\n{text}"
    );
    // Each Rust task ran in its own bundle process, launched by the coordinator, and logged.
    let launched = text
        .lines()
        .filter(|l| l.contains("Starting subprocess") && l.contains("coordinators.subprocess"))
        .count();
    ensure!(
        launched == 3,
        "the coordinator launched {launched} bundle processes, want 3:\n{text}"
    );
    for record in ["extracted orders", "totalled orders", "loading totals"] {
        ensure!(
            text.contains(record),
            "the output lacks the task log record {record:?}:\n{text}"
        );
    }
    Ok(())
}

/// The example in a deployment of `release` configured as the README says: scenarios (a)-(f),
/// and on 3.4 the typed-argument bundle and the Dag processor's runs of both bundle files in
/// the Dag bundle `rust-bundles`.
fn example_deployment(name: &str, release: Release) -> Result<()> {
    let mut opts = DeployOptions::new(name, release)
        .bundle(example_bundle()?)
        .dag_file(stub_dags());
    // On 3.4 the same Dag bundle also holds example-typed, which only 3.4 can run.
    let typed_dir = tempfile::tempdir()?;
    if release == Release::V3_4 {
        opts = opts
            .bundle(typed_bundle(typed_dir.path())?)
            .stub_dag("typed_stubs.py");
    }
    let dep = Deployment::start(opts)?;
    let mut checks = Checks::default();
    checks.check("scenarios (a)-(e)", || example_scenarios(&dep));
    if release == Release::V3_4 {
        typed_argument_checks(&dep, &mut checks);
        for file in ["example-bundle", "example-typed"] {
            checks.check(
                &format!("the Dag processor ran {file} without an import error"),
                || bundle_file_was_parsed_named(&dep, "rust-bundles", file),
            );
        }
    }
    checks.check("(f) airflow dags test --use-executor", || {
        define_inputs(&dep.api)?;
        dags_test_with_executor(&dep)
    });
    execution_timeout_checks(&dep, release, &mut checks);
    let result = checks.finish();
    dep.stop()?;
    result
}

#[test]
fn example_dags_run_in_a_real_airflow_3_3() -> Result<()> {
    example_deployment("local-3.3", Release::V3_3)
}

#[test]
fn example_dags_run_in_a_real_airflow_3_4() -> Result<()> {
    // The README's 3.4 configuration: the bundle in a Dag bundle of its own, named by the
    // coordinator's task_handler_bundle_name.
    example_deployment("local-3.4", Release::V3_4)
}

#[test]
fn bundle_inside_the_stub_dags_bundle_on_airflow_3_4() -> Result<()> {
    // No task_handler_bundle_name: the coordinator looks in the task's own Dag bundle, where the
    // bundle file sits beside the stub dags.
    let dep = Deployment::start(
        DeployOptions::new("dags-folder-3.4", Release::V3_4)
            .sdk_config(
                r#"[sdk]
coordinators = {"rust": {"classpath": "airflow.sdk.coordinators.executable.ExecutableCoordinator", "kwargs": {}}}
queue_to_coordinator = {"rust": "rust"}
"#,
            )
            .dag_file(example_bundle()?)
            .dag_file(stub_dags()),
    )?;
    let api = &dep.api;
    let mut checks = Checks::default();
    checks.check("example_etl succeeds", || {
        api.wait_for_dags(&["example_etl"], DAGS_TIMEOUT)?;
        define_inputs(api)?;
        api.trigger("example_etl", "happy", json!({}))?;
        api.wait_success("example_etl", "happy", RUN_TIMEOUT)?;
        let rows = xcom(api, "example_etl", "happy", "load", "loaded_rows")?;
        ensure!(rows == json!(2), "load pushed loaded_rows={rows}");
        Ok(())
    });
    checks.check(
        "the Dag processor ran the bundle file without an import error",
        || bundle_file_was_parsed(&dep, "dags-folder"),
    );
    let result = checks.finish();
    dep.stop()?;
    result
}

/// The Dag processor of 3.4 runs every bundle file it finds: its stats table must show a
/// finished run of ours with no error, and the API no import error for any file.
fn bundle_file_was_parsed(dep: &Deployment, dag_bundle: &str) -> Result<()> {
    bundle_file_was_parsed_named(dep, dag_bundle, "example-bundle")
}

fn bundle_file_was_parsed_named(dep: &Deployment, dag_bundle: &str, file: &str) -> Result<()> {
    let deadline = Instant::now() + DAGS_TIMEOUT;
    loop {
        // A row: bundle, file, [pid, current duration], # dags, # errors, last duration, last run.
        let log = dep.service_log("dag-processor", 100_000);
        let finished = log.lines().find_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let done = cols.len() >= 6
                && cols[0] == dag_bundle
                && cols[1] == file
                && cols[cols.len() - 1].contains('T');
            done.then(|| cols[cols.len() - 3].to_owned())
        });
        let errors = dep.api.import_errors()?;
        ensure!(errors.is_empty(), "import errors: {errors:#?}");
        if let Some(errors) = finished {
            ensure!(
                errors == "0",
                "the Dag processor counted {errors} errors for the bundle file"
            );
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the Dag processor never finished {file} in Dag bundle {dag_bundle}:\n{}",
            dep.service_log("dag-processor", 40)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Typed arguments (schema 2026-10-30, Airflow 3.4): `example-typed`'s `load` gets
/// `transform`'s output and a literal from the stub's call, converted to its Rust types.
fn typed_argument_checks(dep: &Deployment, checks: &mut Checks) {
    let api = &dep.api;
    checks.check(
        "load gets transform's output and the literal, typed",
        || {
            api.wait_for_dags(&["example_typed", "example_typed_wrong_type"], DAGS_TIMEOUT)?;
            api.trigger("example_typed", "typed", json!({}))?;
            api.trigger("example_typed_wrong_type", "wrong", json!({}))?;
            api.wait_success("example_typed", "typed", RUN_TIMEOUT)?;
            let v = xcom(api, "example_typed", "typed", "load", "return_value")?;
            ensure!(
                v == json!("2 rows of 3 orders into t1"),
                "load returned {v}"
            );
            let log = api.wait_log("example_typed", "typed", "load", 1, &["loading totals"])?;
            expect_record(
                &log,
                "info",
                "loading totals",
                &[("table", json!("t1")), ("rows", json!(2))],
            )
        },
    );
    checks.check(
        "a value of the wrong type fails the task, naming the parameter",
        || {
            let run = api.wait_run("example_typed_wrong_type", "wrong", RUN_TIMEOUT)?;
            ensure!(run.state == "failed", "run ended {}", run.state);
            expect_states(
                api,
                "example_typed_wrong_type",
                "wrong",
                &[("transform", "success"), ("load", "failed")],
            )?;
            let log = api.wait_log("example_typed_wrong_type", "wrong", "load", 1, &["table"])?;
            let r = log
                .0
                .iter()
                .find(|r| r.level.as_deref() == Some("error") && r.message().contains("`table`"))
                .with_context(|| format!("no error record names the parameter `table`:\n{log}"))?;
            ensure!(
                r.message().contains('7') && r.message().contains("String"),
                "{r}"
            );
            Ok(())
        },
    );
}

/// `example-typed`, packed into a temporary directory.
fn typed_bundle(dir: &std::path::Path) -> Result<PathBuf> {
    let bundle = dir.join("example-typed");
    airflow_e2e::pack::pack_json([
        "-p",
        "example-typed",
        "-o",
        bundle.to_str().context("a non-UTF-8 path")?,
    ])?;
    Ok(bundle)
}

/// Processes whose environment names `home` as their `AIRFLOW_HOME`.
fn processes_of(home: &std::path::Path) -> Vec<String> {
    let want = format!("AIRFLOW_HOME={}", home.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env.split(|&b| b == 0).any(|kv| kv == want.as_bytes())
        {
            let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
        }
    }
    found
}

#[test]
fn a_deployment_that_cannot_start_says_why_and_leaves_nothing_behind() -> Result<()> {
    // The API port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let err = Deployment::start(
        DeployOptions::new("fault-port-3.3", Release::V3_3)
            .api_port(port)
            .dag_file(stub_dags()),
    )
    .expect_err("started on a taken port");
    let text = format!("{err:#}");
    ensure!(
        text.contains(&format!("port {port} on 127.0.0.1 is already taken")),
        "{text}"
    );

    // The metadata database cannot be reached: one error, with the failing step's log tail.
    let err = Deployment::start(
        DeployOptions::new("fault-db-3.3", Release::V3_3)
            .sdk_config(
                "[database]\nsql_alchemy_conn = postgresql+psycopg2://airflow@127.0.0.1:1/airflow\n",
            )
            .dag_file(stub_dags()),
    )
    .expect_err("started without a database");
    let text = format!("{err:#}");
    ensure!(text.contains("`db migrate` exited with"), "{text}");
    ensure!(text.contains("--- db-migrate (last lines) ---"), "{text}");
    ensure!(
        text.contains("127.0.0.1") && text.contains("port 1"),
        "no log tail naming the database: {text}"
    );
    let home = airflow_e2e::target_dir()
        .join("airflow-deployments")
        .join("fault-db-3.3")
        .join("home");
    let left = processes_of(&home);
    ensure!(left.is_empty(), "processes left behind: {left:#?}");
    Ok(())
}

/// The Python stub file `cargo airflow stubs` generates from the packed example's declarations
/// (the shared executables root holds only the bundle, so the file goes beside it).
fn generated_stubs() -> Result<PathBuf> {
    let bundle = example_bundle()?;
    // Outside the executables root, which the coordinator scans.
    let dir = airflow_e2e::pack::example_bundle_dir()?;
    let file = dir
        .parent()
        .context("the executables root has no parent")?
        .join("generated-stubs")
        .join("example-bundle_dags.py");
    std::fs::create_dir_all(file.parent().context("no parent")?)?;
    let status = airflow_e2e::pack::cargo_airflow_command()?
        .arg("stubs")
        .arg(&bundle)
        .arg("-o")
        .arg(&file)
        .status()?;
    ensure!(status.success(), "cargo airflow stubs failed: {status}");
    ensure!(
        file.is_file(),
        "cargo airflow stubs wrote no file {}",
        file.display()
    );
    Ok(file)
}

#[test]
fn generated_stubs_run_the_example_in_a_real_airflow_3_3() -> Result<()> {
    // Only the generated file: dag ids, task ids, dependencies, queue and retries come from the
    // Rust declarations, so they cannot drift from the bundle.
    let dep = Deployment::start(
        DeployOptions::new("generated-stubs-3.3", Release::V3_3)
            .bundle(example_bundle()?)
            .dag_file(generated_stubs()?),
    )?;
    let api = &dep.api;
    let mut checks = Checks::default();
    checks.check("example_etl from the generated stubs succeeds", || {
        api.wait_for_dags(&["example_etl", "testing"], DAGS_TIMEOUT)?;
        ensure!(
            api.import_errors()?.is_empty(),
            "import errors: {:#?}",
            api.import_errors()?
        );
        define_inputs(api)?;
        api.trigger("example_etl", "generated", json!({}))?;
        api.wait_success("example_etl", "generated", RUN_TIMEOUT)?;
        let rows = xcom(api, "example_etl", "generated", "load", "loaded_rows")?;
        ensure!(rows == json!(2), "load pushed loaded_rows={rows}");
        Ok(())
    });
    checks.check(
        "the declared retry reaches Airflow (transform retried once)",
        || {
            api.trigger("example_etl", "retried", json!({"fail": true}))?;
            let run = api.wait_run("example_etl", "retried", RUN_TIMEOUT)?;
            ensure!(run.state == "failed", "run ended {}", run.state);
            let tries = api.tries("example_etl", "retried", "transform")?;
            ensure!(tries.len() == 2, "transform ran {} tries", tries.len());
            Ok(())
        },
    );
    let result = checks.finish();
    dep.stop()?;
    result
}

#[test]
fn a_native_rust_dag_runs_in_a_real_airflow_3_4_without_a_python_file() -> Result<()> {
    // The bundles alone, in the README's Dag bundle: no Python dag file anywhere. example-typed
    // (schema 2026-10-30) has a native dag whose argument bindings Airflow hands back.
    // The example is packed with its object-store feature (native_object_store).
    let typed_dir = tempfile::tempdir()?;
    let dep = Deployment::start(
        DeployOptions::new("native-3.4", Release::V3_4)
            .triggerer()
            .bundle(airflow_e2e::pack::example_bundle_with_object_store()?)
            .bundle(typed_bundle(typed_dir.path())?),
    )?;
    let api = &dep.api;
    let mut checks = Checks::default();
    checks.check("example_native is listed with its declarations", || {
        api.wait_for_dags(&["example_native"], DAGS_TIMEOUT)?;
        let d: Value = api.get("/api/v2/dags/example_native/details")?;
        ensure!(d["relative_fileloc"] == "example-bundle", "{d}");
        ensure!(d["bundle_name"] == "rust-bundles", "{d}");
        ensure!(d["owners"] == json!(["data-team"]), "{d}");
        ensure!(d["max_active_runs"] == 2, "{d}");
        ensure!(
            d["description"] == "A pipeline declared in Rust, served natively to Airflow 3.4",
            "{d}"
        );
        let mut tags: Vec<String> = d["tags"]
            .as_array()
            .context("no tags")?
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        tags.sort();
        ensure!(tags == ["native", "rust"], "{d}");
        let errors = api.import_errors()?;
        ensure!(errors.is_empty(), "import errors: {errors:#?}");
        Ok(())
    });
    checks.check("a run uses the param default, another the conf", || {
        api.trigger("example_native", "defaults", json!({}))?;
        api.trigger(
            "example_native",
            "conf",
            json!({"region": "us", "threshold": 10}),
        )?;
        for run_id in ["defaults", "conf"] {
            api.wait_success("example_native", run_id, RUN_TIMEOUT)?;
        }
        let region = xcom(api, "example_native", "defaults", "extract", "region")?;
        ensure!(region == json!("eu"), "default region: {region}");
        let region = xcom(api, "example_native", "conf", "extract", "region")?;
        ensure!(region == json!("us"), "conf region: {region}");
        // Fan-out then fan-in: report sums both halves, whatever the threshold.
        for run_id in ["defaults", "conf"] {
            let total = xcom(api, "example_native", run_id, "report", "return_value")?;
            ensure!(total == json!(189), "{run_id}: report returned {total}");
        }
        let high = xcom(api, "example_native", "conf", "clean_high", "return_value")?;
        ensure!(
            high == json!([14, 15, 92, 65]),
            "threshold 10 from conf: {high}"
        );
        Ok(())
    });
    checks.check(
        "the declared retry (default task settings) repeats a failed first try",
        || {
            api.trigger("example_native", "retried", json!({"fail_first_try": true}))?;
            api.wait_success("example_native", "retried", RUN_TIMEOUT)?;
            let tries = api.tries("example_native", "retried", "extract")?;
            let seen: Vec<_> = tries.iter().map(|t| (t.try_number, &t.state)).collect();
            ensure!(
                tries.len() == 2 && tries[1].state.as_deref() == Some("success"),
                "extract's tries: {seen:?}"
            );
            Ok(())
        },
    );
    checks.check(
        "the scheduler creates the runs of a cron dag with catchup and a past start date",
        || {
            api.wait_for_dags(&["example_native_catchup"], DAGS_TIMEOUT)?;
            // 06:00 UTC daily from 2026-01-01 to 2026-01-03: two trigger times in the window.
            let want = ["2026-01-01T06:00:00", "2026-01-02T06:00:00"];
            let deadline = Instant::now() + RUN_TIMEOUT;
            let runs = loop {
                let runs = api.dag_runs("example_native_catchup")?;
                let ended = runs
                    .iter()
                    .filter(|r| r["state"] == "success" || r["state"] == "failed")
                    .count();
                if runs.len() >= want.len() && ended == runs.len() {
                    break runs;
                }
                ensure!(
                    Instant::now() < deadline,
                    "after {} s the catchup runs are: {runs:#?}",
                    RUN_TIMEOUT.as_secs()
                );
                std::thread::sleep(Duration::from_secs(1));
            };
            let mut logical: Vec<String> = runs
                .iter()
                .map(|r| {
                    r["logical_date"]
                        .as_str()
                        .unwrap_or("?")
                        .chars()
                        .take(19)
                        .collect()
                })
                .collect();
            logical.sort();
            ensure!(logical == want, "runs at {logical:?}, expected {want:?}");
            for run in &runs {
                let run_id = run["dag_run_id"].as_str().context("a run without an id")?;
                ensure!(
                    run["run_type"] == "scheduled" && run["state"] == "success",
                    "{run_id}: {run}\n{}",
                    api.explain_run("example_native_catchup", run_id)
                );
                // The task sees the interval the scheduler gave its run.
                let at = &run["logical_date"].as_str().unwrap_or("?")[..19];
                let interval = xcom(
                    api,
                    "example_native_catchup",
                    run_id,
                    "interval",
                    "return_value",
                )?;
                ensure!(
                    interval == json!(format!("{at}Z/{at}Z")),
                    "{run_id}: the task saw the data interval {interval}"
                );
            }
            Ok(())
        },
    );
    checks.check("the Dag code view shows the Rust source", || {
        let s: Value = api.get("/api/v2/dagSources/example_native")?;
        let content = s["content"].as_str().unwrap_or_default();
        ensure!(
            content.contains("airflow_sdk::main!(bundle());"),
            "the code view shows: {}",
            &content[..content.len().min(300)]
        );
        Ok(())
    });
    checks.check(
        "deferral_native: a native task defers on the triggerer and resumes in its Rust handler",
        || {
            let (dag, run_id) = ("deferral_native", "deferral_native_run");
            api.wait_for_dags(&[dag], DAGS_TIMEOUT)?;
            api.trigger(dag, run_id, json!({}))?;
            api.wait_task_state(dag, run_id, "timer", "deferred", Duration::from_secs(180))?;
            api.wait_success(dag, run_id, Duration::from_secs(300))?;
            let v = api
                .xcom(dag, run_id, "timer", "return_value")?
                .context("timer pushed nothing")?;
            let fired = unix_seconds(v["event"].as_str())?;
            let deferred = unix_seconds(v["deferred_at"].as_str())?;
            ensure!(fired - deferred >= 3.5, "the trigger fired early: {v}");
            Ok(())
        },
    );
    // Both runs of native_taskflow, started once for the two checks below.
    let mut taskflow_runs = None;
    checks.check(
        "native_taskflow: return values reach typed arguments, the dependencies implied",
        || {
            let dag = "native_taskflow";
            api.wait_for_dags(&[dag], DAGS_TIMEOUT)?;
            // The arguments alone made extract >> summarize and summarize >> alert/report.
            let t: Value = api.get(&format!("/api/v2/dags/{dag}/tasks/extract"))?;
            ensure!(t["downstream_task_ids"] == json!(["summarize"]), "{t}");
            let t: Value = api.get(&format!("/api/v2/dags/{dag}/tasks/summarize"))?;
            let mut down: Vec<String> = serde_json::from_value(t["downstream_task_ids"].clone())?;
            down.sort();
            ensure!(down == ["alert", "archive", "choose", "report"], "{t}");
            api.trigger(dag, "taskflow_alert", json!({}))?;
            api.trigger(dag, "taskflow_archive", json!({"threshold": 1000}))?;
            for run_id in ["taskflow_alert", "taskflow_archive"] {
                api.wait_success(dag, run_id, RUN_TIMEOUT)?;
                // extract's list and the literal unit, converted to typed arguments.
                let summary = xcom(api, dag, run_id, "summarize", "return_value")?;
                ensure!(
                    summary == json!({"count": 5, "total": 189, "unit": "celsius"}),
                    "{run_id}: summarize returned {summary}"
                );
            }
            taskflow_runs = Some(());
            Ok(())
        },
    );
    checks.check(
        "native_taskflow: the branch skips the path it does not follow, the join runs",
        || {
            let dag = "native_taskflow";
            ensure!(taskflow_runs.is_some(), "the runs did not succeed");
            for (run_id, followed, skipped, report) in [
                (
                    "taskflow_alert",
                    "alert",
                    "archive",
                    "5 readings: alert: total 189 celsius",
                ),
                (
                    "taskflow_archive",
                    "archive",
                    "alert",
                    "5 readings: archived 5 readings",
                ),
            ] {
                let states: std::collections::BTreeMap<String, Option<String>> = api
                    .task_instances(dag, run_id)?
                    .into_iter()
                    .map(|t| (t.task_id, t.state))
                    .collect();
                let state = |t: &str| states.get(t).cloned().flatten().unwrap_or_default();
                ensure!(
                    state(followed) == "success"
                        && state(skipped) == "skipped"
                        && state("report") == "success",
                    "{run_id}: {states:?}"
                );
                let chosen = xcom(api, dag, run_id, "choose", "return_value")?;
                ensure!(
                    chosen == json!([followed]),
                    "{run_id}: choose returned {chosen}"
                );
                // What Airflow's NotPreviouslySkippedDep reads when a task is cleared.
                let decision = xcom(api, dag, run_id, "choose", "skipmixin_key")?;
                ensure!(
                    decision == json!({"followed": [followed]}),
                    "{run_id}: skipmixin_key {decision}"
                );
                // The skipped branch's output is None in report (none_failed_min_one_success).
                let got = xcom(api, dag, run_id, "report", "return_value")?;
                ensure!(got == json!(report), "{run_id}: report returned {got}");
            }
            Ok(())
        },
    );
    checks.check(
        "native_mapping: Rust tasks mapped over an upstream's list and a literal list, labelled, reduced",
        || {
            let (dag, run_id) = ("native_mapping", "mapping");
            api.wait_for_dags(&[dag], DAGS_TIMEOUT)?;
            api.run_to_success(dag, run_id, json!({}), RUN_TIMEOUT)?;
            // n from numbers' returned list (3) and from the literal list (2): map indexes
            // 0..n-1, each succeeded with its own label and its own XCom.
            for (task, labels, values) in [
                (
                    "square",
                    vec!["x=2 m", "x=3 m", "x=4 m"],
                    vec![json!("4 m2"), json!("9 m2"), json!("16 m2")],
                ),
                ("scale", vec!["factor 10", "factor 100"], vec![json!(90), json!(900)]),
            ] {
                let mapped: Value = api.get(&format!(
                    "/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances/{task}/listMapped?order_by=map_index"
                ))?;
                let got: Vec<(i64, String, String)> = mapped["task_instances"]
                    .as_array()
                    .context("listMapped answered no task_instances")?
                    .iter()
                    .map(|t| {
                        (
                            t["map_index"].as_i64().unwrap_or(-2),
                            t["state"].as_str().unwrap_or_default().to_owned(),
                            t["rendered_map_index"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                let want: Vec<(i64, String, String)> = labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as i64, "success".to_owned(), (*l).to_owned()))
                    .collect();
                ensure!(got == want, "{task}: {got:?}, want {want:?}");
                for (i, want) in values.iter().enumerate() {
                    let entry: Value = api.get(&format!(
                        "/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances/{task}/xcomEntries/return_value?map_index={i}"
                    ))?;
                    ensure!(&entry["value"] == want, "{task}[{i}]: {entry}");
                }
            }
            // total reads every map index's output (in map index order) as one list.
            let total = xcom(api, dag, run_id, "total", "return_value")?;
            ensure!(
                total == json!("squares 4 m2, 9 m2, 16 m2; scaled sum 990"),
                "total returned {total}"
            );
            Ok(())
        },
    );
    checks.check(
        "native_taskflow: under schema 2026-06-16 the runtime binds from the bundle's declaration",
        || {
            let log = api.wait_log(
                "native_taskflow",
                "taskflow_alert",
                "summarize",
                1,
                &["binding arguments"],
            )?;
            log.expect("from the bundle's declaration (Airflow sent none")?;
            Ok(())
        },
    );
    checks.check(
        "example_typed_native: Airflow 3.4 hands a native task the bindings serialized with it",
        || {
            let (dag, run_id) = ("example_typed_native", "typed_native");
            api.wait_for_dags(&[dag], DAGS_TIMEOUT)?;
            api.run_to_success(dag, run_id, json!({}), RUN_TIMEOUT)?;
            let v = xcom(api, dag, run_id, "load", "return_value")?;
            ensure!(
                v == json!("2 rows of 3 orders into t_native"),
                "load returned {v}"
            );
            // TIRunContext.arg_bindings carried them (schema 2026-10-30), not the bundle.
            let log = api.wait_log(dag, run_id, "load", 1, &["binding arguments"])?;
            log.expect("from the bindings Airflow sent")?;
            Ok(())
        },
    );
    native_asset_checks(api, &mut checks);
    native_groups_checks(api, &mut checks);
    native_object_store_checks(api, &mut checks);
    for file in ["example-bundle", "example-typed"] {
        checks.check(
            &format!("the Dag processor ran {file} without an import error"),
            || bundle_file_was_parsed_named(&dep, "rust-bundles", file),
        );
    }
    let result = checks.finish();
    dep.stop()?;
    result
}

/// The asset dags of the example (`example-bundle/src/assets.rs`).
const ASSET_DAGS: &[&str] = &[
    "native_assets_produce",
    "native_assets_consume",
    "native_assets_emit",
    "native_assets_condition",
    "native_assets_or_time",
];

/// Whether a list of `{dag_id, task_id?}` references has one for `dag_id` (and `task_id`).
fn refers_to(refs: &Value, dag_id: &str, task_id: Option<&str>) -> bool {
    refs.as_array().is_some_and(|r| {
        r.iter()
            .any(|x| x["dag_id"] == dag_id && task_id.is_none_or(|t| x["task_id"] == t))
    })
}

/// Waits until `dag_id` has at least `n` runs and each has ended; its runs, oldest first.
fn wait_ended_runs(api: &Api, dag_id: &str, n: usize) -> Result<Vec<Value>> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let mut runs = api.dag_runs(dag_id)?;
        let ended = runs
            .iter()
            .all(|r| r["state"] == "success" || r["state"] == "failed");
        if runs.len() >= n && ended {
            runs.sort_by_key(|r| r["run_after"].as_str().unwrap_or_default().to_owned());
            return Ok(runs);
        }
        ensure!(
            Instant::now() < deadline,
            "after {} s {dag_id} has the runs {runs:#?}, want {n} ended",
            RUN_TIMEOUT.as_secs()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The asset events a run consumed (`upstreamAssetEvents`), as `(asset name, source run)`.
fn consumed(api: &Api, dag_id: &str, run_id: &str) -> Result<Vec<(String, String)>> {
    let v: Value = api.get(&format!(
        "/api/v2/dags/{dag_id}/dagRuns/{}/upstreamAssetEvents",
        run_id.replace('+', "%2B")
    ))?;
    let mut out: Vec<(String, String)> = v["asset_events"]
        .as_array()
        .context("no asset_events")?
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or("?").to_owned(),
                e["source_run_id"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// One asset-triggered run that succeeded: its id.
fn asset_triggered_success(api: &Api, dag_id: &str, run: &Value) -> Result<String> {
    let run_id = run["dag_run_id"].as_str().context("a run without an id")?;
    ensure!(
        run["run_type"] == "asset_triggered" && run["state"] == "success",
        "{dag_id}/{run_id}: {run}\n{}",
        api.explain_run(dag_id, run_id)
    );
    Ok(run_id.to_owned())
}

/// Native dags with assets: a producer's declared outlets get events, the dags scheduled on
/// them (one asset, an AND/OR condition, a cron schedule or an asset) get asset-triggered runs.
/// `native_object_store`: a native task writes and reads an object through an `fs` Connection
/// created through the REST API; the file is on disk where the connection points.
fn native_object_store_checks(api: &Api, checks: &mut Checks) {
    checks.check(
        "native_object_store: a native task writes and reads an object through an fs connection",
        || {
            let dir = tempfile::tempdir()?;
            api.set_connection(
                "native_fs",
                json!({"conn_type": "fs", "extra": json!({"path": dir.path()}).to_string()}),
            )?;
            let (dag, run_id) = ("native_object_store", "object_store");
            api.wait_for_dags(&[dag], DAGS_TIMEOUT)?;
            api.run_to_success(dag, run_id, json!({}), RUN_TIMEOUT)?;
            let want = format!("written by a native rust task in {run_id}");
            let got = xcom(api, dag, run_id, "store_and_read", "return_value")?;
            ensure!(got == json!(want), "store_and_read returned {got}");
            let on_disk = std::fs::read_to_string(dir.path().join("native/hello.txt"))?;
            ensure!(on_disk == want, "the file holds {on_disk:?}");
            api.wait_log(dag, run_id, "store_and_read", 1, &["object store:"])?
                .expect("object store: native/hello.txt read back through native_fs")?;
            Ok(())
        },
    );
}

fn native_asset_checks(api: &Api, checks: &mut Checks) {
    let mut produced = None;
    checks.check(
        "native_assets: a native task's declared outlets get their events when it succeeds",
        || {
            api.wait_for_dags(ASSET_DAGS, DAGS_TIMEOUT)?;
            let (dag, run_id) = ("native_assets_produce", "assets_produce");
            api.run_to_success(dag, run_id, json!({}), RUN_TIMEOUT)?;
            let events =
                api.asset_events(&format!("source_dag_id={dag}&source_run_id={run_id}"))?;
            let event = |name: &str| events.iter().find(|e| e["name"] == name);
            let orders = event("native_orders").with_context(|| format!("{events:#?}"))?;
            ensure!(
                orders["source_task_id"] == "produce" && orders["extra"]["rows"] == 3,
                "the outlet's event: {orders}"
            );
            // Through the declared alias, to the asset chosen at run time.
            ensure!(
                event("native_orders_2026").is_some(),
                "no event through the alias: {events:#?}"
            );
            produced = Some(());
            Ok(())
        },
    );
    checks.check(
        "native_assets: the assets show the task's inlets and outlets and the dags scheduled on them",
        || {
            let orders = api.asset_named("native_orders")?;
            ensure!(
                refers_to(&orders["producing_tasks"], "native_assets_produce", Some("produce")),
                "{orders}"
            );
            ensure!(
                refers_to(&orders["consuming_tasks"], "native_assets_consume", Some("consume")),
                "{orders}"
            );
            for dag in ["native_assets_consume", "native_assets_or_time"] {
                ensure!(refers_to(&orders["scheduled_dags"], dag, None), "{orders}");
            }
            let raw = api.asset_named("file:///data/raw/orders.csv")?;
            ensure!(
                raw["uri"] == "file:///data/raw/orders.csv"
                    && refers_to(&raw["consuming_tasks"], "native_assets_produce", Some("produce")),
                "{raw}"
            );
            for name in ["native_a", "native_b", "native_c"] {
                let a = api.asset_named(name)?;
                ensure!(
                    refers_to(&a["scheduled_dags"], "native_assets_condition", None),
                    "{a}"
                );
            }
            Ok(())
        },
    );
    checks.check(
        "native_assets_consume: the producer's event creates an asset_triggered run that succeeds",
        || {
            ensure!(produced.is_some(), "the producer's run did not succeed");
            let dag = "native_assets_consume";
            let runs = wait_ended_runs(api, dag, 1)?;
            ensure!(runs.len() == 1, "{runs:#?}");
            let run_id = asset_triggered_success(api, dag, &runs[0])?;
            ensure!(
                consumed(api, dag, &run_id)?
                    == [("native_orders".to_owned(), "assets_produce".to_owned())],
                "{run_id} consumed {:?}",
                consumed(api, dag, &run_id)
            );
            let seen = xcom(api, dag, &run_id, "consume", "return_value")?;
            ensure!(
                seen["run_type"] == "asset_triggered" && seen["rows"] == 3,
                "consume returned {seen}"
            );
            Ok(())
        },
    );
    checks.check(
        "native_assets_or_time: its details show the cron-or-assets timetable; the asset side triggers a run",
        || {
            ensure!(produced.is_some(), "the producer's run did not succeed");
            let dag = "native_assets_or_time";
            let d: Value = api.get(&format!("/api/v2/dags/{dag}/details"))?;
            ensure!(
                d["timetable_summary"] == "Asset or 0 0 1 1 *"
                    && d["timetable_description"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("Triggered by assets or At 00:00, on day 1")),
                "{d}"
            );
            ensure!(
                d["asset_expression"]["asset"]["name"] == "native_orders",
                "asset_expression: {}",
                d["asset_expression"]
            );
            // The cron side: next 1 January.
            ensure!(
                d["next_dagrun_run_after"]
                    .as_str()
                    .is_some_and(|t| t.contains("-01-01T00:00:00")),
                "next_dagrun_run_after: {}",
                d["next_dagrun_run_after"]
            );
            let runs = wait_ended_runs(api, dag, 1)?;
            ensure!(runs.len() == 1, "{runs:#?}");
            let run_id = asset_triggered_success(api, dag, &runs[0])?;
            let v = xcom(api, dag, &run_id, "report", "return_value")?;
            ensure!(v == json!("asset_triggered"), "report returned {v}");
            Ok(())
        },
    );
    checks.check(
        "native_assets_condition: a & (b | c): a alone creates no run, then b creates one, then a and c another",
        || {
            let (emit, dag) = ("native_assets_emit", "native_assets_condition");
            let emit_run = |run_id: &str, assets: &[&str]| -> Result<()> {
                api.trigger(emit, run_id, json!({"assets": assets}))?;
                api.wait_success(emit, run_id, RUN_TIMEOUT)?;
                Ok(())
            };
            emit_run("emit_a", &["native_a"])?;
            // The scheduler looks at queued asset events every loop (about a second).
            std::thread::sleep(Duration::from_secs(5));
            let runs = api.dag_runs(dag)?;
            ensure!(runs.is_empty(), "native_a alone created runs: {runs:#?}");
            emit_run("emit_b", &["native_b"])?;
            let runs = wait_ended_runs(api, dag, 1)?;
            ensure!(runs.len() == 1, "one run for a then b: {runs:#?}");
            let first = asset_triggered_success(api, dag, &runs[0])?;
            let want = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
                pairs
                    .iter()
                    .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
                    .collect()
            };
            let got = consumed(api, dag, &first)?;
            ensure!(
                got == want(&[("native_a", "emit_a"), ("native_b", "emit_b")]),
                "{first} consumed {got:?}"
            );
            emit_run("emit_ac", &["native_a", "native_c"])?;
            let runs = wait_ended_runs(api, dag, 2)?;
            ensure!(runs.len() == 2, "{runs:#?}");
            let second = asset_triggered_success(api, dag, &runs[1])?;
            let got = consumed(api, dag, &second)?;
            ensure!(
                got == want(&[("native_a", "emit_ac"), ("native_c", "emit_ac")]),
                "{second} consumed {got:?}"
            );
            Ok(())
        },
    );
}

/// `native_groups` (task groups declared in Rust): the REST API and the UI's graph see the
/// groups, the group defaults reach the tasks, and a run follows the dependencies written on
/// the groups.
fn native_groups_checks(api: &Api, checks: &mut Checks) {
    let dag = "native_groups";
    let grouped = ["stats.total", "stats.count", "stats.checks.positive"];
    checks.check(
        "native_groups: the REST API lists the grouped tasks by their prefixed ids, with the group defaults",
        || {
            api.wait_for_dags(&[dag], DAGS_TIMEOUT)?;
            let tasks: Value = api.get(&format!("/api/v2/dags/{dag}/tasks"))?;
            let mut ids: Vec<&str> = tasks["tasks"]
                .as_array()
                .context("no tasks")?
                .iter()
                .filter_map(|t| t["task_id"].as_str())
                .collect();
            ids.sort_unstable();
            ensure!(
                ids == ["extract", "report", "stats.checks.positive", "stats.count", "stats.total"],
                "{tasks}"
            );
            // The group's defaults (2 retries, owner stats-team) unless the task sets its own.
            for (task, owner, retries) in [
                ("stats.total", "stats-team", 2),
                ("stats.count", "stats-team", 2),
                ("stats.checks.positive", "qa", 2),
                ("report", "airflow", 0),
            ] {
                let t: Value = api.get(&format!("/api/v2/dags/{dag}/tasks/{task}"))?;
                ensure!(
                    t["owner"] == owner && t["retries"].as_f64() == Some(f64::from(retries)),
                    "{task}: {t}"
                );
            }
            let t: Value = api.get(&format!("/api/v2/dags/{dag}/tasks/extract"))?;
            let mut down: Vec<String> = serde_json::from_value(t["downstream_task_ids"].clone())?;
            down.sort();
            // extract >> stats: extract runs before the group's roots.
            ensure!(
                down == ["stats.checks.positive", "stats.count", "stats.total"],
                "{t}"
            );
            Ok(())
        },
    );
    checks.check(
        "native_groups: the graph (structure_data) shows the nested task groups and the edges to them",
        || {
            let s: Value = api.get(&format!("/ui/structure/structure_data?dag_id={dag}"))?;
            let node = |nodes: &Value, id: &str| -> Result<Value> {
                nodes
                    .as_array()
                    .and_then(|n| n.iter().find(|n| n["id"] == id))
                    .cloned()
                    .with_context(|| format!("no node {id:?} in {nodes}"))
            };
            let child_ids = |n: &Value| -> Vec<String> {
                n["children"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .filter(|c| c["type"] == "task")
                            .filter_map(|c| c["id"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let stats = node(&s["nodes"], "stats")?;
            ensure!(
                stats["tooltip"] == "Summary statistics of the readings"
                    && child_ids(&stats) == ["stats.checks", "stats.count", "stats.total"],
                "{stats}"
            );
            let checks_group = node(&stats["children"], "stats.checks")?;
            ensure!(
                checks_group["label"] == "Sanity checks"
                    && child_ids(&checks_group) == ["stats.checks.positive"],
                "{checks_group}"
            );
            let publish = node(&s["nodes"], "publish")?;
            ensure!(child_ids(&publish) == ["report"], "{publish}");
            // The edges written on the groups: to and between the groups' join nodes.
            let edges: Vec<(String, String)> = s["edges"]
                .as_array()
                .context("no edges")?
                .iter()
                .map(|e| {
                    (
                        e["source_id"].as_str().unwrap_or_default().to_owned(),
                        e["target_id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            for (from, to) in [
                ("extract", "stats.upstream_join_id"),
                ("stats.downstream_join_id", "publish.upstream_join_id"),
            ] {
                ensure!(
                    edges.contains(&(from.to_owned(), to.to_owned())),
                    "no edge {from} -> {to}: {edges:?}"
                );
            }
            Ok(())
        },
    );
    checks.check(
        "native_groups: the grouped tasks run in dependency order and succeed with their XComs",
        || {
            let run_id = "groups_run";
            api.run_to_success(dag, run_id, json!({}), RUN_TIMEOUT)?;
            for (task, want) in [
                ("stats.total", json!(108)),
                ("stats.count", json!(6)),
                ("stats.checks.positive", json!(true)),
                ("report", json!("6 readings, total 108")),
            ] {
                let got = xcom(api, dag, run_id, task, "return_value")?;
                ensure!(got == want, "{task} returned {got}, want {want}");
            }
            let tis = api.task_instances(dag, run_id)?;
            let at = |task: &str, end: bool| -> Result<f64> {
                let ti = tis
                    .iter()
                    .find(|t| t.task_id == task)
                    .with_context(|| format!("no task instance {task}"))?;
                ensure!(ti.state.as_deref() == Some("success"), "{task}: {ti:?}");
                unix_seconds(if end {
                    ti.end_date.as_deref()
                } else {
                    ti.start_date.as_deref()
                })
            };
            for task in grouped {
                ensure!(
                    at(task, false)? >= at("extract", true)?,
                    "{task} started before extract ended: {tis:?}"
                );
                ensure!(
                    at("report", false)? >= at(task, true)?,
                    "report started before {task} ended: {tis:?}"
                );
            }
            Ok(())
        },
    );
}

/// The `execution_timeout` the `testing_timeout` and `native_timeout` tasks declare, seconds.
const DECLARED_TIMEOUT: f64 = 3.0;
/// How much longer than its limit an overrunning try may take to end (issue 19: "a timeout fails
/// a sleeping task within the limit plus 5 s").
const TIMEOUT_SLACK: f64 = 5.0;

/// One run of `dag`, whose `tasks` each overrun their 3 s limit by sleeping a minute: every try
/// ends within the limit plus 5 s (not after the minute), failed or up for retry as declared
/// (`tries` of each), with Python's timeout wording in its log.
fn timeout_checks(api: &Api, checks: &mut Checks, dag: &str, tasks: &[(&str, u32, &str)]) {
    let mut ended = None;
    checks.check(&format!("{dag}: the run ends failed"), || {
        api.wait_for_dags(&[dag], DAGS_TIMEOUT)?;
        api.trigger(dag, "timeout", json!({}))?;
        let run = api.wait_run(dag, "timeout", RUN_TIMEOUT)?;
        ensure!(
            run.state == "failed",
            "run ended {}: {}",
            run.state,
            api.explain_run(dag, "timeout")
        );
        ended = Some(());
        Ok(())
    });
    if ended.is_none() {
        return;
    }
    for &(task, want_tries, marker) in tasks {
        checks.check(
            &format!(
                "{dag}/{task}: each try times out within the limit plus 5 s, retried as declared"
            ),
            || {
                // Airflow knows the limit too (from the stub, or the native declaration).
                let declared: Value = api.get(&format!("/api/v2/dags/{dag}/tasks/{task}"))?;
                let limit = &declared["execution_timeout"];
                ensure!(
                    limit["days"] == 0 && limit["seconds"] == 3 && limit["microseconds"] == 0,
                    "Airflow shows the execution_timeout {limit}"
                );
                let tries = api.tries(dag, "timeout", task)?;
                let seen: Vec<_> = tries
                    .iter()
                    .map(|t| (t.try_number, t.state.clone(), t.duration()))
                    .collect();
                eprintln!("{dag}/{task}: {seen:?}");
                ensure!(
                    tries.len() == want_tries as usize,
                    "{task}'s tries: {seen:?}"
                );
                for (i, t) in tries.iter().enumerate() {
                    let last = i + 1 == tries.len();
                    let want = if last { "failed" } else { "up_for_retry" };
                    // The history keeps a retried try's state as it ended.
                    ensure!(
                        t.state.as_deref() == Some(want)
                            || (!last && t.state.as_deref() == Some("failed")),
                        "try {} is {:?}, want {want}: {seen:?}",
                        t.try_number,
                        t.state
                    );
                    let log = api.wait_log(
                        dag,
                        "timeout",
                        task,
                        t.try_number,
                        &["execution_timeout of 3 s"],
                    )?;
                    // From the task's first record (the limit counts from when the function
                    // starts) to the end Airflow recorded. Airflow's own duration also counts
                    // the coordinator starting the bundle, which takes seconds on a loaded
                    // machine.
                    let started = unix_seconds(log.expect(marker)?.timestamp.as_deref())?;
                    let took = unix_seconds(t.end_date.as_deref())? - started;
                    eprintln!(
                        "{dag}/{task} try {}: ended {took:.2} s after its first record \
                         (Airflow's duration {:.2?} s)",
                        t.try_number,
                        t.duration()
                    );
                    ensure!(
                        (DECLARED_TIMEOUT..DECLARED_TIMEOUT + TIMEOUT_SLACK).contains(&took),
                        "try {} ended {took:.1} s after it started, want {DECLARED_TIMEOUT}..{} s",
                        t.try_number,
                        DECLARED_TIMEOUT + TIMEOUT_SLACK
                    );
                    expect_record(&log, "info", marker, &[])?;
                    expect_record(
                        &log,
                        "error",
                        "Process timed out",
                        &[("timeout_seconds", json!(3.0))],
                    )?;
                    expect_record(
                        &log,
                        "error",
                        "task failed: AirflowTaskTimeout: Timeout, PID: ",
                        &[],
                    )?;
                    expect_record(
                        &log,
                        "error",
                        "the task ran longer than its execution_timeout of 3 s",
                        &[],
                    )?;
                    ensure!(
                        log.find("the task will be retried").is_some() != last,
                        "try {} of {}: retry announced wrongly:\n{log}",
                        t.try_number,
                        tries.len()
                    );
                }
                Ok(())
            },
        );
    }
}

/// The stub tasks of `testing_timeout`: one blocked in `sleep` (retried once), one async.
const STUB_TIMEOUT_TASKS: &[(&str, u32, &str)] = &[
    (
        "sleep_past_timeout",
        2,
        "blocking past the execution timeout",
    ),
    (
        "async_sleep_past_timeout",
        1,
        "sleeping asynchronously past the execution timeout",
    ),
];

/// Execution timeouts, in the example deployment (its stub dags and, on 3.4, example-typed):
/// every overrunning try ends within its limit plus [`TIMEOUT_SLACK`], failed or up for retry
/// as declared. Run after the other scenarios, so no other run loads the machine meanwhile.
fn execution_timeout_checks(dep: &Deployment, release: Release, checks: &mut Checks) {
    timeout_checks(&dep.api, checks, "testing_timeout", STUB_TIMEOUT_TASKS);
    checks.check("the async task's future was dropped", || {
        let log = dep.api.wait_log(
            "testing_timeout",
            "timeout",
            "async_sleep_past_timeout",
            1,
            &["dropped"],
        )?;
        expect_record(&log, "info", "the async task's future was dropped", &[])
    });
    if release == Release::V3_4 {
        // example-typed's schema 2026-10-30 has SetExecutionTimeout.
        timeout_checks(
            &dep.api,
            checks,
            "native_timeout",
            &[(
                "sleep_past_timeout",
                2,
                "blocking past the execution timeout",
            )],
        );
        timeout_checks(
            &dep.api,
            checks,
            "example_typed_timeout",
            &[("overrun", 1, "blocking past the execution timeout")],
        );
        checks.check(
            "the 3.4 supervisor answered SetExecutionTimeout (schema 2026-10-30)",
            || {
                let log = dep.api.wait_log(
                    "example_typed_timeout",
                    "timeout",
                    "overrun",
                    1,
                    &["execution_timeout of 3 s"],
                )?;
                // An unanswered or refused message is logged as a warning (after the request
                // timeout) before the task starts.
                ensure!(
                    log.find("SetExecutionTimeout").is_none(),
                    "the supervisor did not take SetExecutionTimeout:\n{log}"
                );
                Ok(())
            },
        );
    }
    checks.check("no bundle process outlives its task", || {
        no_bundle_process_left(dep)
    });
}
