//! What the verdict can need from a node, decided by where it sits.

use super::value::Value;

/// The keys a verdict looks up: the pairs under them are kept as [`Mapping::entries`](super::mapping::Mapping::entries), all
/// others only as keys and identities (see [`Rest`](super::mapping::Rest)).
pub(super) const LOOKED_UP: [&str; 3] = ["dags", "sdk", "supervisor_schema_version"];

/// What the verdict can need from a node, decided by where it sits. Collections wanted as
/// [`Want::None`] or [`Want::Scalar`] are kept as their Python type only, and scalars other than
/// [`Want::Scalar`] and [`Want::Any`] without their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
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
    pub(super) fn keeps(self) -> bool {
        !matches!(self, Want::None | Want::Scalar)
    }

    /// Whether every key of a mapping wanted so is kept, whatever its value.
    pub(super) fn keeps_all_keys(self) -> bool {
        matches!(self, Want::Dags | Want::Any | Want::AnyItem | Want::All)
    }

    /// Whether a scalar wanted so keeps its text.
    pub(super) fn keeps_text(self) -> bool {
        matches!(self, Want::Scalar | Want::Any | Want::All)
    }

    /// What is wanted from the items of a sequence wanted so (merge lists hold mappings).
    pub(super) fn item(self) -> Want {
        match self {
            Want::Any | Want::AnyItem => Want::AnyItem,
            Want::Scalar => Want::None,
            other => other,
        }
    }

    /// What is wanted from the value under `key` in a mapping wanted so.
    pub(super) fn value(self, key: &Value) -> Want {
        let merge = matches!(key, Value::Other("merge", _));
        let name = match key {
            Value::Str(s) => s,
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
