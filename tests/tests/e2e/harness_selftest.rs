//! Checks of the harness itself, with a tiny Python fake runtime (tests/harness/selftest), so a
//! failure in the runtime tests can be told apart from a broken harness.

use std::process::Command;

use airflow_e2e::harness::{RunOptions, Via};
use airflow_e2e::{harness_dir, venv};
use anyhow::{Context, Result, ensure};
use serde_json::json;

fn fake_bundles() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("airflow-e2e-fake-")
        .tempdir()?;
    let python = venv::python()?;
    let status = Command::new(&python)
        .arg(harness_dir().join("selftest").join("pack_fake.py"))
        .arg(dir.path().join("fake"))
        .arg(&python)
        .args(["--dag", "fake_dag=succeed,fail,io,sleep"])
        .status()
        .context("running pack_fake.py")?;
    ensure!(status.success(), "pack_fake.py failed: {status}");
    Ok(dir)
}

#[test]
fn harness_reports_success_logs_and_failure() -> Result<()> {
    let dir = fake_bundles()?;
    let run = RunOptions::new(dir.path(), "fake_dag", "succeed").run()?;
    assert_eq!(run.api_state(), Some("success"), "{run}");
    assert_eq!(run.supervisor_state.as_deref(), Some("success"), "{run}");
    let careful = run
        .log_containing("careful")
        .expect("log record from the logs socket");
    assert_eq!(careful.level.as_deref(), Some("warning"));
    assert_eq!(careful.logger.as_deref(), Some("fake_child"));
    assert_eq!(careful.field("answer"), Some(&json!(42)));
    assert_eq!(
        run.logs_from("task.stdout").next().unwrap().message(),
        "hello from stdout"
    );
    assert_eq!(
        run.logs_from("task.stderr")
            .next()
            .unwrap()
            .level
            .as_deref(),
        Some("error")
    );

    let run = RunOptions::new(dir.path(), "fake_dag", "fail")
        .should_retry(true)
        .conf(json!({"x": 1}))
        .run()?;
    assert_eq!(run.api_state(), Some("up_for_retry"), "{run}");
    assert_eq!(
        run.log_containing("starting").unwrap().field("conf"),
        Some(&json!({"x": 1}))
    );
    Ok(())
}

#[test]
fn harness_serves_variables_connections_xcoms_via_supervise_task() -> Result<()> {
    let dir = fake_bundles()?;
    let run = RunOptions::new(dir.path(), "fake_dag", "io")
        .via(Via::SuperviseTask)
        .variable("my_var", "hello")
        .connection(
            "my_conn",
            json!({"conn_type": "postgres", "host": "db", "port": 5432}),
        )
        .xcom(
            "fake_dag",
            "manual__e2e",
            "upstream",
            "seeded",
            json!({"n": [1, 2]}),
        )
        .run()?;
    assert_eq!(run.api_state(), Some("success"), "{run}");
    assert_eq!(
        run.xcom("io", "return_value"),
        Some(
            &json!({"var": "hello", "missing": "VARIABLE_NOT_FOUND", "port": 5432, "up": {"n": [1, 2]}})
        ),
        "{run}"
    );
    assert!(
        run.api_call_lines()
            .contains(&"GET /variables/missing_var".to_owned())
    );
    Ok(())
}

#[cfg(unix)]
#[test]
fn harness_sigterm_reaches_the_bundle() -> Result<()> {
    let dir = fake_bundles()?;
    let run = RunOptions::new(dir.path(), "fake_dag", "sleep")
        .sigterm_when_logged("starting")
        .run()?;
    assert_eq!(run.sigterm_sent_to.len(), 1, "{run}");
    assert!(run.log_containing("got SIGTERM").is_some(), "{run}");
    assert_eq!(run.api_state(), Some("failed"), "{run}");
    Ok(())
}

/// The shared executables_root for runtime tests holds exactly the packed example, and Airflow
/// finds it there for every dag id.
#[test]
fn shared_example_bundle_dir_holds_only_the_packed_example() -> Result<()> {
    let dir = airflow_e2e::pack::example_bundle_dir()?;
    let metadata = airflow_e2e::fixture::metadata_of(&airflow_e2e::fixture::example_executable()?)?;
    let ids: Vec<&String> = metadata.dags.keys().collect();
    let report = airflow_e2e::harness::reader(&[&dir], &ids)?;
    let names: Vec<_> = report.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(report.files[0].accepted, "{report:#?}");
    for id in ids {
        assert_eq!(report.lookup(id).path.as_ref(), Some(&names[0]));
    }
    Ok(())
}
