//! Assets in declarations: a task's inlets and outlets, and the asset condition a dag is
//! scheduled on (Python's `Asset`, `AssetAlias`, `&` and `|`).
//!
//! The operators build conditions exactly as Python's do, so the same expression serializes to
//! the same tree: `a & b` is `AssetAll(a, b)`, and `(a & b) & c` flattens to `AssetAll(a, b, c)`
//! while `a & (b & c)` does not, as in Airflow.
//!
//! ```
//! use airflow_bundle::declare::{Asset, AssetCondition};
//!
//! let c = Asset::named("a") & (Asset::named("b") | Asset::at("s3://bucket/c"));
//! assert!(matches!(&c, AssetCondition::All { of } if of.len() == 2));
//! assert!(c.requires_batching());
//! ```

use std::fmt;
use std::ops::{BitAnd, BitOr};

use serde::{Deserialize, Serialize};

/// An asset, named by its name and URI (Python's `Asset(name, uri=...)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Asset {
    /// The asset's name.
    pub name: String,
    /// The asset's URI.
    pub uri: String,
}

impl Asset {
    /// The asset `name` at `uri` (Python's `Asset(name, uri)`).
    pub fn new(name: impl Into<String>, uri: impl Into<String>) -> Self {
        Asset {
            name: name.into(),
            uri: uri.into(),
        }
    }

    /// The asset known by its name alone (Python's `Asset("name")`: the URI is the name).
    pub fn named(name: impl Into<String>) -> Self {
        let name = name.into();
        Asset {
            uri: name.clone(),
            name,
        }
    }

    /// The asset known by its URI alone (Python's `Asset(uri=...)`: the name is the URI as
    /// written, the URI is normalized as Airflow does when the dag is declared).
    pub fn at(uri: impl Into<String>) -> Self {
        let uri = uri.into();
        Asset {
            name: uri.clone(),
            uri,
        }
    }
}

/// An asset alias (Python's `AssetAlias("name")`): a task emits events through it and decides at
/// run time which asset each is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssetAlias {
    /// The alias's name.
    pub name: String,
}

impl AssetAlias {
    /// The alias `name`.
    pub fn new(name: impl Into<String>) -> Self {
        AssetAlias { name: name.into() }
    }
}

/// An inlet or outlet of a task: an asset or an asset alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssetOrAlias {
    /// An asset.
    Asset(Asset),
    /// An asset alias.
    Alias(AssetAlias),
}

impl AssetOrAlias {
    /// The asset with its URI normalized as Airflow stores it ([`normalize_asset`]); as it is
    /// when Airflow would refuse it (the declaration rules name that).
    #[must_use]
    pub fn normalized(&self) -> AssetOrAlias {
        match self {
            AssetOrAlias::Asset(a) => AssetOrAlias::Asset(normalize_asset(a).unwrap_or(a.clone())),
            AssetOrAlias::Alias(a) => AssetOrAlias::Alias(a.clone()),
        }
    }
}

impl From<Asset> for AssetOrAlias {
    fn from(a: Asset) -> Self {
        AssetOrAlias::Asset(a)
    }
}

impl From<&Asset> for AssetOrAlias {
    fn from(a: &Asset) -> Self {
        AssetOrAlias::Asset(a.clone())
    }
}

impl From<AssetAlias> for AssetOrAlias {
    fn from(a: AssetAlias) -> Self {
        AssetOrAlias::Alias(a)
    }
}

impl From<&AssetAlias> for AssetOrAlias {
    fn from(a: &AssetAlias) -> Self {
        AssetOrAlias::Alias(a.clone())
    }
}

/// What a dag is scheduled on: an asset, an alias, or all / any of several conditions (Python's
/// `AssetAll` and `AssetAny`). Build it with `&` and `|` on [`Asset`]s and [`AssetAlias`]es.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssetCondition {
    /// An update of the asset.
    Asset(Asset),
    /// An event through the alias.
    Alias(AssetAlias),
    /// Every one of these (Python's `AssetAll`).
    All {
        /// The conditions, in order.
        of: Vec<AssetCondition>,
    },
    /// Any one of these (Python's `AssetAny`).
    Any {
        /// The conditions, in order.
        of: Vec<AssetCondition>,
    },
}

impl AssetCondition {
    /// Whether Airflow must batch asset events to decide the condition (Python's
    /// `requires_batching`): an `AssetAll` of more than one condition anywhere in it. Such a
    /// dag's timetable has `batch_asset_events` on, as Airflow sets it.
    pub fn requires_batching(&self) -> bool {
        match self {
            AssetCondition::Asset(_) | AssetCondition::Alias(_) => false,
            AssetCondition::All { of } => of.len() > 1 || of.iter().any(Self::requires_batching),
            AssetCondition::Any { of } => of.iter().any(Self::requires_batching),
        }
    }

    /// The condition with every asset's URI normalized as Airflow stores it
    /// ([`AssetOrAlias::normalized`]).
    #[must_use]
    pub fn normalized(&self) -> AssetCondition {
        match self {
            AssetCondition::Asset(a) => {
                AssetCondition::Asset(normalize_asset(a).unwrap_or(a.clone()))
            }
            AssetCondition::Alias(a) => AssetCondition::Alias(a.clone()),
            AssetCondition::All { of } => AssetCondition::All {
                of: of.iter().map(Self::normalized).collect(),
            },
            AssetCondition::Any { of } => AssetCondition::Any {
                of: of.iter().map(Self::normalized).collect(),
            },
        }
    }

    /// Every asset and alias of the condition, depth first, in order.
    pub fn leaves(&self) -> Vec<AssetOrAlias> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves(&self, out: &mut Vec<AssetOrAlias>) {
        match self {
            AssetCondition::Asset(a) => out.push(AssetOrAlias::Asset(a.clone())),
            AssetCondition::Alias(a) => out.push(AssetOrAlias::Alias(a.clone())),
            AssetCondition::All { of } | AssetCondition::Any { of } => {
                for c in of {
                    c.collect_leaves(out);
                }
            }
        }
    }

    /// `self & other` as Python's `__and__` builds it: an `AssetAll` on the left takes `other`
    /// in, anything else becomes the first of two.
    fn and(self, other: AssetCondition) -> AssetCondition {
        match self {
            AssetCondition::All { mut of } => {
                of.push(other);
                AssetCondition::All { of }
            }
            left => AssetCondition::All {
                of: vec![left, other],
            },
        }
    }

    /// `self | other`, as Python's `__or__` builds it.
    fn or(self, other: AssetCondition) -> AssetCondition {
        match self {
            AssetCondition::Any { mut of } => {
                of.push(other);
                AssetCondition::Any { of }
            }
            left => AssetCondition::Any {
                of: vec![left, other],
            },
        }
    }
}

impl From<Asset> for AssetCondition {
    fn from(a: Asset) -> Self {
        AssetCondition::Asset(a)
    }
}

impl From<&Asset> for AssetCondition {
    fn from(a: &Asset) -> Self {
        AssetCondition::Asset(a.clone())
    }
}

impl From<AssetAlias> for AssetCondition {
    fn from(a: AssetAlias) -> Self {
        AssetCondition::Alias(a)
    }
}

impl From<AssetOrAlias> for AssetCondition {
    fn from(a: AssetOrAlias) -> Self {
        match a {
            AssetOrAlias::Asset(a) => AssetCondition::Asset(a),
            AssetOrAlias::Alias(a) => AssetCondition::Alias(a),
        }
    }
}

macro_rules! condition_ops {
    ($($ty:ty),*) => {$(
        impl<T: Into<AssetCondition>> BitAnd<T> for $ty {
            type Output = AssetCondition;
            /// Both conditions (Python's `&`).
            fn bitand(self, other: T) -> AssetCondition {
                AssetCondition::from(self).and(other.into())
            }
        }

        impl<T: Into<AssetCondition>> BitOr<T> for $ty {
            type Output = AssetCondition;
            /// Either condition (Python's `|`).
            fn bitor(self, other: T) -> AssetCondition {
                AssetCondition::from(self).or(other.into())
            }
        }
    )*};
}

condition_ops!(AssetCondition, Asset, AssetAlias);

/// Why Airflow would refuse an asset or alias as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetError {
    /// The name or URI is empty or only white space.
    Empty {
        /// `name` or `uri`.
        field: &'static str,
    },
    /// The name or URI is longer than 1500 characters.
    TooLong {
        /// `name` or `uri`.
        field: &'static str,
    },
    /// `self` and `context` cannot name an asset.
    ProhibitedName(String),
    /// The URI's scheme is `airflow`, which Airflow reserves.
    ReservedScheme,
    /// The URI carries a password (Airflow would drop the user info silently).
    Password,
    /// The URI's host part has an unbalanced `[` or `]`.
    InvalidIpv6,
}

impl fmt::Display for AssetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssetError::Empty { field } => write!(f, "its {field} is empty"),
            AssetError::TooLong { field } => {
                write!(f, "its {field} is longer than 1500 characters")
            }
            AssetError::ProhibitedName(n) => {
                write!(f, "{n:?} is a name Airflow prohibits for an asset")
            }
            AssetError::ReservedScheme => write!(f, "the URI scheme 'airflow' is reserved"),
            AssetError::Password => write!(
                f,
                "its URI contains a password, which Airflow would drop with the user name: \
                 remove the user info"
            ),
            AssetError::InvalidIpv6 => write!(f, "its URI has an invalid IPv6 host"),
        }
    }
}

/// Airflow's identifier rule (`_validate_identifier` and `_validate_non_empty_identifier`).
fn check_identifier(field: &'static str, value: &str) -> Result<(), AssetError> {
    if value.trim().is_empty() {
        return Err(AssetError::Empty { field });
    }
    if value.chars().count() > 1500 {
        return Err(AssetError::TooLong { field });
    }
    Ok(())
}

/// The asset as Airflow stores it: its name and URI checked as Python's `Asset` checks them, the
/// URI normalized as its `_sanitize_uri` does with no provider installed (scheme lower-cased,
/// trailing slashes and the fragment dropped, query parameters sorted).
///
/// # Errors
///
/// What Airflow would refuse ([`AssetError`]), and a URI with a password.
pub fn normalize_asset(asset: &Asset) -> Result<Asset, AssetError> {
    check_identifier("name", &asset.name)?;
    if asset.name == "self" || asset.name == "context" {
        return Err(AssetError::ProhibitedName(asset.name.clone()));
    }
    let uri = sanitize_uri(&asset.uri)?;
    check_identifier("uri", &uri)?;
    Ok(Asset {
        name: asset.name.clone(),
        uri,
    })
}

/// The alias checked as Python's `AssetAlias` checks its name.
///
/// # Errors
///
/// An empty, blank or too long name.
pub fn check_alias(alias: &AssetAlias) -> Result<(), AssetError> {
    check_identifier("name", &alias.name)
}

/// Python 3.11's `urllib.parse.uses_netloc`: schemes whose URIs always get `//`.
const USES_NETLOC: &[&str] = &[
    "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
    "snews", "prospero", "rtsp", "rtsps", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss",
];

/// Python's `urllib.parse.urlsplit` (3.11), enough for `_sanitize_uri`.
struct Split<'a> {
    scheme: String,
    netloc: &'a str,
    path: &'a str,
    query: &'a str,
}

fn urlsplit(url: &str) -> Result<Split<'_>, AssetError> {
    let mut rest = url;
    let mut scheme = String::new();
    if let Some(i) = url.find(':')
        && i > 0
        && url.as_bytes()[0].is_ascii_alphabetic()
        && url[..i]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        scheme = url[..i].to_ascii_lowercase();
        rest = &url[i + 1..];
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
        if netloc.contains('[') != netloc.contains(']') {
            return Err(AssetError::InvalidIpv6);
        }
    }
    if let Some(i) = rest.find('#') {
        rest = &rest[..i];
    }
    let (path, query) = match rest.find('?') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    Ok(Split {
        scheme,
        netloc,
        path,
        query,
    })
}

/// Python's `_sanitize_uri` for the schemes no provider normalizes (and `file`).
fn sanitize_uri(uri: &str) -> Result<String, AssetError> {
    if uri.contains(['\t', '\r', '\n']) || uri.starts_with(|c: char| c <= ' ') {
        // urlsplit strips these first; a URI with them is left as written by nobody sane.
        return Ok(uri.to_owned());
    }
    let parts = urlsplit(uri)?;
    if parts.scheme.is_empty() || parts.scheme.starts_with("x-") {
        // Not a URI (`parsed.scheme` empty: netloc alone still returns it unchanged, as the
        // scheme is then empty too), or a private scheme.
        return Ok(uri.to_owned());
    }
    if parts.scheme == "airflow" {
        return Err(AssetError::ReservedScheme);
    }
    if let Some((userinfo, _)) = parts.netloc.rsplit_once('@')
        && userinfo.contains(':')
    {
        return Err(AssetError::Password);
    }
    let path = parts.path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let mut out = format!("{}:", parts.scheme);
    // Python 3.11's urlunsplit: `//netloc` when there is a netloc, or for a scheme that uses
    // one (`file`, `http`, ...) unless the path already starts with `//`.
    if !parts.netloc.is_empty()
        || (USES_NETLOC.contains(&parts.scheme.as_str()) && !path.starts_with("//"))
    {
        out.push_str("//");
        out.push_str(parts.netloc);
        if !path.starts_with('/') {
            out.push('/');
        }
    }
    out.push_str(path);
    let query = normalize_query(parts.query);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    Ok(out)
}

/// `urlencode(sorted(parse_qsl(query)))`: blank values dropped, percent-decoded, sorted by name
/// then value, encoded again as `quote_plus` does.
fn normalize_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            (!v.is_empty()).then(|| (unquote_plus(k), unquote_plus(v)))
        })
        .collect();
    crate::sort::sort_by(&mut pairs, Ord::cmp);
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Python's `unquote_plus`: `+` is a space, `%XX` a byte (kept as written when not hex), the
/// bytes read as UTF-8 with replacement.
fn unquote_plus(text: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    while pos < bytes.len() {
        match bytes[pos] {
            b'+' => out.push(b' '),
            b'%' if pos + 2 < bytes.len() => match (hex(bytes[pos + 1]), hex(bytes[pos + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    pos += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        pos += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `quote_plus`: letters, digits and `_.-~` kept, a space as `+`, every other byte
/// as `%XX`.
fn quote_plus(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for &c in text.as_bytes() {
        match c {
            b' ' => out.push('+'),
            c if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'~') => {
                out.push(c as char);
            }
            c => {
                let _ = write!(out, "%{c:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: &str) -> Asset {
        Asset::named(n)
    }

    #[test]
    fn operators_build_the_tree_python_builds() {
        let names = |c: &AssetCondition| -> Vec<String> {
            match c {
                AssetCondition::All { of } | AssetCondition::Any { of } => of
                    .iter()
                    .map(|c| match c {
                        AssetCondition::Asset(a) => a.name.clone(),
                        AssetCondition::All { .. } => "all".into(),
                        AssetCondition::Any { .. } => "any".into(),
                        AssetCondition::Alias(a) => format!("alias:{}", a.name),
                    })
                    .collect(),
                _ => vec![],
            }
        };
        // (a & b) & c flattens, a & (b & c) does not, as in Python.
        let flat = (a("a") & a("b")) & a("c");
        assert!(matches!(flat, AssetCondition::All { .. }));
        assert_eq!(names(&flat), ["a", "b", "c"]);
        let nested = a("a") & (a("b") & a("c"));
        assert_eq!(names(&nested), ["a", "all"]);
        let mixed = a("a") & (a("b") | AssetAlias::new("x"));
        assert_eq!(names(&mixed), ["a", "any"]);
        assert!(mixed.requires_batching());
        let any = a("a") | a("b") | a("c");
        assert_eq!(names(&any), ["a", "b", "c"]);
        assert!(!any.requires_batching());
        assert!(!AssetCondition::from(a("a")).requires_batching());
        assert!((a("x") | (a("a") & a("b"))).requires_batching());
        assert_eq!(
            mixed.leaves(),
            [
                AssetOrAlias::Asset(a("a")),
                AssetOrAlias::Asset(a("b")),
                AssetOrAlias::Alias(AssetAlias::new("x"))
            ]
        );
    }

    /// Each expected URI is what `Asset(uri=...)` of Airflow 3.4.0b2 (no provider normalizing
    /// the scheme) stores.
    #[test]
    fn uris_are_normalized_as_airflow_does() {
        for (given, want) in [
            ("orders", "orders"),
            ("S3://Bucket/Key/", "s3://Bucket/Key"),
            ("file:///tmp/x/", "file:///tmp/x"),
            ("s3://bucket", "s3://bucket/"),
            (
                "postgres://h:5432/db?b=2&a=1&c=#frag",
                "postgres://h:5432/db?a=1&b=2",
            ),
            (
                "https://h/p?q=a+b%2Fc&x=%zz",
                "https://h/p?q=a+b%2Fc&x=%25zz",
            ),
            ("x-custom://What/Ever/", "x-custom://What/Ever/"),
            ("s3://user@bucket/k", "s3://user@bucket/k"),
            ("//netloc/only/", "//netloc/only/"),
            ("data:text", "data:text"),
            ("http:foo/", "http:///foo"),
            ("FILE:/tmp//", "file:///tmp"),
        ] {
            assert_eq!(
                normalize_asset(&Asset::at(given)).map(|a| a.uri),
                Ok(want.to_owned()),
                "{given}"
            );
        }
        for (given, err) in [
            ("airflow://x", AssetError::ReservedScheme),
            ("s3://u:secret@bucket/k", AssetError::Password),
            ("s3://[::1/k", AssetError::InvalidIpv6),
            ("", AssetError::Empty { field: "name" }),
            ("  ", AssetError::Empty { field: "name" }),
        ] {
            assert_eq!(normalize_asset(&Asset::at(given)), Err(err), "{given:?}");
        }
        assert_eq!(
            normalize_asset(&Asset::named("self")),
            Err(AssetError::ProhibitedName("self".into()))
        );
        assert_eq!(
            normalize_asset(&Asset::new("ok", " ")),
            Err(AssetError::Empty { field: "uri" })
        );
        assert_eq!(
            normalize_asset(&Asset::named("n".repeat(1501))),
            Err(AssetError::TooLong { field: "name" })
        );
        assert!(check_alias(&AssetAlias::new("")).is_err());
        assert!(check_alias(&AssetAlias::new("partitions")).is_ok());
    }
}
