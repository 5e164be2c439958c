//! The task API (example-bundle/src/task_api.rs) in a real Airflow 3.3.2 deployment: each
//! scenario asserts the effect on Airflow's side through the REST API (Variables written, tasks
//! skipped, runs triggered, asset events recorded, secrets masked in the task log).
//!
//! One deployment, one run of `task_api` (plus the runs it causes), [`Checks`] for every
//! scenario. The request latency figures (Rust `GetVariable` against Python `Variable.get`, in
//! the same deployment) are printed and written to `<target>/task-api-latency.json`;
//! `scripts/bench-request-latency.sh` checks the 2x budget on them.

use std::time::Duration;

use airflow_e2e::deploy::{Api, Checks, DeployOptions, Deployment};
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

const RUN_TIMEOUT: Duration = Duration::from_secs(420);
const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
const DAG: &str = "task_api";
const RUN: &str = "api";

const CONN_PASSWORD: &str = "hunter2-secret-pw";
const API_KEY_VALUE: &str = "apikey-value-7c1d";
const PLAIN_VALUE: &str = "plain-visible-value";
const OWN_SECRET: &str = "own-secret-value-9f3b";
// Extras in unsorted key order: `uri()` must keep the order Python keeps.
const ENV_URI: &str =
    "postgres://envuser:env%40pw@env.example:6543/envdb?sslmode=require&application_name=etl";
const ENV_JSON: &str = r#"{"conn_type": "http", "host": "json.example", "port": 8080, "login": "j", "password": "jsonpw-123", "extra": {"n": 1, "a": "b"}}"#;

fn xcom(api: &Api, dag: &str, run: &str, task: &str, key: &str) -> Result<Value> {
    api.xcom(dag, run, task, key)?
        .with_context(|| format!("{dag}/{run}/{task} has no XCom {key:?}"))
}

fn state_of(api: &Api, dag: &str, run: &str, task: &str) -> Result<Option<String>> {
    Ok(api.task_instance(dag, run, task)?.state)
}

fn expect_success(api: &Api, tasks: &[&str]) -> Result<()> {
    for t in tasks {
        let s = state_of(api, DAG, RUN, t)?;
        ensure!(
            s.as_deref() == Some("success"),
            "{DAG}/{RUN}/{t} is {s:?}; all: {}",
            api.explain_run(DAG, RUN)
        );
    }
    Ok(())
}

/// The bucket of the S3 connection `ta_s3` (on the moto server the test starts).
const BUCKET: &str = "rust-task-api";

/// The object-store checks' own places: the `fs` connection's directory and the S3 server.
struct Objects {
    dir: std::path::PathBuf,
    s3: MotoServer,
}

/// `moto_server` (an S3-compatible server from PyPI) on a free loopback port, stopped on drop.
struct MotoServer {
    child: std::process::Child,
    server: std::path::PathBuf,
    endpoint: String,
}

impl MotoServer {
    fn start() -> Result<MotoServer> {
        let server = airflow_e2e::venv::moto_server()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(airflow_e2e::target_dir().join("task-api-moto.log"))?;
        let child = std::process::Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", server.display()))?;
        let s3 = MotoServer {
            child,
            server,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // object_store makes no buckets: S3's CreateBucket (moto checks no signature).
        let r = ureq::put(&format!("{}/{BUCKET}", s3.endpoint)).send_empty()?;
        ensure!(r.status() == 200, "CreateBucket answered {}", r.status());
        Ok(s3)
    }

    /// The object's content as the S3 server holds it, read by boto3 (the client Airflow's S3
    /// hooks use), which moto's venv has: moto answers unsigned reads of objects with 403.
    fn object(&self, key: &str) -> Result<String> {
        let python = self.server.with_file_name("python");
        let out = std::process::Command::new(&python)
            .args([
                "-c",
                "import sys, boto3; s3 = boto3.client('s3', endpoint_url=sys.argv[1], \
                 aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1'); \
                 sys.stdout.write(s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])['Body'].read().decode())",
                &self.endpoint,
                BUCKET,
                key,
            ])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        ensure!(
            out.status.success(),
            "boto3 could not read {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn define_inputs(api: &Api, objects: &Objects) -> Result<()> {
    api.set_connection(
        "ta_fs",
        json!({"conn_type": "fs", "extra": json!({"path": objects.dir}).to_string()}),
    )?;
    api.set_connection(
        "ta_s3",
        json!({"conn_type": "aws", "login": "rust-key-id", "password": "rust-secret-key",
               "extra": json!({"endpoint_url": objects.s3.endpoint, "region_name": "us-east-1",
                               "service_config": {"s3": {"bucket_name": BUCKET}}}).to_string()}),
    )?;
    api.set_variable("ta_to_delete", "doomed")?;
    api.set_variable("ta_api_key", API_KEY_VALUE)?;
    api.set_variable("ta_plain", PLAIN_VALUE)?;
    api.set_variable("ta_latency", "x")?;
    for t in 0..8 {
        api.set_variable(&format!("ta_conc_{t}"), &format!("value-{t}"))?;
    }
    api.set_connection(
        "ta_conn",
        json!({"conn_type": "http", "host": "api.example", "schema": "https", "port": 8443,
               "login": "me", "password": CONN_PASSWORD, "extra": "{\"timeout\": 5}"}),
    )
}

fn scenarios(dep: &Deployment, objects: &Objects) -> Result<()> {
    let api = &dep.api;
    api.wait_for_dags(&[DAG, "task_api_target", "task_api_consumer"], DAGS_TIMEOUT)?;
    define_inputs(api, objects)?;
    let n: u64 = std::env::var("TASK_API_LATENCY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    api.trigger(DAG, RUN, json!({"latency_n": n}))?;
    let run = api.wait_run(DAG, RUN, RUN_TIMEOUT)?;
    eprintln!(
        "{DAG}/{RUN} ended {}: {}",
        run.state,
        api.explain_run(DAG, RUN)
    );

    let mut checks = Checks::default();
    checks.check(
        "1. Variables: set, read as JSON, delete, AIRFLOW_VAR_*",
        || {
            expect_success(api, &["variables"])?;
            ensure!(
                api.variable("ta_written")?.as_deref() == Some("written by rust"),
                "ta_written is {:?}",
                api.variable("ta_written")?
            );
            let v: Value = dep.api.get("/api/v2/variables/ta_written")?;
            ensure!(v["description"] == "set by task_api", "{v}");
            let j = api.variable("ta_json")?.context("no ta_json")?;
            ensure!(
                serde_json::from_str::<Value>(&j)? == json!({"max_rows": 42, "tables": ["a", "b"]}),
                "ta_json is {j}"
            );
            ensure!(
                api.variable("ta_to_delete")?.is_none(),
                "ta_to_delete still exists"
            );
            let deleted = xcom(api, DAG, RUN, "variables", "deleted_now")?;
            ensure!(deleted.is_null(), "read {deleted} after deleting");
            let env = xcom(api, DAG, RUN, "variables", "env_var")?;
            ensure!(env == json!("from-env"), "AIRFLOW_VAR_TA_ENV read as {env}");
            Ok(())
        },
    );
    checks.check(
        "2. Connections: uri() as Python's get_uri(), AIRFLOW_CONN_* in both forms, typed extra",
        || {
            expect_success(api, &["connections", "py_uri"])?;
            let rust = xcom(api, DAG, RUN, "connections", "return_value")?;
            let python = xcom(api, DAG, RUN, "py_uri", "return_value")?;
            ensure!(rust == python, "Rust {rust} != Python {python}");
            ensure!(
                rust["ta_env_uri"] == json!(ENV_URI),
                "env URI read back as {}",
                rust["ta_env_uri"]
            );
            let t = xcom(api, DAG, RUN, "connections", "extra_timeout")?;
            ensure!(t == json!(5), "extra timeout {t}");
            Ok(())
        },
    );
    checks.check(
        "3. XCom: pull any map index, count; no index reads the unmapped value",
        || {
            expect_success(api, &["xcoms"])?;
            let got = xcom(api, DAG, RUN, "xcoms", "return_value")?;
            ensure!(
                got == json!({"map_index_1": 20, "count": 3, "missing": null, "unmapped": null}),
                "xcoms saw {got}"
            );
            Ok(())
        },
    );
    checks.check(
        "4. Task state store: resumes across tries, retention, delete, clear",
        || {
            expect_success(api, &["resumable"])?;
            let tries = api.tries(DAG, RUN, "resumable")?;
            ensure!(tries.len() == 2, "resumable ran {} tries", tries.len());
            let from = xcom(api, DAG, RUN, "resumable", "resumed_from")?;
            ensure!(from == json!(3), "try 2 resumed from {from}");
            let store = xcom(api, DAG, RUN, "resumable", "store")?;
            ensure!(
                store == json!({"scratch": {"x": 1}, "after_delete": null, "after_clear": null}),
                "store {store}"
            );
            Ok(())
        },
    );
    checks.check("5. Branching: the other downstream task is skipped", || {
        expect_success(api, &["branch", "follow_me"])?;
        let s = state_of(api, DAG, RUN, "skip_me")?;
        ensure!(s.as_deref() == Some("skipped"), "skip_me is {s:?}");
        Ok(())
    });
    checks.check(
        "6. Trigger a dag with conf and logical date, wait for its end",
        || {
            expect_success(api, &["trigger"])?;
            let got = xcom(api, DAG, RUN, "trigger", "return_value")?;
            let run_id = got["run_id"].as_str().context("no run_id")?;
            let target = api.dag_run("task_api_target", run_id)?;
            ensure!(
                target.state == "success",
                "the triggered run is {}",
                target.state
            );
            ensure!(
                target.conf == json!({"from": "rust", "n": 7}),
                "conf {}",
                target.conf
            );
            let runs = api.dag_runs("task_api_target")?;
            let r = runs
                .iter()
                .find(|r| r["dag_run_id"] == run_id)
                .context("the triggered run is not listed")?;
            ensure!(!r["logical_date"].is_null(), "no logical date: {r}");
            ensure!(got["state"] == "success", "the task saw {}", got["state"]);
            ensure!(
                got["echoed"]["conf"] == json!({"from": "rust", "n": 7}),
                "pulled {} from the triggered run",
                got["echoed"]
            );
            let again = got["again"].as_str().unwrap_or_default();
            ensure!(
                again.contains("TriggerDagRun") && again.contains(run_id),
                "the second trigger's error: {again}"
            );
            Ok(())
        },
    );
    checks.check("7. Run and history queries", || {
        expect_success(api, &["history"])?;
        let h = xcom(api, DAG, RUN, "history", "return_value")?;
        ensure!(h["mapped_success"] == 3, "{h}");
        let target_ok = api
            .dag_runs("task_api_target")?
            .iter()
            .filter(|r| r["state"] == "success")
            .count();
        ensure!(
            h["target_success_runs"] == json!(target_ok),
            "{h} vs {target_ok}"
        );
        ensure!(
            h["states"][RUN] == json!({"branch": "success", "trigger": "success"}),
            "{h}"
        );
        let trig = xcom(api, DAG, RUN, "trigger", "return_value")?;
        ensure!(
            h["previous_target_run"]["run_id"] == trig["run_id"]
                && h["previous_target_run"]["state"] == "success",
            "{h}"
        );
        ensure!(h["prev_successful_of_this_dag"] == false, "{h}");
        Ok(())
    });
    checks.check(
        "8. Rendered fields and rendered map index in the UI's API",
        || {
            expect_success(api, &["ui"])?;
            let ti: Value = api.get(&format!(
                "/api/v2/dags/{DAG}/dagRuns/{RUN}/taskInstances/ui"
            ))?;
            ensure!(
                ti["rendered_fields"]
                    == json!({"table": "sales_2026", "limit": 100, "tags": ["a", "b"]}),
                "rendered_fields {}",
                ti["rendered_fields"]
            );
            ensure!(
                ti["rendered_map_index"] == "sales for 2026",
                "rendered_map_index {}",
                ti["rendered_map_index"]
            );
            Ok(())
        },
    );
    checks.check("9. Assets: the event is recorded, read back, and schedules the consumer dag", || {
        expect_success(api, &["emit_asset", "read_asset"])?;
        let events = api.asset_events(&format!("source_dag_id={DAG}&source_run_id={RUN}"))?;
        let e = events
            .iter()
            .find(|e| e["source_task_id"] == "emit_asset")
            .with_context(|| format!("no asset event from emit_asset: {events:?}"))?;
        ensure!(e["extra"]["rows"] == 42, "event extra {}", e["extra"]);
        let read = xcom(api, DAG, RUN, "read_asset", "return_value")?;
        ensure!(
            read["by_name_uri"] == "file:///tmp/rust_task_api_asset"
                && read["by_uri_name"] == "rust_task_api_asset"
                && read["missing"] == true,
            "{read}"
        );
        ensure!(
            read["events_of_this_run"]
                == json!([{"extra": {"rows": 42, "from": RUN}, "source_task_id": "emit_asset"}]),
            "{read}"
        );
        // The consumer dag, scheduled on the asset, runs and sees the event's extra.
        let deadline = std::time::Instant::now() + RUN_TIMEOUT;
        let consumer = loop {
            let runs = api.dag_runs("task_api_consumer")?;
            if let Some(r) = runs.iter().find(|r| r["run_type"] == "asset_triggered") {
                break r["dag_run_id"].as_str().unwrap_or_default().to_owned();
            }
            ensure!(std::time::Instant::now() < deadline, "task_api_consumer never ran: {runs:?}");
            std::thread::sleep(Duration::from_millis(500));
        };
        let r = api.wait_run("task_api_consumer", &consumer, RUN_TIMEOUT)?;
        ensure!(r.state == "success", "the consumer run ended {}", r.state);
        let seen = xcom(api, "task_api_consumer", &consumer, "consume", "return_value")?;
        ensure!(seen == json!([{"rows": 42, "from": RUN}]), "the consumer saw {seen}");
        Ok(())
    });
    checks.check("10. Secrets are masked in the task log", || {
        expect_success(api, &["secrets"])?;
        let log = api.wait_log(DAG, RUN, "secrets", 1, &["own secret is"])?;
        let text = log.to_string();
        for secret in [CONN_PASSWORD, API_KEY_VALUE, OWN_SECRET] {
            ensure!(
                !text.contains(secret),
                "{secret:?} is in the task log:\n{log}"
            );
        }
        for line in ["connection password is", "api key is", "own secret is"] {
            let r = log.expect(line)?;
            ensure!(r.message().contains("***"), "{line:?} is not masked: {r}");
        }
        // A Variable whose key is not sensitive is shown as it is.
        ensure!(
            log.expect("plain value is")?
                .message()
                .contains(PLAIN_VALUE),
            "the plain Variable was masked:\n{log}"
        );
        Ok(())
    });
    checks.check("11. Concurrent requests from a thread pool", || {
        expect_success(api, &["concurrent"])?;
        let c = xcom(api, DAG, RUN, "concurrent", "return_value")?;
        ensure!(c["requests"] == 200 && c["threads"] == 8, "{c}");
        eprintln!(
            "   200 GetVariable from 8 threads in {:.2} s",
            c["seconds"].as_f64().unwrap_or(0.0)
        );
        Ok(())
    });
    checks.check(
        "12. Object storage: local files through an `fs` connection, the same file for Python",
        || {
            expect_success(api, &["object_store_fs", "py_fs_read"])?;
            let got = xcom(api, DAG, RUN, "object_store_fs", "return_value")?;
            let text = format!("written by rust in {RUN}");
            ensure!(
                got["read"] == json!(text) && got["listed"] == json!(["rust/hello.txt"]),
                "{got}"
            );
            let refused = got["not_a_store"].as_str().unwrap_or_default();
            ensure!(
                refused.contains("\"ta_conn\"") && refused.contains("\"http\""),
                "the http connection's error: {refused}"
            );
            let on_disk = std::fs::read_to_string(objects.dir.join("rust/hello.txt"))?;
            ensure!(on_disk == text, "the file holds {on_disk:?}");
            ensure!(
                !objects.dir.join("rust/doomed.txt").exists(),
                "doomed.txt was not deleted"
            );
            let python = xcom(api, DAG, RUN, "py_fs_read", "return_value")?;
            ensure!(python == json!(text), "Python's FSHook read {python}");
            let log = api.wait_log(DAG, RUN, "object_store_fs", 1, &["object store: wrote"])?;
            log.expect("object store: wrote rust/hello.txt through ta_fs")?;
            Ok(())
        },
    );
    checks.check(
        "13. Object storage: S3 through an `aws` connection (moto), awaited in an async task",
        || {
            expect_success(api, &["object_store_s3"])?;
            let got = xcom(api, DAG, RUN, "object_store_s3", "return_value")?;
            let text = format!("written by rust to s3 in {RUN}");
            ensure!(
                got["read"] == json!(text) && got["listed"] == json!(["rust/hello.txt"]),
                "{got}"
            );
            let held = objects.s3.object("rust/hello.txt")?;
            ensure!(held == text, "boto3 reads {held:?} from the S3 server");
            Ok(())
        },
    );
    checks.check("errors name the request and key", || {
        expect_success(api, &["errors"])?;
        let e = xcom(api, DAG, RUN, "errors", "return_value")?;
        let state = e["dag_run_state"].as_str().unwrap_or_default();
        ensure!(
            state.contains("GetDagRunState") && state.contains("no_such_dag_xyz"),
            "{e}"
        );
        ensure!(
            e["rendered_fields"]
                .as_str()
                .unwrap_or_default()
                .contains("SetRenderedFields"),
            "{e}"
        );
        Ok(())
    });
    checks.check("latency: GetVariable round trip, Rust against Python", || {
        expect_success(api, &["latency", "py_latency"])?;
        let rust = xcom(api, DAG, RUN, "latency", "return_value")?;
        let python = xcom(api, DAG, RUN, "py_latency", "return_value")?;
        let (r, p) = (
            rust["median_us"].as_f64().context("no Rust median")?,
            python["median_us"].as_f64().context("no Python median")?,
        );
        let ratio = r / p;
        eprintln!(
            "   GetVariable median over {n}: Rust {r:.0} µs (p90 {:.0}), Python Variable.get {p:.0} µs (p90 {:.0}); Rust/Python = {ratio:.2}",
            rust["p90_us"].as_f64().unwrap_or(0.0),
            python["p90_us"].as_f64().unwrap_or(0.0),
        );
        let out = airflow_e2e::target_dir().join("task-api-latency.json");
        std::fs::write(
            &out,
            json!({"n": n, "rust": rust, "python": python, "ratio": ratio}).to_string(),
        )?;
        Ok(())
    });
    checks.finish()
}

#[test]
fn task_api_in_a_real_airflow_3_3() -> Result<()> {
    // With the object storage tasks (the example's `object-store` feature).
    let bundle = airflow_e2e::pack::example_bundle_with_object_store()?;
    let dir = airflow_e2e::target_dir().join("task-api-objects");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let objects = Objects {
        dir,
        s3: MotoServer::start()?,
    };
    let dep = Deployment::start(
        DeployOptions::new("task-api-3.3", Release::V3_3)
            .bundle(bundle)
            .stub_dag("task_api_stubs.py")
            .env("AIRFLOW_VAR_TA_ENV", "from-env")
            .env("AIRFLOW_CONN_TA_ENV_URI", ENV_URI)
            .env("AIRFLOW_CONN_TA_ENV_JSON", ENV_JSON),
    )?;
    let result = scenarios(&dep, &objects);
    dep.stop()?;
    result
}
