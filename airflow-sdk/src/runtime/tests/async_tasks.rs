//! Async tasks (feature `tokio`) under the same scripted fake supervisor as sync tasks: the same
//! messages, in the same order, for the same outcomes; and a tokio runtime only when an async task
//! runs.

use super::*;
use crate::asyncs::RUNTIMES_BUILT;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serializes the tests that run async tasks, so that [`RUNTIMES_BUILT`] counts one test's runs.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts an echo server on loopback, sends it `text` and returns what came back: real async
/// I/O, with the server spawned on the task's runtime.
async fn echo_over_loopback(text: &str) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let (mut r, mut w) = s.split();
        tokio::io::copy(&mut r, &mut w).await
    });
    let mut client = tokio::net::TcpStream::connect(addr).await?;
    client.write_all(text.as_bytes()).await?;
    client.shutdown().await?;
    let mut echoed = String::new();
    client.read_to_string(&mut echoed).await?;
    server.await??;
    Ok(echoed)
}

fn async_bundle() -> Bundle {
    async fn echo(ctx: &TaskContext) -> TaskResult<String> {
        // A request from async code, then async I/O with its answer.
        let greeting = ctx.variable("greeting")?.ok_or("no Variable greeting")?;
        Ok(echo_over_loopback(&greeting).await?)
    }
    async fn err(_: &TaskContext) -> TaskResult {
        tokio::task::yield_now().await;
        Err(TaskError::fail("nope"))
    }
    async fn no_retry(_: &TaskContext) -> TaskResult {
        Err(TaskError::fail_no_retry("never again"))
    }
    async fn skip(_: &TaskContext) -> TaskResult {
        Err(TaskError::skip("not today"))
    }
    async fn boom(_: &TaskContext) -> TaskResult {
        tokio::task::yield_now().await;
        panic!("async kaboom")
    }
    fn sync_ok(_: &mut TaskContext) -> TaskResult {
        Ok(())
    }
    Bundle::new().dag(
        Dag::new("d")
            .task_async("echo", echo)
            .task_async("err", err)
            .task_async("no_retry", no_retry)
            .task_async("skip", skip)
            .task_async("boom", boom)
            .task_async("closure", async |ctx: &TaskContext| {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(ctx.try_number())
            })
            .task("sync_ok", sync_ok),
    )
}

/// Runs `task` of [`async_bundle`], answering `GetVariable "greeting"` and acknowledging every
/// other request; returns the exit code and every request body up to the terminal one.
fn run_async(task: &str, should_retry: bool) -> (u8, Vec<Value>) {
    let startup = startup(task, should_retry);
    let (code, bodies, _) = drive_bundle(async_bundle(), 5000, move |mut s| {
        send(&mut s, &startup);
        let mut bodies = Vec::new();
        loop {
            let (id, body) = recv(&mut s);
            let kind = field(&body, "type").unwrap();
            if kind == "GetVariable" {
                let reply = m(vec![
                    ("key", Value::from("greeting")),
                    ("value", Value::from("hello over loopback")),
                    ("type", Value::from("VariableResult")),
                ]);
                send(
                    &mut s,
                    &Value::Array(vec![Value::from(id), reply, Value::Nil]),
                );
            } else {
                ack(&mut s, id);
            }
            bodies.push(body);
            if matches!(kind.as_str(), "SucceedTask" | "TaskState" | "RetryTask") {
                return bodies;
            }
        }
    });
    (code, bodies)
}

fn kinds(bodies: &[Value]) -> Vec<String> {
    bodies.iter().map(|b| field(b, "type").unwrap()).collect()
}

#[test]
fn an_async_task_makes_requests_does_async_io_and_pushes_its_return_value() {
    let _serial = serial();
    let (code, bodies) = run_async("echo", false);
    assert_eq!(code, 0);
    // The Variable's value is registered with the secrets masker, as from a sync task.
    assert_eq!(
        kinds(&bodies),
        ["GetVariable", "MaskSecret", "SetXCom", "SucceedTask"]
    );
    assert_eq!(field(&bodies[0], "key").as_deref(), Some("greeting"));
    assert_eq!(field(&bodies[2], "key").as_deref(), Some("return_value"));
    assert_eq!(
        messages::to_json(get(&bodies[2], "value").unwrap()),
        serde_json::json!("hello over loopback")
    );

    let (code, bodies) = run_async("closure", false);
    assert_eq!(code, 0);
    assert_eq!(kinds(&bodies), ["SetXCom", "SucceedTask"]);
    assert_eq!(
        messages::to_json(get(&bodies[0], "value").unwrap()),
        serde_json::json!(1)
    );
}

#[test]
fn async_errors_skips_and_panics_end_as_for_sync_tasks() {
    let _serial = serial();
    for (task, retry, want_type, want_state) in [
        ("err", true, "RetryTask", None),
        ("err", false, "TaskState", Some("failed")),
        ("no_retry", true, "TaskState", Some("failed")),
        ("skip", true, "TaskState", Some("skipped")),
        ("boom", true, "RetryTask", None),
        ("boom", false, "TaskState", Some("failed")),
    ] {
        let (code, bodies) = run_async(task, retry);
        assert_eq!(code, 0, "{task}");
        assert_eq!(bodies.len(), 1, "{task}: {bodies:?}");
        assert_eq!(
            field(&bodies[0], "type").as_deref(),
            Some(want_type),
            "{task}"
        );
        assert_eq!(field(&bodies[0], "state").as_deref(), want_state, "{task}");
    }
}

#[test]
fn only_an_async_task_run_builds_a_tokio_runtime() {
    let _serial = serial();
    let before = RUNTIMES_BUILT.load(Ordering::SeqCst);
    let bundle = async_bundle();
    bundle.metadata().unwrap();
    let request = DagFileParseRequest {
        file: "/bundles/etl".into(),
        bundle_path: "/bundles".into(),
        bundle_name: "rust-bundles".into(),
    };
    let _ = parse_result(&bundle, &request);
    // The parse answer, through the runtime.
    let (code, _, _) = drive_bundle(async_bundle(), 5000, |mut s| {
        send(&mut s, &parse_request("/bundles/etl"));
        let (id, _) = recv(&mut s);
        ack(&mut s, id);
    });
    assert_eq!(code, 0);
    let (code, bodies) = run_async("sync_ok", false);
    assert_eq!((code, kinds(&bodies)), (0, vec!["SucceedTask".to_owned()]));
    assert_eq!(RUNTIMES_BUILT.load(Ordering::SeqCst), before);

    let (code, bodies) = run_async("closure", false);
    assert_eq!(code, 0, "{bodies:?}");
    assert_eq!(RUNTIMES_BUILT.load(Ordering::SeqCst), before + 1);
}

#[derive(serde::Deserialize)]
struct Rows {
    rows: u64,
}

#[test]
fn an_async_task_with_typed_arguments_gets_them_converted() {
    let _serial = serial();
    async fn load(_: &TaskContext, totals: Rows, table: String) -> TaskResult<String> {
        tokio::task::yield_now().await;
        Ok(format!("{table}:{}", totals.rows))
    }
    let bundle = Bundle::new()
        .supervisor_schema(SchemaVersion::V2026_10_30)
        .dag(Dag::new("d").task_async_with_args("load", ["totals", "table"], load));
    bundle.validate().unwrap();
    let startup = startup_with_bindings(vec![
        literal_binding("table", Value::from("t1")),
        xcom_binding("totals", "transform"),
    ]);
    let (code, bodies, _) = drive_bundle(bundle, 5000, move |mut s| {
        send(&mut s, &startup);
        let mut bodies = Vec::new();
        loop {
            let (id, body) = recv(&mut s);
            let kind = field(&body, "type").unwrap();
            if kind == "GetXCom" {
                let reply = m(vec![
                    ("key", Value::from("return_value")),
                    ("value", m(vec![("rows", Value::from(42))])),
                    ("type", Value::from("XComResult")),
                ]);
                send(
                    &mut s,
                    &Value::Array(vec![Value::from(id), reply, Value::Nil]),
                );
            } else {
                ack(&mut s, id);
            }
            bodies.push(body);
            if matches!(kind.as_str(), "SucceedTask" | "TaskState" | "RetryTask") {
                return bodies;
            }
        }
    });
    assert_eq!(code, 0);
    assert_eq!(kinds(&bodies), ["GetXCom", "SetXCom", "SucceedTask"]);
    assert_eq!(
        messages::to_json(get(&bodies[1], "value").unwrap()),
        serde_json::json!("t1:42")
    );
    // A typed async task is declared like a sync one: it needs the 2026-10-30 schema.
    let old =
        Bundle::new().dag(Dag::new("d").task_async_with_args("load", ["totals", "table"], load));
    assert!(matches!(
        &old.validate().unwrap_err().problems[..],
        [crate::DeclarationProblem::ArgumentsNeedSchema { .. }]
    ));
}
