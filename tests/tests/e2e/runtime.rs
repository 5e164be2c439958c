//! The airflow-sdk runtime under the released supervisor: the example bundle, packed by
//! `cargo airflow pack`, runs each case through 1.3.2's `ExecutableCoordinator` against the
//! mocked Task Execution API. Cases are judged by the state the API server was told.

use std::path::PathBuf;
use std::time::Duration;

use airflow_e2e::harness::{DEFAULT_RUN_ID, RunOptions, TaskRun, Via};
use airflow_e2e::pack;
use anyhow::Result;
use serde_json::{Value, json};

fn bundles() -> PathBuf {
    pack::example_bundle_dir().expect("packing the example bundle")
}

fn run(task_id: &str, f: impl FnOnce(RunOptions) -> RunOptions) -> Result<TaskRun> {
    f(RunOptions::new(bundles(), "testing", task_id)).run()
}

/// The single state PATCH the API server got.
fn only_state(run: &TaskRun) -> &str {
    assert_eq!(
        run.state_patches.len(),
        1,
        "exactly one state report: {run}"
    );
    run.api_state().expect("a state was reported")
}

#[test]
fn success_is_reported_with_its_log() -> Result<()> {
    let run = run("succeed", |o| o)?;
    assert_eq!(only_state(&run), "success", "{run}");
    assert_eq!(run.exit_code, Some(0), "{run}");
    let done = run
        .log_containing("nothing to do, done")
        .expect("the task's record");
    assert_eq!(done.level.as_deref(), Some("info"));
    assert_eq!(done.logger.as_deref(), Some("example_bundle::testing"));
    assert!(
        run.xcom("succeed", "return_value").is_none(),
        "() pushes nothing: {run}"
    );
    Ok(())
}

#[test]
fn success_through_supervise_task() -> Result<()> {
    let run = run("return_complex", |o| o.via(Via::SuperviseTask))?;
    assert_eq!(only_state(&run), "success", "{run}");
    Ok(())
}

#[test]
fn errors_fail_or_retry() -> Result<()> {
    let failed = run("fail", |o| o)?;
    assert_eq!(only_state(&failed), "failed", "{failed}");
    let record = failed
        .log_containing("failing on purpose")
        .expect("the error is logged");
    assert_eq!(record.level.as_deref(), Some("error"), "{failed}");

    let retried = run("fail", |o| o.should_retry(true))?;
    assert_eq!(only_state(&retried), "up_for_retry", "{retried}");
    assert_eq!(
        retried.state_patches[0]["retry_reason"],
        json!("failing on purpose"),
        "{retried}"
    );

    let no_retry = run("fail_no_retry", |o| o.should_retry(true))?;
    assert_eq!(only_state(&no_retry), "failed", "{no_retry}");

    let io = run("io_error", |o| o)?;
    assert_eq!(only_state(&io), "failed", "{io}");
    assert!(
        io.log_containing("No such file or directory").is_some(),
        "{io}"
    );
    Ok(())
}

#[test]
fn panics_are_caught_and_reported() -> Result<()> {
    let failed = run("panic", |o| o)?;
    assert_eq!(only_state(&failed), "failed", "{failed}");
    assert_eq!(failed.exit_code, Some(0), "{failed}");
    let record = failed
        .log_containing("boom from a task")
        .expect("panic logged");
    assert_eq!(record.level.as_deref(), Some("error"));

    let retried = run("panic", |o| o.should_retry(true))?;
    assert_eq!(only_state(&retried), "up_for_retry", "{retried}");
    Ok(())
}

#[test]
fn skipped_and_unknown_task() -> Result<()> {
    let skipped = run("skip", |o| o.should_retry(true))?;
    assert_eq!(only_state(&skipped), "skipped", "{skipped}");
    assert!(
        skipped.log_containing("nothing to process today").is_some(),
        "{skipped}"
    );

    // Failed, never retried, naming the tasks the dag has.
    let unknown = run("no_such_task", |o| o.should_retry(true))?;
    assert_eq!(only_state(&unknown), "failed", "{unknown}");
    assert!(
        unknown.log_containing("fail_no_retry").is_some(),
        "{unknown}"
    );
    let unknown = RunOptions::new(bundles(), "example_etl", "no_such_task").run()?;
    assert_eq!(only_state(&unknown), "failed", "{unknown}");
    assert!(
        unknown.log_containing("extract, transform, load").is_some(),
        "{unknown}"
    );
    Ok(())
}

#[test]
fn xcoms_are_pushed_and_pulled() -> Result<()> {
    let complex = run("return_complex", |o| o)?;
    assert_eq!(only_state(&complex), "success", "{complex}");
    assert_eq!(
        complex.xcom("return_complex", "return_value"),
        Some(
            &json!({"answer": 42, "xs": [1, 2.5, -3], "nested": {"ok": true, "none": null}, "s": "héllo"})
        ),
        "{complex}"
    );

    let seeded = json!({"n": [1, 2, 3], "s": "x"});
    let pp = run("push_pull", |o| {
        o.xcom(
            "testing",
            DEFAULT_RUN_ID,
            "upstream",
            "seeded",
            seeded.clone(),
        )
    })?;
    assert_eq!(only_state(&pp), "success", "{pp}");
    assert_eq!(
        pp.xcom("push_pull", "custom"),
        Some(&json!({"pushed": [1, 2, 3]})),
        "{pp}"
    );
    assert_eq!(
        pp.xcom("push_pull", "return_value"),
        Some(&json!({"seeded": seeded, "missing_is_none": true})),
        "{pp}"
    );
    Ok(())
}

#[test]
fn variables_and_connections() -> Result<()> {
    let r = run("read_var_conn", |o| {
        o.variable("my_var", "hello").connection(
            "my_conn",
            json!({"conn_type": "postgres", "host": "db.example", "schema": "public",
                   "login": "u", "password": "s3cret", "port": 5432,
                   "extra": {"sslmode": "require"}}),
        )
    })?;
    assert_eq!(only_state(&r), "success", "{r}");
    assert_eq!(
        r.xcom("read_var_conn", "return_value"),
        Some(&json!({
            "var": "hello",
            "missing_var_is_none": true,
            "conn": {"conn_id": "my_conn", "conn_type": "postgres", "host": "db.example",
                     "schema": "public", "login": "u", "password": "s3cret", "port": 5432,
                     "extra": {"sslmode": "require"}},
            "missing_conn_is_none": true,
        })),
        "{r}"
    );

    // Nothing defined: both come back as "not found", not as errors.
    let r = run("read_var_conn", |o| o)?;
    assert_eq!(only_state(&r), "success", "{r}");
    let v = r.xcom("read_var_conn", "return_value").expect("pushed");
    assert_eq!(v["var"], Value::Null, "{r}");
    assert_eq!(v["conn"], Value::Null, "{r}");

    let r = run("require_var", |o| o)?;
    assert_eq!(only_state(&r), "failed", "{r}");
    assert!(r.log_containing("missing_var is not set").is_some(), "{r}");
    Ok(())
}

#[test]
fn log_records_have_levels_fields_and_are_filtered() -> Result<()> {
    let r = run("log_levels", |o| o)?;
    assert_eq!(only_state(&r), "success", "{r}");
    let info = r.log_containing("an info record").expect("info record");
    assert_eq!(info.level.as_deref(), Some("info"));
    assert_eq!(info.logger.as_deref(), Some("example_bundle::testing"));
    assert!(info.timestamp.is_some(), "{r}");
    assert_eq!(info.field("rows"), Some(&json!(3)));
    assert_eq!(info.field("ratio"), Some(&json!(0.5)));
    assert_eq!(info.field("ok"), Some(&json!(true)));
    assert_eq!(info.field("table"), Some(&json!("orders")));
    let warning = r
        .log_containing("a warning record")
        .expect("warning record");
    assert_eq!(warning.level.as_deref(), Some("warning"));
    assert_eq!(
        warning.field("field.msg"),
        Some(&json!("user field named msg"))
    );
    assert_eq!(
        warning.field("field.target"),
        Some(&json!("user field named target"))
    );
    assert_eq!(warning.field("msg"), None);
    assert_eq!(warning.field("target"), None);
    let error = r.log_containing("an error record").expect("error record");
    assert_eq!(error.level.as_deref(), Some("error"));
    assert!(
        r.log_containing("a debug record").is_none(),
        "INFO is the default: {r}"
    );
    assert_eq!(
        r.logs_from("task.stdout")
            .next()
            .map(|l| l.message())
            .as_deref(),
        Some("a line on stdout")
    );
    assert!(r.log_containing("a line on stderr").is_some(), "{r}");

    let r = run("log_levels", |o| {
        o.env("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG")
            .env("AIRFLOW__LOGGING__NAMESPACE_LEVELS", "chatty=WARNING")
    })?;
    assert_eq!(only_state(&r), "success", "{r}");
    let debug = r
        .log_containing("a debug record")
        .expect("debug record at DEBUG");
    assert_eq!(debug.level.as_deref(), Some("debug"));
    assert_eq!(debug.field("detail"), Some(&json!(1)));
    assert!(
        r.log_containing("a debug record from chatty").is_none(),
        "{r}"
    );

    let r = run("log_levels", |o| {
        o.env("AIRFLOW__LOGGING__NAMESPACE_LEVELS", "example_bundle=ERROR")
    })?;
    assert_eq!(only_state(&r), "success", "{r}");
    assert!(r.log_containing("an error record").is_some(), "{r}");
    assert!(r.log_containing("an info record").is_none(), "{r}");
    assert!(r.log_containing("a warning record").is_none(), "{r}");
    Ok(())
}

#[test]
fn sigterm_stops_a_long_task() -> Result<()> {
    for (should_retry, want) in [(false, "failed"), (true, "up_for_retry")] {
        let r = run("sleep_until_cancelled", |o| {
            o.should_retry(should_retry)
                .sigterm_when_logged("sleeping until cancelled")
                .timeout(Duration::from_secs(40))
        })?;
        assert!(!r.timed_out, "{r}");
        assert_eq!(only_state(&r), want, "{r}");
        assert_eq!(r.exit_code, Some(0), "{r}");
        assert!(r.duration_s < 20.0, "{r}");
    }
    // A task that ignores the request is reported anyway, within the grace period.
    let r = run("ignore_sigterm", |o| {
        o.sigterm_when_logged("deaf to SIGTERM")
            .timeout(Duration::from_secs(40))
    })?;
    assert!(!r.timed_out, "{r}");
    assert_eq!(only_state(&r), "failed", "{r}");
    assert!(r.log_containing("did not stop").is_some(), "{r}");
    Ok(())
}

#[test]
fn context_facts_match_the_run() -> Result<()> {
    let r = run("context_facts", |o| {
        o.conf(json!({"region": "eu"})).try_number(2)
    })?;
    assert_eq!(only_state(&r), "success", "{r}");
    let f = r.xcom("context_facts", "return_value").expect("pushed");
    assert_eq!(f["ti_id"], json!(r.ti_id), "{r}");
    assert_eq!(f["dag_id"], json!("testing"));
    assert_eq!(f["task_id"], json!("context_facts"));
    assert_eq!(f["run_id"], json!(DEFAULT_RUN_ID));
    assert_eq!(f["try_number"], json!(2));
    assert_eq!(f["map_index"], Value::Null);
    assert_eq!(f["run_type"], json!("manual"));
    assert_eq!(f["conf"], json!({"region": "eu"}));
    assert_eq!(f["start_date_set"], json!(true));
    let logical = f["logical_date"].as_str().expect("a logical date");
    assert!(logical.ends_with('Z'), "{logical}");
    assert_eq!(f["data_interval_end"], f["logical_date"]);
    Ok(())
}

#[test]
fn example_pipeline_passes_data_and_fails_on_request() -> Result<()> {
    let b = bundles();
    let extract = RunOptions::new(&b, "example_etl", "extract").run()?;
    assert_eq!(only_state(&extract), "success", "{extract}");
    let orders = extract
        .xcom("extract", "return_value")
        .expect("orders")
        .clone();
    assert_eq!(orders.as_array().map(Vec::len), Some(3), "{extract}");

    let transform = RunOptions::new(&b, "example_etl", "transform")
        .xcom(
            "example_etl",
            DEFAULT_RUN_ID,
            "extract",
            "return_value",
            orders.clone(),
        )
        .run()?;
    assert_eq!(only_state(&transform), "success", "{transform}");
    let totals = transform
        .xcom("transform", "return_value")
        .expect("totals")
        .clone();
    assert_eq!(
        totals,
        json!({"per_customer": {"ada": 2249, "brian": 300}, "orders": 3})
    );

    let failing = RunOptions::new(&b, "example_etl", "transform")
        .conf(json!({"fail": true}))
        .should_retry(true)
        .xcom(
            "example_etl",
            DEFAULT_RUN_ID,
            "extract",
            "return_value",
            orders,
        )
        .run()?;
    assert_eq!(only_state(&failing), "up_for_retry", "{failing}");

    let load = RunOptions::new(&b, "example_etl", "load")
        .xcom(
            "example_etl",
            DEFAULT_RUN_ID,
            "transform",
            "return_value",
            totals,
        )
        .connection(
            "example_warehouse",
            json!({"conn_type": "postgres", "host": "wh", "extra": {"table": "t"}}),
        )
        .run()?;
    assert_eq!(only_state(&load), "success", "{load}");
    assert_eq!(load.xcom("load", "loaded_rows"), Some(&json!(2)), "{load}");
    let rec = load.log_containing("loading totals").expect("logged");
    assert_eq!(rec.field("host"), Some(&json!("wh")));
    assert_eq!(rec.field("table"), Some(&json!("t")));
    Ok(())
}
