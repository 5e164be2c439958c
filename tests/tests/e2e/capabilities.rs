//! `capabilities.yaml` (the repository root) against upstream's conformance list, against the
//! deployment tests it cites, and against the README table generated from it. No Airflow runs
//! here: these tests read files, so they run in every suite and fail as soon as the three drift.
//!
//! `CAPABILITIES=overwrite` rewrites the README's table from the file (review the diff), like
//! `SNAPSHOTS=overwrite` for the CLI's snapshots.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use airflow_bundle::verify::AirflowRelease;
use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

// Upstream's vocabulary, read from apache/airflow:
// - contributing-docs/30_new_language_sdk.rst @ 01545aeaf3dec4f796652c251392d60a70e4036b,
//   section "Conformance": the states, capabilities, tiers and the † gate;
// - scripts/ci/prek/lang_sdk_compat_matrix.py @ 4a88dc77545524915f2b25c438d9d48e435a443a: the
//   document keys, the display order and marks of the rendered table;
// - scripts/tests/ci/prek/test_lang_sdk_compat_matrix.py @ 7075d5114401f575cf759be18d069f668122529b:
//   unknown top-level and entry keys are errors, `since` only on a supported entry, a gated
//   capability only when `native-dag-authoring` is supported, `retry-policy` a runtime MAY;
// - go-sdk/capabilities.yaml @ 0167a919c7b1f8ad13823ef036d197254cdcafad: `sdk_version` as an
//   optional entry key, `taskflow-binding` and `retry-policy` rows (newer than the .py above).

/// A conformance tier (RFC 2119 key words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    Must,
    Should,
    May,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Must => "MUST",
            Tier::Should => "SHOULD",
            Tier::May => "MAY",
        })
    }
}

/// The task instance states a runtime can emit, in upstream's display order.
const STATES: [(&str, Tier); 8] = [
    ("success", Tier::Must),
    ("failed", Tier::Must),
    ("up_for_retry", Tier::Must),
    ("skipped", Tier::Should),
    ("deferred", Tier::May),
    ("up_for_reschedule", Tier::May),
    ("awaiting_input", Tier::May),
    ("removed", Tier::May),
];

/// The capability that gates the conditional (†) native-Dag capabilities.
const NATIVE_DAG_GATE: &str = "native-dag-authoring";

/// One capability of upstream's list.
struct Capability {
    name: &'static str,
    tier: Tier,
    /// Runtime (what a task body can do) or native-Dag authoring.
    native: bool,
    /// Applies only when [`NATIVE_DAG_GATE`] is supported (upstream's †).
    gated: bool,
}

const fn cap(name: &'static str, tier: Tier, native: bool, gated: bool) -> Capability {
    Capability {
        name,
        tier,
        native,
        gated,
    }
}

/// Upstream's capabilities, in its display order.
const CAPABILITIES: [Capability; 23] = [
    cap("mixed-lang-stub-target", Tier::Must, false, false),
    cap("taskflow-binding", Tier::Must, false, false),
    cap("task-logging", Tier::Must, false, false),
    cap("xcom-read-write", Tier::Must, false, false),
    cap("connection-read", Tier::Must, false, false),
    cap("variable-read-write", Tier::Must, false, false),
    cap("self-contained-bundle", Tier::Must, false, false),
    cap("retry-policy", Tier::May, false, false),
    cap("task-state-store", Tier::May, false, false),
    cap("asset-state-store", Tier::May, false, false),
    cap("asset-event-emit", Tier::May, false, false),
    cap("asset-event-read", Tier::May, false, false),
    cap(NATIVE_DAG_GATE, Tier::Should, true, false),
    cap("task-args", Tier::Must, true, true),
    cap("dag-params", Tier::Must, true, true),
    cap("taskflow-dependencies", Tier::Must, true, true),
    cap("branching", Tier::Should, true, true),
    cap("dag-test", Tier::Should, true, true),
    cap("task-group", Tier::May, true, true),
    cap("dynamic-task-mapping", Tier::May, true, true),
    cap("asset-inlets-outlets", Tier::May, true, true),
    cap("asset-scheduling", Tier::May, true, true),
    cap("object-store", Tier::May, true, true),
];

/// Keys whose values upstream requires to be strings. PyYAML (upstream's loader) types a plain
/// `3.3` as a float and `2026-06-16` as a date, which upstream's validator rejects, while
/// serde-saphyr reads both as strings: so the file must quote them, checked on its text.
const STRING_KEYS: [&str; 5] = [
    "min_airflow_version",
    "supervisor_schema_version",
    "since",
    "sdk_version",
    "note",
];

/// This SDK's id in the file. Upstream registers only its own SDKs (go, java, ts).
const SDK_ID: &str = "rust";

/// The e2e modules whose tests start a real Airflow deployment: the only proofs accepted.
const DEPLOYMENT_MODULES: [&str; 6] = [
    "deployment",
    "task_api",
    "retry_assets",
    "deferral",
    "hitl",
    "sensors",
];

/// Where the generated table sits in the README.
const BEGIN: &str = "<!-- capabilities:begin -->";
const END: &str = "<!-- capabilities:end -->";

/// The whole document, upstream's keys and no others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    sdk: String,
    min_airflow_version: String,
    supervisor_schema_version: String,
    states: Entries,
    capabilities: Entries,
}

/// One state or capability, upstream's keys and no others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    supported: bool,
    #[serde(default)]
    since: Option<String>,
    // Read only to accept upstream's key.
    #[serde(default)]
    #[allow(dead_code)]
    sdk_version: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// A mapping kept in file order, so that order and duplicates can be checked.
#[derive(Debug)]
struct Entries(Vec<(String, Entry)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out: Vec<(String, Entry)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Entry>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!("{k} is listed twice")));
                    }
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Entries {
    fn get(&self, name: &str) -> Option<&Entry> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, e)| e)
    }
}

/// A row's note, split into what it says and the proofs it cites.
#[derive(Debug, PartialEq)]
struct Note<'a> {
    text: &'a str,
    proofs: Vec<Proof<'a>>,
}

/// "proof: `e2e::<module>::<test fn>` › <check label>".
#[derive(Debug, PartialEq)]
struct Proof<'a> {
    module: &'a str,
    test: &'a str,
    label: &'a str,
}

impl fmt::Display for Proof<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`e2e::{}::{}` › {}", self.module, self.test, self.label)
    }
}

const PROOF: &str = "proof: ";
const PROOF_SEP: &str = "; proof: ";

fn parse_note(note: &str) -> Result<Note<'_>> {
    let (text, rest) = if let Some(rest) = note.strip_prefix(PROOF) {
        ("", Some(rest))
    } else {
        match note.split_once(PROOF_SEP) {
            Some((text, rest)) => (text, Some(rest)),
            None => (note, None),
        }
    };
    ensure!(
        !text.contains(PROOF),
        "{note:?}: a proof must follow \"; \" as \"proof: `e2e::<module>::<test>` › <check>\""
    );
    let mut proofs = Vec::new();
    for clause in rest.into_iter().flat_map(|r| r.split(PROOF_SEP)) {
        let syntax = || {
            format!("{clause:?} in {note:?}: write \"proof: `e2e::<module>::<test>` › <check>\"")
        };
        let (path, label) = clause
            .strip_prefix('`')
            .and_then(|c| c.split_once("` › "))
            .with_context(syntax)?;
        let mut parts = path.split("::");
        let (Some("e2e"), Some(module), Some(test), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!(syntax());
        };
        ensure!(!label.trim().is_empty(), syntax());
        proofs.push(Proof {
            module,
            test,
            label,
        });
    }
    Ok(Note { text, proofs })
}

fn root() -> &'static Path {
    airflow_e2e::workspace_root()
}

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("e2e")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn load(text: &str) -> Result<Doc> {
    let mut options = serde_saphyr::Options::default();
    // Only `true`/`false` are booleans, and a number or boolean is no string: what PyYAML
    // would not load as the type upstream checks is refused here too.
    options.strict_booleans = true;
    options.no_schema = true;
    serde_saphyr::from_str_with_options(text, options).context(
        "capabilities.yaml does not follow upstream's schema (keys: sdk, min_airflow_version, \
         supervisor_schema_version, states, capabilities; entries: supported, since, \
         sdk_version, note)",
    )
}

/// Every problem of the document against upstream's rules and ours, in one list.
fn problems(doc: &Doc, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('#') {
            continue;
        }
        for key in STRING_KEYS {
            if let Some(value) = t.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
                let value = value.trim();
                if !(value.starts_with('"') && value.ends_with('"') && value.len() >= 2) {
                    out.push(format!(
                        "line {}: {key} must be a double-quoted string on one line (PyYAML types a plain `3.3` as a float, `2026-06-16` as a date)",
                        n + 1
                    ));
                }
            }
        }
    }
    if doc.sdk != SDK_ID {
        out.push(format!("sdk is {:?}, want {SDK_ID:?}", doc.sdk));
    }
    let release = |v: &str| AirflowRelease::ALL.into_iter().find(|r| r.name() == v);
    let names: Vec<&str> = AirflowRelease::ALL.iter().map(|r| r.name()).collect();
    match release(&doc.min_airflow_version) {
        None => out.push(format!(
            "min_airflow_version {:?} is none of the releases this project tests: {names:?}",
            doc.min_airflow_version
        )),
        Some(r)
            if !r
                .supervisor_schema_versions()
                .contains(&doc.supervisor_schema_version.as_str()) =>
        {
            out.push(format!(
                "supervisor_schema_version {:?} does not run on Airflow {} (it accepts {:?})",
                doc.supervisor_schema_version,
                r.name(),
                r.supervisor_schema_versions()
            ))
        }
        Some(_) => {}
    }
    let want_states: Vec<&str> = STATES.iter().map(|(s, _)| *s).collect();
    let want_caps: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
    for (kind, entries, want) in [
        ("states", &doc.states, want_states),
        ("capabilities", &doc.capabilities, want_caps),
    ] {
        let have: Vec<&str> = entries.0.iter().map(|(k, _)| k.as_str()).collect();
        if have != want {
            let h: BTreeSet<_> = have.iter().collect();
            let w: BTreeSet<_> = want.iter().collect();
            out.push(format!(
                "{kind}: missing {:?}, unknown {:?}; want upstream's rows in upstream's order: {want:?}",
                w.difference(&h).collect::<Vec<_>>(),
                h.difference(&w).collect::<Vec<_>>(),
            ));
        }
        for (name, e) in &entries.0 {
            out.extend(
                entry_problems(e, doc)
                    .into_iter()
                    .map(|p| format!("{kind}.{name}: {p}")),
            );
        }
    }
    let gate = doc
        .capabilities
        .get(NATIVE_DAG_GATE)
        .is_some_and(|e| e.supported);
    for c in CAPABILITIES.iter().filter(|c| c.gated) {
        if !gate && doc.capabilities.get(c.name).is_some_and(|e| e.supported) {
            out.push(format!(
                "capabilities.{}: a gated capability cannot be supported while {NATIVE_DAG_GATE} is not",
                c.name
            ));
        }
    }
    out
}

fn entry_problems(e: &Entry, doc: &Doc) -> Vec<String> {
    let mut out = Vec::new();
    let names: Vec<&str> = AirflowRelease::ALL.iter().map(|r| r.name()).collect();
    match (&e.since, e.supported) {
        (Some(s), false) => out.push(format!(
            "not supported but carries since={s:?}; drop the version or mark it supported"
        )),
        (None, true) => {
            out.push("supported: say since which Airflow release (since: \"3.3\")".into())
        }
        (Some(s), true) if !names.contains(&s.as_str()) => out.push(format!(
            "since {s:?} is none of the releases tested: {names:?}"
        )),
        (Some(s), true) if s.as_str() < doc.min_airflow_version.as_str() => out.push(format!(
            "since {s:?} is older than min_airflow_version {:?}",
            doc.min_airflow_version
        )),
        _ => {}
    }
    let Some(note) = e.note.as_deref() else {
        out.push(if e.supported {
            "supported without a note naming the deployment test that proves it".into()
        } else {
            "not supported without a note saying what is missing".into()
        });
        return out;
    };
    match parse_note(note) {
        Err(err) => out.push(format!("{err:#}")),
        Ok(n) => {
            if e.supported && n.proofs.is_empty() {
                out.push(format!(
                    "supported, but the note names no deployment test that proves it: {note:?}"
                ));
            }
            if e.supported && n.text.starts_with("partial") {
                out.push("a partial row is `supported: false` (its note says what works)".into());
            }
            if n.text.trim().is_empty() {
                out.push("the note says nothing besides its proofs".into());
            }
            if let Some(since) = e.since.as_deref() {
                let tag = format!("airflow_{}", since.replace('.', "_"));
                if !n.proofs.is_empty() && !n.proofs.iter().any(|p| p.test.contains(&tag)) {
                    out.push(format!(
                        "supported since {since}, but no proof runs on Airflow {since} (a test named *{tag}*)"
                    ));
                }
            }
        }
    }
    out
}

/// Airflow's mark for a row: supported, not supported, or not applicable (a gated capability
/// while the gate is not supported).
fn mark(e: &Entry, applicable: bool) -> &'static str {
    match (applicable, e.supported) {
        (false, _) => "n/a",
        (true, true) => "✓",
        (true, false) => "✗",
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The README block: upstream's table (dimension, tier, mark, since, note) with the proofs in
/// a column of their own.
fn render(doc: &Doc) -> Result<String> {
    let mut out = String::new();
    out.push_str(&format!(
        "*Min. Airflow version: {} · supervisor schema: {}*\n\n",
        doc.min_airflow_version, doc.supervisor_schema_version
    ));
    out.push_str(
        "| Dimension | Tier | Supported | Since | Notes | Proven in a real deployment by |\n",
    );
    out.push_str("|---|---|---|---|---|---|\n");
    let row = |out: &mut String, dim: String, tier: String, e: &Entry, applicable: bool| {
        let note = parse_note(e.note.as_deref().unwrap_or_default())?;
        let since = match (&e.since, e.supported && applicable) {
            (Some(s), true) => s.as_str(),
            _ => "–",
        };
        let proofs: Vec<String> = note.proofs.iter().map(|p| cell(&p.to_string())).collect();
        out.push_str(&format!(
            "| {dim} | {tier} | {} | {since} | {} | {} |\n",
            mark(e, applicable),
            cell(note.text),
            proofs.join("<br>")
        ));
        anyhow::Ok(())
    };
    out.push_str("| **TaskInstance states** |  |  |  |  |  |\n");
    for (state, tier) in STATES {
        let e = doc.states.get(state).context(state)?;
        row(
            &mut out,
            format!("state: `{state}`"),
            tier.to_string(),
            e,
            true,
        )?;
    }
    let gate = doc
        .capabilities
        .get(NATIVE_DAG_GATE)
        .is_some_and(|e| e.supported);
    let mut group = None;
    for c in &CAPABILITIES {
        if group != Some(c.native) {
            group = Some(c.native);
            let label = if c.native {
                "Native-Dag authoring"
            } else {
                "Runtime capabilities"
            };
            out.push_str(&format!("| **{label}** |  |  |  |  |  |\n"));
        }
        let e = doc.capabilities.get(c.name).context(c.name)?;
        let tier = if c.gated {
            format!("{} †", c.tier)
        } else {
            c.tier.to_string()
        };
        row(
            &mut out,
            format!("capability: `{}`", c.name),
            tier,
            e,
            gate || !c.gated,
        )?;
    }
    out.push_str(&format!(
        "\n*Marks: ✓ supported · ✗ not supported · n/a not applicable. A tier marked † applies \
         only when `{NATIVE_DAG_GATE}` is supported. A row that works in part is ✗ and its note \
         says \"partial\".*\n"
    ));
    Ok(out)
}

/// The doc and its text, checked against upstream's rules first.
fn checked_doc() -> Result<(Doc, String)> {
    let text = read(&root().join("capabilities.yaml"))?;
    let doc = load(&text)?;
    let p = problems(&doc, &text);
    ensure!(p.is_empty(), "capabilities.yaml:\n  {}", p.join("\n  "));
    Ok((doc, text))
}

#[test]
fn file_follows_upstreams_schema() -> Result<()> {
    checked_doc().map(drop)
}

#[test]
fn readme_table_matches() -> Result<()> {
    let (doc, _) = checked_doc()?;
    let table = render(&doc)?;
    let path = root().join("README.md");
    let readme = read(&path)?;
    let (head, rest) = readme
        .split_once(BEGIN)
        .with_context(|| format!("{} has no {BEGIN} marker", path.display()))?;
    let (current, tail) = rest
        .split_once(END)
        .with_context(|| format!("{} has no {END} after {BEGIN}", path.display()))?;
    let want = format!("\n{table}");
    if current == want {
        return Ok(());
    }
    if std::env::var("CAPABILITIES").as_deref() == Ok("overwrite") {
        std::fs::write(&path, format!("{head}{BEGIN}{want}{END}{tail}"))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("rewrote the conformance table of {}", path.display());
        return Ok(());
    }
    let first = current
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(current.lines().count().min(want.lines().count()));
    bail!(
        "the conformance table in {} differs from capabilities.yaml (first at line {} of the \
         block:\n  README: {:?}\n  yaml:   {:?});\nedit capabilities.yaml, then run \
         `CAPABILITIES=overwrite cargo nextest run -p airflow-e2e -E 'test(/capabilities/)'` \
         and review the diff",
        path.display(),
        first + 1,
        current.lines().nth(first).unwrap_or("<end>"),
        want.lines().nth(first).unwrap_or("<end>"),
    )
}

#[test]
fn every_proof_names_a_deployment_check_that_exists() -> Result<()> {
    let (doc, _) = checked_doc()?;
    let main = read(&e2e_dir().join("main.rs"))?;
    let mut sources: HashMap<&str, Source> = HashMap::new();
    let mut bad = Vec::new();
    let mut count = 0;
    for (name, e) in doc.states.0.iter().chain(&doc.capabilities.0) {
        let note = parse_note(e.note.as_deref().unwrap_or_default())?;
        for p in note.proofs {
            count += 1;
            if let Err(err) = check_proof(&p, &main, &mut sources) {
                bad.push(format!("{name}: {p}: {err:#}"));
            }
        }
    }
    ensure!(count > 0, "capabilities.yaml cites no proof at all");
    ensure!(
        bad.is_empty(),
        "proofs that prove nothing:\n  {}",
        bad.join("\n  ")
    );
    Ok(())
}

fn check_proof<'a>(
    p: &Proof<'a>,
    main: &str,
    sources: &mut HashMap<&'a str, Source>,
) -> Result<()> {
    ensure!(
        DEPLOYMENT_MODULES.contains(&p.module),
        "module {:?} starts no Airflow deployment; cite a test of {DEPLOYMENT_MODULES:?}",
        p.module
    );
    ensure!(
        main.lines()
            .any(|l| l.trim() == format!("mod {};", p.module)),
        "tests/e2e/main.rs does not declare `mod {};`: the test never runs",
        p.module
    );
    if !sources.contains_key(p.module) {
        let path = e2e_dir().join(format!("{}.rs", p.module));
        sources.insert(p.module, Source::parse(read(&path)?));
    }
    let src = &sources[p.module];
    let f = src
        .fns
        .iter()
        .find(|f| f.name == p.test)
        .with_context(|| format!("tests/e2e/{}.rs has no fn {}", p.module, p.test))?;
    ensure!(f.is_test, "fn {} is not a #[test]", p.test);
    ensure!(
        src.reachable(p.test).iter().any(|b| {
            let body = &src.text[b.clone()];
            body.contains("Deployment::start") || body.contains("Deployment::run")
        }),
        "fn {} starts no Deployment",
        p.test
    );
    let quoted = format!("\"{}", p.label);
    ensure!(
        src.reachable(p.test)
            .iter()
            .any(|b| src.text[b.clone()].contains(&quoted)),
        "no check labelled {:?} runs in {} (nor in a fn of its module it reaches)",
        p.label,
        p.test
    );
    Ok(())
}

/// A fn of a test module: its name, whether it is a `#[test]`, and its body's byte range.
struct FnItem {
    name: String,
    is_test: bool,
    body: std::ops::Range<usize>,
}

/// A test module's text and its fns, found on a copy without comments and string contents.
struct Source {
    text: String,
    fns: Vec<FnItem>,
}

impl Source {
    fn parse(text: String) -> Source {
        let code = blank_literals(&text);
        let b = code.as_bytes();
        let mut fns = Vec::new();
        let mut i = 0;
        while let Some(at) = code[i..].find("fn ").map(|at| at + i) {
            i = at + 3;
            if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
                continue;
            }
            let name: String = code[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let Some(open) = code[i..].find(['{', ';']).map(|o| o + i) else {
                break;
            };
            if name.is_empty() || b[open] == b';' {
                continue;
            }
            let mut depth = 0usize;
            let mut close = open;
            for (j, &c) in b.iter().enumerate().skip(open) {
                match c {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            // The attributes right above: the lines before the `fn` line, up to the previous item.
            let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
            let is_test = code[..line_start]
                .lines()
                .rev()
                .take_while(|l| l.trim().starts_with("#[") || l.trim().is_empty())
                .any(|l| l.trim() == "#[test]");
            fns.push(FnItem {
                name,
                is_test,
                body: open..close + 1,
            });
        }
        Source { text, fns }
    }

    /// The bodies of `test` and of every fn of the module it names, transitively.
    fn reachable(&self, test: &str) -> Vec<std::ops::Range<usize>> {
        let mut seen = vec![test.to_owned()];
        let mut out = Vec::new();
        let mut i = 0;
        while i < seen.len() {
            if let Some(f) = self.fns.iter().find(|f| f.name == seen[i]) {
                let body = &self.text[f.body.clone()];
                for g in &self.fns {
                    if !seen.contains(&g.name) && mentions(body, &g.name) {
                        seen.push(g.name.clone());
                    }
                }
                out.push(f.body.clone());
            }
            i += 1;
        }
        out
    }
}

/// Whether `body` has `name` as a whole identifier.
fn mentions(body: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    body.match_indices(name)
        .any(|(at, _)| !body[..at].ends_with(ident) && !body[at + name.len()..].starts_with(ident))
}

/// `text` with comments and the contents of string and char literals replaced by spaces, so
/// that braces and `fn` inside them are not taken for code. Same length, same byte offsets.
fn blank_literals(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    // Every byte of a multi-byte character is inside the range, so the result stays UTF-8.
    let blank = |out: &mut Vec<u8>, r: std::ops::Range<usize>| {
        for k in r {
            if out[k] != b'\n' {
                out[k] = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |e| i + e);
            blank(&mut out, i..end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            blank(&mut out, i..end);
            i = end;
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#"))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 2 + hashes;
            let end = text[start..].find(&close).map_or(b.len(), |e| start + e);
            blank(&mut out, start..end);
            i = end + close.len();
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1..j.min(b.len()));
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A char literal ('{', '\'', '\u{..}'), not a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                text[i + 1..]
                    .chars()
                    .next()
                    .map(char::len_utf8)
                    .filter(|&n| rest.get(1 + n) == Some(&b'\''))
                    .map(|n| n + 2)
            };
            match len {
                Some(n) => {
                    blank(&mut out, i + 1..i + n - 1);
                    i += n;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).expect("only ASCII bytes were written")
}

#[test]
fn a_note_splits_into_text_and_proofs() -> Result<()> {
    let n = parse_note(
        "what works; proof: `e2e::deployment::t_3_3` › (e) a; b; proof: `e2e::task_api::u` › 1. X",
    )?;
    assert_eq!(n.text, "what works");
    assert_eq!(
        n.proofs,
        [
            Proof {
                module: "deployment",
                test: "t_3_3",
                label: "(e) a; b"
            },
            Proof {
                module: "task_api",
                test: "u",
                label: "1. X"
            },
        ]
    );
    assert_eq!(parse_note("nothing proven")?.proofs, []);
    for bad in [
        "x; proof: deployment::t › a",
        "x; proof: `deployment::t` › a",
        "x; proof: `e2e::deployment::t`",
        "x; proof: `e2e::deployment::t` › ",
        "x proof: `e2e::deployment::t` › a",
    ] {
        assert!(parse_note(bad).is_err(), "{bad:?} parsed");
    }
    Ok(())
}

/// `text` with the entry `name` (a state or capability) replaced by `entry`'s lines.
fn set_row(text: &str, name: &str, entry: &[&str]) -> String {
    let head = format!("  {name}:");
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        out.push(l.to_owned());
        if l == head {
            while lines.peek().is_some_and(|n| n.starts_with("    ")) {
                lines.next();
            }
            out.extend(entry.iter().map(|e| format!("    {e}")));
        }
    }
    out.join("\n") + "\n"
}

#[test]
fn a_claim_without_proof_or_beyond_upstreams_list_is_refused() -> Result<()> {
    // Edits of the real file, so that the rules are shown to hold on it as it evolves.
    let (_, text) = checked_doc()?;
    let refused = |changed: String, want: &str| -> Result<()> {
        ensure!(changed != text, "the edit for {want:?} changed nothing");
        let msg = match load(&changed) {
            Err(e) => format!("{e:#}"),
            Ok(doc) => problems(&doc, &changed).join("\n"),
        };
        ensure!(msg.contains(want), "want {want:?}, got:\n{msg}");
        Ok(())
    };
    let yes = ["supported: true", "since: \"3.3\""];
    refused(
        set_row(&text, "success", &[yes[0], yes[1], "note: \"claimed\""]),
        "names no deployment test",
    )?;
    refused(
        set_row(&text, "success", &[yes[0], yes[1]]),
        "supported without a note",
    )?;
    refused(
        set_row(&text, "deferred", &["supported: false"]),
        "not supported without a note",
    )?;
    refused(
        set_row(
            &text,
            "success",
            &[
                yes[0],
                yes[1],
                "note: \"partial: x; proof: `e2e::deployment::example_dags_run_in_a_real_airflow_3_3` › (a) example_etl\"",
            ],
        ),
        "a partial row is `supported: false`",
    )?;
    refused(
        set_row(
            &text,
            "deferred",
            &["supported: false", yes[1], "note: \"x\""],
        ),
        "not supported but carries since",
    )?;
    // A 3.3 claim proven only on 3.4.
    refused(
        set_row(
            &text,
            "success",
            &[
                yes[0],
                yes[1],
                "note: \"x; proof: `e2e::deployment::example_dags_run_in_a_real_airflow_3_4` › (a) example_etl\"",
            ],
        ),
        "no proof runs on Airflow 3.3",
    )?;
    // A gated capability claimed without the gate (task-args is one).
    refused(
        set_row(&text, NATIVE_DAG_GATE, &["supported: false", "note: \"x\""]),
        "gated capability",
    )?;
    // A row, a key, a tier's order that upstream does not have.
    refused(
        text.replace("  removed:\n", "  cancelled:\n"),
        "unknown [\"cancelled\"]",
    )?;
    refused(
        text.replacen(
            "    supported: true\n",
            "    supported: true\n    proven: true\n",
            1,
        ),
        "unknown field `proven`",
    )?;
    refused(
        text.replacen("sdk: rust", "sdk: rust\nlanguage: rust", 1),
        "unknown field `language`",
    )?;
    refused(
        text.replace("  success:\n", "  success_:\n")
            .replace("  failed:\n", "  success:\n")
            .replace("  success_:\n", "  failed:\n"),
        "in upstream's order",
    )?;
    // Versions left unquoted: PyYAML would load a float, and a date.
    refused(
        text.replacen("since: \"3.3\"", "since: 3.3", 1),
        "must be quoted",
    )?;
    refused(
        text.replace(
            "supervisor_schema_version: \"2026-06-16\"",
            "supervisor_schema_version: 2026-06-16",
        ),
        "double-quoted",
    )?;
    // A schema version Airflow 3.3 refuses, while the file says 3.3 is enough.
    refused(
        text.replace(
            "supervisor_schema_version: \"2026-06-16\"",
            "supervisor_schema_version: \"2026-10-30\"",
        ),
        "does not run on Airflow 3.3",
    )?;
    Ok(())
}

#[test]
fn a_proof_of_a_check_its_test_does_not_run_is_refused() -> Result<()> {
    let main = read(&e2e_dir().join("main.rs"))?;
    let mut sources = HashMap::new();
    let ok = Proof {
        module: "deployment",
        test: "example_dags_run_in_a_real_airflow_3_4",
        label: "load gets transform's output and the literal, typed",
    };
    check_proof(&ok, &main, &mut sources)?;
    for (p, want) in [
        // The check exists in the module, but this test does not reach it.
        (
            Proof {
                test: "bundle_inside_the_stub_dags_bundle_on_airflow_3_4",
                ..ok
            },
            "no check labelled",
        ),
        (
            Proof {
                test: "no_such_test",
                ..ok
            },
            "has no fn",
        ),
        (
            Proof {
                test: "example_scenarios",
                ..ok
            },
            "not a #[test]",
        ),
        (
            Proof {
                module: "runtime",
                ..ok
            },
            "starts no Airflow deployment",
        ),
        (
            Proof {
                label: "a check nobody wrote",
                ..ok
            },
            "no check labelled",
        ),
    ] {
        let err = check_proof(&p, &main, &mut sources).expect_err(&p.to_string());
        ensure!(format!("{err:#}").contains(want), "{p}: {err:#}");
    }
    Ok(())
}
