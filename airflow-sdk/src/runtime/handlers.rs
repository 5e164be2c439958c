//! The `value_schema` of a typed task argument, derived from its Rust type for the Dag
//! processor's `TaskHandlerParseRequest` (upstream main).
//!
//! Rust has no reflection, and a user's argument type only promises `DeserializeOwned`. So the
//! type is asked what it wants: its `Deserialize` impl runs against a probe that records the
//! first `deserialize_*` call (`deserialize_i64`, `deserialize_seq`, ...) and then ends with an
//! error, so no value is ever built and no task code runs. The schema states only what decoding
//! enforces, so a value it refuses is one the task would fail on, in the vocabulary
//! `@task.stub` derives from Python annotations (as the Go SDK's `binding` package does); a type that decides at run time (`deserialize_any`: JSON values,
//! untagged enums, custom impls) has no schema (`None`), and only its presence is checked.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Value, json};

/// How deep the probe follows `Option`, sequences, maps and newtypes; a type that contains
/// itself (`struct Tree(Vec<Tree>)`) is left unconstrained past it.
const MAX_DEPTH: u8 = 16;

/// The JSON Schema of the values `T` accepts, or `None` when it cannot be stated.
pub(crate) fn value_schema<T: DeserializeOwned>() -> Option<Value> {
    let out = RefCell::new(None);
    // A hand-written impl that panics on the probe gives no schema rather than ending the
    // process: the answer must still list the handler.
    let probed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = T::deserialize(Probe {
            out: &out,
            depth: 0,
        });
    }));
    match probed {
        Ok(()) => out.into_inner(),
        Err(_) => None,
    }
}

/// The probe's only error: what the type asked for has been recorded.
#[derive(Debug)]
struct Probed;

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("schema probe")
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probed
    }
}

/// A deserializer with no value: it records the schema of the first thing asked of it.
struct Probe<'a> {
    out: &'a RefCell<Option<Value>>,
    depth: u8,
}

impl Probe<'_> {
    fn record<T>(self, schema: Option<Value>) -> Result<T, Probed> {
        *self.out.borrow_mut() = schema;
        Err(Probed)
    }

    /// The schema of what a nested `Deserialize` asks of a fresh probe, after `ask` hands it one.
    fn nested(&self, ask: impl FnOnce(Probe<'_>)) -> Option<Value> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        let inner = RefCell::new(None);
        ask(Probe {
            out: &inner,
            depth: self.depth + 1,
        });
        inner.into_inner()
    }
}

fn integer(min: i128, max: u128) -> Option<Value> {
    Some(json!({"type": "integer", "minimum": min, "maximum": max}))
}

/// `schema` or null (`Option<T>`).
fn nullable(schema: Option<Value>) -> Option<Value> {
    let schema = schema?;
    let has_null = schema
        .get("anyOf")
        .and_then(Value::as_array)
        .is_some_and(|b| b.iter().any(|b| b.get("type") == Some(&json!("null"))));
    if has_null || schema.get("type") == Some(&json!("null")) {
        return Some(schema);
    }
    Some(json!({"anyOf": [schema, {"type": "null"}]}))
}

macro_rules! fixed {
    ($($method:ident => $schema:expr;)+) => {
        $(fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
            self.record($schema)
        })+
    };
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Probed;

    fixed! {
        deserialize_any => None;
        deserialize_ignored_any => None;
        deserialize_bool => Some(json!({"type": "boolean"}));
        deserialize_i8 => integer(i8::MIN.into(), 127);
        deserialize_i16 => integer(i16::MIN.into(), 32_767);
        deserialize_i32 => Some(json!({"type": "integer", "format": "int32"}));
        deserialize_i64 => Some(json!({"type": "integer", "format": "int64"}));
        deserialize_i128 => Some(json!({"type": "integer"}));
        deserialize_u8 => integer(0, u8::MAX.into());
        deserialize_u16 => integer(0, u16::MAX.into());
        deserialize_u32 => integer(0, u32::MAX.into());
        deserialize_u64 => integer(0, u64::MAX.into());
        deserialize_u128 => Some(json!({"type": "integer", "minimum": 0}));
        deserialize_f32 => Some(json!({"type": "number", "format": "float"}));
        deserialize_f64 => Some(json!({"type": "number", "format": "double"}));
        deserialize_char => Some(json!({"type": "string"}));
        deserialize_str => Some(json!({"type": "string"}));
        deserialize_string => Some(json!({"type": "string"}));
        deserialize_identifier => Some(json!({"type": "string"}));
        // Bytes read from a string or an array of numbers.
        deserialize_bytes => None;
        deserialize_byte_buf => None;
        deserialize_unit => Some(json!({"type": "null"}));
        deserialize_map => Some(json!({"type": "object"}));
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, Probed> {
        self.record(Some(json!({"type": "null"})))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Probed> {
        let inner = self.nested(|p| {
            let _ = visitor.visit_some(p);
        });
        self.record(nullable(inner))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Probed> {
        // A newtype is its inner value in JSON.
        let inner = self.nested(|p| {
            let _ = visitor.visit_newtype_struct(p);
        });
        self.record(inner)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Probed> {
        let items = self.nested(|p| {
            let _ = visitor.visit_seq(Elements(Some(p)));
        });
        self.record(Some(
            json!({"type": "array", "items": items.unwrap_or_else(|| json!({}))}),
        ))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, _: V) -> Result<V::Value, Probed> {
        // Elements may differ in type: only the length is stated.
        self.record(Some(
            json!({"type": "array", "minItems": len, "maxItems": len}),
        ))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Probed> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        // Not stated: serde_json's array form of a struct, which no Python annotation produces
        // (the Go SDK states an object the same way).
        self.record(Some(json!({"type": "object"})))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        // A unit variant is a string, others an object: the variants' shapes are not known.
        self.record(None)
    }
}

/// A sequence whose first element is a probe.
struct Elements<'a>(Option<Probe<'a>>);

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = Probed;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Probed> {
        match self.0.take() {
            Some(p) => seed.deserialize(p).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Totals {
        rows: u64,
        label: Option<String>,
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Rows(Vec<u32>);

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Tree(Vec<Tree>);

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    enum Mode {
        Full,
        Delta,
    }

    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Either {
        Number(i64),
        Text(String),
    }

    /// A hand-written impl that panics when asked.
    struct Panics;

    impl<'de> serde::Deserialize<'de> for Panics {
        fn deserialize<D: de::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            panic!("not today")
        }
    }

    #[test]
    fn scalars_use_the_stub_vocabulary() {
        assert_eq!(
            value_schema::<i64>(),
            Some(json!({"type": "integer", "format": "int64"}))
        );
        assert_eq!(
            value_schema::<i32>(),
            Some(json!({"type": "integer", "format": "int32"}))
        );
        assert_eq!(
            value_schema::<u8>(),
            Some(json!({"type": "integer", "minimum": 0, "maximum": 255}))
        );
        assert_eq!(
            value_schema::<i8>(),
            Some(json!({"type": "integer", "minimum": -128, "maximum": 127}))
        );
        assert_eq!(
            value_schema::<u64>(),
            Some(json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}))
        );
        assert_eq!(
            value_schema::<f64>(),
            Some(json!({"type": "number", "format": "double"}))
        );
        assert_eq!(
            value_schema::<f32>(),
            Some(json!({"type": "number", "format": "float"}))
        );
        assert_eq!(value_schema::<String>(), Some(json!({"type": "string"})));
        assert_eq!(value_schema::<bool>(), Some(json!({"type": "boolean"})));
        assert_eq!(value_schema::<()>(), Some(json!({"type": "null"})));
    }

    #[test]
    fn containers_state_their_elements() {
        assert_eq!(
            value_schema::<Vec<String>>(),
            Some(json!({"type": "array", "items": {"type": "string"}}))
        );
        assert_eq!(
            value_schema::<Option<bool>>(),
            Some(json!({"anyOf": [{"type": "boolean"}, {"type": "null"}]}))
        );
        // Option<Option<T>> is null once.
        assert_eq!(
            value_schema::<Option<Option<bool>>>(),
            value_schema::<Option<bool>>()
        );
        assert_eq!(
            value_schema::<Vec<Option<f64>>>(),
            Some(json!({"type": "array", "items":
                {"anyOf": [{"type": "number", "format": "double"}, {"type": "null"}]}}))
        );
        // An element type with no schema leaves the items unconstrained.
        assert_eq!(
            value_schema::<Vec<serde_json::Value>>(),
            Some(json!({"type": "array", "items": {}}))
        );
        assert_eq!(value_schema::<Totals>(), Some(json!({"type": "object"})));
        assert_eq!(
            value_schema::<HashMap<String, i64>>(),
            Some(json!({"type": "object"}))
        );
        assert_eq!(
            value_schema::<BTreeMap<String, Totals>>(),
            Some(json!({"type": "object"}))
        );
        // A newtype is its inner value.
        assert_eq!(
            value_schema::<Rows>(),
            Some(json!({"type": "array", "items":
                {"type": "integer", "minimum": 0, "maximum": u32::MAX}}))
        );
        assert_eq!(
            value_schema::<(i64, String)>(),
            Some(json!({"type": "array", "minItems": 2, "maxItems": 2}))
        );
    }

    #[test]
    fn types_that_decide_at_run_time_have_no_schema() {
        assert_eq!(value_schema::<serde_json::Value>(), None);
        assert_eq!(value_schema::<Either>(), None);
        assert_eq!(value_schema::<Mode>(), None);
        assert_eq!(value_schema::<Option<serde_json::Value>>(), None);
        assert_eq!(value_schema::<Panics>(), None);
    }

    #[test]
    fn a_type_that_contains_itself_ends() {
        let schema = value_schema::<Tree>().unwrap();
        let mut depth = 0;
        let mut at = &schema;
        while let Some(items) = at.get("items") {
            depth += 1;
            at = items;
        }
        assert_eq!(at, &json!({}));
        assert!(depth <= usize::from(MAX_DEPTH), "{depth}");
    }
}
