//! Loads YAML the way PyYAML's `safe_load` types it (YAML 1.1 implicit resolution), so the
//! verifier sees the manifest exactly as Airflow does: a plain `2026-06-16` is a date, `yes` is a
//! bool, `123` is an int, and only what loads as a `str` can match a dag id.
//!
//! Three outcomes matter, because 1.3.2's reader treats them differently: a document that loads,
//! one that makes `safe_load` raise a `yaml.YAMLError` (the reader skips the file), and one that
//! makes it raise anything else (`ValueError` from `datetime.date(2026, 13, 45)`, `RecursionError`
//! from deep nesting, ...), which the reader does not catch: the exception escapes the dag
//! lookup and breaks every bundle under the same `executables_root`.
//!
//! Memory stays bounded by the text: aliases share the anchored node (as PyYAML does) instead of
//! copying it, and only what a verdict can look at is kept (see [`Want`]): the `dags` keys,
//! `sdk.supervisor_schema_version`, and what merge keys and anchors can bring there. Everything
//! else is still checked for what makes `safe_load` raise, then dropped to its Python type.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

/// A loaded YAML value, typed as YAML 1.1 would type it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string.
    Str(String),
    /// A scalar of another type: the Python type name and the source text.
    Other(&'static str, String),
    /// A sequence (shared when aliased).
    Seq(Rc<Vec<Value>>),
    /// A mapping after merge keys are applied, in document order; a later duplicate key wins on
    /// lookup, as in a Python dict.
    Map(Rc<Vec<(Value, Value)>>),
    /// A collection too deep below the root and below any anchor for a verdict to look at: its
    /// Python type only. (It was still checked for everything that makes `safe_load` fail.)
    Pruned(&'static str),
}

impl Value {
    /// The value under a string key of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the value's type, as Python would call it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::Other(kind, _) => kind,
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
            Value::Pruned(kind) => kind,
        }
    }

    fn hashable(&self) -> bool {
        !matches!(self.kind(), "list" | "dict" | "set")
    }
}

/// Why `yaml.safe_load` would not return a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoadError {
    /// `safe_load` raises a `yaml.YAMLError`: 1.3.2's reader skips the file.
    Rejected(String),
    /// `safe_load` raises another exception, which 1.3.2's reader does not catch: the lookup of
    /// every dag under the same root fails.
    Crashes(String),
}

/// What the verdict can need from a node, decided by where it sits. Collections wanted as
/// [`Want::None`] or [`Want::Scalar`] are kept as their Python type only, and scalars other than
/// [`Want::Scalar`] and [`Want::Any`] without their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Nothing but its type.
    None,
    /// The document root: its `dags`, `sdk` and merge (`<<`) entries.
    Root,
    /// The `dags` mapping: every key, no value (but merged mappings).
    Dags,
    /// The `sdk` mapping: `supervisor_schema_version`, and merged mappings.
    Sdk,
    /// A scalar's text (a key of a kept mapping, the schema version).
    Scalar,
    /// An anchored node, which an alias may use in any of the roles above.
    Any,
    /// An item of an anchored sequence (a merge source, `<<: *list`): as [`Want::Any`] for a
    /// mapping, nothing for a scalar.
    AnyItem,
    /// Everything (the unit tests look at keys a verdict never reads).
    #[cfg_attr(not(test), allow(dead_code))]
    All,
}

impl Want {
    /// Whether a collection wanted so is kept as a full [`Value`].
    fn keeps(self) -> bool {
        !matches!(self, Want::None | Want::Scalar)
    }

    /// Whether every key of a mapping wanted so is kept, whatever its value.
    fn keeps_all_keys(self) -> bool {
        matches!(self, Want::Dags | Want::Any | Want::AnyItem | Want::All)
    }

    /// Whether a scalar wanted so keeps its text.
    fn keeps_text(self) -> bool {
        matches!(self, Want::Scalar | Want::Any | Want::All)
    }

    /// What is wanted from the items of a sequence wanted so (merge lists hold mappings).
    fn item(self) -> Want {
        match self {
            Want::Any | Want::AnyItem => Want::AnyItem,
            Want::Scalar => Want::None,
            other => other,
        }
    }

    /// What is wanted from the value under `key` in a mapping wanted so.
    fn value(self, key: &Value) -> Want {
        let merge = matches!(key, Value::Other("merge", _));
        let name = match key {
            Value::Str(s) => s.as_str(),
            _ => "",
        };
        match self {
            Want::All => Want::All,
            Want::Root if merge => Want::Root,
            Want::Root if name == "dags" => Want::Dags,
            Want::Root if name == "sdk" => Want::Sdk,
            Want::Dags if merge => Want::Dags,
            Want::Sdk if merge => Want::Sdk,
            Want::Sdk if name == "supervisor_schema_version" => Want::Scalar,
            Want::Any | Want::AnyItem if merge => Want::AnyItem,
            Want::Any | Want::AnyItem => match name {
                "dags" => Want::Dags,
                "sdk" => Want::Sdk,
                "supervisor_schema_version" => Want::Scalar,
                _ => Want::None,
            },
            _ => Want::None,
        }
    }
}

/// The nesting depth at which PyYAML's recursive composer hits Python's default recursion limit
/// (1000 frames, two per level) when called from 1.3.2's reader: 491 levels load from
/// `_read_bundle_metadata` and 492 raise; a caller with a deeper stack fails earlier, so the
/// limit keeps a margin. Measured with the released
/// reader; see `tests/tests/e2e/reader.rs`.
pub(crate) const PYYAML_MAX_DEPTH: usize = 480;

/// Python 3.11+ refuses to convert decimal strings longer than this to `int` (`ValueError`).
const PYTHON_INT_MAX_STR_DIGITS: usize = 4300;

/// Merged entries copied over the whole document before giving up: PyYAML copies merged
/// entries too, so a document that needs more would take Airflow's reader exponential time.
const MERGE_BUDGET: usize = 4_000_000;

static RESOLVERS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    let r = |kind, pattern: &str| (kind, Regex::new(pattern).expect("valid resolver pattern"));
    vec![
        r(
            "bool",
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        ),
        r(
            "float",
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        ),
        r(
            "int",
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
        ),
        r("merge", r"^(?:<<)$"),
        r("NoneType", r"^(?:~|null|Null|NULL|)$"),
        r(
            "timestamp",
            r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
        ),
        r("value", r"^(?:=)$"),
    ]
});

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9][0-9][0-9][0-9])-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$",
    )
    .expect("valid timestamp pattern")
});

/// The YAML 1.1 type a plain, untagged scalar resolves to (`"str"` when no resolver matches).
pub(crate) fn resolve_plain(text: &str) -> &'static str {
    RESOLVERS
        .iter()
        .find(|(_, re)| re.is_match(text))
        .map_or("str", |(kind, _)| kind)
}

/// Whether PyYAML's `construct_yaml_int` raises on `text` (which matched the int resolver, or
/// was tagged `!!int`).
fn int_fails(text: &str) -> Option<String> {
    let v: String = text.chars().filter(|c| *c != '_').collect();
    let v = v.strip_prefix(['-', '+']).unwrap_or(&v);
    if v == "0" {
        return None;
    }
    let (digits, radix) = if let Some(b) = v.strip_prefix("0b") {
        (b, 2)
    } else if let Some(x) = v.strip_prefix("0x") {
        (x, 16)
    } else if v.starts_with('0') {
        (v, 8)
    } else if v.contains(':') {
        let first = v.split(':').next().unwrap_or("");
        return (first.len() > PYTHON_INT_MAX_STR_DIGITS || first.is_empty())
            .then(|| format!("int() of {} digits exceeds Python's limit", first.len()));
    } else {
        (v, 10)
    };
    let trimmed = digits.trim();
    if trimmed.is_empty() || !trimmed.chars().all(|c| c.is_digit(radix)) {
        return Some(format!(
            "invalid literal for int() with base {radix}: {digits:?}"
        ));
    }
    if radix == 10 && trimmed.len() > PYTHON_INT_MAX_STR_DIGITS {
        return Some(format!(
            "a {}-digit integer exceeds Python's limit of {PYTHON_INT_MAX_STR_DIGITS} digits for int()",
            trimmed.len()
        ));
    }
    None
}

/// Whether PyYAML's `construct_yaml_timestamp` raises on `text`.
fn timestamp_fails(text: &str) -> Option<String> {
    let Some(c) = TIMESTAMP.captures(text) else {
        return Some(format!("{text:?} is not a timestamp (AttributeError)"));
    };
    let num = |i: usize| {
        c.get(i)
            .map(|m| m.as_str().parse::<u32>().unwrap_or(u32::MAX))
    };
    let (year, month, day) = (num(1)?, num(2)?, num(3)?);
    if year == 0 {
        return Some("year 0 is out of range".into());
    }
    if !(1..=12).contains(&month) {
        return Some(format!("month must be in 1..12 (got {month})"));
    }
    if day == 0 || day > crate::declare::days_in_month(i64::from(year), month) {
        return Some(format!("day {day} is out of range for {year}-{month:02}"));
    }
    if let (Some(h), Some(m), Some(s)) = (num(4), num(5), num(6)) {
        if h > 23 {
            return Some(format!("hour must be in 0..23 (got {h})"));
        }
        if m > 59 {
            return Some(format!("minute must be in 0..59 (got {m})"));
        }
        if s > 59 {
            return Some(format!("second must be in 0..59 (got {s})"));
        }
    }
    if c.get(9).is_some() {
        let (th, tm) = (num(10).unwrap_or(0), num(11).unwrap_or(0));
        if th * 60 + tm >= 24 * 60 {
            return Some(format!(
                "the UTC offset {th}:{tm:02} is not strictly between -24 and 24 hours"
            ));
        }
    }
    None
}

/// Whether Python's lenient `base64.decodebytes` raises on `text`.
fn base64_fails(text: &str) -> bool {
    let kept: Vec<u8> = text
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .collect();
    let data = kept.iter().take_while(|b| **b != b'=').count();
    let pads = kept[data..].iter().filter(|b| **b == b'=').count();
    match data % 4 {
        0 => false,
        1 => true,
        2 => pads < 2,
        _ => pads < 1,
    }
}

/// Explicit tags, spelled out in full (`!!int` is `tag:yaml.org,2002:int`).
enum TagKind<'a> {
    /// No tag, or the non-specific `!` (PyYAML resolves both implicitly).
    Implicit,
    /// `tag:yaml.org,2002:<suffix>`.
    Core(&'a str),
    /// Anything else; `safe_load` has no constructor for it.
    Unknown(String),
}

fn tag_kind(tag: Option<&Tag>) -> TagKind<'_> {
    match tag {
        None => TagKind::Implicit,
        Some(t) if t.is_yaml_core_schema() => TagKind::Core(t.suffix.as_str()),
        Some(t) if t.suffix.is_empty() && (t.handle == "!" || t.handle.is_empty()) => {
            TagKind::Implicit
        }
        Some(t) if t.handle.is_empty() && t.suffix == "!" => TagKind::Implicit,
        Some(t) => match t.suffix.strip_prefix("tag:yaml.org,2002:") {
            Some(_) if t.handle.is_empty() => TagKind::Unknown(t.suffix.clone()),
            _ => TagKind::Unknown(t.to_string()),
        },
    }
}

/// Verbatim `!<tag:yaml.org,2002:x>` tags come through with an empty handle.
fn core_suffix<'a>(tag: Option<&'a Tag>) -> TagKind<'a> {
    if let Some(t) = tag
        && t.handle.is_empty()
        && let Some(s) = t.suffix.strip_prefix("tag:yaml.org,2002:")
    {
        return TagKind::Core(s);
    }
    tag_kind(tag)
}

fn no_constructor(tag: &str) -> LoadError {
    LoadError::Rejected(format!(
        "has the tag {tag}, for which yaml.safe_load has no constructor (remove it)"
    ))
}

/// Types a scalar as `safe_load` would, or says how constructing it fails. With `keep` false
/// only the type is kept, not the text.
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    keep: bool,
) -> Result<Value, LoadError> {
    let kind = match core_suffix(tag) {
        TagKind::Implicit if style == ScalarStyle::Plain || tag.is_some() => resolve_plain(text),
        TagKind::Implicit => "str",
        TagKind::Core("str") => "str",
        TagKind::Core("int") => "int",
        TagKind::Core("float") => "float",
        TagKind::Core("bool") => "bool",
        TagKind::Core("null") => "NoneType",
        TagKind::Core("timestamp") => "timestamp",
        TagKind::Core("binary") => "bytes",
        TagKind::Core("value") => "value",
        TagKind::Core("merge") => "merge",
        TagKind::Core(other) => return Err(no_constructor(&format!("!!{other}"))),
        TagKind::Unknown(t) => return Err(no_constructor(&t)),
    };
    let crash = |why: String| {
        Err(LoadError::Crashes(format!(
            "the scalar {:?} makes PyYAML raise {why}",
            shorten(text)
        )))
    };
    match kind {
        "int" => {
            if let Some(why) = int_fails(text) {
                return crash(format!("ValueError ({why})"));
            }
        }
        "float" if tag.is_some() => {
            let v: String = text.chars().filter(|c| *c != '_').collect();
            let v = v.trim().to_ascii_lowercase();
            if v.is_empty() {
                return crash("IndexError (an empty !!float)".into());
            }
            let v = v.strip_prefix(['-', '+']).unwrap_or(&v);
            let ok = matches!(v, ".inf" | ".nan") || v.split(':').all(|p| p.parse::<f64>().is_ok());
            if !ok {
                return crash(format!("ValueError (could not convert {v:?} to float)"));
            }
        }
        "bool" if tag.is_some() => {
            let known = ["yes", "no", "true", "false", "on", "off"];
            if !known.contains(&text.to_ascii_lowercase().as_str()) {
                return crash(format!(
                    "KeyError ({:?} is not a YAML 1.1 bool)",
                    shorten(text)
                ));
            }
        }
        "timestamp" => {
            if let Some(why) = timestamp_fails(text) {
                return crash(format!("ValueError ({why})"));
            }
        }
        "bytes" if base64_fails(text) => {
            return Err(LoadError::Rejected(format!(
                "has a !!binary scalar {:?} that is not valid base64",
                shorten(text)
            )));
        }
        _ => {}
    }
    let text = if keep { text.to_owned() } else { String::new() };
    Ok(match kind {
        "str" => Value::Str(text),
        kind => Value::Other(kind, text),
    })
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 40 {
        text.to_owned()
    } else {
        let head: String = text.chars().take(37).collect();
        format!("{head}...")
    }
}

/// Characters PyYAML's reader refuses anywhere in the stream (`ReaderError`).
fn non_printable(c: char) -> bool {
    !matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks the `%YAML` directives before the first document: PyYAML refuses any major version
/// other than 1 (`%YAML 1.2` only warns).
fn check_directives(text: &str) -> Result<(), LoadError> {
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix("%YAML") else {
            if line.starts_with('%') {
                continue;
            }
            break;
        };
        let version = rest.split_whitespace().next().unwrap_or("");
        let major = version.split('.').next().unwrap_or("");
        if major.parse::<u64>().ok() != Some(1) {
            return Err(LoadError::Rejected(format!(
                "declares %YAML {version}; PyYAML only reads YAML 1.x documents (remove the directive)"
            )));
        }
    }
    Ok(())
}

/// PyYAML accepts `\uD800`-style escapes (a lone surrogate in a `str`); the Rust parser cannot
/// hold one. Replaced by U+FFFD, which types the same way.
fn replace_surrogate_escapes(text: &str) -> Option<String> {
    static SURROGATE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\\(u[dD][89a-fA-F][0-9a-fA-F]{2}|U0000[dD][89a-fA-F][0-9a-fA-F]{2})")
            .expect("valid pattern")
    });
    SURROGATE.is_match(text).then(|| {
        SURROGATE
            .replace_all(text, |c: &regex::Captures<'_>| {
                if c[1].starts_with('u') {
                    "\\uFFFD".to_owned()
                } else {
                    "\\U0000FFFD".to_owned()
                }
            })
            .into_owned()
    })
}

/// The deepest nesting of flow brackets outside quotes and comments: an estimate used only
/// when the parser gives up on deep flow collections.
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            (None, '[' | '{') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Loads a single YAML document as `yaml.safe_load` would.
pub(crate) fn load(text: &str) -> Result<Option<Value>, LoadError> {
    load_wanting(text, Want::Root)
}

/// [`load`], keeping every key and scalar (for the unit tests).
#[cfg(test)]
fn load_all(text: &str) -> Result<Option<Value>, LoadError> {
    load_wanting(text, Want::All)
}

fn load_wanting(text: &str, root: Want) -> Result<Option<Value>, LoadError> {
    if let Some((i, c)) = text.char_indices().find(|(_, c)| non_printable(*c)) {
        return Err(LoadError::Rejected(format!(
            "has the character U+{:04X} at byte {i}, which PyYAML refuses (special characters are not allowed; escape it in a double-quoted string)",
            c as u32
        )));
    }
    check_directives(text)?;
    // PyYAML breaks lines at NEL, LS and PS too; the Rust parser only at CR and LF.
    let normalized;
    let text = if text.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        normalized = text.replace(['\u{85}', '\u{2028}', '\u{2029}'], "\n");
        normalized.as_str()
    } else {
        text
    };
    match load_events(text, root) {
        Err(LoadError::Rejected(e)) if e.contains("escape code") => {
            match replace_surrogate_escapes(text) {
                Some(fixed) => load_events(&fixed, root),
                None => Err(LoadError::Rejected(e)),
            }
        }
        other => other,
    }
}

fn load_events(text: &str, root_want: Want) -> Result<Option<Value>, LoadError> {
    enum Kind {
        Seq(Vec<Value>),
        Map(Vec<(Value, Value)>, Option<Value>),
    }
    struct Frame {
        kind: Kind,
        anchor: usize,
        /// What the verdict needs from this collection.
        want: Want,
        /// `omap`/`pairs`: a list of one-entry mappings; `set`: a mapping.
        tag: Option<&'static str>,
        /// The merge sources of this mapping (`<<` values), in order.
        merges: Vec<Value>,
    }
    let rejected = |why: String| LoadError::Rejected(why);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut documents = 0usize;
    let mut root: Option<Value> = None;
    let mut merge_budget = MERGE_BUDGET;

    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| {
            if e.info().contains("recursion limit") {
                if flow_depth(text) > PYYAML_MAX_DEPTH {
                    LoadError::Crashes(format!(
                        "nests collections more than {PYYAML_MAX_DEPTH} deep; PyYAML's recursive composer raises RecursionError"
                    ))
                } else {
                    rejected(format!("nests flow collections ([...] or {{...}}) deeper than this verifier's parser allows (255 levels; PyYAML reads up to about {PYYAML_MAX_DEPTH}, so Airflow may accept this file): {e}"))
                }
            } else {
                rejected(format!("is not valid YAML: {e}"))
            }
        })?;
        let child_want = |stack: &[Frame], anchor: usize| -> Want {
            if anchor > 0 {
                return Want::Any;
            }
            match stack.last() {
                None => root_want,
                Some(f) => match &f.kind {
                    Kind::Seq(_) => f.want.item(),
                    // A key: its text, when the mapping is kept at all.
                    Kind::Map(_, None) if f.want == Want::All => Want::All,
                    Kind::Map(_, None) if f.want.keeps() => Want::Scalar,
                    Kind::Map(_, None) => Want::None,
                    Kind::Map(_, Some(k)) => f.want.value(k),
                },
            }
        };
        let done = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(rejected("holds more than one YAML document; yaml.safe_load expects a single document".into()));
                }
                None
            }
            Event::Scalar(s, style, anchor, tag) => {
                let text = child_want(&stack, anchor).keeps_text();
                let v = scalar(&s, style, tag.as_deref(), text)?;
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                Some(v)
            }
            Event::Alias(id) => Some(anchors.get(&id).cloned().ok_or_else(|| {
                rejected(format!(
                    "has an alias at line {} that names no anchor",
                    span.start.line()
                ))
            })?),
            Event::SequenceStart(anchor, tag) => {
                if stack.len() >= PYYAML_MAX_DEPTH {
                    return Err(LoadError::Crashes(format!(
                        "nests collections more than {PYYAML_MAX_DEPTH} deep; PyYAML's recursive composer raises RecursionError"
                    )));
                }
                let tag = match core_suffix(tag.as_deref()) {
                    TagKind::Implicit | TagKind::Core("seq") => None,
                    TagKind::Core("omap") => Some("omap"),
                    TagKind::Core("pairs") => Some("pairs"),
                    TagKind::Core(other) => {
                        return Err(rejected(format!(
                            "has a sequence tagged !!{other}, which yaml.safe_load cannot construct"
                        )));
                    }
                    TagKind::Unknown(t) => return Err(no_constructor(&t)),
                };
                let want = child_want(&stack, anchor);
                stack.push(Frame {
                    kind: Kind::Seq(Vec::new()),
                    anchor,
                    want,
                    tag,
                    merges: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                if stack.len() >= PYYAML_MAX_DEPTH {
                    return Err(LoadError::Crashes(format!(
                        "nests collections more than {PYYAML_MAX_DEPTH} deep; PyYAML's recursive composer raises RecursionError"
                    )));
                }
                let tag = match core_suffix(tag.as_deref()) {
                    TagKind::Implicit | TagKind::Core("map") => None,
                    TagKind::Core("set") => Some("set"),
                    TagKind::Core(other) => {
                        return Err(rejected(format!(
                            "has a mapping tagged !!{other}, which yaml.safe_load cannot construct"
                        )));
                    }
                    TagKind::Unknown(t) => return Err(no_constructor(&t)),
                };
                let want = child_want(&stack, anchor);
                stack.push(Frame {
                    kind: Kind::Map(Vec::new(), None),
                    anchor,
                    want,
                    tag,
                    merges: Vec::new(),
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else {
                    return Err(rejected("has unbalanced collections".into()));
                };
                let v = match frame.kind {
                    Kind::Seq(items) => match frame.tag {
                        Some(t) => {
                            if items.iter().any(|i| !matches!(i.kind(), "dict")) {
                                return Err(rejected(format!(
                                    "has a !!{t} whose items are not one-entry mappings"
                                )));
                            }
                            Value::Pruned("list")
                        }
                        None if frame.want.keeps() => Value::Seq(Rc::new(items)),
                        None => Value::Pruned("list"),
                    },
                    Kind::Map(own, _) => {
                        if frame.tag == Some("set") {
                            Value::Pruned("set")
                        } else if frame.want.keeps() {
                            let mut entries = Vec::new();
                            for m in &frame.merges {
                                let sources: Vec<&Value> = match m {
                                    Value::Seq(items) => items.iter().rev().collect(),
                                    one => vec![one],
                                };
                                for s in sources {
                                    if let Value::Map(e) = s {
                                        merge_budget = merge_budget.checked_sub(e.len()).ok_or_else(|| {
                                            rejected(format!("expands merge keys (<<) to more than {MERGE_BUDGET} entries; PyYAML copies them too and would take exponential time"))
                                        })?;
                                        entries.extend(e.iter().cloned());
                                    }
                                }
                            }
                            entries.extend(own);
                            Value::Map(Rc::new(entries))
                        } else {
                            Value::Pruned("dict")
                        }
                    }
                };
                if frame.anchor > 0 {
                    anchors.insert(frame.anchor, v.clone());
                }
                Some(v)
            }
            _ => None,
        };
        if let Some(v) = done {
            match stack.last_mut() {
                Some(Frame {
                    kind: Kind::Seq(items),
                    want,
                    ..
                }) => {
                    if matches!(v, Value::Other("value" | "merge", _)) {
                        return Err(no_constructor(&format!(
                            "tag:yaml.org,2002:{} (a plain `=` or `<<` in a list)",
                            v.kind()
                        )));
                    }
                    if want.keeps() {
                        items.push(v);
                    } else if !matches!(v.kind(), "dict") {
                        // Only `omap`/`pairs` items are checked without being kept.
                        items.clear();
                        items.push(Value::Pruned("other"));
                    }
                }
                Some(Frame {
                    kind: Kind::Map(entries, pending),
                    want,
                    merges,
                    tag,
                    ..
                }) => match pending.take() {
                    None => {
                        if !v.hashable() {
                            return Err(rejected(format!(
                                "has a mapping key that is a {}, which yaml.safe_load cannot hash",
                                v.kind()
                            )));
                        }
                        // PyYAML's flatten_mapping turns a `=` key into the string "=".
                        let v = match v {
                            Value::Other("value", t) => Value::Str(t),
                            other => other,
                        };
                        *pending = Some(v);
                    }
                    Some(k) => {
                        if matches!(v, Value::Other("value" | "merge", _)) {
                            return Err(no_constructor(&format!(
                                "tag:yaml.org,2002:{} (a plain `=` or `<<` as a value)",
                                v.kind()
                            )));
                        }
                        if matches!(k, Value::Other("merge", _)) && tag.is_none() {
                            let ok = match &v {
                                Value::Map(_) | Value::Pruned("dict") => true,
                                Value::Seq(items) => items.iter().all(|i| i.kind() == "dict"),
                                Value::Pruned("list") => true,
                                _ => false,
                            };
                            if !ok {
                                return Err(rejected(format!(
                                    "has a merge key (<<) whose value is a {}, not a mapping or a list of mappings",
                                    v.kind()
                                )));
                            }
                            if want.keeps() {
                                merges.push(v);
                            }
                        } else if want.keeps_all_keys() || want.value(&k) != Want::None {
                            entries.push((k, v));
                        }
                    }
                },
                None => {
                    if matches!(v, Value::Other("value" | "merge", _)) {
                        return Err(no_constructor("tag:yaml.org,2002:value"));
                    }
                    root = Some(v)
                }
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_like_pyyaml() {
        for (text, kind) in [
            ("123", "int"),
            ("1_000", "int"),
            ("0x1f", "int"),
            ("017", "int"),
            ("1:30", "int"),
            ("1.5", "float"),
            (".inf", "float"),
            ("1e3", "str"),
            ("yes", "bool"),
            ("On", "bool"),
            ("y", "str"),
            ("null", "NoneType"),
            ("~", "NoneType"),
            ("", "NoneType"),
            ("2026-01-01", "timestamp"),
            ("2001-12-14t21:59:43.10-05:00", "timestamp"),
            ("=", "value"),
            ("<<", "merge"),
            ("café", "str"),
            ("etl_daily", "str"),
        ] {
            assert_eq!(resolve_plain(text), kind, "{text:?}");
        }
    }

    fn kind_of(doc: &str) -> Result<&'static str, LoadError> {
        load_all(doc).map(|v| {
            v.and_then(|v| v.get("a").map(Value::kind))
                .unwrap_or("missing")
        })
    }

    #[test]
    fn quoting_and_tags_decide_strings() {
        let v = load_all("a: \"2026-06-16\"\nb: 2026-06-16\nc: !!str 123\nd: '123'\ne: ! '12'\n")
            .unwrap()
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Str("2026-06-16".into())));
        assert_eq!(v.get("b").unwrap().kind(), "timestamp");
        assert_eq!(v.get("c"), Some(&Value::Str("123".into())));
        assert_eq!(v.get("d"), Some(&Value::Str("123".into())));
        // The non-specific tag resolves implicitly, even quoted (checked against PyYAML).
        assert_eq!(v.get("e").unwrap().kind(), "int");
        assert_eq!(kind_of("a: !<tag:yaml.org,2002:str> 1").unwrap(), "str");
        assert_eq!(
            kind_of("%TAG !e! tag:yaml.org,2002:\n---\na: !e!int 1").unwrap(),
            "int"
        );
    }

    #[test]
    fn refuses_what_safe_load_refuses() {
        for doc in [
            "a: 1\n---\nb: 2\n",
            "a: !python/object 1\n",
            "a: !!python/name:os.system 1\n",
            "a: !foo 1\n",
            "[a: [b",
            "a: \u{1}\n",
            "a: \u{FFFE}\n",
            "a: \u{7F}\n",
            "%YAML 2.0\n---\na: 1\n",
            "a: =\n",
            "a: <<\n",
            "a: [=]\n",
            "<<: 1\n",
            "a: !!binary 'YQ'\n",
            "a: !!str [1]\n",
            "a: !!seq x\n",
            "a: !!omap {a: 1}\n",
            "? [a]\n: 1\n",
            "? !!set {x}\n: 1\n",
        ] {
            assert!(
                matches!(load_all(doc), Err(LoadError::Rejected(_))),
                "{doc:?}: {:?}",
                load_all(doc)
            );
        }
        assert_eq!(load_all("").unwrap(), None);
    }

    #[test]
    fn finds_what_makes_safe_load_raise_outside_yaml_error() {
        for doc in [
            "2026-13-45: a\n",
            "a: 2026-02-29\n",
            "a: 2024-02-29 25:00:00\n",
            "a: 2024-02-29 23:00:00 +25\n",
            "a: 0000-01-01\n",
            "a: 0b_\n",
            "a: 0x_\n",
            "a: !!int abc\n",
            "a: !!bool x\n",
            "a: !!float ''\n",
        ] {
            assert!(
                matches!(load_all(doc), Err(LoadError::Crashes(_))),
                "{doc:?}: {:?}",
                load_all(doc)
            );
        }
        let long = format!("a: {}\n", "1".repeat(4301));
        assert!(matches!(load_all(&long), Err(LoadError::Crashes(_))));
        let ok = format!("a: {}\n", "1".repeat(4300));
        assert_eq!(kind_of(&ok).unwrap(), "int");
        let deep = format!("a:\n{}x\n", "- ".repeat(1000));
        assert!(
            matches!(load_all(&deep), Err(LoadError::Crashes(_))),
            "{:?}",
            load_all(&deep)
        );
    }

    #[test]
    fn accepts_what_safe_load_accepts() {
        assert_eq!(kind_of("a: 2024-02-29\n").unwrap(), "timestamp");
        assert_eq!(kind_of("a: !!float 1\n").unwrap(), "float");
        assert_eq!(kind_of("a: !!int ' 12'\n").unwrap(), "int");
        assert_eq!(kind_of("a: !!binary 'YW=='\n").unwrap(), "bytes");
        assert_eq!(kind_of("a: !!set {x}\n").unwrap(), "set");
        assert_eq!(kind_of("a: !!omap [b: 1]\n").unwrap(), "list");
        assert_eq!(kind_of("a: \"\\ud800\"\n").unwrap(), "str");
        assert_eq!(kind_of("%YAML 1.2\n---\na: x\n").unwrap(), "str");
        assert_eq!(kind_of("b: 1\u{85}a: 2\n").unwrap(), "int");
        assert_eq!(kind_of("b: 1\u{2028}a: 2\n").unwrap(), "int");
        // `=` is a string as a key.
        let v = load_all("=: 1\n").unwrap().unwrap();
        assert_eq!(v.get("="), Some(&Value::Other("int", "1".into())));
        // Merge keys: own keys override, earlier sources override later ones.
        let v = load_all("<<: [{a: 1, b: x}, {a: 2, c: y}]\nb: z\n")
            .unwrap()
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Other("int", "1".into())));
        assert_eq!(v.get("b"), Some(&Value::Str("z".into())));
        assert_eq!(v.get("c"), Some(&Value::Str("y".into())));
        let deep = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        assert_eq!(kind_of(&deep).unwrap(), "list");
        let deep = format!("a:\n{}x\n", "- ".repeat(400));
        assert_eq!(kind_of(&deep).unwrap(), "list");
    }

    #[test]
    fn only_what_a_verdict_reads_is_kept() {
        let doc = "base: &b {dags: {x: {tasks: [t]}}, sdk: {supervisor_schema_version: \"2026-06-16\", v: 1}}\n\
                   <<: *b\n\
                   extra: {k: [1, 2], s: text}\n\
                   dags: {<<: [{y: 1}], z: {tasks: [a]}}\n";
        let v = load(doc).unwrap().unwrap();
        assert_eq!(v.get("extra"), None);
        assert_eq!(v.get("base"), None);
        let Some(Value::Map(dags)) = v.get("dags") else {
            panic!("{v:?}")
        };
        let keys: Vec<&Value> = dags.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [&Value::Str("y".into()), &Value::Str("z".into())]);
        // Dag values are only their type.
        assert!(matches!(dags[1].1, Value::Pruned("dict")), "{dags:?}");
        let sdk = v.get("sdk").unwrap();
        assert_eq!(
            sdk.get("supervisor_schema_version"),
            Some(&Value::Str("2026-06-16".into()))
        );
        assert_eq!(sdk.get("v"), None);
        // An anchored mapping used as `dags` keeps its keys.
        let v = load("d: &d {a: 1, b: [x]}\ndags: *d\n").unwrap().unwrap();
        let Some(Value::Map(dags)) = v.get("dags") else {
            panic!("{v:?}")
        };
        assert_eq!(dags.len(), 2);
        // What is dropped is still checked for what makes safe_load raise.
        assert!(matches!(
            load("extra: {k: 2026-13-45}\n"),
            Err(LoadError::Crashes(_))
        ));
        assert!(matches!(
            load("extra: [[[*nope]]]\n"),
            Err(LoadError::Rejected(_))
        ));
    }

    #[test]
    fn aliases_share_instead_of_copying() {
        // Ten levels of ten aliases each: 10^10 leaves if expanded.
        let mut doc = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..=10 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            doc.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        doc.push_str("a: *l10\n");
        assert_eq!(kind_of(&doc).unwrap(), "list");
    }
}
