//! The values the loader builds: a scalar's Python type and text, or a collection kept as far
//! as a verdict can look at it.

use std::rc::Rc;

use super::mapping::{Mapping, Sources};

/// A loaded YAML value, typed as YAML 1.1 would type it.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A string (its text shared, so aliases copy nothing).
    Str(Rc<str>),
    /// A scalar of another type: the Python type name and the source text.
    Other(&'static str, Rc<str>),
    /// A sequence (shared when aliased): only ever read as a list of merge sources.
    Seq(Rc<Sources>),
    /// A `dict` (or, tagged `!!set`, a `set`) after merge keys are applied (see [`Mapping`]).
    Map(Rc<Mapping>),
    /// A collection too deep below the root and below any anchor for a verdict to look at: its
    /// Python type and node shape only. (It was still checked for everything that makes
    /// `safe_load` fail.)
    Pruned(&'static str, Shape),
}

impl PartialEq for Value {
    /// Scalars by type and text, collections by identity.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Other(k, a), Value::Other(l, b)) => k == l && a == b,
            (Value::Seq(a), Value::Seq(b)) => Rc::ptr_eq(a, b),
            (Value::Map(a), Value::Map(b)) => Rc::ptr_eq(a, b),
            (Value::Pruned(k, a), Value::Pruned(l, b)) => k == l && a == b,
            _ => false,
        }
    }
}

/// What a merge key (`<<`) looks at: PyYAML merges by the kind of node, whatever its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A scalar (never merged).
    Scalar,
    /// A mapping node (merged pair by pair).
    Mapping,
    /// A sequence node (a list of merge sources when every item is a mapping node).
    Sequence {
        /// Whether every item is a mapping node.
        of_mappings: bool,
    },
}

impl Value {
    /// The value under a string key of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m
                .entries()
                .iter()
                .rev()
                .find(|(k, _)| matches!(k, Value::Str(s) if &**s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The pairs of a `dict` (not of a `set`).
    pub(crate) fn as_dict(&self) -> Option<&Mapping> {
        match self {
            Value::Map(m) if !m.set => Some(m),
            _ => None,
        }
    }

    /// A short name of the value's type, as Python would call it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::Other(kind, _) | Value::Pruned(kind, _) => kind,
            Value::Seq(_) => "list",
            Value::Map(m) if m.set => "set",
            Value::Map(_) => "dict",
        }
    }

    /// The kind of node the value was loaded from.
    pub(super) fn shape(&self) -> Shape {
        match self {
            Value::Str(_) | Value::Other(..) => Shape::Scalar,
            Value::Seq(s) => Shape::Sequence {
                of_mappings: s.of_mappings,
            },
            Value::Map(_) => Shape::Mapping,
            Value::Pruned(_, shape) => *shape,
        }
    }

    /// Whether Python can hash it (a mapping key must be hashable).
    pub(super) fn hashable(&self) -> bool {
        !matches!(self.kind(), "list" | "dict" | "set")
    }
}

/// The text of a scalar whose text is not kept: one shared empty string.
pub(super) fn empty_text() -> Rc<str> {
    thread_local! {
        static EMPTY: Rc<str> = Rc::from("");
    }
    EMPTY.with(Rc::clone)
}
