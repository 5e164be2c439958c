//! Merge keys (`<<`) applied to a kept mapping as PyYAML 6.0.3+'s `flatten_mapping` does: the
//! merged pairs in order, the first of each key identity only, then the mapping's own pairs.

use std::collections::HashSet;
use std::rc::Rc;

use super::composer::MapParts;
use super::errors::{LoadError, too_large};
use super::idents::{Ident, Idents, node_u32};
use super::mapping::{Mapping, Rest};
use super::value::Value;

/// What a mapping is, besides its pairs.
#[derive(Clone, Copy)]
pub(super) struct Built {
    /// Tagged `!!set`.
    pub(super) set: bool,
    /// Its node number.
    pub(super) node: usize,
    /// Whether it keeps its keys' identities (see [`Mapping::idents`]).
    pub(super) keeps_idents: bool,
    /// Whether the merged mappings' keys are its keys too (`dags`, anchors, merge sources).
    pub(super) keep_keys: bool,
}

/// The mapping with the pairs `parts`, merge keys applied.
pub(super) fn build(parts: MapParts, built: Built) -> Result<Mapping, LoadError> {
    let MapParts {
        own,
        idents,
        merges,
        rest,
        rest_pairs,
        fresh,
        ..
    } = parts;
    let (mut entries, mut merged_idents) = merged_entries(&merges.list, built.keeps_idents);
    entries.extend(own);
    merged_idents.extend(idents);
    let mut rest = rest.map(|r| *r).unwrap_or_default();
    let weight = merges.weight;
    let mut merged = merged_rest(&mut rest, merges.list, &built)?;
    let merged_pairs = if built.keeps_idents {
        merged.finish();
        merged.count()
    } else {
        // Not exact, and never needed: nothing merges this mapping.
        weight
    };
    unite_idents(&mut rest.idents, merged, fresh, built.node);
    compact(&mut rest);
    let len = entries.len() + rest_pairs + merged_pairs;
    let empty = rest_pairs == 0
        && rest.refs.is_empty()
        && rest.bad.count == 0
        && rest.idents.count() == 0
        && rest.ids.is_empty();
    Ok(Mapping {
        set: built.set,
        entries,
        idents: merged_idents.into_boxed_slice(),
        len,
        rest: (!empty).then(|| Box::new(rest)),
    })
}

/// The merged entries, the first of each key identity only, and their identities (when
/// `keeps_idents`).
fn merged_entries(
    sources: &[Rc<Mapping>],
    keeps_idents: bool,
) -> (Vec<(Value, Value)>, Vec<Ident>) {
    let mut seen = HashSet::new();
    let (mut entries, mut merged_idents) = (Vec::new(), Vec::new());
    for e in sources {
        for (i, pair) in e.entries.iter().enumerate() {
            // Every merge source keeps its identities.
            let ident = e.idents.get(i).unwrap_or(&Ident::Node(0));
            if seen.insert(ident) {
                entries.push(pair.clone());
                if keeps_idents {
                    merged_idents.push(ident.clone());
                }
            }
        }
    }
    (entries, merged_idents)
}

/// The merged pairs that are not entries: their identities united (the pairs they stand for
/// are distinct), their keys taken over into `rest` or referred to (with `keep_keys`).
fn merged_rest(
    rest: &mut Rest,
    sources: Vec<Rc<Mapping>>,
    built: &Built,
) -> Result<Idents, LoadError> {
    let mut merged = Idents::default();
    for e in sources {
        if let Some(r) = &e.rest {
            merged.add(&r.idents, built.keeps_idents);
        }
        if built.keep_keys {
            match Rc::try_unwrap(e) {
                Ok(m) => {
                    if let Some(r) = m.rest {
                        rest.ids.absorb(r.ids).map_err(too_large)?;
                        rest.bad.absorb(&r.bad);
                        rest.refs.extend(r.refs);
                    }
                }
                Err(shared) => rest.refs.push(shared),
            }
        }
    }
    Ok(merged)
}

/// The identities of the mapping `node`'s rest: the merged ones first (the first pair of a
/// cached one is a merged one if any is), then its own, with `fresh` keys of its own counted.
fn unite_idents(idents: &mut Idents, merged: Idents, fresh: u32, node: usize) {
    let own = std::mem::replace(idents, merged);
    idents.groups.extend(own.groups);
    idents.nodes.extend(own.nodes);
    if fresh > 0 {
        idents.groups.push((node_u32(node), fresh));
    }
    for key in own.cached.iter().flat_map(|c| &c.keys) {
        idents.add_cached(*key);
    }
    idents.finish();
}

/// Drops spare capacity and repeated references: the rest may live as long as the document.
fn compact(rest: &mut Rest) {
    if let Some(own) = rest.own_cached.as_mut() {
        own.0.shrink_to_fit();
    }
    rest.refs.sort_unstable_by_key(|r| Rc::as_ptr(r) as usize);
    rest.refs.dedup_by(|a, b| Rc::ptr_eq(a, b));
    rest.refs.shrink_to_fit();
    rest.ids.shrink_to_fit();
}
