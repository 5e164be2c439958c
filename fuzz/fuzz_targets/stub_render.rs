//! Any manifest through the Python stub renderer (`airflow_bundle::stubs::render`), which must
//! treat it as untrusted: the output is pure ASCII, its first two lines are the fixed ones, every
//! string literal is well formed and reads back as a value the manifest (or the template) gave,
//! and with the literals taken out every line is one of the template's. (Python's own tokenizer
//! and parser judge generated files in tests/tests/e2e/stub_boundary.rs.)
//!
//! The first byte chooses the input: even, a manifest built field by field from the rest (chunks
//! split at 0xFF bytes); odd, the rest as manifest YAML through `Manifest::from_yaml`.
#![no_main]

use std::collections::BTreeSet;

use airflow_bundle::declare::{
    CRON_PRESETS, DagDeclaration, ParamDeclaration, Schedule, TaskDeclaration, TaskSettings,
    TriggerRule,
};
use airflow_bundle::stubs::{FIRST_LINE, SECOND_LINE, render};
use airflow_bundle::{DagEntry, Manifest, Metadata, Sdk};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The fuzz input as a sequence of fields: chunks between 0xFF bytes.
struct Fields<'a>(std::slice::Split<'a, u8, fn(&u8) -> bool>);

impl Fields<'_> {
    fn bytes(&mut self) -> &[u8] {
        self.0.next().unwrap_or_default()
    }
    fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }
    fn byte(&mut self) -> u8 {
        self.bytes().first().copied().unwrap_or(0)
    }
    fn opt_text(&mut self, present: bool) -> Option<String> {
        present.then(|| self.text())
    }
    /// Any f64 bit pattern (NaN, infinities and subnormals included).
    fn float(&mut self) -> f64 {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(self.bytes()) {
            *d = *s;
        }
        f64::from_le_bytes(b)
    }
    /// A JSON value: the chunk parsed as JSON, or the chunk as a string.
    fn json(&mut self) -> Value {
        let b = self.bytes();
        serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned()))
    }
}

fn empty_manifest() -> Manifest {
    Manifest::new(
        Metadata {
            airflow_bundle_metadata_version: "1.0".into(),
            sdk: Sdk {
                language: "rust".into(),
                version: "0.1.0".into(),
                supervisor_schema_version: "2026-06-16".into(),
                supervisor_schema_versions: vec![],
            },
            task_handlers: None,
            dags: Default::default(),
        },
        "main.rs".into(),
        None,
    )
}

fn structured(data: &[u8]) -> (Manifest, String, String) {
    let mut f = Fields(data.split((|b| *b == 0xFF) as fn(&u8) -> bool));
    let (bundle, digest) = (f.text(), f.text());
    let mut m = empty_manifest();
    for _ in 0..f.byte() % 4 {
        let id = f.text();
        let flags = f.byte();
        let mut d = DagDeclaration::default();
        d.native = flags & 0x80 != 0;
        d.schedule = match flags % 4 {
            0 => Schedule::None,
            1 => Schedule::Once,
            2 => Schedule::Continuous,
            _ => Schedule::Cron {
                expression: f.text(),
                timezone: f.text(),
            },
        };
        d.start_date = f.opt_text(flags & 4 != 0);
        d.end_date = f.opt_text(flags & 8 != 0);
        d.catchup = (flags & 16 != 0).then_some(flags & 1 != 0);
        d.description = f.opt_text(flags & 32 != 0);
        d.tags = (0..f.byte() % 3).map(|_| f.text()).collect();
        d.params = (0..f.byte() % 3)
            .map(|_| ParamDeclaration {
                name: f.text(),
                default: f.json(),
                description: f.opt_text(flags & 64 != 0),
            })
            .collect();
        let nums = f.byte();
        d.max_active_runs = (nums & 1 != 0).then(|| u32::from(f.byte()) * 1_000_003);
        d.max_active_tasks = (nums & 2 != 0).then(|| u32::from(f.byte()));
        d.dagrun_timeout = (nums & 4 != 0).then(|| f.float());
        let n = 1 + f.byte() % 4;
        let mut tasks: Vec<TaskDeclaration> = Vec::new();
        for _ in 0..n {
            let bits = f.byte();
            let mut s = TaskSettings::default();
            s.queue = f.opt_text(bits & 1 == 0);
            s.pool = f.opt_text(bits & 2 != 0);
            s.owner = f.opt_text(bits & 4 != 0);
            s.doc_md = f.opt_text(bits & 8 != 0);
            if bits & 16 != 0 {
                s.retries = Some(u32::from(f.byte()));
                s.retry_delay = Some(f.float());
                s.retry_exponential_backoff = Some(f.float());
                s.max_retry_delay = Some(f.float());
                s.execution_timeout = Some(f.float());
                s.priority_weight = Some(i32::from(f.byte() as i8).wrapping_mul(16_777_259));
            }
            s.trigger_rule = (bits & 32 != 0)
                .then(|| TriggerRule::ALL[usize::from(f.byte()) % TriggerRule::ALL.len()]);
            let id = f.text();
            let down = f.byte();
            let downstream = (0..8)
                .filter(|j| down & (1 << j) != 0)
                .map(|j| tasks.get(j).map_or_else(|| f.text(), |t| t.id.clone()))
                .collect();
            let args = if bits & 64 != 0 {
                vec![f.text()]
            } else {
                vec![]
            };
            tasks.push(TaskDeclaration {
                id,
                settings: s,
                downstream,
                args,
                arg_sources: vec![],
                branch: false,
                map_index_template: None,
                inlets: vec![],
                outlets: vec![],
            });
        }
        d.coordinator_queues = tasks
            .iter()
            .filter_map(|t| t.settings.queue.clone())
            .collect();
        if flags & 2 != 0 && flags & 1 != 0 {
            d.coordinator_queues.pop();
        }
        d.tasks = tasks;
        let entry = DagEntry {
            tasks: d.tasks.iter().map(|t| t.id.clone()).collect(),
            declared: (nums & 8 == 0).then_some(d),
        };
        m.dags.insert(id, entry);
    }
    (m, bundle, digest)
}

fn json_strings(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Every string the manifest (and the caller) gives that may reach a stub, and the template's
/// own strings.
fn allowed_strings(m: &Manifest, bundle: &str, digest: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = [bundle, digest, "@once", "@continuous"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    out.extend(TriggerRule::ALL.iter().map(|r| r.as_str().to_owned()));
    out.extend(CRON_PRESETS.iter().map(|(_, x)| (*x).to_owned()));
    for (id, e) in &m.dags {
        out.insert(id.clone());
        let Some(d) = &e.declared else { continue };
        if let Schedule::Cron {
            expression,
            timezone,
        } = &d.schedule
        {
            out.insert(expression.clone());
            out.insert(timezone.clone());
        }
        out.extend(d.description.iter().cloned());
        out.extend(d.tags.iter().cloned());
        for p in &d.params {
            out.insert(p.name.clone());
            out.extend(p.description.iter().cloned());
            json_strings(&p.default, &mut out);
        }
        for t in &d.tasks {
            out.insert(t.id.clone());
            out.extend(t.downstream.iter().cloned());
            let s = &t.settings;
            out.extend(
                [&s.queue, &s.pool, &s.owner, &s.doc_md]
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
    }
    out
}

fn hex(chars: &mut std::str::Chars<'_>, n: usize) -> char {
    let h: String = chars.by_ref().take(n).collect();
    assert_eq!(h.len(), n, "a short escape");
    let v = u32::from_str_radix(&h, 16).expect("a hex escape");
    char::from_u32(v).expect("an escape of a Unicode scalar value")
}

/// Splits a rendered file into its skeleton (each string literal replaced by `S`) and the
/// decoded literals, asserting that each literal is printable ASCII with Python escapes only.
fn split_literals(text: &str) -> (String, Vec<String>) {
    let mut skeleton = String::with_capacity(text.len());
    let mut literals = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            skeleton.push(c);
            continue;
        }
        let mut value = String::new();
        loop {
            let c = chars.next().expect("a string literal that does not end");
            assert!((' '..='~').contains(&c), "{c:?} inside a string literal");
            match c {
                '"' => break,
                '\\' => value.push(match chars.next().expect("a trailing backslash") {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'x' => hex(&mut chars, 2),
                    'u' => hex(&mut chars, 4),
                    'U' => hex(&mut chars, 8),
                    other => panic!("the escape \\{other} is not one the writer uses"),
                }),
                c => value.push(c),
            }
        }
        skeleton.push('S');
        literals.push(value);
    }
    (skeleton, literals)
}

const DAG_KEYWORDS: [&str; 11] = [
    "dag_id",
    "schedule",
    "start_date",
    "end_date",
    "catchup",
    "description",
    "tags",
    "params",
    "max_active_runs",
    "max_active_tasks",
    "dagrun_timeout",
];

/// Whether a skeleton line is one the template writes.
fn template_line(line: &str) -> bool {
    const FIXED: [&str; 10] = [
        "# Each task is a stub: the executable coordinator runs it in the bundle.",
        "from __future__ import annotations",
        "import datetime  # noqa: F401  (used by dates and durations, when declared)",
        "",
        "CARGO_AIRFLOW_BUNDLE = S",
        "CARGO_AIRFLOW_BUNDLE_SHA256 = S",
        "def _rust_task(): ...",
        "with DAG(",
        "):",
        "    t = {}",
    ];
    if line.starts_with("from airflow.sdk import ") {
        return matches!(
            line,
            "from airflow.sdk import DAG, task"
                | "from airflow.sdk import DAG, CronTriggerTimetable, task"
                | "from airflow.sdk import DAG, Param, task"
                | "from airflow.sdk import DAG, CronTriggerTimetable, Param, task"
        );
    }
    if FIXED.contains(&line) {
        return true;
    }
    // Outside the fixed lines: no comment, no quote, nothing but the template's characters.
    if !line
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" _.,:()[]{}=>-".contains(&b))
    {
        return false;
    }
    if let Some(rest) = line.strip_prefix("    t[S] = task.stub(_rust_task, task_id=S") {
        return rest.ends_with(")()");
    }
    if let Some(rest) = line.strip_prefix("    t[S] >> [t[S]") {
        return rest.ends_with(']');
    }
    if let Some(rest) = line.strip_prefix("    ") {
        return DAG_KEYWORDS
            .iter()
            .any(|k| rest.strip_prefix(k).is_some_and(|r| r.starts_with('=')))
            && rest.ends_with(',');
    }
    false
}

fn check(m: &Manifest, bundle: &str, digest: &str) {
    let r = render(m, bundle, digest);
    let total = m.dags.len();
    let native = m
        .dags
        .values()
        .filter(|e| e.declared.as_ref().is_some_and(|d| d.native))
        .count();
    assert_eq!(r.dags.len() + r.skipped.len() + native, total);
    let Some(text) = r.text else {
        assert!(r.dags.is_empty());
        return;
    };
    assert!(text.is_ascii(), "a non-ASCII byte in the stub");
    let mut lines = text.split('\n');
    assert_eq!(lines.next(), Some(FIRST_LINE));
    assert_eq!(lines.next(), Some(SECOND_LINE));
    let (skeleton, literals) = split_literals(&text);
    let allowed = allowed_strings(m, bundle, digest);
    for l in &literals {
        assert!(allowed.contains(l), "the literal {l:?} was not given");
    }
    let body = skeleton
        .split_once('\n')
        .and_then(|(_, r)| r.split_once('\n'))
        .map(|(_, r)| r);
    let mut with = 0;
    for line in body.unwrap_or_default().lines() {
        assert!(template_line(line), "not a template line: {line:?}");
        with += usize::from(line == "with DAG(");
    }
    assert_eq!(with, r.dags.len());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let (m, bundle, digest) = structured(rest);
        check(&m, &bundle, &digest);
    } else if let Ok(m) = Manifest::from_yaml(&String::from_utf8_lossy(rest)) {
        check(&m, "bundle", "digest");
    }
});
