//! Airflow Connections: what `ctx.connection(id)` returns, parsed from the supervisor's answer or
//! from an `AIRFLOW_CONN_<ID>` environment variable, and written back as Airflow's URI.

use std::fmt::{self, Write as _};

use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// An Airflow Connection, as [`TaskContext::connection`](crate::TaskContext::connection)
/// returns it.
#[derive(Clone, PartialEq)]
pub struct Connection {
    /// The connection id.
    pub conn_id: String,
    /// Its type (`postgres`, `http`, ...).
    pub conn_type: String,
    /// Host name.
    pub host: Option<String>,
    /// Schema (database name for most databases).
    pub schema: Option<String>,
    /// User name.
    pub login: Option<String>,
    /// Password (not shown by `Debug`).
    pub password: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// The `extra` field, parsed from its JSON string (`Null` when absent; a string when it is
    /// not valid JSON).
    pub extra: serde_json::Value,
    /// `extra` as Airflow stores it (a JSON string), kept for [`Connection::uri`]: its key
    /// order is part of the URI Airflow writes.
    extra_text: Option<String>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("conn_id", &self.conn_id)
            .field("conn_type", &self.conn_type)
            .field("host", &self.host)
            .field("schema", &self.schema)
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("port", &self.port)
            .field("extra", &self.extra)
            .finish()
    }
}

/// Why an `AIRFLOW_CONN_*` value is not a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectionParseError(String);

impl Connection {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_parsed(
        conn_id: String,
        conn_type: String,
        host: Option<String>,
        schema: Option<String>,
        login: Option<String>,
        password: Option<String>,
        port: Option<u16>,
        extra_text: Option<String>,
    ) -> Connection {
        let extra_text = extra_text.filter(|t| !t.trim().is_empty());
        let extra = match &extra_text {
            None => serde_json::Value::Null,
            Some(text) => serde_json::from_str(text)
                .unwrap_or_else(|_| serde_json::Value::String(text.clone())),
        };
        Connection {
            conn_id,
            conn_type,
            host,
            schema,
            login,
            password,
            port,
            extra,
            extra_text,
        }
    }

    /// `extra` as Airflow stores it (a JSON string): the text it was parsed from, or, when
    /// `extra` was changed since, `extra` as Python's `json.dumps` writes it.
    #[cfg(feature = "testing")]
    pub(crate) fn stored_extra(&self) -> Option<String> {
        self.extra_text()
    }

    /// `extra` as Airflow stores it (a JSON string): the text it was parsed from, with its key
    /// order, or, when `extra` was changed since, `extra` as Python's `json.dumps` writes it (its
    /// keys then sorted: the order of a changed value is not known).
    fn extra_text(&self) -> Option<String> {
        let parsed = |t: &str| {
            serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.to_owned()))
        };
        match &self.extra_text {
            Some(t) if parsed(t) == self.extra => Some(t.clone()),
            _ if self.extra.is_null() => None,
            _ => Some(python_json_dumps(&self.extra)),
        }
    }

    /// The `extra` field as a typed value (any `serde` type).
    ///
    /// ```
    /// # use airflow_sdk::Connection;
    /// #[derive(serde::Deserialize)]
    /// struct Extra { timeout: u32 }
    /// let c = Connection::from_uri("api", "http://h/?timeout=5").unwrap();
    /// // URI query values are strings; JSON extras keep their types.
    /// assert_eq!(c.extra_as::<std::collections::BTreeMap<String, String>>().unwrap()["timeout"], "5");
    /// let c = Connection::from_uri("api", "http://h/?__extra__=%7B%22timeout%22%3A+5%7D").unwrap();
    /// assert_eq!(c.extra_as::<Extra>().unwrap().timeout, 5);
    /// ```
    pub fn extra_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.extra)
    }

    /// Parses the value of an `AIRFLOW_CONN_<ID>` environment variable: Airflow's JSON form when
    /// it starts with `{`, else a URI.
    pub fn from_env(conn_id: &str, value: &str) -> Result<Connection, ConnectionParseError> {
        if value.trim_start().starts_with('{') {
            Connection::from_json(conn_id, value)
        } else {
            Connection::from_uri(conn_id, value)
        }
    }

    /// Parses Airflow's JSON form of a connection (`Connection.from_json`): `conn_type`,
    /// `host`, `login`, `password`, `schema`, `port` (a number or a numeric string), `extra`
    /// (an object or a JSON string).
    pub fn from_json(conn_id: &str, text: &str) -> Result<Connection, ConnectionParseError> {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| ConnectionParseError(format!("not a JSON object: {e}")))?;
        let string = |k: &str| -> Result<Option<String>, ConnectionParseError> {
            match v.get(k) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(ConnectionParseError(format!(
                    "{k} is {other}, not a string"
                ))),
            }
        };
        let port = match v.get("port") {
            None | Some(serde_json::Value::Null) => None,
            Some(p) => {
                let n = match p {
                    serde_json::Value::Number(n) => n.as_u64(),
                    serde_json::Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                Some(
                    n.and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| ConnectionParseError(format!("port {p} is not a port")))?,
                )
            }
        };
        let extra = match v.get("extra") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            // Python's `json.dumps` of the object as `json.loads` read it (keys in the text's
            // order), so that `uri()` writes what Airflow writes.
            Some(other) => Some(match serde_json::from_str::<Ordered>(text) {
                Ok(Ordered::Object(fields)) => fields
                    .into_iter()
                    .rev()
                    .find(|(k, _)| k == "extra")
                    .map(|(_, v)| v.python_dumps())
                    .unwrap_or_else(|| python_json_dumps(other)),
                _ => python_json_dumps(other),
            }),
        };
        let conn_type = string("conn_type")?.map(normalize_type).unwrap_or_default();
        Ok(Connection::new_parsed(
            conn_id.to_owned(),
            conn_type,
            string("host")?,
            string("schema")?,
            string("login")?,
            string("password")?,
            port,
            extra,
        ))
    }

    /// Parses Airflow's URI form of a connection (`Connection.from_uri`):
    /// `type://login:password@host:port/schema?key=value`, with a protocol in the host as
    /// `type://protocol://host...`, and `?__extra__=<JSON>` for an extra that is not flat
    /// strings. Percent-encoding is decoded.
    pub fn from_uri(conn_id: &str, uri: &str) -> Result<Connection, ConnectionParseError> {
        let bad = || ConnectionParseError(format!("invalid connection URI {uri:?}"));
        if uri.matches("://").count() > 2 {
            return Err(bad());
        }
        let (scheme, rest) = uri.split_once("://").ok_or_else(bad)?;
        // `type://protocol://host`: the host keeps its protocol.
        let (protocol, rest) = match rest.split_once("://") {
            Some((p, r)) => {
                if p.contains('@') || p.contains(':') {
                    return Err(bad());
                }
                (Some(p), r)
            }
            None => (None, rest),
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let before_query = before_query.split('#').next().unwrap_or("");
        let (netloc, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i + 1..]),
            None => (before_query, ""),
        };
        let (userinfo, hostport) = match netloc.rfind('@') {
            Some(i) => (Some(&netloc[..i]), &netloc[i + 1..]),
            None => (None, netloc),
        };
        let (login, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((l, p)) => (Some(unquote(l)), Some(unquote(p))),
                None => (Some(unquote(u)), None),
            },
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || !p.is_empty() => {
                let port = if p.is_empty() {
                    None
                } else {
                    Some(p.parse::<u16>().map_err(|_| {
                        ConnectionParseError(format!("invalid port {p:?} in {uri:?}"))
                    })?)
                };
                (h, port)
            }
            _ => (hostport, None),
        };
        // Python's urlsplit lower-cases the host name.
        let host = unquote(host).to_lowercase();
        let host = (!host.is_empty()).then(|| match protocol {
            Some(p) => format!("{p}://{host}"),
            None => host,
        });
        let login = login.filter(|l| !l.is_empty());
        let password = password.filter(|p| !p.is_empty());
        let schema = (!path.is_empty()).then(|| unquote(path));
        let extra = match query.filter(|q| !q.is_empty()) {
            None => None,
            Some(q) => {
                let pairs = parse_qsl(q);
                // `dict(parse_qsl(...))`: a repeated key keeps its last value.
                match pairs.iter().rev().find(|(k, _)| k == EXTRA_KEY) {
                    Some((_, v)) => Some(v.clone()),
                    None => {
                        let mut fields = Vec::new();
                        for (k, v) in pairs {
                            Ordered::insert(&mut fields, k, Ordered::Scalar(v.into()));
                        }
                        Some(Ordered::Object(fields).python_dumps())
                    }
                }
            }
        };
        Ok(Connection::new_parsed(
            conn_id.to_owned(),
            normalize_type(scheme.to_owned()),
            host,
            schema,
            login,
            password,
            port,
            extra,
        ))
    }

    /// The connection as a URI, exactly as Airflow's `Connection.get_uri()` writes it (so a URI
    /// from [`Connection::from_uri`] and back names the same connection, and a Rust task and a
    /// Python task print the same string).
    ///
    /// ```
    /// # use airflow_sdk::Connection;
    /// let c = Connection::from_uri("db", "postgres://etl:p%40ss@db.example:5432/sales?sslmode=require").unwrap();
    /// assert_eq!(c.password.as_deref(), Some("p@ss"));
    /// assert_eq!(c.uri(), "postgres://etl:p%40ss@db.example:5432/sales?sslmode=require");
    /// ```
    pub fn uri(&self) -> String {
        let mut uri = if self.conn_type.is_empty() {
            "//".to_owned()
        } else {
            format!("{}://", self.conn_type.to_lowercase().replace('_', "-"))
        };
        let (host, protocol) = match self.host.as_deref() {
            Some(h) if h.contains("://") => {
                let (protocol, rest) = h.split_once("://").unwrap_or(("", h));
                if protocol == self.conn_type {
                    (Some(h), None)
                } else {
                    (Some(rest), Some(protocol))
                }
            }
            other => (other, None),
        };
        if let Some(p) = protocol {
            uri.push_str(p);
            uri.push_str("://");
        }
        let mut authority = String::new();
        if let Some(l) = &self.login {
            authority.push_str(&quote(l, false));
        }
        if let Some(p) = &self.password {
            authority.push(':');
            authority.push_str(&quote(p, false));
        }
        if !authority.is_empty() {
            authority.push('@');
            uri.push_str(&authority);
        }
        let mut host_block = String::new();
        if let Some(h) = host.filter(|h| !h.is_empty()) {
            host_block.push_str(&quote(h, false));
        }
        if let Some(port) = self.port.filter(|&p| p != 0) {
            if host_block.is_empty() && authority.is_empty() {
                host_block.push_str(&format!("@:{port}"));
            } else {
                host_block.push_str(&format!(":{port}"));
            }
        }
        let has_schema = self.schema.as_deref().is_some_and(|s| !s.is_empty());
        if let Some(s) = self.schema.as_deref().filter(|s| !s.is_empty()) {
            host_block.push('/');
            host_block.push_str(&quote(s, false));
        }
        uri.push_str(&host_block);
        if let Some(text) = self.extra_text().filter(|t| !t.is_empty()) {
            let sep = if has_schema { "?" } else { "/?" };
            // Flat string values are written as a query, in the extra's key order; anything
            // else as `__extra__=<JSON>` (what Airflow does when the query would not read back
            // as the same dict).
            let strings = match serde_json::from_str::<Ordered>(&text) {
                Ok(Ordered::Object(fields)) if !fields.is_empty() => fields
                    .into_iter()
                    .map(|(k, v)| match v {
                        Ordered::Scalar(serde_json::Value::String(v)) => Some((k, v)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            };
            let query = match strings {
                Some(pairs) => pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", quote(k, true), quote(v, true)))
                    .collect::<Vec<_>>()
                    .join("&"),
                None => format!("{EXTRA_KEY}={}", quote(&text, true)),
            };
            uri.push_str(sep);
            uri.push_str(&query);
        }
        uri
    }
}

const EXTRA_KEY: &str = "__extra__";

fn normalize_type(t: String) -> String {
    if t == "postgresql" {
        "postgres".to_owned()
    } else {
        t.replace('-', "_")
    }
}

/// `json.dumps(value)` as Python writes it: `", "` and `": "` separators, non-ASCII escaped.
/// Object keys come in the map's order (sorted, with serde_json's default map).
fn python_json_dumps(value: &serde_json::Value) -> String {
    Ordered::from(value).python_dumps()
}

/// A JSON value as Python's `json.loads` reads it: object keys in the text's order, a repeated
/// key at its first position with its last value. (serde_json's map sorts keys; its
/// `preserve_order` feature would add a dependency to every bundle.)
#[derive(Debug, Clone, PartialEq)]
enum Ordered {
    /// Null, a boolean, a number or a string.
    Scalar(serde_json::Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    /// Sets `key` as a Python dict does: replaced in place when present, else appended.
    fn insert(fields: &mut Vec<(String, Ordered)>, key: String, value: Ordered) {
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => fields.push((key, value)),
        }
    }

    /// `json.dumps(value)` as Python writes it: `", "` and `": "` separators, non-ASCII
    /// escaped.
    fn python_dumps(&self) -> String {
        let mut out = String::new();
        self.dump_into(&mut out);
        out
    }

    fn dump_into(&self, out: &mut String) {
        match self {
            Ordered::Scalar(serde_json::Value::String(s)) => python_string(s, out),
            Ordered::Scalar(other) => out.push_str(&other.to_string()),
            Ordered::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.dump_into(out);
                }
                out.push(']');
            }
            Ordered::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    python_string(k, out);
                    out.push_str(": ");
                    v.dump_into(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&serde_json::Value> for Ordered {
    fn from(v: &serde_json::Value) -> Ordered {
        match v {
            serde_json::Value::Array(items) => {
                Ordered::Array(items.iter().map(Ordered::from).collect())
            }
            serde_json::Value::Object(map) => Ordered::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Ordered::from(v)))
                    .collect(),
            ),
            other => Ordered::Scalar(other.clone()),
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(serde_json::Value::Null))
            }
            fn visit_none<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(serde_json::Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = s.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Ordered>()? {
                    Ordered::insert(&mut fields, k, v);
                }
                Ok(Ordered::Object(fields))
            }
        }
        // serde_json bounds the nesting (128 levels) before any of this recursion.
        d.deserialize_any(V)
    }
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii`): also an asset key's parts in
/// a native dag's `dependency_id` (`runtime::native`).
pub(crate) fn python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `urllib.parse.quote(s, safe="")` (`plus`: `quote_plus`, spaces as `+`).
fn quote(s: &str, plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Python's `unquote` (`plus`: `unquote_plus`): invalid escapes stay as they are.
fn unquote_bytes(s: &str, plus: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unquote(s: &str) -> String {
    unquote_bytes(s, false)
}

/// Python's `parse_qsl(q, keep_blank_values=True)`.
fn parse_qsl(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unquote_bytes(k, true), unquote_bytes(v, true))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_decodes_valid_escapes_only() {
        assert_eq!(unquote("p%40ss%2"), "p@ss%2");
        assert_eq!(unquote("%zz%41"), "%zzA");
        assert_eq!(unquote_bytes("a+b%20c", true), "a b c");
    }

    #[test]
    fn uris_round_trip() {
        for uri in [
            "postgres://etl:p%40ss@db.example:5432/sales?sslmode=require",
            "http://api.example/?timeout=5",
            "mysql://@:3306",
            "http://https://api.example:8443/v1",
            "aws:///?__extra__=%7B%22region%22%3A+%22eu%22%2C+%22n%22%3A+1%7D",
        ] {
            let c = Connection::from_uri("x", uri).unwrap();
            assert_eq!(c.uri(), uri, "{c:?}");
        }
        // Expected strings from apache-airflow-task-sdk 1.3.2's Connection.get_uri().
        let c = Connection::from_uri(
            "x",
            "http://Me:p%20w@API.example:8443/https?timeout=5&x=a+b",
        )
        .unwrap();
        assert_eq!(c.extra, serde_json::json!({"timeout": "5", "x": "a b"}));
        assert_eq!(
            c.uri(),
            "http://Me:p%20w@api.example:8443/https?timeout=5&x=a+b"
        );
        let c = Connection::new_parsed(
            "m".into(),
            "http".into(),
            Some("api.example".into()),
            Some("https".into()),
            Some("me".into()),
            Some("pw".into()),
            Some(8443),
            Some(r#"{"timeout": 5}"#.into()),
        );
        assert_eq!(
            c.uri(),
            "http://me:pw@api.example:8443/https?__extra__=%7B%22timeout%22%3A+5%7D"
        );
        let c = Connection::from_uri("x", "google-cloud-platform://").unwrap();
        assert_eq!(c.conn_type, "google_cloud_platform");
        assert!(Connection::from_uri("x", "a://b://c://d").is_err());
    }

    #[test]
    fn json_form_is_read() {
        let c = Connection::from_json(
            "j",
            r#"{"conn_type": "postgresql", "host": "h", "port": "5432", "extra": {"a": 1}}"#,
        )
        .unwrap();
        assert_eq!(c.conn_type, "postgres");
        assert_eq!(c.port, Some(5432));
        assert_eq!(c.extra, serde_json::json!({"a": 1}));
        // As Python's from_json + get_uri write it (checked with task SDK 1.3.2).
        let c = Connection::from_json(
            "j",
            r#"{"conn_type": "http", "extra": {"a": "b", "n": [1, "é"]}}"#,
        )
        .unwrap();
        assert_eq!(
            c.uri(),
            "http:///?__extra__=%7B%22a%22%3A+%22b%22%2C+%22n%22%3A+%5B1%2C+%22%5Cu00e9%22%5D%7D"
        );
        assert!(Connection::from_json("j", r#"{"port": "x"}"#).is_err());
    }

    #[test]
    fn a_changed_extra_is_written_not_the_stale_text() {
        let mut c = Connection::from_uri("x", "http://h/?b=1&a=2").unwrap();
        assert_eq!(c.uri(), "http://h/?b=1&a=2");
        c.extra = serde_json::json!({"c": "3"});
        assert_eq!(c.uri(), "http://h/?c=3");
    }
}
