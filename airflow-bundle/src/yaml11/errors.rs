//! Why a document does not load, and the messages that say so.

use saphyr_parser::ScanError;

use super::anchors::MAX_ANCHORS;
use super::input::flow_depth;
use super::value::Value;
use super::{MERGE_BUDGET, PYYAML_MAX_DEPTH};
use crate::dag_ids::TooLarge;
use crate::verify::PyException;

/// Why `yaml.safe_load` would not return a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoadError {
    /// `safe_load` raises a `yaml.YAMLError`: 1.3.2's reader skips the file.
    Rejected(String),
    /// `safe_load` raises another exception: the reader skips the file or fails the lookup of
    /// every dag under the same root, depending on the release ([`AirflowRelease::catches`]).
    ///
    /// [`AirflowRelease::catches`]: crate::verify::AirflowRelease::catches
    Crashes(PyException, String),
}

/// More mapping keys than an [`IdSet`](crate::dag_ids::IdSet) holds.
pub(super) fn too_large(_: TooLarge) -> LoadError {
    LoadError::Rejected(
        "has more than 4 GiB of mapping keys, more than this verifier can hold".into(),
    )
}

/// A tag `safe_load` has no constructor for.
pub(super) fn no_constructor(tag: &str) -> LoadError {
    // A tag from the file may be megabytes long; this loader's own descriptions are not.
    let tag = if tag.chars().nth(200).is_none() {
        tag.to_owned()
    } else {
        shorten(tag)
    };
    LoadError::Rejected(format!(
        "has the tag {tag}, for which yaml.safe_load has no constructor (remove it)"
    ))
}

/// At most 40 characters of `text`, for messages: the text may be the whole manifest.
pub(super) fn shorten(text: &str) -> String {
    if text.chars().nth(40).is_none() {
        text.to_owned()
    } else {
        let head: String = text.chars().take(37).collect();
        format!("{head}...")
    }
}

/// A `yaml.YAMLError` saying `why`.
pub(super) fn rejected(why: impl Into<String>) -> LoadError {
    LoadError::Rejected(why.into())
}

/// What the parser's error `e` means for PyYAML, on `text`.
pub(super) fn not_parsed(e: &ScanError, text: &str) -> LoadError {
    if e.info().contains("recursion limit") {
        if flow_depth(text) > PYYAML_MAX_DEPTH {
            too_deep()
        } else {
            rejected(format!(
                "nests flow collections ([...] or {{...}}) deeper than this verifier's parser allows (255 levels; PyYAML reads up to about {PYYAML_MAX_DEPTH}, so Airflow may accept this file): {e}"
            ))
        }
    } else {
        rejected(format!("is not valid YAML: {e}"))
    }
}

/// Nesting that makes PyYAML's recursive composer raise.
pub(super) fn too_deep() -> LoadError {
    LoadError::Crashes(
        PyException::RecursionError,
        format!(
            "nests collections more than {PYYAML_MAX_DEPTH} deep; PyYAML's recursive composer raises RecursionError"
        ),
    )
}

/// More anchors than [`MAX_ANCHORS`].
pub(super) fn too_many_anchors() -> LoadError {
    rejected(format!(
        "defines more than {MAX_ANCHORS} anchors (&name); this verifier stops there to bound its memory, so it cannot tell whether Airflow would load the file (a manifest written by cargo airflow pack has none)"
    ))
}

/// A merge of an enclosing `what` (see [`super::composer`]).
pub(super) fn cannot_follow(what: &str) -> LoadError {
    rejected(format!(
        "merges {what} into itself (`<<: *x` inside x); this verifier cannot follow that (PyYAML may accept it: remove the merge)"
    ))
}

/// A `kind` of node tagged with a tag whose constructor is a generator, which fails on the
/// wrong kind of node only when it builds the node's contents, a round later.
pub(super) fn generator_mismatch(kind: &str, tag: &str) -> LoadError {
    rejected(format!(
        "has a {kind} tagged !!{tag}, which yaml.safe_load cannot construct"
    ))
}

/// A merge key whose value is a `what`.
pub(super) fn merge_not_mappings(what: &str) -> LoadError {
    rejected(format!(
        "has a merge key (<<) whose value is a {what}, not a mapping or a list of mappings"
    ))
}

/// Merges that would copy more than [`MERGE_BUDGET`] entries.
pub(super) fn merge_budget_exceeded() -> LoadError {
    rejected(format!(
        "expands merge keys (<<) to more than {MERGE_BUDGET} entries; PyYAML copies them too and would take exponential time"
    ))
}

/// A plain `=` or `<<` (the value `v`) constructed at `place`.
pub(super) fn no_constructor_for(v: &Value, place: &str) -> LoadError {
    no_constructor(&format!(
        "tag:yaml.org,2002:{} (a plain `=` or `<<` {place})",
        v.kind()
    ))
}
