//! The scripted fake supervisor of the runtime's unit tests: the supervisor's side of a comm
//! socket (frames in the shape the released supervisor sends, requests read back, replies
//! written). One peer for the runtime's tests, the async task tests and the socket client's
//! tests; the in-process supervisor of `airflow_sdk::testing` is the other double, for tests of
//! task code without sockets.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use airflow_protocol::frame;
use rmpv::Value;

pub(crate) fn m(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

pub(crate) fn ts(secs: u64) -> Value {
    Value::Ext(-1, secs.to_be_bytes().to_vec())
}

pub(crate) fn startup(task_id: &str, should_retry: bool) -> Value {
    startup_clearing(task_id, should_retry, &[])
}

pub(crate) fn startup_clearing(task_id: &str, should_retry: bool, clear: &[&str]) -> Value {
    let ti = m(vec![
        ("id", Value::from("0199a5b2-1c2d-7e3f-8a9b-0c1d2e3f4a5b")),
        ("task_id", Value::from(task_id)),
        ("dag_id", Value::from("d")),
        ("run_id", Value::from("r")),
        ("try_number", Value::from(1)),
        ("map_index", Value::from(-1)),
    ]);
    let dag_run = m(vec![
        ("logical_date", ts(1_795_305_600)),
        ("run_type", Value::from("manual")),
        ("conf", Value::Nil),
    ]);
    let ctx = m(vec![
        ("dag_run", dag_run),
        ("max_tries", Value::from(2)),
        ("should_retry", Value::Boolean(should_retry)),
        (
            "xcom_keys_to_clear",
            Value::Array(clear.iter().map(|&k| Value::from(k)).collect()),
        ),
    ]);
    let body = m(vec![
        ("ti", ti),
        ("start_date", ts(1_795_305_601)),
        ("ti_context", ctx),
        ("type", Value::from("StartupDetails")),
    ]);
    Value::Array(vec![Value::from(0), body, Value::Nil])
}

pub(crate) fn send(s: &mut TcpStream, v: &Value) {
    s.write_all(&frame::encode_frame(v)).unwrap();
}

/// Reads one request: `(id, body)`, checking it is a 2-element array.
pub(crate) fn recv(s: &mut TcpStream) -> (i64, Value) {
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let v = frame::read_frame(s, Instant::now() + Duration::from_secs(10), &|| false).unwrap();
    let items = v.as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "requests are [id, body]: {v}");
    (items[0].as_i64().unwrap(), items[1].clone())
}

pub(crate) fn ack(s: &mut TcpStream, id: i64) {
    send(
        s,
        &Value::Array(vec![Value::from(id), Value::Nil, Value::Nil]),
    );
}

pub(crate) fn get<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

pub(crate) fn field(body: &Value, key: &str) -> Option<String> {
    get(body, key)?.as_str().map(str::to_owned)
}
