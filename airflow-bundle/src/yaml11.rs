//! Loads YAML the way PyYAML's `safe_load` types it (YAML 1.1 implicit resolution), so the
//! verifier sees the manifest exactly as Airflow does: a plain `2026-06-16` is a date, `yes` is a
//! bool, `123` is an int, and only what loads as a `str` can match a dag id.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

/// A loaded YAML value, typed as YAML 1.1 would type it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string.
    Str(String),
    /// A scalar of another type: the YAML 1.1 type name and the source text.
    Other(&'static str, String),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping, in document order; a later duplicate key wins on lookup, as in PyYAML.
    Map(Vec<(Value, Value)>),
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
        }
    }
}

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

/// The YAML 1.1 type a plain, untagged scalar resolves to (`"str"` when no resolver matches).
pub(crate) fn resolve_plain(text: &str) -> &'static str {
    RESOLVERS
        .iter()
        .find(|(_, re)| re.is_match(text))
        .map_or("str", |(kind, _)| kind)
}

fn scalar(text: String, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    match tag {
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == "str" => Ok(Value::Str(text)),
        Some(tag) if tag.is_yaml_core_schema() => Ok(Value::Other(
            match tag.suffix.as_str() {
                "int" => "int",
                "float" => "float",
                "bool" => "bool",
                "null" => "NoneType",
                "timestamp" => "timestamp",
                "binary" => "bytes",
                _ => "tagged",
            },
            text,
        )),
        // safe_load refuses application tags outright.
        Some(tag) => Err(format!("the tag {tag} is not allowed by yaml.safe_load")),
        None if style == ScalarStyle::Plain => match resolve_plain(&text) {
            "str" => Ok(Value::Str(text)),
            kind => Ok(Value::Other(kind, text)),
        },
        None => Ok(Value::Str(text)),
    }
}

/// Loads a single YAML document. Errors say why `yaml.safe_load` would fail or differ.
pub(crate) fn load(text: &str) -> Result<Option<Value>, String> {
    enum Frame {
        Seq(Vec<Value>, usize),
        Map(Vec<(Value, Value)>, Option<Value>, usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut documents = 0usize;
    let mut root: Option<Value> = None;

    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| format!("not valid YAML: {e}"))?;
        let done = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err("holds more than one YAML document; yaml.safe_load expects a single document".into());
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let v = scalar(text.into_owned(), style, tag.as_deref())?;
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                Some(v)
            }
            Event::Alias(id) => {
                Some(anchors.get(&id).cloned().ok_or_else(|| {
                    format!("alias at line {} names no anchor", span.start.line())
                })?)
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    let v = Value::Seq(items);
                    if anchor > 0 {
                        anchors.insert(anchor, v.clone());
                    }
                    Some(v)
                }
                Some(Frame::Map(entries, _, anchor)) => {
                    if entries
                        .iter()
                        .any(|(k, _)| matches!(k, Value::Other("merge", _)))
                    {
                        return Err(
                            "uses YAML merge keys (<<), which a bundle manifest must not".into(),
                        );
                    }
                    let v = Value::Map(entries);
                    if anchor > 0 {
                        anchors.insert(anchor, v.clone());
                    }
                    Some(v)
                }
                None => return Err("unbalanced YAML collections".into()),
            },
            _ => None,
        };
        if let Some(v) = done {
            match stack.last_mut() {
                Some(Frame::Seq(items, _)) => items.push(v),
                Some(Frame::Map(entries, pending, _)) => match pending.take() {
                    None => {
                        if matches!(v, Value::Seq(_) | Value::Map(_)) {
                            return Err("has a mapping key that is a list or mapping, which yaml.safe_load cannot hash".into());
                        }
                        *pending = Some(v);
                    }
                    Some(k) => entries.push((k, v)),
                },
                None => root = Some(v),
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

    #[test]
    fn quoting_and_tags_decide_strings() {
        let v = load("a: \"2026-06-16\"\nb: 2026-06-16\nc: !!str 123\nd: '123'\n")
            .unwrap()
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Str("2026-06-16".into())));
        assert_eq!(v.get("b").unwrap().kind(), "timestamp");
        assert_eq!(v.get("c"), Some(&Value::Str("123".into())));
        assert_eq!(v.get("d"), Some(&Value::Str("123".into())));
    }

    #[test]
    fn refuses_what_safe_load_refuses() {
        assert!(load("a: 1\n---\nb: 2\n").is_err());
        assert!(load("a: !python/object 1\n").is_err());
        assert!(load("[a: [b").is_err());
        assert_eq!(load("").unwrap(), None);
    }
}
