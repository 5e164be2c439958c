//! A complete node in its place: the root, an item of a sequence, a key of a mapping, or the
//! value of the pending key (a merge source under `<<`).

use std::rc::Rc;

use super::super::errors::{self, LoadError, merge_not_mappings, no_constructor_for, too_large};
use super::super::idents::{CachedKey, Ident, node_u32};
use super::super::order::{Path, Rank, construct_error, rank};
use super::super::value::{Shape, Value};
use super::super::want::{LOOKED_UP, Want};
use super::frame::{Frame, Kind, MapParts, Role};
use super::{Composer, Node};

/// Where the event's construction error goes.
type Slot = Option<(Rank, LoadError)>;

impl Composer<'_> {
    /// Puts the complete `node` where it belongs.
    pub(super) fn attach(&mut self, node: Node) -> Result<(), LoadError> {
        let Some(parent) = self.stack.last_mut() else {
            if matches!(node.value, Value::Other("value" | "merge", _)) {
                construct_error(
                    &mut self.event_error,
                    rank(None, node.at),
                    no_constructor_for(&node.value, "alone"),
                );
            }
            self.root = Some(node.value);
            return Ok(());
        };
        let slot = &mut self.event_error;
        match &mut parent.kind {
            Kind::Seq(_) => {
                item(parent, node.value, node.at, slot);
                Ok(())
            }
            Kind::Map(parts) => match parts.pending.take() {
                None => {
                    key(parent, node, slot);
                    Ok(())
                }
                Some((k, kid, _, k_shared)) => {
                    let key = (k, kid, k_shared);
                    pair_value(parent, key, node.value, node.at, slot)
                }
            },
        }
    }
}

/// The rank of a node at `at` in the collection built at `body` (built only for an error).
fn here(body: &Rc<Path>, at: (u8, usize)) -> Rank {
    rank(Some(body), at)
}

/// The map parts of a mapping frame.
fn parts(parent: &mut Frame) -> Option<&mut MapParts> {
    match &mut parent.kind {
        Kind::Map(parts) => Some(parts),
        Kind::Seq(_) => None,
    }
}

/// An item `v` of the sequence `parent`, at `at`.
fn item(parent: &mut Frame, v: Value, at: (u8, usize), slot: &mut Slot) {
    let mapping = v.shape() == Shape::Mapping;
    parent.of_mappings &= mapping;
    if matches!(parent.tag, Some("omap" | "pairs")) {
        // An alias item was flattened where it was constructed.
        let pairs = match &v {
            Value::Map(m) => m.len,
            _ => 1,
        };
        if !mapping || pairs != 1 {
            construct_error(
                slot,
                here(&parent.body, at),
                errors::rejected("has an !!omap or !!pairs item that is not a one-pair mapping"),
            );
        }
    } else if parent.role == Role::Constructed && matches!(v, Value::Other("value" | "merge", _)) {
        construct_error(
            slot,
            here(&parent.body, at),
            no_constructor_for(&v, "in a list"),
        );
    }
    if parent.want.keeps()
        && let Value::Map(m) = v
        && let Kind::Seq(items) = &mut parent.kind
    {
        items.push(m);
    }
}

/// A key of the mapping `parent`: pending until its value comes.
fn key(parent: &mut Frame, node: Node, slot: &mut Slot) {
    let Node {
        value: v,
        ident,
        at,
        shared,
    } = node;
    let v = if parent.role == Role::PairItem {
        // Not flattened: `<<` and `=` keep their tags, which nothing constructs; any key may
        // be unhashable (it becomes a tuple item).
        if matches!(v, Value::Other("value" | "merge", _)) {
            construct_error(
                slot,
                here(&parent.body, at),
                no_constructor_for(&v, "as an !!omap key"),
            );
        }
        v
    } else {
        if !v.hashable() {
            construct_error(
                slot,
                here(&parent.body, at),
                errors::rejected(format!(
                    "has a mapping key that is a {}, which yaml.safe_load cannot hash",
                    v.kind()
                )),
            );
        }
        // PyYAML's flatten_mapping turns a `=` key into the string "=".
        match v {
            Value::Other("value", t) => Value::Str(t),
            other => other,
        }
    };
    if let Some(parts) = parts(parent) {
        parts.pairs += 1;
        parts.pending = Some((v, ident, at, shared));
    }
}

/// The value `v` (at `at`) of the pending key `(k, kid, k_shared)` of the mapping `parent`.
fn pair_value(
    parent: &mut Frame,
    (k, kid, k_shared): (Value, Ident, bool),
    v: Value,
    at: (u8, usize),
    slot: &mut Slot,
) -> Result<(), LoadError> {
    if matches!(k, Value::Other("merge", _)) && parent.role != Role::PairItem {
        merge_source(parent, v, slot);
        return Ok(());
    }
    if matches!(v, Value::Other("value" | "merge", _)) {
        construct_error(
            slot,
            here(&parent.body, at),
            no_constructor_for(&v, "as a value"),
        );
    }
    let want = parent.want;
    if !want.keeps_all_keys() && want.value(&k) == Want::None {
        return Ok(());
    }
    let keeps_idents = parent.keeps_idents;
    let Some(parts) = parts(parent) else {
        return Ok(());
    };
    let looked_up = matches!(&k, Value::Str(s) if LOOKED_UP.contains(&&**s));
    if want == Want::All || looked_up {
        parts.own.push((k, v));
        if keeps_idents {
            parts.idents.push(kid);
        }
    } else if want.keeps_all_keys() || keeps_idents {
        // Millions of dag ids: kept compactly (see Rest).
        rest_pair(
            parts,
            want.keeps_all_keys(),
            keeps_idents,
            (k, kid, k_shared),
        )?;
    } else {
        parts.rest_pairs += 1;
    }
    Ok(())
}

/// The value `v` of a merge key (`<<`) in the mapping `parent`: checked where PyYAML's
/// `flatten_mapping` checks it, and kept as a merge source when the mapping is kept.
fn merge_source(parent: &mut Frame, v: Value, slot: &mut Slot) {
    if !matches!(
        v.shape(),
        Shape::Mapping | Shape::Sequence { of_mappings: true }
    ) {
        construct_error(
            slot,
            rank(Some(&parent.flatten), (0, 0)),
            merge_not_mappings(match v.shape() {
                Shape::Scalar => "scalar",
                _ => "list holding something else than mappings",
            }),
        );
    }
    if !parent.want.keeps() {
        return;
    }
    if let Some(parts) = parts(parent) {
        match v {
            Value::Map(m) => parts.merges.push(m),
            Value::Seq(list) => parts.merges.extend(list),
            _ => {}
        }
    }
}

/// A kept pair of a mapping that is not an entry (see [`Rest`]): its key (with `keys`) and
/// its key's identity (with `keeps_idents`), counted.
///
/// [`Rest`]: super::super::mapping::Rest
fn rest_pair(
    parts: &mut MapParts,
    keys: bool,
    keeps_idents: bool,
    (k, kid, k_shared): (Value, Ident, bool),
) -> Result<(), LoadError> {
    parts.rest_pairs += 1;
    let r = parts.rest.get_or_insert_with(Box::default);
    match kid {
        Ident::Cached(c) => {
            if keys {
                let (own_ids, own_bad) = &mut **r.own_cached.get_or_insert_with(Box::default);
                match &k {
                    Value::Str(s) => own_ids.insert(s).map_err(too_large)?,
                    other => own_bad.add_key(other),
                }
            }
            r.idents.add_cached(CachedKey::of(c, &k, false));
        }
        Ident::Node(n) => {
            if keys {
                match &k {
                    Value::Str(s) => r.ids.insert(s).map_err(too_large)?,
                    other => r.bad.add_key(other),
                }
            }
            if !keeps_idents {
            } else if k_shared {
                r.idents.nodes.push(node_u32(n));
            } else {
                parts.fresh += 1;
            }
        }
    }
    Ok(())
}
