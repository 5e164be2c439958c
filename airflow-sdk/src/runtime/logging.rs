//! The `log` backend: JSON lines on the supervisor's logs socket.
//!
//! Each record becomes `{"timestamp", "level", "event", "logger", ...fields}` on one line.
//! Levels are lowercase Python names (`trace` records are sent as `debug`); user fields whose
//! names the supervisor reserves are renamed `field.<name>`. Records logged before the socket is
//! connected are buffered; if the socket fails, records go to stderr as text.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

use log::kv::{self, VisitSource, VisitValue};
use log::{Level, LevelFilter, Log, Metadata, Record};

/// Field names the supervisor uses itself, or that crash it (`msg`, `target`, `self`), or that
/// it rewrites (`exception`).
const RESERVED: &[&str] = &[
    "timestamp",
    "level",
    "event",
    "logger",
    "msg",
    "target",
    "self",
    "exception",
    "error_detail",
];

/// At most this many bytes are buffered before the socket connects; later records are dropped
/// (and counted).
const BUFFER_LIMIT: usize = 1024 * 1024;

/// A Python logging level number: DEBUG 10, INFO 20, WARNING 30, ERROR 40, CRITICAL 50.
type PyLevel = u32;

fn py_level(level: Level) -> PyLevel {
    match level {
        Level::Error => 40,
        Level::Warn => 30,
        Level::Info => 20,
        Level::Debug => 10,
        Level::Trace => 5,
    }
}

/// The level name Airflow's task log shows for `level`.
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug | Level::Trace => "debug",
    }
}

/// Parses a Python level name (any case) or number.
fn parse_level(s: &str) -> Option<PyLevel> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    Some(match s.to_ascii_uppercase().as_str() {
        "NOTSET" => 0,
        "TRACE" => 5,
        "DEBUG" => 10,
        "INFO" => 20,
        "WARN" | "WARNING" => 30,
        "ERROR" => 40,
        "CRITICAL" | "FATAL" => 50,
        _ => return None,
    })
}

/// `a::b` and `a.b` name the same logger.
fn normalize(name: &str) -> String {
    name.replace("::", ".")
}

/// The level filter from `AIRFLOW__LOGGING__LOGGING_LEVEL` and
/// `AIRFLOW__LOGGING__NAMESPACE_LEVELS`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    default: PyLevel,
    /// `(normalized logger prefix, level)`, longest prefix first.
    namespaces: Vec<(String, PyLevel)>,
    /// Problems found in the settings, logged once the logger is up.
    pub(crate) warnings: Vec<String>,
}

impl Filter {
    /// Builds the filter from the two settings' values.
    pub(crate) fn new(level: Option<&str>, namespaces: Option<&str>) -> Filter {
        let mut warnings = Vec::new();
        let default = match level.map(str::trim).filter(|s| !s.is_empty()) {
            None => 20,
            Some(s) => parse_level(s).unwrap_or_else(|| {
                warnings.push(format!(
                    "unknown AIRFLOW__LOGGING__LOGGING_LEVEL {s:?}; using INFO"
                ));
                20
            }),
        };
        let mut list = Vec::new();
        for pair in namespaces
            .unwrap_or("")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some((name, lvl)) if !name.trim().is_empty() => match parse_level(lvl) {
                    Some(l) => list.push((normalize(name.trim()), l)),
                    None => warnings.push(format!(
                        "unknown level in AIRFLOW__LOGGING__NAMESPACE_LEVELS entry {pair:?}"
                    )),
                },
                _ => warnings.push(format!(
                    "AIRFLOW__LOGGING__NAMESPACE_LEVELS entry {pair:?} is not logger=LEVEL"
                )),
            }
        }
        // Longest first, stably (the shared sort: see airflow_bundle::sort).
        airflow_bundle::sort::sort_by(&mut list, |a, b| b.0.len().cmp(&a.0.len()));
        Filter {
            default,
            namespaces: list,
            warnings,
        }
    }

    /// The threshold for a logger: the longest configured prefix that matches it on a name
    /// boundary, else the default.
    fn threshold(&self, logger: &str) -> PyLevel {
        if self.namespaces.is_empty() {
            return self.default;
        }
        let name = normalize(logger);
        for (prefix, level) in &self.namespaces {
            if name == *prefix
                || (name.starts_with(prefix.as_str())
                    && name.as_bytes().get(prefix.len()) == Some(&b'.'))
            {
                return *level;
            }
        }
        self.default
    }

    /// Whether a record of `level` from `logger` passes.
    pub(crate) fn enabled(&self, level: Level, logger: &str) -> bool {
        py_level(level) >= self.threshold(logger)
    }

    /// The most verbose level any logger may use, for `log::set_max_level`.
    fn max_level(&self) -> LevelFilter {
        let min = self
            .namespaces
            .iter()
            .map(|(_, l)| *l)
            .chain([self.default])
            .min()
            .unwrap_or(20);
        match min {
            0..=5 => LevelFilter::Trace,
            6..=10 => LevelFilter::Debug,
            11..=20 => LevelFilter::Info,
            21..=30 => LevelFilter::Warn,
            31..=40 => LevelFilter::Error,
            _ => LevelFilter::Off,
        }
    }
}

/// Collects a record's key-values as JSON.
struct Fields(Vec<(String, serde_json::Value)>);

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let mut json = JsonValue(serde_json::Value::Null);
        value.visit(&mut json)?;
        let key = key.as_str();
        let key = if RESERVED.contains(&key) {
            format!("field.{key}")
        } else {
            key.to_owned()
        };
        self.0.push((key, json.0));
        Ok(())
    }
}

struct JsonValue(serde_json::Value);

impl<'v> VisitValue<'v> for &mut JsonValue {
    fn visit_any(&mut self, value: kv::Value<'_>) -> Result<(), kv::Error> {
        self.0 = serde_json::Value::String(value.to_string());
        Ok(())
    }
    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.0 = serde_json::Value::Null;
        Ok(())
    }
    fn visit_u64(&mut self, v: u64) -> Result<(), kv::Error> {
        self.0 = v.into();
        Ok(())
    }
    fn visit_i64(&mut self, v: i64) -> Result<(), kv::Error> {
        self.0 = v.into();
        Ok(())
    }
    fn visit_f64(&mut self, v: f64) -> Result<(), kv::Error> {
        self.0 = v.into();
        Ok(())
    }
    fn visit_bool(&mut self, v: bool) -> Result<(), kv::Error> {
        self.0 = v.into();
        Ok(())
    }
    fn visit_str(&mut self, v: &str) -> Result<(), kv::Error> {
        self.0 = v.into();
        Ok(())
    }
}

/// A record's key-values as they reach the task log: JSON values, reserved names renamed
/// `field.<name>`. Formats user values: call it outside every lock.
pub(crate) fn fields(record: &Record<'_>) -> Vec<(String, serde_json::Value)> {
    let mut fields = Fields(Vec::new());
    let _ = record.key_values().visit(&mut fields);
    fields.0
}

/// A record with every user value already formatted (message and fields), so that writing it
/// runs no user code: a `Display` that panics or logs runs before any lock is taken.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) level: Level,
    pub(crate) target: String,
    pub(crate) message: String,
    pub(crate) fields: Vec<(String, serde_json::Value)>,
}

impl Rendered {
    /// Formats `record`. Runs the user's `Display` impls, which may panic or log.
    pub(crate) fn of(record: &Record<'_>) -> Rendered {
        let message = record.args().to_string();
        Rendered {
            level: record.level(),
            target: record.target().to_owned(),
            message,
            fields: fields(record),
        }
    }

    /// The record as a JSON line (with its trailing newline).
    pub(crate) fn json_line(&self, timestamp: &str) -> String {
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let mut line = String::with_capacity(128);
        let _ = write!(
            line,
            "{{\"timestamp\":{},\"level\":{},\"event\":{},\"logger\":{}",
            q(timestamp),
            q(level_name(self.level)),
            q(&self.message),
            q(&self.target),
        );
        for (k, v) in &self.fields {
            let _ = write!(line, ",{}:{}", q(k), v);
        }
        line.push_str("}\n");
        line
    }

    /// The record as a text line for stderr.
    fn text_line(&self, timestamp: &str) -> String {
        let mut line = format!(
            "{timestamp} {} {}: {}",
            level_name(self.level).to_ascii_uppercase(),
            self.target,
            self.message
        );
        for (k, v) in &self.fields {
            let _ = write!(line, " {k}={v}");
        }
        line.push('\n');
        line
    }
}

/// How many records may nest on one thread (a value whose `Display` logs, a panic while
/// formatting whose hook logs) before a record is dropped, so that a `Display` that logs itself
/// ends instead of overflowing the stack.
const MAX_NESTING: u32 = 4;

thread_local! {
    /// How many records this thread is rendering or writing right now.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Whether this thread holds the runtime logger's output lock.
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

/// Restores [`DEPTH`] when a record is done, also when formatting it panicked.
struct Nested;

impl Drop for Nested {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Formats `record` with no lock held, then hands it to `sink`: the one path of every record, in
/// a real run and in a harness run alike. Too deep a nesting drops the record with a note on
/// stderr.
pub(crate) fn dispatch(record: &Record<'_>, sink: impl FnOnce(Rendered)) {
    // Thread-local storage is gone only while the thread is being torn down; count it as depth 0.
    let depth = DEPTH
        .try_with(|d| {
            let n = d.get();
            d.set(n + 1);
            n
        })
        .unwrap_or(0);
    let _nested = Nested;
    if depth >= MAX_NESTING {
        let _ = writeln!(
            std::io::stderr(),
            "airflow-sdk: a log record from {} was dropped: logging nested {depth} levels deep \
             (a logged value's Display logs itself?)",
            record.target()
        );
        return;
    }
    sink(Rendered::of(record));
}

/// Renders one record as a JSON line (with its trailing newline).
#[cfg(test)]
pub(crate) fn json_line(timestamp: &str, record: &Record<'_>) -> String {
    Rendered::of(record).json_line(timestamp)
}

/// Where records go: a buffer until the socket connects, then the socket, else stderr.
enum Sink {
    /// Not connected yet: JSON lines kept in order.
    Buffer { data: Vec<u8>, dropped: usize },
    /// The supervisor's logs socket.
    Socket(TcpStream),
    /// The socket failed or never came: text on stderr.
    Stderr,
}

/// The sink state machine, with the fallback writer injectable for tests.
struct Output<E: std::io::Write> {
    sink: Sink,
    stderr: E,
}

impl<E: std::io::Write> Output<E> {
    fn new(stderr: E) -> Self {
        Output {
            sink: Sink::Buffer {
                data: Vec::new(),
                dropped: 0,
            },
            stderr,
        }
    }

    /// Switches to `stream`, sending the buffered lines first. Returns how many records were
    /// dropped because the buffer was full.
    fn attach(&mut self, mut stream: TcpStream) -> usize {
        let (data, dropped) = match std::mem::replace(&mut self.sink, Sink::Stderr) {
            Sink::Buffer { data, dropped } => (data, dropped),
            // Attached again (only in tests): switch to the new socket.
            _ => (Vec::new(), 0),
        };
        match stream.write_all(&data) {
            Ok(()) => self.sink = Sink::Socket(stream),
            Err(e) => {
                let _ = self.stderr.write_all(&data);
                let _ = writeln!(
                    self.stderr,
                    "airflow-sdk: the logs socket failed ({e}); logging to stderr"
                );
            }
        }
        dropped
    }

    /// Gives up on the socket: buffered and later records go to stderr.
    fn give_up_socket(&mut self) {
        if let Sink::Buffer { data, .. } = std::mem::replace(&mut self.sink, Sink::Stderr) {
            // The buffer holds JSON lines; still readable on stderr.
            let _ = self.stderr.write_all(&data);
        }
    }

    fn write(&mut self, timestamp: &str, record: &Rendered) {
        match &mut self.sink {
            Sink::Buffer { data, dropped } => {
                let line = record.json_line(timestamp);
                if data.len() + line.len() <= BUFFER_LIMIT {
                    data.extend_from_slice(line.as_bytes());
                } else {
                    *dropped += 1;
                }
            }
            Sink::Socket(stream) => {
                let line = record.json_line(timestamp);
                if let Err(e) = stream.write_all(line.as_bytes()) {
                    self.sink = Sink::Stderr;
                    let _ = writeln!(
                        self.stderr,
                        "airflow-sdk: the logs socket failed ({e}); logging to stderr"
                    );
                    let _ = self
                        .stderr
                        .write_all(record.text_line(timestamp).as_bytes());
                }
            }
            Sink::Stderr => {
                let _ = self
                    .stderr
                    .write_all(record.text_line(timestamp).as_bytes());
            }
        }
    }

    fn flush(&mut self) {
        if let Sink::Socket(s) = &mut self.sink {
            let _ = s.flush();
        }
        let _ = self.stderr.flush();
    }
}

/// The runtime's logger.
pub(crate) struct Logger {
    filter: Filter,
    output: Mutex<Output<std::io::Stderr>>,
}

/// After this long without the output lock, a record logged while the process exits goes to
/// stderr instead (the lock's holder is another thread, which exit does not stop).
const EXIT_LOCK_WAIT: Duration = Duration::from_millis(1000);

/// Set once the process is exiting (see [`super::exit`]): writers stop waiting on the output lock
/// without bound.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Makes every later record wait at most [`EXIT_LOCK_WAIT`] for the output lock.
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) fn exiting() {
    EXITING.store(true, Ordering::SeqCst);
}

/// Clears [`WRITING`] when the write is done.
struct Writing;

impl Drop for Writing {
    fn drop(&mut self) {
        let _ = WRITING.try_with(|w| w.set(false));
    }
}

impl Logger {
    fn output(&self) -> std::sync::MutexGuard<'_, Output<std::io::Stderr>> {
        self.output.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The output lock, waited for at most [`EXIT_LOCK_WAIT`] once the process is exiting.
    fn output_bounded(&self) -> Option<std::sync::MutexGuard<'_, Output<std::io::Stderr>>> {
        if !EXITING.load(Ordering::SeqCst) {
            return Some(self.output());
        }
        let deadline = Instant::now() + EXIT_LOCK_WAIT;
        loop {
            match self.output.try_lock() {
                Ok(g) => return Some(g),
                Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(TryLockError::WouldBlock) if Instant::now() >= deadline => return None,
                Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Writes a rendered record. Runs no user code under the lock; a record that reaches here
    /// while this thread already holds the lock (which nothing should cause) or that cannot get
    /// the lock while exiting goes to stderr as plain text instead of deadlocking.
    fn write(&self, record: &Rendered) {
        let ts = super::messages::now();
        let reentered = WRITING.try_with(|w| w.replace(true)).unwrap_or(true);
        if reentered {
            let _ = std::io::stderr().write_all(record.text_line(&ts).as_bytes());
            return;
        }
        let _writing = Writing;
        match self.output_bounded() {
            Some(mut out) => out.write(&ts, record),
            None => {
                let _ = std::io::stderr().write_all(record.text_line(&ts).as_bytes());
            }
        }
    }
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Whether [`init`] installed the runtime's logger as the `log` crate's logger.
#[cfg(feature = "testing")]
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the runtime's logger is the process's `log` logger (it then routes the records of
/// harness runs to their capture too).
#[cfg(feature = "testing")]
pub(crate) fn installed() -> bool {
    INSTALLED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Installs the logger (buffering until [`attach`]) with the filter from the environment.
/// Returns `false` when another logger was already installed.
pub(crate) fn init() -> bool {
    let filter = Filter::new(
        std::env::var("AIRFLOW__LOGGING__LOGGING_LEVEL")
            .ok()
            .as_deref(),
        std::env::var("AIRFLOW__LOGGING__NAMESPACE_LEVELS")
            .ok()
            .as_deref(),
    );
    let warnings = filter.warnings.clone();
    let max = filter.max_level();
    let logger = LOGGER.get_or_init(|| Logger {
        filter,
        output: Mutex::new(Output::new(std::io::stderr())),
    });
    if log::set_logger(logger).is_err() {
        return false;
    }
    #[cfg(feature = "testing")]
    INSTALLED.store(true, std::sync::atomic::Ordering::SeqCst);
    log::set_max_level(max);
    for w in warnings {
        log::warn!(target: "airflow_sdk::logging", "{w}");
    }
    true
}

/// Whether panics go to the task log: set while the runtime runs a task (and never unset in a
/// bundle: a panic after the run is still the task's).
static PANICS_TO_TASK_LOG: AtomicBool = AtomicBool::new(false);

/// Sends panics to the task log from now on ([`install_panic_hook`]).
pub(crate) fn panics_to_task_log() {
    PANICS_TO_TASK_LOG.store(true, Ordering::SeqCst);
}

/// The panic payload's text.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Where records can be diverted before they reach the task log: the testing harness registers
/// its capture here. Logging sits below the harness, so it calls it only through this.
pub(crate) struct Tap {
    /// Whether a capture takes this thread's records (a panic is then logged there too).
    pub(crate) capturing: fn() -> bool,
    /// Hands a record to a capture; `true` when one took it.
    pub(crate) route: fn(&Record<'_>) -> bool,
}

/// The registered tap; never set in a bundle running under Airflow.
static TAP: OnceLock<Tap> = OnceLock::new();

/// Registers `tap` (the first registration wins: there is one harness per process).
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) fn set_tap(tap: Tap) {
    let _ = TAP.set(tap);
}

/// Installs (once) the hook that logs a panic, with its thread and location, as an error record
/// of the task log: in a bundle running a task, and in a harness run on the panicking thread
/// (the same record, through the same path, so a unit test sees what Airflow shows). Any other
/// panic goes to the hook that was installed before. The record is logged like any other, so a
/// panic raised while a record was being formatted (a `Display` that panics) is logged too: no
/// lock is held while formatting.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let captured = TAP.get().is_some_and(|tap| (tap.capturing)());
            if !captured && !PANICS_TO_TASK_LOG.load(Ordering::SeqCst) {
                previous(info);
                return;
            }
            let message = panic_message(info.payload());
            let thread = std::thread::current();
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            log::error!(target: "airflow_sdk::runtime", thread = thread.name().unwrap_or("?"),
                location = location.as_str(); "panicked: {message}");
        }));
    });
}

/// Sends the buffered records, then every later one, to the logs socket.
pub(crate) fn attach(stream: TcpStream) {
    let Some(logger) = LOGGER.get() else { return };
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_nodelay(true);
    let dropped = logger.output().attach(stream);
    if dropped > 0 {
        log::warn!(target: "airflow_sdk::logging", dropped = dropped;
            "log records were dropped before the logs socket connected");
    }
}

/// Stops waiting for the socket (it could not be reached): records go to stderr.
pub(crate) fn to_stderr() {
    if let Some(logger) = LOGGER.get() {
        logger.output().give_up_socket();
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata.level(), metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        // A record of a task run by the testing harness goes to that run's capture.
        if TAP.get().is_some_and(|tap| (tap.route)(record)) {
            return;
        }
        if !self.enabled(record.metadata()) {
            return;
        }
        dispatch(record, |rendered| self.write(&rendered));
    }

    fn flush(&self) {
        if let Some(mut out) = self.output_bounded() {
            out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(
        level: Level,
        target: &str,
        kvs: &[(&str, kv::Value<'_>)],
        msg: &str,
    ) -> serde_json::Value {
        let args = format_args!("{msg}");
        let record = Record::builder()
            .level(level)
            .target(target)
            .args(args)
            .key_values(&kvs)
            .build();
        let line = json_line("2026-11-22T04:00:00.5Z", &record);
        assert!(line.ends_with("}\n") && !line[..line.len() - 1].contains('\n'));
        serde_json::from_str(&line).unwrap()
    }

    #[test]
    fn record_shape() {
        let v = render(
            Level::Warn,
            "my_crate::load",
            &[
                ("rows", kv::Value::from(3u64)),
                ("ratio", kv::Value::from(0.5f64)),
                ("ok", kv::Value::from(true)),
                ("table", kv::Value::from("t\"x")),
                ("msg", kv::Value::from("collides")),
                ("target", kv::Value::from("collides too")),
                ("level", kv::Value::from(1i64)),
                ("exception", kv::Value::from("e")),
            ],
            "loaded \"rows\"\nsecond line",
        );
        let o = v.as_object().unwrap();
        assert_eq!(o["timestamp"], "2026-11-22T04:00:00.5Z");
        assert_eq!(o["level"], "warning");
        assert_eq!(o["event"], "loaded \"rows\"\nsecond line");
        assert_eq!(o["logger"], "my_crate::load");
        assert_eq!(o["rows"], 3);
        assert_eq!(o["ratio"], 0.5);
        assert_eq!(o["ok"], true);
        assert_eq!(o["table"], "t\"x");
        assert_eq!(o["field.msg"], "collides");
        assert_eq!(o["field.target"], "collides too");
        assert_eq!(o["field.level"], 1);
        assert_eq!(o["field.exception"], "e");
        for bad in ["msg", "target", "exception"] {
            assert!(!o.contains_key(bad), "{bad} must never be a top-level key");
        }
        for (level, name) in [
            (Level::Error, "error"),
            (Level::Info, "info"),
            (Level::Debug, "debug"),
            (Level::Trace, "debug"),
        ] {
            assert_eq!(render(level, "t", &[], "m")["level"], name);
        }
    }

    fn record(args: std::fmt::Arguments<'_>) -> Rendered {
        Rendered::of(
            &Record::builder()
                .level(Level::Info)
                .target("t")
                .args(args)
                .build(),
        )
    }

    #[test]
    fn buffers_until_connected_then_falls_back_to_stderr() {
        use std::io::{BufRead, BufReader};
        let mut out = Output::new(Vec::new());
        out.write("2026-01-01T00:00:00Z", &record(format_args!("early one")));
        out.write("2026-01-01T00:00:00Z", &record(format_args!("early two")));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert_eq!(out.attach(client), 0);
        out.write("2026-01-01T00:00:00Z", &record(format_args!("late")));
        out.flush();
        let mut lines = BufReader::new(server.try_clone().unwrap()).lines();
        for want in ["early one", "early two", "late"] {
            let line = lines.next().unwrap().unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["event"], want);
            assert_eq!(v["level"], "info");
        }
        assert!(out.stderr.is_empty());
        // The supervisor goes away: writes fail (EPIPE/ECONNRESET) and records reach stderr.
        drop(lines);
        drop(server);
        for i in 0..200 {
            out.write(
                "2026-01-01T00:00:00Z",
                &record(format_args!("after close {i}")),
            );
            if matches!(out.sink, Sink::Stderr) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(matches!(out.sink, Sink::Stderr), "switched to stderr");
        out.write("2026-01-01T00:00:00Z", &record(format_args!("on stderr")));
        let text = String::from_utf8(out.stderr).unwrap();
        assert!(text.contains("logs socket failed"), "{text}");
        assert!(text.contains("INFO t: on stderr"), "{text}");
    }

    #[test]
    fn buffer_is_bounded_and_can_be_flushed_to_stderr() {
        let mut out = Output::new(Vec::new());
        let big = "x".repeat(64 * 1024);
        for _ in 0..20 {
            out.write("2026-01-01T00:00:00Z", &record(format_args!("{big}")));
        }
        let Sink::Buffer { data, dropped } = &out.sink else {
            panic!("still buffering")
        };
        assert!(data.len() <= BUFFER_LIMIT);
        assert!(*dropped > 0);
        out.give_up_socket();
        assert!(out.stderr.len() > 512 * 1024);
        assert!(out.stderr.starts_with(b"{\"timestamp\""));
    }

    #[test]
    fn the_real_timestamp_is_rfc3339_with_offset() {
        let ts = super::super::messages::now();
        assert!(ts.ends_with('Z'), "{ts}");
        time::OffsetDateTime::parse(&ts, &time::format_description::well_known::Rfc3339).unwrap();
    }

    #[test]
    fn level_filtering() {
        let f = Filter::new(None, None);
        assert!(f.enabled(Level::Info, "x"));
        assert!(!f.enabled(Level::Debug, "x"));
        assert_eq!(f.max_level(), LevelFilter::Info);

        let f = Filter::new(
            Some("warning"),
            Some("my_crate=DEBUG, my_crate::noisy=ERROR airflow_sdk.runtime=info"),
        );
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        assert!(!f.enabled(Level::Info, "other"));
        assert!(f.enabled(Level::Warn, "other"));
        assert!(f.enabled(Level::Debug, "my_crate"));
        assert!(f.enabled(Level::Debug, "my_crate::load"));
        assert!(!f.enabled(Level::Warn, "my_crate::noisy"));
        assert!(!f.enabled(Level::Warn, "my_crate::noisy::deep"));
        assert!(
            f.enabled(Level::Debug, "my_crate::noisy_not"),
            "boundary match"
        );
        assert!(!f.enabled(Level::Info, "my_crate_other"), "boundary match");
        assert!(f.enabled(Level::Info, "airflow_sdk::runtime"));
        assert!(!f.enabled(Level::Trace, "my_crate"));
        assert_eq!(f.max_level(), LevelFilter::Debug);

        let f = Filter::new(Some("LOUD"), Some("a=b,=INFO,c"));
        assert_eq!(f.warnings.len(), 4, "{:?}", f.warnings);
        assert!(f.enabled(Level::Info, "a"));
        let f = Filter::new(Some("CRITICAL"), None);
        assert!(!f.enabled(Level::Error, "x"));
        assert_eq!(f.max_level(), LevelFilter::Off);
        let f = Filter::new(Some("debug"), None);
        assert!(f.enabled(Level::Debug, "x") && !f.enabled(Level::Trace, "x"));
    }
}
