//! YAML 1.1 implicit types as PyYAML's resolver and safe constructor see them: what a scalar
//! loads as, and which scalars make construction raise.

use std::rc::Rc;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{ScalarStyle, Tag};

use super::errors::{LoadError, no_constructor, shorten};
use super::tags::{TagKind, core_suffix};
use super::value::{Value, empty_text};
use crate::verify::PyException;

/// Python 3.11+ refuses to convert decimal strings longer than this to `int` (`ValueError`).
const PYTHON_INT_MAX_STR_DIGITS: usize = 4300;

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
/// was tagged `!!int`). PyYAML drops the underscores first; this walks the text without copying
/// it, as the text may be the whole manifest.
fn int_fails(text: &str) -> Option<String> {
    let clean = || text.chars().filter(|c| *c != '_');
    let signed = matches!(clean().next(), Some('-' | '+'));
    let v = || clean().skip(usize::from(signed));
    let mut head = v();
    let (c0, c1) = (head.next(), head.next());
    if c0 == Some('0') && c1.is_none() {
        return None;
    }
    let (skip, radix) = match (c0, c1) {
        (Some('0'), Some('b')) => (2, 2),
        (Some('0'), Some('x')) => (2, 16),
        (Some('0'), _) => (0, 8),
        _ if v().any(|c| c == ':') => {
            let first: usize = v().take_while(|c| *c != ':').map(char::len_utf8).sum();
            return (first > PYTHON_INT_MAX_STR_DIGITS || first == 0)
                .then(|| format!("int() of {first} digits exceeds Python's limit"));
        }
        _ => (0, 10),
    };
    let digits = || v().skip(skip);
    // `int(digits.strip(), radix)`: surrounding whitespace is fine, anything else must be a
    // digit of the radix.
    let (mut started, mut gap, mut bad, mut len) = (false, false, false, 0usize);
    for c in digits() {
        if c.is_whitespace() {
            gap |= started;
            continue;
        }
        bad |= gap || !c.is_digit(radix);
        started = true;
        len += c.len_utf8();
    }
    if !started || bad {
        let head: String = digits().take(41).collect();
        return Some(format!(
            "invalid literal for int() with base {radix}: {:?}",
            shorten(&head)
        ));
    }
    if radix == 10 && len > PYTHON_INT_MAX_STR_DIGITS {
        return Some(format!(
            "a {len}-digit integer exceeds Python's limit of {PYTHON_INT_MAX_STR_DIGITS} digits for int()"
        ));
    }
    None
}

/// Whether PyYAML's `construct_yaml_timestamp` raises on `text`, and what: an `AttributeError`
/// for text its regex does not match (only reached with an explicit tag), else a `ValueError`.
fn timestamp_fails(text: &str) -> Option<(PyException, String)> {
    let Some(c) = TIMESTAMP.captures(text) else {
        return Some((
            PyException::AttributeError,
            format!("{:?} is not a timestamp", shorten(text)),
        ));
    };
    timestamp_value_fails(&c).map(|why| (PyException::ValueError, why))
}

/// The `ValueError` `datetime` raises for the fields of a matched timestamp.
fn timestamp_value_fails(c: &regex::Captures<'_>) -> Option<String> {
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
    let kept = text
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    let data = kept.clone().take_while(|b| *b != b'=').count();
    let pads = kept.skip(data).filter(|b| *b == b'=').count();
    match data % 4 {
        0 => false,
        1 => true,
        2 => pads < 2,
        _ => pads < 1,
    }
}

/// Types a scalar as `safe_load` would, or says how constructing it fails. With `keep` false
/// only the type is kept, not the text.
pub(super) fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    keep: bool,
) -> Result<Value, LoadError> {
    let kind = kind_of(text, style, tag)?;
    construction_fails(kind, text, tag.is_some())?;
    let text = if keep { Rc::from(text) } else { empty_text() };
    Ok(match kind {
        "str" => Value::Str(text),
        kind => Value::Other(kind, text),
    })
}

/// The Python type of a scalar, or the error for a tag `safe_load` has no constructor for.
fn kind_of(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<&'static str, LoadError> {
    Ok(match core_suffix(tag) {
        TagKind::Implicit if style == ScalarStyle::Plain || tag.is_some() => resolve_plain(text),
        TagKind::Implicit | TagKind::Core("str") => "str",
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
    })
}

/// Whether constructing `text` as a `kind` (with an explicit tag when `tagged`) raises, and
/// what.
fn construction_fails(kind: &str, text: &str, tagged: bool) -> Result<(), LoadError> {
    let failure = match kind {
        "int" => int_fails(text).map(|why| (PyException::ValueError, why)),
        "float" if tagged => float_fails(text),
        "bool" if tagged => bool_fails(text),
        "timestamp" => timestamp_fails(text),
        "bytes" if base64_fails(text) => {
            return Err(LoadError::Rejected(format!(
                "has a !!binary scalar {:?} that is not valid base64",
                shorten(text)
            )));
        }
        _ => None,
    };
    match failure {
        Some((exception, why)) => Err(LoadError::Crashes(
            exception,
            format!(
                "the scalar {:?} makes PyYAML raise {exception} ({why})",
                shorten(text)
            ),
        )),
        None => Ok(()),
    }
}

/// Whether PyYAML's `construct_yaml_float` raises on `text` (tagged `!!float`).
fn float_fails(text: &str) -> Option<(PyException, String)> {
    let v: String = text.chars().filter(|c| *c != '_').collect();
    let v = v.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Some((PyException::IndexError, "an empty !!float".into()));
    }
    let v = v.strip_prefix(['-', '+']).unwrap_or(&v);
    let ok = matches!(v, ".inf" | ".nan") || v.split(':').all(|p| p.parse::<f64>().is_ok());
    (!ok).then(|| {
        (
            PyException::ValueError,
            format!("could not convert {:?} to float", shorten(v)),
        )
    })
}

/// Whether PyYAML's `construct_yaml_bool` raises on `text` (tagged `!!bool`).
fn bool_fails(text: &str) -> Option<(PyException, String)> {
    let known = ["yes", "no", "true", "false", "on", "off"];
    (!known.iter().any(|k| k.eq_ignore_ascii_case(text))).then(|| {
        (
            PyException::KeyError,
            format!("{:?} is not a YAML 1.1 bool", shorten(text)),
        )
    })
}
