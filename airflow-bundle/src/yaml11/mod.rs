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
//! Memory stays within a small multiple of the text, whatever its shape: aliases share the
//! anchored node (as PyYAML does) instead of copying it, and only what a verdict can look at is
//! kept (see [`Want`]): the `dags` keys, `sdk.supervisor_schema_version`, and what merge keys and
//! anchors can bring there. Everything else is still checked for what makes `safe_load` raise,
//! then dropped to its Python type. What is kept is kept compactly (see [`Mapping`]): only pairs
//! under a key a verdict looks up are pairs; other keys go into one [`IdSet`] per mapping and
//! their key identities are counted, not listed; merged mappings are referred to, not copied;
//! a list of merge sources folds the mappings written in place into one another. The text is
//! never copied (see [`Normalized`]), and a manifest may define at most [`MAX_ANCHORS`] anchors.
//!
//! Merge keys (`<<`) follow PyYAML 6.0.4 (Airflow 3.3.2's pin), checked against it by the
//! differential corpus: a merge source may be any mapping node, or a sequence of mapping nodes,
//! whatever its tag (it is never constructed itself); merged pairs come before the mapping's own
//! (which win), and of merged pairs with the same key *identity* only the first is kept (see
//! [`Ident`]: PyYAML 6.0.3 compares `id()` of the key's text, so a later source wins for most
//! keys, the first one for one-character keys and aliased key nodes).
//!
//! When a document has several faults, the verdict is the one PyYAML meets first: composer
//! errors (syntax, aliases, anchors) before any construction error, then construction errors
//! breadth first (see [`Rank`]). Known gaps, all in documents with two faults or more: an error
//! in a merged pair that a later identical key drops (PyYAML never builds it), and the order of
//! an error in pairs merged through an alias; and a merge of an enclosing collection into one
//! the verdict reads is refused with a message saying this verifier cannot follow it.
//!
//! The parts, from the text up: [`input`] (what PyYAML refuses before parsing, and the text as
//! the parser must see it), [`composer`] (one pass over the parser's events, one method per
//! kind of event), [`scalars`] and [`tags`] (YAML 1.1 implicit types and construction errors),
//! [`anchors`] (names, the anchor limit, what an alias finds), [`merge`] (merge keys),
//! [`mapping`] and [`idents`] (what is kept, compactly), [`order`] (which error comes first),
//! [`want`] (what is kept at all), [`value`] and [`errors`].
//!
//! [`IdSet`]: crate::dag_ids::IdSet
//! [`Mapping`]: mapping::Mapping
//! [`Normalized`]: input::Normalized
//! [`MAX_ANCHORS`]: anchors::MAX_ANCHORS
//! [`Ident`]: idents::Ident
//! [`Rank`]: order::Rank

mod anchors;
mod composer;
mod errors;
mod idents;
mod input;
mod mapping;
mod merge;
mod order;
mod scalars;
mod tags;
mod value;
mod want;

#[cfg(test)]
mod tests;

use saphyr_parser::Parser;

pub(crate) use errors::LoadError;
pub(crate) use mapping::keys;
pub(crate) use value::Value;

use composer::load_events;
use input::{Normalized, SURROGATE, check_directives, non_printable};
use want::Want;

/// The nesting depth at which PyYAML's recursive composer hits Python's default recursion limit
/// (1000 frames, two per level) when called from 1.3.2's reader: 491 levels load from
/// `_read_bundle_metadata` and 492 raise; a caller with a deeper stack fails earlier, so the
/// limit keeps a margin. Measured with the released reader; see `tests/tests/e2e/reader.rs`.
pub(crate) const PYYAML_MAX_DEPTH: usize = 480;

/// Merged entries copied over the whole document before giving up: PyYAML copies merged
/// entries too, so a document that needs more would take Airflow's reader exponential time.
const MERGE_BUDGET: usize = 4_000_000;

/// Loads a single YAML document as `yaml.safe_load` would.
pub(crate) fn load(text: &str) -> Result<Option<Value>, LoadError> {
    load_wanting(text, Want::Root)
}

/// [`load`], keeping every key and scalar (for the unit tests).
#[cfg(test)]
fn load_all(text: &str) -> Result<Option<Value>, LoadError> {
    load_wanting(text, Want::All)
}

/// Checks what PyYAML refuses before parsing, then composes the document from the parser's
/// events, wanting `root` of it.
fn load_wanting(text: &str, root: Want) -> Result<Option<Value>, LoadError> {
    if let Some((i, c)) = text.char_indices().find(|(_, c)| non_printable(*c)) {
        return Err(LoadError::Rejected(format!(
            "has the character U+{:04X} at byte {i}, which PyYAML refuses (special characters are not allowed; escape it in a double-quoted string)",
            c as u32
        )));
    }
    check_directives(text)?;
    // PyYAML breaks lines at NEL, LS and PS too; the Rust parser only at CR and LF.
    let breaks = text.contains(['\u{85}', '\u{2028}', '\u{2029}']);
    let normalized = |surrogates| Normalized {
        rest: text.chars(),
        surrogates,
        queued: "".chars(),
    };
    let first = if breaks {
        load_events(Parser::new_from_iter(normalized(false)), text, root)
    } else {
        load_events(Parser::new_from_str(text), text, root)
    };
    match first {
        Err(LoadError::Rejected(e)) if e.contains("escape code") && SURROGATE.is_match(text) => {
            load_events(Parser::new_from_iter(normalized(true)), text, root)
        }
        other => other,
    }
}
