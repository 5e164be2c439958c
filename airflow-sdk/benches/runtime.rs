//! Budgets of the airflow-sdk runtime, measured on real bundle processes:
//!
//! 1. **startup**: from process start to the task function being called, under 5 ms of the
//!    bundle's own time. Measured as the median time from spawning the bundle with
//!    `--comm`/`--logs` to receiving the terminal `SucceedTask` frame of a no-op task (so an upper
//!    bound: it includes the task thread, the task and the terminal message), minus the median
//!    time from spawning the same binary with `--version` to its exit (the cost of starting any
//!    process, which is not the runtime's). Both kinds of run are interleaved.
//! 2. **size**: the runtime adds under 1.5 MiB to a release, stripped bundle. Measured as the size
//!    of a bundle with one no-op task minus the size of a program with the same serde/serde_json
//!    dependencies and no airflow-sdk, both built with `--release` and `strip = "symbols"` (the
//!    workspace's release profile).
//! 3. **memory**: a bundle waiting on a task uses under 8 MiB of resident memory beyond what the
//!    task allocates. The task sleeps and allocates nothing, so the whole `VmRSS` (and `VmHWM`,
//!    the peak) of the bundle process, read from `/proc/<pid>/status` while it sleeps, is
//!    compared with the budget. The baseline program's `VmRSS` while it sleeps is printed for
//!    context.
//!
//! 4. **native parse**: answering Airflow 3.4's `DagFileParseRequest` for a bundle of 100 native
//!    dags of 20 tasks each (`runtime-fixtures/native.rs`) takes under 50 ms of the bundle's own
//!    time and under 16 MiB of resident memory. Measured as the median time from spawning the
//!    bundle to receiving its `DagFileParsingResult` (the request is sent as soon as it connects),
//!    minus the median `--version` run as for (1); memory is the process's `VmHWM` (peak RSS)
//!    read while it waits for the acknowledgement, after the result was built and sent.
//!
//! 5. **async tasks** (feature `tokio`), side by side with the sync figures, and with no budget
//!    of their own (the budgets above are for bundles without the feature, which must not move):
//!    the startup of an async no-op task (1), the bytes the feature adds to the minimal bundle
//!    when its task is async, and when it is enabled but the task stays sync (2), and the resident
//!    memory of a bundle awaiting a tokio timer (3). The async fixtures are built in a cargo
//!    invocation of their own, so the feature does not leak into the sync ones.
//!
//! Run with `cargo bench -p airflow-sdk --bench runtime`. `RUNTIME_BENCH_RUNS=N` sets the number
//! of startup runs of each kind (default 200); `CARGO_BUILD_JOBS` limits the fixture build. Linux
//! only (`/proc`). Under `cargo test --benches` it runs 5 startup runs of each kind, as a smoke
//! test of the harness.
//!
//! The bundles are real: the benchmark writes a small cargo workspace under
//! `$CARGO_TARGET_TMPDIR/runtime-bench/` whose binaries are the sources in
//! `benches/runtime-fixtures/` (`bundle.rs`, `minimal.rs`, `baseline.rs`, `native.rs`, and with
//! the `tokio` feature `async_bundle.rs`, `minimal_async.rs` and `minimal.rs` again), with this
//! crate as a path dependency and a copy of the workspace's `Cargo.lock` (same dependency versions), and
//! builds it with `cargo build --release`. It then plays Airflow's supervisor over real TCP
//! sockets: binds two listeners, launches the bundle with `--comm` and `--logs`, accepts both
//! connections, sends a `StartupDetails` frame shaped like the one apache-airflow-task-sdk 1.3.2
//! sends, acknowledges requests until the terminal one, and waits for exit 0.
//!
//! Prints the figures and whether each budget is met; no harness, no assertions on the budgets
//! (timings move with the machine's load).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use airflow_protocol::frame;
use rmpv::Value;

/// Budget 1: the runtime's own time from process start to the task function.
const STARTUP_BUDGET: Duration = Duration::from_millis(5);
/// Budget 2: bytes the runtime adds to a release, stripped binary (1.5 MiB).
const SIZE_BUDGET: u64 = 3 * 1024 * 1024 / 2;
/// Budget 3: resident memory of a bundle waiting on a task that allocates nothing (8 MiB).
const MEMORY_BUDGET_KIB: u64 = 8 * 1024;

/// Budget 4: the bundle's own time to answer the parse request of 100 dags x 20 tasks.
const PARSE_BUDGET: Duration = Duration::from_millis(50);
/// Budget 4: peak resident memory while answering it (16 MiB).
const PARSE_MEMORY_BUDGET_KIB: u64 = 16 * 1024;

/// The fixture binaries (see `benches/runtime-fixtures/`).
const BUNDLE: &str = "runtime-bench-bundle";
const NATIVE: &str = "runtime-bench-native";
const MINIMAL: &str = "runtime-bench-minimal";
const BASELINE: &str = "runtime-bench-baseline";
/// The package of the fixtures built with the `tokio` feature, and its binaries.
const ASYNC: &str = "runtime-bench-async";
const MINIMAL_ASYNC: &str = "runtime-bench-minimal-async";
/// `minimal.rs` (a sync task) built with the `tokio` feature.
const MINIMAL_FEATURE: &str = "runtime-bench-minimal-feature";

/// How long the `sleep` task sleeps in the memory run, and for how long it is sampled.
const SLEEP_MS: u64 = 1500;
const SAMPLE_FOR: Duration = Duration::from_millis(1000);

/// Every socket read of the fake supervisor gives up after this long.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Bumped after each bundle run; the watchdog ends the benchmark when it stops moving (a bundle
/// that never connects would otherwise leave `accept` waiting forever).
static PROGRESS: AtomicU64 = AtomicU64::new(0);

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let runs: usize = std::env::var("RUNTIME_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(if bench_mode { 200 } else { 5 });

    if !bench_mode {
        eprintln!(
            "smoke run of the harness (not `cargo bench`): {runs} startup runs, timings not meaningful"
        );
    }
    let fixtures = build_fixtures();
    start_watchdog();
    startup(&fixtures, runs);
    size(&fixtures);
    memory(&fixtures);
    native_parse(&fixtures.native, runs.min(50));
}

// ---------------------------------------------------------------------------------------------
// The fixture workspace.

struct Fixtures {
    bundle: PathBuf,
    native: PathBuf,
    minimal: PathBuf,
    baseline: PathBuf,
    /// Built with the `tokio` feature.
    async_bundle: PathBuf,
    minimal_async: PathBuf,
    minimal_feature: PathBuf,
}

/// Writes `contents` to `path` unless it already holds exactly that (keeps cargo's freshness).
fn write_if_changed(path: &Path, contents: &[u8]) {
    if fs::read(path).ok().as_deref() == Some(contents) {
        return;
    }
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A TOML basic string (JSON string escapes are valid TOML ones).
fn toml_str(path: &Path) -> String {
    serde_json::to_string(path.to_str().expect("a UTF-8 path")).unwrap()
}

/// Writes and builds the fixture workspace; returns the executables.
fn build_fixtures() -> Fixtures {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = sdk.join("benches").join("runtime-fixtures");
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtime-bench");
    let bin = |name: &str, file: &str| {
        format!(
            "[[bin]]\nname = \"{name}\"\npath = {}\n\n",
            toml_str(&sources.join(file))
        )
    };
    let package = |name: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\nautobins = false\n\n"
        )
    };
    let serde_deps = "serde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\n";
    write_if_changed(
        &root.join("Cargo.toml"),
        b"# Written by airflow-sdk/benches/runtime.rs.\n[workspace]\nresolver = \"3\"\nmembers = [\"baseline\", \"bundle\", \"async\"]\n\n\
          # As in the cargo-airflow workspace's release profile.\n[profile.release]\nstrip = \"symbols\"\n",
    );
    write_if_changed(
        &root.join("baseline").join("Cargo.toml"),
        format!(
            "{}{}[dependencies]\n{serde_deps}",
            package(BASELINE),
            bin(BASELINE, "baseline.rs")
        )
        .as_bytes(),
    );
    write_if_changed(
        &root.join("bundle").join("Cargo.toml"),
        format!(
            "{}{}{}{}[dependencies]\nairflow-sdk = {{ path = {} }}\n{serde_deps}",
            package(BUNDLE),
            bin(BUNDLE, "bundle.rs"),
            bin(MINIMAL, "minimal.rs"),
            bin(NATIVE, "native.rs"),
            toml_str(sdk)
        )
        .as_bytes(),
    );
    write_if_changed(
        &root.join("async").join("Cargo.toml"),
        format!(
            "{}{}{}{}[dependencies]\nairflow-sdk = {{ path = {}, features = [\"tokio\"] }}\n\
             tokio = {{ version = \"1\", default-features = false, features = [\"rt\", \"time\"] }}\n{serde_deps}",
            package(ASYNC),
            bin(ASYNC, "async_bundle.rs"),
            bin(MINIMAL_ASYNC, "minimal_async.rs"),
            bin(MINIMAL_FEATURE, "minimal.rs"),
            toml_str(sdk)
        )
        .as_bytes(),
    );
    let lock = fs::read(sdk.join("..").join("Cargo.lock")).expect("the workspace's Cargo.lock");
    write_if_changed(&root.join("Cargo.lock"), &lock);

    eprintln!("building the fixtures in {} ...", root.display());
    // Two invocations: cargo unifies a dependency's features across the packages of one build,
    // and the sync fixtures must not get the `tokio` feature.
    let mut found = std::collections::HashMap::new();
    for packages in [&[BASELINE, BUNDLE][..], &[ASYNC]] {
        found.extend(cargo_build(&root, packages));
    }
    let mut take = |name: &str| {
        found
            .remove(name)
            .unwrap_or_else(|| panic!("cargo built no executable {name}"))
    };
    Fixtures {
        bundle: take(BUNDLE),
        native: take(NATIVE),
        minimal: take(MINIMAL),
        baseline: take(BASELINE),
        async_bundle: take(ASYNC),
        minimal_async: take(MINIMAL_ASYNC),
        minimal_feature: take(MINIMAL_FEATURE),
    }
}

/// Builds the binaries of `packages` of the fixture workspace at `root` (release); returns each
/// executable by target name.
fn cargo_build(root: &Path, packages: &[&str]) -> std::collections::HashMap<String, PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--bins"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "building the fixtures {packages:?} failed"
    );
    let mut found = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && let (Some(name), Some(exe)) =
                (msg["target"]["name"].as_str(), msg["executable"].as_str())
        {
            found.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    found
}

fn start_watchdog() {
    std::thread::spawn(|| {
        let mut last = u64::MAX;
        loop {
            std::thread::sleep(Duration::from_secs(60));
            let now = PROGRESS.load(Ordering::SeqCst);
            if now == last {
                eprintln!("runtime bench: no bundle run finished for 60 s; giving up");
                std::process::exit(2);
            }
            last = now;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The fake supervisor.

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// A msgpack timestamp (ext -1, 8-byte form).
fn ts(secs: u64, nanos: u64) -> Value {
    Value::Ext(-1, ((nanos << 34) | secs).to_be_bytes().to_vec())
}

/// `[0, StartupDetails, nil]` for task `task_id` of dag `bench`, with the keys (known and
/// unknown to the runtime) of the frame apache-airflow-task-sdk 1.3.2 sends.
fn startup_details(task_id: &str, conf: Value) -> Value {
    let run_id = "manual__2026-11-22T00:00:00+00:00";
    let ti = map(vec![
        ("id", Value::from("0199a5b2-1c2d-7e3f-8a9b-0c1d2e3f4a5b")),
        ("task_id", Value::from(task_id)),
        ("dag_id", Value::from("bench")),
        ("run_id", Value::from(run_id)),
        ("try_number", Value::from(1)),
        (
            "dag_version_id",
            Value::from("0199a5b2-0000-7000-8000-000000000000"),
        ),
        ("map_index", Value::from(-1)),
        ("hostname", Value::Nil),
        ("context_carrier", Value::Nil),
        ("queue", Value::from("default")),
        ("pool_slots", Value::from(1)),
    ]);
    let mut dag_run = vec![
        ("dag_id", Value::from("bench")),
        ("run_id", Value::from(run_id)),
        ("logical_date", ts(1_795_305_600, 0)),
        ("data_interval_start", ts(1_795_219_200, 0)),
        ("data_interval_end", ts(1_795_305_600, 0)),
        ("run_after", ts(1_795_305_600, 0)),
        ("start_date", ts(1_795_305_601, 0)),
        ("end_date", Value::Nil),
        ("clear_number", Value::from(0)),
        ("run_type", Value::from("manual")),
        ("state", Value::from("running")),
        ("conf", conf),
        ("consumed_asset_events", Value::Array(Vec::new())),
    ];
    for k in [
        "triggering_user_name",
        "partition_key",
        "note",
        "team_name",
        "partition_date",
    ] {
        dag_run.push((k, Value::Nil));
    }
    let ti_context = map(vec![
        ("dag_run", map(dag_run)),
        ("task_reschedule_count", Value::from(0)),
        ("max_tries", Value::from(0)),
        ("should_retry", Value::Boolean(false)),
        ("variables", Value::Nil),
        ("connections", Value::Nil),
        ("xcom_keys_to_clear", Value::Nil),
        ("next_method", Value::Nil),
        ("next_kwargs", Value::Nil),
        ("start_date", Value::Nil),
    ]);
    let body = map(vec![
        ("ti", ti),
        ("dag_rel_path", Value::from("bench_dag.py")),
        (
            "bundle_info",
            map(vec![("name", Value::from("dags")), ("version", Value::Nil)]),
        ),
        ("start_date", ts(1_795_305_601, 123_456_000)),
        ("ti_context", ti_context),
        ("sentry_integration", Value::from("")),
        ("type", Value::from("StartupDetails")),
    ]);
    Value::Array(vec![Value::from(0), body, Value::Nil])
}

/// Reads one request frame, `[id, body]`, with the runtime's own frame reader (the socket's
/// read timeout bounds it).
fn recv(s: &mut TcpStream) -> (i64, Value) {
    let v = frame::read_frame(s, Instant::now() + READ_TIMEOUT, &|| false)
        .unwrap_or_else(|e| panic!("reading a request frame: {e}"));
    match v {
        Value::Array(items) if items.len() == 2 => {
            (items[0].as_i64().expect("an integer id"), items[1].clone())
        }
        other => panic!("a request frame that is not [id, body]: {other}"),
    }
}

fn body_type(body: &Value) -> String {
    body.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("type")))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("?")
        .to_owned()
}

/// Times of one bundle run, from the spawn.
struct Run {
    /// The comm connection was accepted.
    connected: Duration,
    /// `StartupDetails` was written.
    sent: Duration,
    /// The terminal frame was read.
    terminal: Duration,
    /// The process was reaped.
    exited: Duration,
}

/// Runs task `task_id` of `bundle` as Airflow's supervisor would, calling `while_running` with
/// the process id and the logs socket once `StartupDetails` is sent. Panics unless the bundle
/// ends with `SucceedTask` and exit 0.
fn supervise(
    bundle: &Path,
    task_id: &str,
    conf: Value,
    while_running: &mut dyn FnMut(u32, &mut BufReader<TcpStream>),
) -> Run {
    let comm = TcpListener::bind("127.0.0.1:0").unwrap();
    let logs = TcpListener::bind("127.0.0.1:0").unwrap();
    let startup = frame::encode_frame(&startup_details(task_id, conf));
    let start = Instant::now();
    let mut child = Command::new(bundle)
        .arg(format!("--comm={}", comm.local_addr().unwrap()))
        .arg(format!("--logs={}", logs.local_addr().unwrap()))
        .env("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
        .env("AIRFLOW__LOGGING__NAMESPACE_LEVELS", "")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the bundle");
    let (logs_stream, _) = logs.accept().unwrap();
    let (mut s, _) = comm.accept().unwrap();
    let connected = start.elapsed();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    logs_stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.write_all(&startup).unwrap();
    let sent = start.elapsed();
    let mut logs_reader = BufReader::new(logs_stream);
    while_running(child.id(), &mut logs_reader);
    let (terminal, kind) = loop {
        let (id, body) = recv(&mut s);
        let kind = body_type(&body);
        let at = start.elapsed();
        s.write_all(&frame::encode_frame(&Value::Array(vec![
            Value::from(id),
            Value::Nil,
            Value::Nil,
        ])))
        .unwrap();
        if matches!(kind.as_str(), "SucceedTask" | "TaskState" | "RetryTask") {
            break (at, kind);
        }
    };
    let status = child.wait().unwrap();
    let exited = start.elapsed();
    let mut rest = Vec::new();
    let _ = logs_reader.read_to_end(&mut rest);
    if !status.success() || kind != "SucceedTask" {
        panic!(
            "{} ({task_id}): {kind}, {status}\nstderr: {}\nlogs: {}",
            bundle.display(),
            stderr_of(&mut child),
            String::from_utf8_lossy(&rest)
        );
    }
    PROGRESS.fetch_add(1, Ordering::SeqCst);
    Run {
        connected,
        sent,
        terminal,
        exited,
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

// ---------------------------------------------------------------------------------------------
// 1. Startup.

/// Spawns `bin --version` (stdio as in [`supervise`]) and times it until it is reaped.
fn version_run(bin: &Path) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the bundle");
    let status = child.wait().unwrap();
    let elapsed = start.elapsed();
    assert!(
        status.success(),
        "--version: {status}: {}",
        stderr_of(&mut child)
    );
    PROGRESS.fetch_add(1, Ordering::SeqCst);
    elapsed
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `(median, p10, p90)`.
fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.1), at(0.9))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn startup(f: &Fixtures, runs: usize) {
    let bundle = &f.bundle;
    let noop = || supervise(bundle, "noop", Value::Nil, &mut |_, _| {});
    let noop_async = || supervise(&f.async_bundle, "noop_async", Value::Nil, &mut |_, _| {});
    let noop_feature = || supervise(&f.async_bundle, "noop", Value::Nil, &mut |_, _| {});
    for _ in 0..5 {
        version_run(bundle);
        noop();
        noop_async();
        noop_feature();
    }
    let (mut version, mut to_terminal, mut to_connect, mut sent_to_terminal, mut to_exit) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut async_terminal, mut feature_terminal) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        version.push(version_run(bundle));
        let r = noop();
        to_terminal.push(r.terminal);
        to_connect.push(r.connected);
        sent_to_terminal.push(r.terminal - r.sent);
        to_exit.push(r.exited);
        async_terminal.push(noop_async().terminal);
        feature_terminal.push(noop_feature().terminal);
    }
    let line = |what: &str, v: Vec<Duration>| {
        let (m, lo, hi) = stats(v);
        println!(
            "  {what:<46} {:>7.3} ms  (p10 {:.3}, p90 {:.3})",
            ms(m),
            ms(lo),
            ms(hi)
        );
        m
    };
    println!(
        "1. startup: process start to the task function, medians of {runs} interleaved runs each"
    );
    let base = line("spawn -> exit, `--version` (baseline)", version);
    let term = line("spawn -> SucceedTask frame, no-op task", to_terminal);
    line("  spawn -> comm socket connected", to_connect);
    line(
        "  StartupDetails sent -> SucceedTask frame",
        sent_to_terminal,
    );
    line("spawn -> exit, no-op task (after the ack)", to_exit);
    let own = ms(term) - ms(base);
    println!(
        "  runtime's own time: {:.3} - {:.3} = {own:.3} ms (budget < {:.0} ms: {})",
        ms(term),
        ms(base),
        ms(STARTUP_BUDGET),
        verdict(own < ms(STARTUP_BUDGET))
    );
    println!("5a. async tasks (feature `tokio`), interleaved with the runs above");
    let feature = line(
        "spawn -> SucceedTask, sync no-op, feature on",
        feature_terminal,
    );
    let term_async = line("spawn -> SucceedTask, async no-op task", async_terminal);
    println!(
        "  async no-op vs sync no-op: {:+.3} ms; the feature alone (sync task): {:+.3} ms",
        ms(term_async) - ms(term),
        ms(feature) - ms(term)
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Size.

fn size(f: &Fixtures) {
    let len = |p: &Path| fs::metadata(p).unwrap().len();
    let (bundle, baseline) = (len(&f.minimal), len(&f.baseline));
    let added = bundle.saturating_sub(baseline);
    let mib = |n: u64| n as f64 / (1024.0 * 1024.0);
    println!("2. size: release, stripped binaries");
    println!(
        "  baseline (serde + serde_json, no airflow-sdk): {baseline:>9} bytes ({:.3} MiB)",
        mib(baseline)
    );
    println!(
        "  minimal bundle (one no-op task):               {bundle:>9} bytes ({:.3} MiB)",
        mib(bundle)
    );
    println!(
        "  added by the runtime: {added} bytes = {:.3} MiB (budget < 1.5 MiB: {})",
        mib(added),
        verdict(added < SIZE_BUDGET)
    );
    let (feature, with_async) = (len(&f.minimal_feature), len(&f.minimal_async));
    println!("5b. size with the `tokio` feature");
    println!(
        "  minimal bundle, feature on, sync task:        {feature:>9} bytes ({:+} bytes)",
        feature as i64 - bundle as i64
    );
    println!(
        "  minimal bundle, feature on, async task:       {with_async:>9} bytes ({:+} bytes = {:+.3} MiB)",
        with_async as i64 - bundle as i64,
        (with_async as f64 - bundle as f64) / (1024.0 * 1024.0)
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Memory.

/// `VmRSS`, `VmHWM`, `RssAnon` and `RssFile` of a process, in KiB.
#[derive(Debug, Default, Clone, Copy)]
struct Mem {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
}

fn mem_of(pid: u32) -> Mem {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
    };
    Mem {
        rss: kib("VmRSS:"),
        hwm: kib("VmHWM:"),
        anon: kib("RssAnon:"),
        file: kib("RssFile:"),
    }
}

/// Samples the process every 100 ms for [`SAMPLE_FOR`]; keeps the largest `VmRSS` (with its
/// split) and the last `VmHWM`.
fn sample(pid: u32) -> Mem {
    let end = Instant::now() + SAMPLE_FOR;
    let mut worst = Mem::default();
    while Instant::now() < end {
        let m = mem_of(pid);
        if m.rss >= worst.rss {
            worst = Mem {
                hwm: worst.hwm,
                ..m
            };
        }
        worst.hwm = m.hwm;
        std::thread::sleep(Duration::from_millis(100));
    }
    worst
}

/// Runs `task` of `bundle` (it logs "sleeping", then waits [`SLEEP_MS`]) and samples its memory
/// while it waits.
fn sleeping_memory(bundle: &Path, task: &str) -> Mem {
    let mut mem = Mem::default();
    let conf = map(vec![("sleep_ms", Value::from(SLEEP_MS))]);
    supervise(bundle, task, conf, &mut |pid, logs| {
        // Wait for the task's own "sleeping" record: from then on the bundle only waits.
        let mut line = String::new();
        loop {
            line.clear();
            let n = logs.read_line(&mut line).expect("reading the logs socket");
            assert!(n > 0, "the logs socket closed before the task started");
            let record: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
            if record["event"] == "sleeping" {
                break;
            }
        }
        mem = sample(pid);
    });
    mem
}

fn memory(f: &Fixtures) {
    let bundle = sleeping_memory(&f.bundle, "sleep");
    let async_bundle = sleeping_memory(&f.async_bundle, "sleep_async");

    let mut child = Command::new(&f.baseline)
        .arg(format!("{{\"sleep_ms\": {SLEEP_MS}}}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning the baseline");
    let mut echo = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut echo)
        .unwrap();
    let baseline = sample(child.id());
    assert!(child.wait().unwrap().success());

    println!("3. memory: resident memory while the task sleeps (it allocates nothing)");
    for (what, m) in [
        ("bundle waiting on its task", bundle),
        ("baseline program, sleeping (context)", baseline),
    ] {
        println!(
            "  {what:<37} VmRSS {:>6} KiB (anon {}, file {}), VmHWM {:>6} KiB",
            m.rss, m.anon, m.file, m.hwm
        );
    }
    let worst = bundle.rss.max(bundle.hwm);
    println!(
        "  bundle: max(VmRSS, VmHWM) = {worst} KiB = {:.2} MiB (budget < 8 MiB: {})",
        worst as f64 / 1024.0,
        verdict(worst < MEMORY_BUDGET_KIB)
    );
    let m = async_bundle;
    let worst_async = m.rss.max(m.hwm);
    println!("5c. memory of an async task awaiting a tokio timer (feature `tokio`)");
    println!(
        "  {:<37} VmRSS {:>6} KiB (anon {}, file {}), VmHWM {:>6} KiB",
        "bundle waiting on its async task", m.rss, m.anon, m.file, m.hwm
    );
    println!(
        "  async bundle: max(VmRSS, VmHWM) = {worst_async} KiB = {:.2} MiB ({:+} KiB vs the sync task)",
        worst_async as f64 / 1024.0,
        worst_async as i64 - worst as i64
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Native parse.

/// The `DagFileParseRequest` Airflow 3.4's Dag processor sends first.
fn parse_request(file: &Path) -> Value {
    let root = file.parent().unwrap().to_str().unwrap();
    Value::Array(vec![
        Value::from(0),
        map(vec![
            ("type", Value::from("DagFileParseRequest")),
            ("file", Value::from(file.to_str().unwrap())),
            ("bundle_path", Value::from(root)),
            ("bundle_name", Value::from("bench")),
            ("callback_requests", Value::Array(vec![])),
        ]),
        Value::Nil,
    ])
}

/// One parse: time from spawn to the result frame, and the peak RSS (KiB) once it was sent.
fn parse_run(bundle: &Path) -> (Duration, u64) {
    let comm = TcpListener::bind("127.0.0.1:0").unwrap();
    let logs = TcpListener::bind("127.0.0.1:0").unwrap();
    let request = frame::encode_frame(&parse_request(bundle));
    let start = Instant::now();
    let mut child = Command::new(bundle)
        .arg(format!("--comm={}", comm.local_addr().unwrap()))
        .arg(format!("--logs={}", logs.local_addr().unwrap()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the bundle");
    let (_logs_stream, _) = logs.accept().unwrap();
    let (mut s, _) = comm.accept().unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.write_all(&request).unwrap();
    let (id, body) = recv(&mut s);
    let answered = start.elapsed();
    // The bundle now waits for the acknowledgement: its peak so far includes the whole result.
    let hwm = mem_of(child.id()).hwm;
    assert_eq!(body_type(&body), "DagFileParsingResult");
    let dags = match &body {
        Value::Map(m) => m
            .iter()
            .find(|(k, _)| k.as_str() == Some("serialized_dags"))
            .and_then(|(_, v)| v.as_array().map(Vec::len)),
        _ => None,
    };
    assert_eq!(dags, Some(100), "the bundle must serve its 100 native dags");
    s.write_all(&frame::encode_frame(&Value::Array(vec![
        Value::from(id),
        Value::Nil,
        Value::Nil,
    ])))
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {}", stderr_of(&mut child));
    PROGRESS.fetch_add(1, Ordering::SeqCst);
    (answered, hwm)
}

fn native_parse(bundle: &Path, runs: usize) {
    for _ in 0..3 {
        version_run(bundle);
        parse_run(bundle);
    }
    let (mut parses, mut versions, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        versions.push(version_run(bundle));
        let (t, hwm) = parse_run(bundle);
        parses.push(t);
        peaks.push(hwm);
    }
    let (parse, p10, p90) = stats(parses);
    let (version, _, _) = stats(versions);
    let own = parse.saturating_sub(version);
    let peak = peaks.iter().copied().max().unwrap_or(0);
    println!("4. native parse: 100 dags x 20 tasks, {runs} runs");
    println!(
        "  spawn to DagFileParsingResult: median {:.2} ms (p10 {:.2}, p90 {:.2}); --version run: median {:.2} ms",
        ms(parse),
        ms(p10),
        ms(p90),
        ms(version)
    );
    println!(
        "  the bundle's own time: {:.2} ms (budget < {} ms: {})",
        ms(own),
        PARSE_BUDGET.as_millis(),
        verdict(own < PARSE_BUDGET)
    );
    println!(
        "  peak RSS (VmHWM): {peak} KiB = {:.2} MiB (budget < 16 MiB: {})",
        peak as f64 / 1024.0,
        verdict(peak < PARSE_MEMORY_BUDGET_KIB)
    );
}
