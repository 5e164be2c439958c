//! `Connection::uri` of airflow-sdk against the released task SDK's `Connection.get_uri()`,
//! case by case, under Airflow 3.3 and 3.4 (moved here from airflow-sdk's unit tests so that
//! those run without Python). A missing venv fails the test.

use airflow_e2e::venv::Release;
use airflow_sdk::Connection;

/// Connections in each form Airflow hands them over, with extras whose key order, repeated
/// keys and escapes a sorted map would get wrong.
fn differential_cases() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "json",
            r#"{"conn_type": "http", "extra": {"zeta": "1", "alpha": "2"}}"#,
        ),
        (
            "json",
            r#"{"conn_type": "http", "host": "h", "extra": {"z": {"y": 1, "b": [1, {"d": 2, "c": 3}]}, "a": "é\b\f\u007f😀"}}"#,
        ),
        (
            "json",
            r#"{"conn_type": "http", "extra": {"b": "x", "a": "y", "b": "z"}}"#,
        ),
        (
            "json",
            r#"{"conn_type": "http", "extra": "{\"zeta\": \"1\", \"alpha\": \"2\"}"}"#,
        ),
        ("uri", "http://h/?zeta=1&alpha=2&zeta=3"),
        ("uri", "http://h/s?b=%C3%A9+x&a="),
        (
            "uri",
            "aws:///?__extra__=%7B%22z%22%3A+1%7D&__extra__=%7B%22y%22%3A+2%2C+%22a%22%3A+1%7D",
        ),
        ("stored", r#"{"zeta": "1", "alpha": 2}"#),
        ("stored", r#"{"zeta": "1", "alpha": "2"}"#),
        ("stored", r#"{"b": "x", "a": "y", "b": "z"}"#),
        ("stored", r#"{"": "x", "k": "a&b=c"}"#),
        ("stored", "not json"),
        ("stored", "{}"),
        ("stored", "[1, 2]"),
    ]
}

/// Rust's `uri()` for each case.
fn rust_uris(cases: &[(&str, &str)]) -> Vec<String> {
    cases
        .iter()
        .map(|(kind, input)| match *kind {
            "json" => Connection::from_json("c", input).unwrap().uri(),
            "uri" => Connection::from_uri("c", input).unwrap().uri(),
            // The extra as Airflow stores it, parsed or not: `from_json` keeps a string extra
            // as the stored text.
            _ => Connection::from_json(
                "c",
                &serde_json::json!({"conn_type": "http", "host": "h", "extra": input}).to_string(),
            )
            .unwrap()
            .uri(),
        })
        .collect()
}

/// The released task SDK's `Connection.get_uri()` for each case, read the same way.
fn python_uris(release: Release, cases: &[(&str, &str)]) -> Vec<String> {
    use std::io::Write as _;
    let python = airflow_e2e::venv::python_for(release)
        .unwrap_or_else(|e| panic!("no Airflow {} venv: {e:#}", release.airflow_version()));
    let script = r#"
import json, sys
from airflow.sdk.definitions.connection import Connection
out = []
for kind, text in json.load(sys.stdin):
    if kind == "json":
        c = Connection.from_json(text, conn_id="c")
    elif kind == "uri":
        c = Connection.from_uri(text, conn_id="c")
    else:
        c = Connection(conn_id="c", conn_type="http", host="h", extra=text)
    out.append(c.get_uri())
print("RESULT " + json.dumps(out))
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(cases).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "no result from Python: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}

#[test]
fn uri_is_what_the_released_get_uri_writes() {
    let cases = differential_cases();
    let rust = rust_uris(&cases);
    for release in [Release::V3_3, Release::V3_4] {
        let python = python_uris(release, &cases);
        for ((case, r), p) in cases.iter().zip(&rust).zip(&python) {
            assert_eq!(r, p, "{case:?} under Airflow {}", release.airflow_version());
        }
    }
}
