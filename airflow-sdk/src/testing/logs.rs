//! Log capture for harness runs, and the secrets masking Airflow's supervisor applies to a task
//! log.
//!
//! The `log` logger is one per process, and `cargo test` runs tests on several threads at once.
//! So the capture logger (installed once) hands each record to the capture of the run on the
//! record's thread, through a thread-local. A run may instead take every thread's records (one
//! such run at a time in the process), for tasks that log from threads they spawn.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use log::{LevelFilter, Log, Metadata, Record};
use serde_json::Value;

use super::CapturedLog;
use crate::runtime::logging;

thread_local! {
    /// The capture of the harness run on this thread.
    static CURRENT: RefCell<Option<Arc<Capture>>> = const { RefCell::new(None) };
}

/// The capture of the run that takes records from threads without a capture of their own.
static ALL_THREADS: Mutex<Option<Arc<Capture>>> = Mutex::new(None);
/// Held for the whole of a run that captures every thread, so that there is one at a time.
static ALL_THREADS_RUN: Mutex<()> = Mutex::new(());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The records of one run, masked as they arrive.
pub(crate) struct Capture {
    max_level: LevelFilter,
    masker: Arc<Masker>,
    records: Mutex<Vec<CapturedLog>>,
}

impl Capture {
    /// Keeps a record that passes the run's level, rendered and masked.
    fn push(&self, record: &Record<'_>) {
        if record.level() > self.max_level {
            return;
        }
        // The runtime's path: every user value formatted before any lock is taken.
        logging::dispatch(record, |rendered| self.keep(rendered));
    }

    fn keep(&self, rendered: logging::Rendered) {
        // What the supervisor shows: every string masked with the secrets registered so far,
        // and the values of fields with sensitive names hidden.
        let masker = &self.masker;
        let fields = rendered
            .fields
            .into_iter()
            .map(|(k, v)| {
                let v = masker.redact_field(&k, v);
                (k, v)
            })
            .collect();
        let log = CapturedLog {
            level: rendered.level,
            target: masker.redact(&rendered.target),
            message: masker.redact(&rendered.message),
            fields,
        };
        lock(&self.records).push(log);
    }
}

/// The capture that takes this thread's records, if any.
fn capture_of_this_thread() -> Option<Arc<Capture>> {
    let current = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten();
    current.or_else(|| lock(&ALL_THREADS).clone())
}

/// Whether a harness run captures this thread's records (its panics then go to the capture, as
/// they go to the task log in a real run).
fn capturing() -> bool {
    capture_of_this_thread().is_some()
}

/// Hands `record` to the capture of a harness run, if one takes it: the run on the record's
/// thread, else the run that captures every thread.
fn route(record: &Record<'_>) -> bool {
    let Some(capture) = capture_of_this_thread() else {
        return false;
    };
    capture.push(record);
    true
}

/// The logger the harness installs: records of harness runs go to their capture, others are
/// dropped.
struct CaptureLogger;

impl Log for CaptureLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        route(record);
    }

    fn flush(&self) {}
}

static CAPTURE_LOGGER: CaptureLogger = CaptureLogger;

/// Installs the capture logger, once. `false` when another logger holds the process (a test
/// binary that installs its own), in which case nothing can be captured; the runtime's own
/// logger routes to captures too.
fn installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        logging::set_tap(logging::Tap { capturing, route });
        let ok = log::set_logger(&CAPTURE_LOGGER).is_ok() || logging::installed();
        if !ok {
            eprintln!(
                "airflow-sdk testing: another `log` logger is installed in this test binary, so \
                 task logs cannot be captured (TestOutcome::logs stays empty). Do not install \
                 a logger in tests that use airflow_sdk::testing."
            );
        }
        ok
    })
}

/// Capturing for one run; stops when dropped.
pub(crate) struct CaptureGuard {
    capture: Arc<Capture>,
    previous: Option<Arc<Capture>>,
    all_threads: Option<MutexGuard<'static, ()>>,
    /// Whether records can reach the capture at all.
    pub(crate) active: bool,
}

/// Starts capturing the records of the current thread (and of every thread when `all_threads`),
/// at most `max_level`, masked by `masker`.
pub(crate) fn start(
    max_level: LevelFilter,
    masker: Arc<Masker>,
    all_threads: bool,
) -> CaptureGuard {
    let active = installed();
    if log::max_level() < max_level {
        log::set_max_level(max_level);
    }
    let capture = Arc::new(Capture {
        max_level,
        masker,
        records: Mutex::new(Vec::new()),
    });
    let previous = CURRENT.with(|c| c.replace(Some(Arc::clone(&capture))));
    let all_threads = all_threads.then(|| {
        let guard = lock(&ALL_THREADS_RUN);
        *lock(&ALL_THREADS) = Some(Arc::clone(&capture));
        guard
    });
    CaptureGuard {
        capture,
        previous,
        all_threads,
        active,
    }
}

impl CaptureGuard {
    /// Stops capturing; the records captured, in order.
    pub(crate) fn finish(self) -> Vec<CapturedLog> {
        let capture = Arc::clone(&self.capture);
        drop(self);
        std::mem::take(&mut *lock(&capture.records))
    }
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| c.replace(previous));
        if self.all_threads.is_some() {
            *lock(&ALL_THREADS) = None;
        }
    }
}

/// Names Airflow deems sensitive by default (`DEFAULT_SENSITIVE_FIELDS` of its secrets masker):
/// a Variable or field whose name contains one is hidden.
const DEFAULT_SENSITIVE_NAMES: &[&str] = &[
    "access_key",
    "access_token",
    "api_key",
    "apikey",
    "auth_header",
    "authorization",
    "bearer",
    "connection_string",
    "dsn",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "proxy",
    "proxy_password",
    "proxies",
    "secret",
    "service_account",
    "service_key",
    "token",
    "keyfile_dict",
    "webhook_url",
];

/// Values Airflow never masks (they would hide ordinary words).
const NEVER_MASKED: &[&str] = &["airflow"];

/// Airflow's default `[logging] min_length_masked_secret`: shorter secrets are not masked.
const MIN_LENGTH: usize = 5;

/// The replacement Airflow writes for a secret.
const MASK: &str = "***";

/// Airflow's secrets masker, as its supervisor applies it to a task's log records: secrets
/// registered by `MaskSecret` (and by the supervisor itself for Variables and Connection
/// passwords) are replaced by `***` in every string of a record logged afterwards; a field whose
/// name is sensitive has its string value replaced whole.
#[derive(Debug)]
pub(crate) struct Masker {
    /// The secrets, longest first.
    patterns: Mutex<Vec<String>>,
    /// Sensitive names: Airflow's defaults and `[core] sensitive_var_conn_names`.
    sensitive: Vec<String>,
}

impl Masker {
    /// A masker with Airflow's default sensitive names and `extra` ones.
    pub(crate) fn new(extra: &[String]) -> Masker {
        let mut sensitive: Vec<String> = DEFAULT_SENSITIVE_NAMES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        sensitive.extend(
            extra
                .iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty()),
        );
        Masker {
            patterns: Mutex::new(Vec::new()),
            sensitive,
        }
    }

    /// Whether Airflow hides the value of something named `name` (`should_hide_value_for_key`):
    /// the name, lower-cased with runs of non-word characters turned into `_`, contains a
    /// sensitive name.
    pub(crate) fn is_sensitive(&self, name: &str) -> bool {
        let mut normalized = String::with_capacity(name.len());
        let mut in_run = false;
        for c in name.trim().to_lowercase().chars() {
            if c.is_alphanumeric() || c == '_' {
                normalized.push(c);
                in_run = false;
            } else if !in_run {
                normalized.push('_');
                in_run = true;
            }
        }
        self.sensitive
            .iter()
            .any(|s| normalized.contains(s.as_str()))
    }

    /// Registers `secret` (Airflow's `mask_secret`): strings of at least 5 characters, except
    /// `airflow`; with a `name`, only when the name is sensitive. Objects register each value
    /// under its key, arrays each item.
    pub(crate) fn add(&self, secret: &Value, name: Option<&str>) {
        match secret {
            Value::String(s) => {
                if s.is_empty()
                    || NEVER_MASKED.contains(&s.to_lowercase().as_str())
                    || s.chars().count() < MIN_LENGTH
                    || name.is_some_and(|n| !self.is_sensitive(n))
                {
                    return;
                }
                let mut patterns = lock(&self.patterns);
                if !patterns.contains(s) {
                    patterns.push(s.clone());
                    patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.add(v, Some(k));
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.add(v, name);
                }
            }
            _ => {}
        }
    }

    /// `text` with every registered secret replaced by `***` (the longest first at each
    /// position).
    pub(crate) fn redact(&self, text: &str) -> String {
        let patterns = lock(&self.patterns);
        if patterns.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'outer: while let Some(c) = rest.chars().next() {
            for p in patterns.iter() {
                if rest.starts_with(p.as_str()) {
                    out.push_str(MASK);
                    rest = &rest[p.len()..];
                    continue 'outer;
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// A record field's value as the supervisor shows it: hidden whole when `key` is
    /// sensitive, else with registered secrets masked. Only strings are ever changed.
    pub(crate) fn redact_field(&self, key: &str, value: Value) -> Value {
        let hide = self.is_sensitive(key);
        self.redact_value(value, hide)
    }

    fn redact_value(&self, value: Value, hide: bool) -> Value {
        match value {
            Value::String(_) if hide => Value::String(MASK.to_owned()),
            Value::String(s) => Value::String(self.redact(&s)),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| self.redact_value(v, hide))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let hide = hide || self.is_sensitive(&k);
                        let v = self.redact_value(v, hide);
                        (k, v)
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}
