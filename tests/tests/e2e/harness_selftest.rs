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

/// The pids a command run under `owned.py` printed, one per line.
fn pids(text: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Whether `pid` is still a process (a zombie counts as gone: it runs nothing).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Waits up to 20 s for every pid to be gone; names those left.
fn all_gone(pids: &[u32]) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "still running: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Waits up to 60 s for `owned.py` to exit; kills it and fails after that.
fn wait_bounded(child: &mut std::process::Child) -> Result<std::process::ExitStatus> {
    use wait_timeout::ChildExt;
    match child.wait_timeout(std::time::Duration::from_secs(60))? {
        Some(status) => Ok(status),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("owned.py did not exit within 60 s")
        }
    }
}

/// A command that leaves processes behind, one of them in a session of its own (as a task
/// supervisor may be): it prints their pids, then waits (or, with `exit`, exits at once).
fn leaver(then: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "sleep 300 & echo $!; setsid sleep 300 & echo $!; (sleep 300 & echo $!; wait) & {then}"
    ));
    cmd
}

/// `airflow dags test` and its workers must not outlive a test that stops early (the
/// deployment tests run it under `owned.py`): when the caller's pipe closes (a timeout here; a
/// failed, panicking or killed test likewise), every process the command started is stopped,
/// even one in its own session.
#[cfg(target_os = "linux")]
#[test]
fn an_owned_command_is_stopped_with_everything_it_started() -> Result<()> {
    use airflow_e2e::deploy::run_owned;
    let python = venv::python()?;

    // The caller goes (here: its timeout closes the pipe) while the command still runs.
    let mut sh = leaver("echo $$; wait");
    sh.stdout(std::process::Stdio::piped());
    let err = run_owned(&python, &sh, std::time::Duration::from_secs(3)).unwrap_err();
    ensure!(
        err.to_string().contains("did not finish within 3 s"),
        "{err}"
    );

    // Run by hand to see the pids, and stopped by SIGTERM (as nextest stops a test's group).
    let mut owned = Command::new(&python);
    owned
        .arg(harness_dir().join("owned.py"))
        .arg("--grace=2")
        .arg("--")
        .args([
            "sh",
            "-c",
            "sleep 300 & echo $!; setsid sleep 300 & echo $!; echo $$; wait",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = owned.spawn()?;
    let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
    let mut started = Vec::new();
    while started.len() < 3 {
        let mut line = String::new();
        ensure!(
            std::io::BufRead::read_line(&mut out, &mut line)? > 0,
            "owned.py ended early"
        );
        started.extend(pids(line.as_bytes()));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    ensure!(status.success());
    let code = wait_bounded(&mut child)?.code();
    ensure!(code == Some(143), "owned.py exited with {code:?}");
    all_gone(&started)?;

    // The caller's pipe closes (the test process died) while the command runs.
    let mut child = owned.spawn()?;
    let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
    let mut started = Vec::new();
    while started.len() < 3 {
        let mut line = String::new();
        ensure!(
            std::io::BufRead::read_line(&mut out, &mut line)? > 0,
            "owned.py ended early"
        );
        started.extend(pids(line.as_bytes()));
    }
    drop(child.stdin.take());
    wait_bounded(&mut child)?;
    all_gone(&started)?;

    // A command that exits at once leaves nothing behind either (what `dags test` leaves).
    let done = run_owned(
        &python,
        &leaver("sleep 1; exit 0"),
        std::time::Duration::from_secs(60),
    )?;
    ensure!(done.status.success(), "{:?}", done.status);
    let left = pids(&done.stdout);
    ensure!(
        left.len() == 3,
        "{:?}",
        String::from_utf8_lossy(&done.stdout)
    );
    all_gone(&left)
}

/// A command stopped because it hung says where: its Python processes print their stacks (the
/// clue CI gives when `airflow dags test` hangs), the command's own last.
#[cfg(target_os = "linux")]
#[test]
fn a_hung_python_command_prints_where_each_process_waits() -> Result<()> {
    use airflow_e2e::deploy::run_owned;
    let python = venv::python()?;
    let mut cmd = Command::new(&python);
    cmd.args([
        "-c",
        "import multiprocessing, time\n\
         def child_waits():\n    time.sleep(300)\n\
         p = multiprocessing.get_context('fork').Process(target=child_waits)\n\
         p.start()\nprint('started', flush=True)\np.join()\n",
    ]);
    let err = run_owned(&python, &cmd, std::time::Duration::from_secs(3)).unwrap_err();
    let text = format!("{err:#}");
    ensure!(text.contains("did not finish within 3 s"), "{text}");
    ensure!(
        text.contains("started"),
        "what it printed is missing: {text}"
    );
    let (child, parent) = (
        text.find("in child_waits").context(text.clone())?,
        text.rfind("in join").context(text.clone())?,
    );
    ensure!(
        child < parent,
        "the command's own stacks are not last: {text}"
    );
    Ok(())
}
