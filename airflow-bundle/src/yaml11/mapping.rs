//! Mappings as a verdict reads them, kept compactly (see [`Mapping`]), lists of merge sources,
//! and the keys of a mapping with merge keys applied ([`keys`]).

use std::rc::Rc;

use super::errors::{LoadError, shorten, too_large};
use super::idents::{Ident, Idents};
use super::value::Value;
use crate::dag_ids::{DagIds, IdSet};

/// A mapping node's pairs as PyYAML's `flatten_mapping` leaves them: merged pairs first, then
/// the node's own, duplicates kept; a later duplicate key wins on lookup, as in a Python dict.
///
/// Only the pairs under a key a verdict looks up ([`LOOKED_UP`](super::want::LOOKED_UP)) are kept as pairs (every pair
/// with [`Want::All`](super::want::Want::All)); the others, which can be millions of dag ids, are kept compactly in
/// [`Rest`], and merged mappings are referred to, not copied.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    /// A `set` (tagged `!!set`), not a `dict`.
    pub(super) set: bool,
    pub(super) entries: Vec<(Value, Value)>,
    /// The identity of each entry's key node, which merging compares (see [`Ident`]); only for
    /// a mapping that can be merged (a merge source, or an anchored one or inside one).
    pub(super) idents: Box<[Ident]>,
    /// How many pairs the mapping has as this loader keeps them (entries and the rest): what
    /// merging it copies in PyYAML, counted against [`MERGE_BUDGET`](super::MERGE_BUDGET). Exact for a mapping that
    /// can be merged.
    pub(super) len: usize,
    /// The pairs that are not entries, when there are any.
    pub(super) rest: Option<Box<Rest>>,
}

/// The pairs of a [`Mapping`] that are not entries: their keys (only where every key may
/// matter: `dags`, anchors, merge sources), and the identities of their key nodes (only for a
/// mapping that can be merged).
#[derive(Debug, Clone, Default)]
pub(super) struct Rest {
    /// Keys that load as strings.
    pub(super) ids: IdSet,
    /// Keys that load as something else.
    pub(super) bad: BadKeys,
    /// Anchored (shared) mappings merged into this one: their keys are this one's too.
    pub(super) refs: Vec<Rc<Mapping>>,
    /// The identities of the pairs.
    pub(super) idents: Idents,
    /// The mapping's own keys whose identity is a cached text (see [`CachedKey`](super::idents::CachedKey)): they are
    /// kept apart from `ids` and `bad` because what a merge keeps of them is decided by
    /// identity, not by value (`1` and `'1'` are one identity).
    /// (Boxed: most mappings have none, and a manifest may have 50 000 anchored ones.)
    pub(super) own_cached: Option<Box<(IdSet, BadKeys)>>,
}

impl Mapping {
    /// Whether it is a `set` (tagged `!!set`), not a `dict`.
    pub(crate) fn is_set(&self) -> bool {
        self.set
    }

    /// The pairs kept as pairs (see [`Mapping`]).
    pub(super) fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }
}

/// The mapping items of a sequence, as merge sources (the only way a verdict reads a sequence),
/// in order: the same anchored mapping only once, and mappings written in place folded into one
/// another (their keys and identities united, their entries in order), so a list of millions of
/// `{}` costs nothing per item.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    /// Whether every item is a mapping node.
    pub(super) of_mappings: bool,
    pub(super) list: Vec<Rc<Mapping>>,
    /// What PyYAML copies merging them all: each one's pairs, repeats counted.
    pub(super) weight: usize,
    /// The shared mappings already listed (while the list is built).
    pub(super) seen: std::collections::HashSet<*const Mapping>,
}

impl Sources {
    /// Adds a merge source. A mapping nothing else holds is folded into the previous one when
    /// that one is also held by nothing else.
    pub(super) fn push(&mut self, m: Rc<Mapping>) {
        self.weight = self.weight.saturating_add(m.len);
        self.list_one(m);
    }

    /// Lists a merge source whose pairs are already counted in the weight.
    fn list_one(&mut self, m: Rc<Mapping>) {
        if m.len == 0 {
            // No pairs: nothing to merge, no key, no identity.
            return;
        }
        match Rc::try_unwrap(m) {
            Ok(m) => match self.list.last_mut().and_then(Rc::get_mut) {
                Some(last) => last.fold(m),
                None => self.list.push(Rc::new(m)),
            },
            Err(shared) => {
                if self.seen.insert(Rc::as_ptr(&shared)) {
                    self.list.push(shared);
                }
            }
        }
    }

    /// Adds the sources of a merge list (`<<: [...]`, or an alias of one).
    pub(super) fn extend(&mut self, other: Rc<Sources>) {
        self.weight = self.weight.saturating_add(other.weight);
        match Rc::try_unwrap(other) {
            Ok(other) => {
                for m in other.list {
                    self.list_one(m);
                }
            }
            Err(shared) => {
                for m in &shared.list {
                    self.list_one(Rc::clone(m));
                }
            }
        }
    }

    /// The list, complete.
    pub(super) fn finish(mut self) -> Sources {
        self.seen = std::collections::HashSet::default();
        self.list.shrink_to_fit();
        self
    }
}

impl Mapping {
    /// Folds `other` (a merge source after this one, held by nothing else) into this one, which
    /// is then only a list of merge sources: entries in order, the rest united.
    pub(super) fn fold(&mut self, other: Mapping) {
        let mut idents = std::mem::take(&mut self.idents).into_vec();
        idents.extend(other.idents);
        self.idents = idents.into_boxed_slice();
        self.entries.extend(other.entries);
        self.len = self.len.saturating_add(other.len);
        if let Some(theirs) = other.rest {
            self.rest.get_or_insert_with(Box::default).absorb(*theirs);
        }
    }
}

impl Rest {
    /// Takes in the keys and identities of another mapping's rest (a merge source held by
    /// nothing else); the identities are left unsorted (see [`Idents::finish`]).
    pub(super) fn absorb(&mut self, other: Rest) {
        // Both sets are bounded by the text they came from; they cannot overflow together
        // unless the text is over 4 GiB, which a manifest cannot be.
        let _ = self.ids.absorb(other.ids);
        self.bad.absorb(&other.bad);
        self.refs.extend(other.refs);
        self.idents.add(&other.idents, true);
    }
}

/// Keys of a mapping that do not load as strings: how many, and the first few.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct BadKeys {
    /// How many there are.
    pub(crate) count: u64,
    /// The first [`BAD_KEY_EXAMPLES`], as `"123" loads as int`.
    pub(crate) examples: Vec<String>,
}

/// Bad keys named in a message; the rest are counted.
pub(crate) const BAD_KEY_EXAMPLES: usize = 10;

impl BadKeys {
    /// Counts a key of Python type `kind` with the text `text` (if kept).
    pub(super) fn add(&mut self, kind: &str, text: Option<&str>) {
        self.count += 1;
        if self.examples.len() < BAD_KEY_EXAMPLES {
            self.examples.push(match text {
                Some(t) => format!("{:?} loads as {kind}", shorten(t)),
                None => format!("a {kind} key"),
            });
        }
    }

    /// Counts the keys of `other` too.
    pub(super) fn absorb(&mut self, other: &BadKeys) {
        self.count = self.count.saturating_add(other.count);
        let room = BAD_KEY_EXAMPLES.saturating_sub(self.examples.len());
        self.examples
            .extend(other.examples.iter().take(room).cloned());
    }

    /// Counts the key `k`, which does not load as a string.
    pub(super) fn add_key(&mut self, k: &Value) {
        match k {
            Value::Other(kind, text) => self.add(kind, Some(text)),
            other => self.add(other.kind(), None),
        }
    }
}

/// The keys of the mapping `m`, merge keys applied: those that load as strings (sorted, without
/// repeats), and the others.
///
/// Each mapping reachable through merges is read once, however often it was merged; one that
/// nothing else holds gives up its keys without a copy.
pub(crate) fn keys(m: Rc<Mapping>) -> Result<(DagIds, BadKeys), LoadError> {
    let mut ids = IdSet::default();
    let mut bad = BadKeys::default();
    let mut seen = std::collections::HashSet::<*const Mapping>::default();
    // The mapping's own keys with a cached identity, and the first merged key of each such
    // identity; a merged mapping's cached keys are among those already.
    if let Some(rest) = &m.rest {
        if let Some((own_ids, own_bad)) = rest.own_cached.as_deref() {
            for id in own_ids.iter() {
                ids.insert(id).map_err(too_large)?;
            }
            bad.absorb(own_bad);
        }
        for key in rest.idents.cached_keys().iter().filter(|k| k.merged) {
            match key.key() {
                Value::Str(s) => ids.insert(&s).map_err(too_large)?,
                other => bad.add_key(&other),
            }
        }
    }
    let mut todo = vec![m];
    while let Some(m) = todo.pop() {
        if !seen.insert(Rc::as_ptr(&m)) {
            continue;
        }
        for (k, _) in m.entries() {
            match k {
                Value::Str(s) => ids.insert(s).map_err(too_large)?,
                other => bad.add_key(other),
            }
        }
        match Rc::try_unwrap(m) {
            Ok(m) => {
                if let Some(rest) = m.rest {
                    ids.absorb(rest.ids).map_err(too_large)?;
                    bad.absorb(&rest.bad);
                    todo.extend(rest.refs);
                }
            }
            Err(m) => {
                if let Some(rest) = &m.rest {
                    for id in rest.ids.iter() {
                        ids.insert(id).map_err(too_large)?;
                    }
                    bad.absorb(&rest.bad);
                    todo.extend(rest.refs.iter().cloned());
                }
            }
        }
    }
    Ok((ids.finish(), bad))
}
