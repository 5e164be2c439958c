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

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{Event, Input, Parser, ScalarStyle, Tag};

use crate::dag_ids::{DagIds, IdSet, TooLarge};
use crate::verify::PyException;

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

/// The keys a verdict looks up: the pairs under them are kept as [`Mapping::entries`], all
/// others only as keys and identities (see [`Rest`]).
const LOOKED_UP: [&str; 3] = ["dags", "sdk", "supervisor_schema_version"];

/// A mapping node's pairs as PyYAML's `flatten_mapping` leaves them: merged pairs first, then
/// the node's own, duplicates kept; a later duplicate key wins on lookup, as in a Python dict.
///
/// Only the pairs under a key a verdict looks up ([`LOOKED_UP`]) are kept as pairs (every pair
/// with [`Want::All`]); the others, which can be millions of dag ids, are kept compactly in
/// [`Rest`], and merged mappings are referred to, not copied.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    /// A `set` (tagged `!!set`), not a `dict`.
    set: bool,
    entries: Vec<(Value, Value)>,
    /// The identity of each entry's key node, which merging compares (see [`Ident`]); only for
    /// a mapping that can be merged (a merge source, or an anchored one or inside one).
    idents: Box<[Ident]>,
    /// How many pairs the mapping has as this loader keeps them (entries and the rest): what
    /// merging it copies in PyYAML, counted against [`MERGE_BUDGET`]. Exact for a mapping that
    /// can be merged.
    len: usize,
    /// The pairs that are not entries, when there are any.
    rest: Option<Box<Rest>>,
}

/// The pairs of a [`Mapping`] that are not entries: their keys (only where every key may
/// matter: `dags`, anchors, merge sources), and the identities of their key nodes (only for a
/// mapping that can be merged).
#[derive(Debug, Clone, Default)]
struct Rest {
    /// Keys that load as strings.
    ids: IdSet,
    /// Keys that load as something else.
    bad: BadKeys,
    /// Anchored (shared) mappings merged into this one: their keys are this one's too.
    refs: Vec<Rc<Mapping>>,
    /// The identities of the pairs.
    idents: Idents,
    /// The mapping's own keys whose identity is a cached text (see [`CachedKey`]): they are
    /// kept apart from `ids` and `bad` because what a merge keeps of them is decided by
    /// identity, not by value (`1` and `'1'` are one identity).
    /// (Boxed: most mappings have none, and a manifest may have 50 000 anchored ones.)
    own_cached: Option<Box<(IdSet, BadKeys)>>,
}

/// The Python types a key with a cached identity can load as, for [`CachedKey::kind`].
const CACHED_KINDS: [&str; 10] = [
    "str",
    "int",
    "float",
    "bool",
    "NoneType",
    "timestamp",
    "bytes",
    "merge",
    "value",
    "unconstructable",
];

/// The key of the first pair with a cached identity ([`Ident::Cached`]): which text (the
/// character, or 256 for the empty text), how it loads, and whether it was merged (else it is
/// the mapping's own). Its text is the identity itself, so it takes four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CachedKey {
    text: u16,
    /// An index in [`CACHED_KINDS`].
    kind: u8,
    merged: bool,
}

impl CachedKey {
    fn of(c: Option<char>, key: &Value, merged: bool) -> CachedKey {
        let kind = match key {
            Value::Str(_) => "str",
            other => other.kind(),
        };
        CachedKey {
            text: c.map_or(256, |c| u16::try_from(u32::from(c)).unwrap_or(255)),
            kind: CACHED_KINDS
                .iter()
                .position(|k| *k == kind)
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(0),
            merged,
        }
    }

    /// The key as loaded.
    fn key(self) -> Value {
        let text: Rc<str> = match char::from_u32(u32::from(self.text)) {
            Some(c) if self.text < 256 => Rc::from(c.to_string()),
            _ => empty_text(),
        };
        match CACHED_KINDS.get(usize::from(self.kind)) {
            Some(&"str") | None => Value::Str(text),
            Some(kind) => Value::Other(kind, text),
        }
    }
}

/// A set of key identities (see [`Ident`]) in compact form: key nodes that are not anchored
/// belong to one mapping node each and are only ever merged all together, so they are counted
/// by mapping node.
#[derive(Debug, Clone, Default)]
struct Idents {
    /// A mapping node and how many of its own keys are not anchored nor aliases, sorted by node
    /// (after [`Idents::finish`]).
    groups: Vec<(u32, u32)>,
    /// Anchored key nodes (or their aliases), sorted.
    nodes: Vec<u32>,
    /// Cached texts, each with the first key that has it, in the order of the pairs.
    /// (Boxed: most mappings have none.)
    cached: Option<Box<CachedKeys>>,
}

/// The first key of each cached identity (see [`Idents::cached`]).
#[derive(Debug, Clone, Default)]
struct CachedKeys {
    keys: Vec<CachedKey>,
    /// The texts in `keys`: bit `text`.
    seen: [u64; 5],
}

impl Idents {
    /// Adds a cached identity, unless it is there already (the first pair of an identity is
    /// the one a merge keeps).
    fn add_cached(&mut self, key: CachedKey) {
        let bit = usize::from(key.text.min(256));
        let cached = self.cached.get_or_insert_with(Box::default);
        if cached.seen[bit / 64] & (1 << (bit % 64)) == 0 {
            cached.seen[bit / 64] |= 1 << (bit % 64);
            cached.keys.push(key);
        }
    }

    /// Adds the identities of the pairs merged from a mapping with identities `other` (call
    /// [`Idents::finish`] before counting); with `all` false, only the cached ones, which decide
    /// keys.
    fn add(&mut self, other: &Idents, all: bool) {
        if all {
            self.groups.extend_from_slice(&other.groups);
            self.nodes.extend_from_slice(&other.nodes);
        }
        for key in other.cached_keys() {
            self.add_cached(CachedKey {
                merged: true,
                ..*key
            });
        }
    }

    /// The first key of each cached identity.
    fn cached_keys(&self) -> &[CachedKey] {
        self.cached.as_ref().map_or(&[], |c| &c.keys)
    }

    /// Sorts and drops repeats.
    fn finish(&mut self) {
        self.groups.sort_unstable();
        self.groups.dedup_by_key(|g| g.0);
        self.groups.shrink_to_fit();
        self.nodes.sort_unstable();
        self.nodes.dedup();
        self.nodes.shrink_to_fit();
    }

    /// How many identities there are (after [`Idents::finish`]).
    fn count(&self) -> usize {
        let groups: usize = self.groups.iter().map(|g| g.1 as usize).sum();
        groups + self.nodes.len() + self.cached_keys().len()
    }
}

/// A node number as stored in [`Idents`]: a manifest is less than 4 GiB, so it has fewer nodes.
fn node_u32(node: usize) -> u32 {
    u32::try_from(node).unwrap_or(u32::MAX)
}

impl Mapping {
    /// Whether it is a `set` (tagged `!!set`), not a `dict`.
    pub(crate) fn is_set(&self) -> bool {
        self.set
    }

    /// The pairs kept as pairs (see [`Mapping`]).
    fn entries(&self) -> &[(Value, Value)] {
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
    of_mappings: bool,
    list: Vec<Rc<Mapping>>,
    /// What PyYAML copies merging them all: each one's pairs, repeats counted.
    weight: usize,
    /// The shared mappings already listed (while the list is built).
    seen: std::collections::HashSet<*const Mapping>,
}

impl Sources {
    /// Adds a merge source. A mapping nothing else holds is folded into the previous one when
    /// that one is also held by nothing else.
    fn push(&mut self, m: Rc<Mapping>) {
        self.weight = self.weight.saturating_add(m.len);
        self.list_one(m);
    }

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
    fn extend(&mut self, other: Rc<Sources>) {
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
    fn finish(mut self) -> Sources {
        self.seen = Default::default();
        self.list.shrink_to_fit();
        self
    }
}

impl Mapping {
    /// Folds `other` (a merge source after this one, held by nothing else) into this one, which
    /// is then only a list of merge sources: entries in order, the rest united.
    fn fold(&mut self, other: Mapping) {
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
    fn absorb(&mut self, other: Rest) {
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
    fn add(&mut self, kind: &str, text: Option<&str>) {
        self.count += 1;
        if self.examples.len() < BAD_KEY_EXAMPLES {
            self.examples.push(match text {
                Some(t) => format!("{:?} loads as {kind}", shorten(t)),
                None => format!("a {kind} key"),
            });
        }
    }

    fn absorb(&mut self, other: &BadKeys) {
        self.count = self.count.saturating_add(other.count);
        let room = BAD_KEY_EXAMPLES.saturating_sub(self.examples.len());
        self.examples
            .extend(other.examples.iter().take(room).cloned());
    }

    /// Counts the key `k`, which does not load as a string.
    fn add_key(&mut self, k: &Value) {
        match k {
            Value::Other(kind, text) => self.add(kind, Some(text)),
            other => self.add(other.kind(), None),
        }
    }
}

fn too_large(_: TooLarge) -> LoadError {
    LoadError::Rejected(
        "has more than 4 GiB of mapping keys, more than this verifier can hold".into(),
    )
}

/// The keys of the mapping `m`, merge keys applied: those that load as strings (sorted, without
/// repeats), and the others.
///
/// Each mapping reachable through merges is read once, however often it was merged; one that
/// nothing else holds gives up its keys without a copy.
pub(crate) fn keys(m: Rc<Mapping>) -> Result<(DagIds, BadKeys), LoadError> {
    let mut ids = IdSet::default();
    let mut bad = BadKeys::default();
    let mut seen: std::collections::HashSet<*const Mapping> = Default::default();
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

/// How PyYAML 6.0.3+ tells merged keys apart: `id(key_node.value)`, the identity of the key's
/// source text as a Python object. The same node (an alias) is the same object, and so is
/// every empty or one-character (below U+0100) text, which CPython caches; any other text is a
/// new object per node. The first merged pair of an identity is kept, later ones dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Ident {
    /// One node.
    Node(usize),
    /// A text CPython caches as a single object: empty, or this character.
    Cached(Option<char>),
}

impl Ident {
    fn of_scalar(text: &str, node: usize) -> Ident {
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (None, _) => Ident::Cached(None),
            (Some(c), None) if u32::from(c) < 0x100 => Ident::Cached(Some(c)),
            _ => Ident::Node(node),
        }
    }
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
            Value::Other(kind, _) => kind,
            Value::Seq(_) => "list",
            Value::Map(m) if m.set => "set",
            Value::Map(_) => "dict",
            Value::Pruned(kind, _) => kind,
        }
    }

    /// The kind of node the value was loaded from.
    fn shape(&self) -> Shape {
        match self {
            Value::Str(_) | Value::Other(..) => Shape::Scalar,
            Value::Seq(s) => Shape::Sequence {
                of_mappings: s.of_mappings,
            },
            Value::Map(_) => Shape::Mapping,
            Value::Pruned(_, shape) => *shape,
        }
    }

    fn hashable(&self) -> bool {
        !matches!(self.kind(), "list" | "dict" | "set")
    }
}

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

/// What the verdict can need from a node, decided by where it sits. Collections wanted as
/// [`Want::None`] or [`Want::Scalar`] are kept as their Python type only, and scalars other than
/// [`Want::Scalar`] and [`Want::Any`] without their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
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
    fn keeps(self) -> bool {
        !matches!(self, Want::None | Want::Scalar)
    }

    /// Whether every key of a mapping wanted so is kept, whatever its value.
    fn keeps_all_keys(self) -> bool {
        matches!(self, Want::Dags | Want::Any | Want::AnyItem | Want::All)
    }

    /// Whether a scalar wanted so keeps its text.
    fn keeps_text(self) -> bool {
        matches!(self, Want::Scalar | Want::Any | Want::All)
    }

    /// What is wanted from the items of a sequence wanted so (merge lists hold mappings).
    fn item(self) -> Want {
        match self {
            Want::Any | Want::AnyItem => Want::AnyItem,
            Want::Scalar => Want::None,
            other => other,
        }
    }

    /// What is wanted from the value under `key` in a mapping wanted so.
    fn value(self, key: &Value) -> Want {
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

/// The nesting depth at which PyYAML's recursive composer hits Python's default recursion limit
/// (1000 frames, two per level) when called from 1.3.2's reader: 491 levels load from
/// `_read_bundle_metadata` and 492 raise; a caller with a deeper stack fails earlier, so the
/// limit keeps a margin. Measured with the released
/// reader; see `tests/tests/e2e/reader.rs`.
pub(crate) const PYYAML_MAX_DEPTH: usize = 480;

/// Python 3.11+ refuses to convert decimal strings longer than this to `int` (`ValueError`).
const PYTHON_INT_MAX_STR_DIGITS: usize = 4300;

/// The most anchors (`&name`) a manifest may define. The YAML parser keeps every anchor's name
/// and the loader its node, so without a limit a manifest of anchors would take many times its
/// size; PyYAML keeps a node object for each too. serde-saphyr, which `cargo airflow` uses for
/// its own reading of manifests, stops at the same number.
pub(crate) const MAX_ANCHORS: usize = 50_000;

/// Merged entries copied over the whole document before giving up: PyYAML copies merged
/// entries too, so a document that needs more would take Airflow's reader exponential time.
const MERGE_BUDGET: usize = 4_000_000;

static RESOLVERS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    let r = |kind, pattern: &str| (kind, Regex::new(pattern).expect("valid resolver pattern"));
    vec![
        r(
            "bool",
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        ),
        r(
            "float",
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        ),
        r(
            "int",
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
        ),
        r("merge", r"^(?:<<)$"),
        r("NoneType", r"^(?:~|null|Null|NULL|)$"),
        r(
            "timestamp",
            r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
        ),
        r("value", r"^(?:=)$"),
    ]
});

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9][0-9][0-9][0-9])-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$",
    )
    .expect("valid timestamp pattern")
});

/// The YAML 1.1 type a plain, untagged scalar resolves to (`"str"` when no resolver matches).
pub(crate) fn resolve_plain(text: &str) -> &'static str {
    RESOLVERS
        .iter()
        .find(|(_, re)| re.is_match(text))
        .map_or("str", |(kind, _)| kind)
}

/// Whether PyYAML's `construct_yaml_int` raises on `text` (which matched the int resolver, or
/// was tagged `!!int`). PyYAML drops the underscores first; this walks the text without copying
/// it, as the text may be the whole manifest.
fn int_fails(text: &str) -> Option<String> {
    let clean = || text.chars().filter(|c| *c != '_');
    let signed = matches!(clean().next(), Some('-' | '+'));
    let v = || clean().skip(usize::from(signed));
    let mut head = v();
    let (c0, c1) = (head.next(), head.next());
    if c0 == Some('0') && c1.is_none() {
        return None;
    }
    let (skip, radix) = match (c0, c1) {
        (Some('0'), Some('b')) => (2, 2),
        (Some('0'), Some('x')) => (2, 16),
        (Some('0'), _) => (0, 8),
        _ if v().any(|c| c == ':') => {
            let first: usize = v().take_while(|c| *c != ':').map(char::len_utf8).sum();
            return (first > PYTHON_INT_MAX_STR_DIGITS || first == 0)
                .then(|| format!("int() of {first} digits exceeds Python's limit"));
        }
        _ => (0, 10),
    };
    let digits = || v().skip(skip);
    // `int(digits.strip(), radix)`: surrounding whitespace is fine, anything else must be a
    // digit of the radix.
    let (mut started, mut gap, mut bad, mut len) = (false, false, false, 0usize);
    for c in digits() {
        if c.is_whitespace() {
            gap |= started;
            continue;
        }
        bad |= gap || !c.is_digit(radix);
        started = true;
        len += c.len_utf8();
    }
    if !started || bad {
        let head: String = digits().take(41).collect();
        return Some(format!(
            "invalid literal for int() with base {radix}: {:?}",
            shorten(&head)
        ));
    }
    if radix == 10 && len > PYTHON_INT_MAX_STR_DIGITS {
        return Some(format!(
            "a {len}-digit integer exceeds Python's limit of {PYTHON_INT_MAX_STR_DIGITS} digits for int()"
        ));
    }
    None
}

/// Whether PyYAML's `construct_yaml_timestamp` raises on `text`, and what: an `AttributeError`
/// for text its regex does not match (only reached with an explicit tag), else a `ValueError`.
fn timestamp_fails(text: &str) -> Option<(PyException, String)> {
    let Some(c) = TIMESTAMP.captures(text) else {
        return Some((
            PyException::AttributeError,
            format!("{:?} is not a timestamp", shorten(text)),
        ));
    };
    timestamp_value_fails(&c).map(|why| (PyException::ValueError, why))
}

/// The `ValueError` `datetime` raises for the fields of a matched timestamp.
fn timestamp_value_fails(c: &regex::Captures<'_>) -> Option<String> {
    let num = |i: usize| {
        c.get(i)
            .map(|m| m.as_str().parse::<u32>().unwrap_or(u32::MAX))
    };
    let (year, month, day) = (num(1)?, num(2)?, num(3)?);
    if year == 0 {
        return Some("year 0 is out of range".into());
    }
    if !(1..=12).contains(&month) {
        return Some(format!("month must be in 1..12 (got {month})"));
    }
    if day == 0 || day > crate::declare::days_in_month(i64::from(year), month) {
        return Some(format!("day {day} is out of range for {year}-{month:02}"));
    }
    if let (Some(h), Some(m), Some(s)) = (num(4), num(5), num(6)) {
        if h > 23 {
            return Some(format!("hour must be in 0..23 (got {h})"));
        }
        if m > 59 {
            return Some(format!("minute must be in 0..59 (got {m})"));
        }
        if s > 59 {
            return Some(format!("second must be in 0..59 (got {s})"));
        }
    }
    if c.get(9).is_some() {
        let (th, tm) = (num(10).unwrap_or(0), num(11).unwrap_or(0));
        if th * 60 + tm >= 24 * 60 {
            return Some(format!(
                "the UTC offset {th}:{tm:02} is not strictly between -24 and 24 hours"
            ));
        }
    }
    None
}

/// Whether Python's lenient `base64.decodebytes` raises on `text`.
fn base64_fails(text: &str) -> bool {
    let kept = text
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    let data = kept.clone().take_while(|b| *b != b'=').count();
    let pads = kept.skip(data).filter(|b| *b == b'=').count();
    match data % 4 {
        0 => false,
        1 => true,
        2 => pads < 2,
        _ => pads < 1,
    }
}

/// Explicit tags, spelled out in full (`!!int` is `tag:yaml.org,2002:int`).
enum TagKind<'a> {
    /// No tag, or the non-specific `!` (PyYAML resolves both implicitly).
    Implicit,
    /// `tag:yaml.org,2002:<suffix>`.
    Core(&'a str),
    /// Anything else; `safe_load` has no constructor for it.
    Unknown(String),
}

fn tag_kind(tag: Option<&Tag>) -> TagKind<'_> {
    match tag {
        None => TagKind::Implicit,
        Some(t) if t.is_yaml_core_schema() => TagKind::Core(t.suffix.as_str()),
        Some(t) if t.suffix.is_empty() && (t.handle == "!" || t.handle.is_empty()) => {
            TagKind::Implicit
        }
        Some(t) if t.handle.is_empty() && t.suffix == "!" => TagKind::Implicit,
        Some(t) => match t.suffix.strip_prefix("tag:yaml.org,2002:") {
            Some(_) if t.handle.is_empty() => TagKind::Unknown(t.suffix.clone()),
            _ => TagKind::Unknown(t.to_string()),
        },
    }
}

/// Verbatim `!<tag:yaml.org,2002:x>` tags come through with an empty handle.
fn core_suffix<'a>(tag: Option<&'a Tag>) -> TagKind<'a> {
    if let Some(t) = tag
        && t.handle.is_empty()
        && let Some(s) = t.suffix.strip_prefix("tag:yaml.org,2002:")
    {
        return TagKind::Core(s);
    }
    tag_kind(tag)
}

fn no_constructor(tag: &str) -> LoadError {
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

/// Types a scalar as `safe_load` would, or says how constructing it fails. With `keep` false
/// only the type is kept, not the text.
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    keep: bool,
) -> Result<Value, LoadError> {
    let kind = match core_suffix(tag) {
        TagKind::Implicit if style == ScalarStyle::Plain || tag.is_some() => resolve_plain(text),
        TagKind::Implicit => "str",
        TagKind::Core("str") => "str",
        TagKind::Core("int") => "int",
        TagKind::Core("float") => "float",
        TagKind::Core("bool") => "bool",
        TagKind::Core("null") => "NoneType",
        TagKind::Core("timestamp") => "timestamp",
        TagKind::Core("binary") => "bytes",
        TagKind::Core("value") => "value",
        TagKind::Core("merge") => "merge",
        TagKind::Core(other) => return Err(no_constructor(&format!("!!{other}"))),
        TagKind::Unknown(t) => return Err(no_constructor(&t)),
    };
    let crash = |exception: PyException, why: String| {
        Err(LoadError::Crashes(
            exception,
            format!(
                "the scalar {:?} makes PyYAML raise {exception} ({why})",
                shorten(text)
            ),
        ))
    };
    match kind {
        "int" => {
            if let Some(why) = int_fails(text) {
                return crash(PyException::ValueError, why);
            }
        }
        "float" if tag.is_some() => {
            let v: String = text.chars().filter(|c| *c != '_').collect();
            let v = v.trim().to_ascii_lowercase();
            if v.is_empty() {
                return crash(PyException::IndexError, "an empty !!float".into());
            }
            let v = v.strip_prefix(['-', '+']).unwrap_or(&v);
            let ok = matches!(v, ".inf" | ".nan") || v.split(':').all(|p| p.parse::<f64>().is_ok());
            if !ok {
                return crash(
                    PyException::ValueError,
                    format!("could not convert {:?} to float", shorten(v)),
                );
            }
        }
        "bool" if tag.is_some() => {
            let known = ["yes", "no", "true", "false", "on", "off"];
            if !known.iter().any(|k| k.eq_ignore_ascii_case(text)) {
                return crash(
                    PyException::KeyError,
                    format!("{:?} is not a YAML 1.1 bool", shorten(text)),
                );
            }
        }
        "timestamp" => {
            if let Some((exception, why)) = timestamp_fails(text) {
                return crash(exception, why);
            }
        }
        "bytes" if base64_fails(text) => {
            return Err(LoadError::Rejected(format!(
                "has a !!binary scalar {:?} that is not valid base64",
                shorten(text)
            )));
        }
        _ => {}
    }
    let text = if keep { Rc::from(text) } else { empty_text() };
    Ok(match kind {
        "str" => Value::Str(text),
        kind => Value::Other(kind, text),
    })
}

/// The text of a scalar whose text is not kept: one shared empty string.
fn empty_text() -> Rc<str> {
    thread_local! {
        static EMPTY: Rc<str> = Rc::from("");
    }
    EMPTY.with(Rc::clone)
}

/// At most 40 characters of `text`, for messages: the text may be the whole manifest.
fn shorten(text: &str) -> String {
    if text.chars().nth(40).is_none() {
        text.to_owned()
    } else {
        let head: String = text.chars().take(37).collect();
        format!("{head}...")
    }
}

/// Characters PyYAML's reader refuses anywhere in the stream (`ReaderError`).
fn non_printable(c: char) -> bool {
    !matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks the `%YAML` directives before the first document: PyYAML refuses any major version
/// other than 1 (`%YAML 1.2` only warns).
fn check_directives(text: &str) -> Result<(), LoadError> {
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix("%YAML") else {
            if line.starts_with('%') {
                continue;
            }
            break;
        };
        let version = rest.split_whitespace().next().unwrap_or("");
        let major = version.split('.').next().unwrap_or("");
        if major.parse::<u64>().ok() != Some(1) {
            return Err(LoadError::Rejected(format!(
                "declares %YAML {}; PyYAML only reads YAML 1.x documents (remove the directive)",
                shorten(version)
            )));
        }
    }
    Ok(())
}

/// PyYAML accepts `\uD800`-style escapes (a lone surrogate in a `str`); the Rust parser cannot
/// hold one.
static SURROGATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\(u[dD][89a-fA-F][0-9a-fA-F]{2}|U0000[dD][89a-fA-F][0-9a-fA-F]{2})")
        .expect("valid pattern")
});

/// The text as the Rust parser must see it to read it as PyYAML does, made on the fly rather
/// than copied (the text may be the whole manifest): NEL, LS and PS break lines (the parser
/// only breaks at CR and LF), and with `surrogates`, each escape [`SURROGATE`] matches is
/// replaced by the escape of U+FFFD, which types the same way. Every character stays one
/// character, so the parser's character positions are those of the text.
struct Normalized<'a> {
    rest: std::str::Chars<'a>,
    surrogates: bool,
    /// The rest of a replacement escape, after its backslash.
    queued: std::str::Chars<'static>,
}

impl Iterator for Normalized<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if let Some(c) = self.queued.next() {
            return Some(c);
        }
        let c = self.rest.next()?;
        Some(match c {
            '\u{85}' | '\u{2028}' | '\u{2029}' => '\n',
            '\\' if self.surrogates => {
                let rest = self.rest.as_str();
                for (len, with) in [(5, "uFFFD"), (9, "U0000FFFD")] {
                    let candidate = format!("\\{}", rest.get(..len).unwrap_or(""));
                    if SURROGATE
                        .find(&candidate)
                        .is_some_and(|m| m.range() == (0..candidate.len()))
                    {
                        self.rest = rest.get(len..).unwrap_or("").chars();
                        self.queued = with.chars();
                        break;
                    }
                }
                '\\'
            }
            c => c,
        })
    }
}

/// The deepest nesting of flow brackets outside quotes and comments: an estimate used only
/// when the parser gives up on deep flow collections.
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            (None, '[' | '{') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Loads a single YAML document as `yaml.safe_load` would.
pub(crate) fn load(text: &str) -> Result<Option<Value>, LoadError> {
    load_wanting(text, Want::Root)
}

/// [`load`], keeping every key and scalar (for the unit tests).
#[cfg(test)]
fn load_all(text: &str) -> Result<Option<Value>, LoadError> {
    load_wanting(text, Want::All)
}

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

/// How PyYAML uses a node where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Constructed as a Python value, by its tag.
    Constructed,
    /// A merge source (the value of `<<`, or an item of a `<<` list): `flatten_mapping` copies
    /// its pairs into the merging mapping, which constructs them; the node itself and its tag
    /// are never constructed.
    MergeSource,
    /// An item of a constructed `!!omap` or `!!pairs`: its single pair is constructed as is,
    /// without `flatten_mapping`; its own tag is never looked at.
    PairItem,
}

/// Where PyYAML's constructor stands: the chain of places from the document root down, each a
/// node's place among the pairs or items of the collection being built (`(0, event)` for a
/// merged pair, which comes before the mapping's own `(1, event)` ones).
struct Path {
    up: Option<Rc<Path>>,
    at: (u8, usize),
}

/// When PyYAML raises a construction error. Its constructor builds breadth first: a
/// collection's pairs or items in the round after the one that built the collection (scalars
/// where they stand), each round in the order its collections were built; so a shorter
/// [`Path`] comes first, then the lexically smaller. (The composer's errors, syntax, aliases
/// and anchors, come before all of these.)
type Rank = (usize, Chain);

/// The places of a [`Rank`], from the root down.
type Chain = Vec<(u8, usize)>;

fn rank(body: Option<&Rc<Path>>, at: (u8, usize)) -> Rank {
    let mut chain = vec![at];
    let mut p = body;
    while let Some(node) = p {
        chain.push(node.at);
        p = node.up.as_ref();
    }
    chain.reverse();
    (chain.len(), chain)
}

/// An anchored node, for its aliases.
struct Anchored {
    value: Value,
    ident: Ident,
    /// The error constructing the node itself raises (its tag, or a scalar's value), which an
    /// alias in a constructed place raises too: first there, when PyYAML gets there first, and
    /// only there when the anchor is a merge source or pair item, never constructed itself.
    /// Whether it comes only when the node's contents are built (a round later).
    error: Option<Box<(LoadError, bool)>>,
    /// The first error building the node's contents raises, and where, relative to the node:
    /// an alias PyYAML meets first raises it from there.
    inner: Option<Box<(Chain, LoadError)>>,
}

/// Anchor and alias names as PyYAML's scanner reads them: only ASCII letters, digits, `-` and
/// `_`, and an anchor defined once per document (the Rust parser allows more, and a redefined
/// anchor).
struct Names<'t> {
    text: &'t str,
    /// A character index already mapped to its byte offset.
    at: (usize, usize),
    anchors: std::collections::HashSet<&'t str>,
}

impl<'t> Names<'t> {
    /// The text from character `index` on (the parser's markers count characters).
    fn text_at(&mut self, index: usize) -> &'t str {
        if index < self.at.0 {
            self.at = (0, 0);
        }
        let (chars, bytes) = self.at;
        let rest = &self.text[bytes..];
        let offset = rest
            .char_indices()
            .nth(index - chars)
            .map_or(rest.len(), |(i, _)| i);
        self.at = (index, bytes + offset);
        &self.text[bytes + offset..]
    }

    /// Checks the name after `sigil` (`&` or `*`) at the node starting at character `index` (an
    /// anchor may follow a tag). Says nothing when the text there is not what the parser
    /// reported: this never guesses.
    fn check(&mut self, index: usize, sigil: char) -> Result<(), LoadError> {
        let mut rest = self.text_at(index);
        if sigil == '&' && rest.starts_with('!') {
            let tag_end = rest.find([' ', '\t']).unwrap_or(rest.len());
            rest = rest[tag_end..].trim_start_matches([' ', '\t']);
        }
        let Some(rest) = rest.strip_prefix(sigil) else {
            return Ok(());
        };
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '{' | '}'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        let what = if sigil == '&' { "anchor" } else { "alias" };
        let pyyaml_name = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        let scanned = name.bytes().take_while(|b| pyyaml_name(*b)).count();
        if scanned == 0 || scanned < name.len() || rest[end..].starts_with(['[', '{']) {
            // PyYAML ends a name at these and reads on; at anything else it raises.
            let reads_on = scanned > 0 && name[scanned..].starts_with([':', '?', '%', '@', '`']);
            return Err(LoadError::Rejected(format!(
                "has the {what} {sigil}{1}, which PyYAML {0} (anchor and alias names are ASCII letters, digits, `-` and `_`; rename it)",
                if reads_on {
                    "reads differently, ending the name before the first other character"
                } else {
                    "cannot scan"
                },
                shorten(name)
            )));
        }
        if sigil == '&' && !self.anchors.insert(name) {
            return Err(LoadError::Rejected(format!(
                "defines the anchor &{name} twice, which PyYAML refuses (rename one)"
            )));
        }
        Ok(())
    }
}

/// Loads the events of `parser`, which reads `text` (or [`Normalized`] `text`).
fn load_events<T: Input>(
    parser: Parser<'_, T>,
    text: &str,
    root_want: Want,
) -> Result<Option<Value>, LoadError> {
    enum Kind {
        /// The mapping items, as merge sources.
        Seq(Sources),
        Map {
            /// The mapping's own pairs kept as entries (see [`Mapping`]) and their key
            /// identities.
            own: Vec<(Value, Value)>,
            idents: Vec<Ident>,
            /// A key waiting for its value, its place, and whether its node is anchored (or an
            /// alias).
            pending: Option<(Value, Ident, (u8, usize), bool)>,
            /// The merge sources (`<<` values), in order.
            merges: Sources,
            /// Every pair, kept or not.
            pairs: usize,
            /// The mapping's own kept pairs that are not entries (see [`Rest`]), how many, and
            /// how many of their key nodes are neither anchored nor aliases.
            rest: Option<Box<Rest>>,
            rest_pairs: usize,
            fresh: u32,
        },
    }
    struct Frame {
        kind: Kind,
        anchor: usize,
        node: usize,
        /// What the verdict needs from this collection.
        want: Want,
        /// `omap`/`pairs` (a list of one-pair mappings) or `set`, when constructed as one.
        tag: Option<&'static str>,
        role: Role,
        /// The node's place in the collection that builds it.
        at: (u8, usize),
        /// Where this node's pairs or items are built (a merge source's and a pair item's are
        /// built by the collection they belong to).
        body: Rc<Path>,
        /// Where `flatten_mapping` checks this mapping's merge keys, before any of its pairs
        /// (a merge source is flattened with the mapping it is merged into).
        flatten: Rc<Path>,
        /// See [`Anchored::error`].
        error: Option<(LoadError, bool)>,
        /// Whether every item so far is a mapping node (sequences).
        of_mappings: bool,
        /// Whether the mapping keeps its keys' identities (see [`Mapping::idents`]).
        keeps_idents: bool,
        /// The first construction error within this node so far.
        inner: Option<(Rank, LoadError)>,
        /// The node's place from the root, for an anchored constructed node.
        path: Option<Chain>,
    }
    /// Where a node starting now (at event `ev`) sits: its role, the parts wanted, the place
    /// that builds it and its place there.
    fn position(
        stack: &[Frame],
        anchor: usize,
        root_want: Want,
        ev: usize,
    ) -> (Role, Want, Option<Rc<Path>>, (u8, usize)) {
        let Some(f) = stack.last() else {
            let want = if anchor > 0 && root_want != Want::All {
                Want::Any
            } else {
                root_want
            };
            return (Role::Constructed, want, None, (1, ev));
        };
        let role = match &f.kind {
            Kind::Seq(_) if f.role == Role::MergeSource => Role::MergeSource,
            Kind::Seq(_) if matches!(f.tag, Some("omap" | "pairs")) => Role::PairItem,
            Kind::Map {
                pending: Some((Value::Other("merge", _), ..)),
                ..
            } if f.role != Role::PairItem => Role::MergeSource,
            _ => Role::Constructed,
        };
        let want = if anchor > 0 && f.want != Want::All {
            Want::Any
        } else {
            match &f.kind {
                Kind::Seq(_) => f.want.item(),
                // A key: its text, when the mapping is kept at all.
                Kind::Map { pending: None, .. } if f.want == Want::All => Want::All,
                Kind::Map { pending: None, .. } if f.want.keeps() => Want::Scalar,
                Kind::Map { pending: None, .. } => Want::None,
                Kind::Map {
                    pending: Some((k, ..)),
                    ..
                } => f.want.value(k),
            }
        };
        // A merge source's pairs are built among the merging mapping's, before its own.
        let section = if f.role == Role::MergeSource { 0 } else { 1 };
        (role, want, Some(f.body.clone()), (section, ev))
    }
    /// Keeps the construction error PyYAML raises first.
    fn construct_error(slot: &mut Option<(Rank, LoadError)>, rank: Rank, e: LoadError) {
        if slot.as_ref().is_none_or(|(r, _)| rank < *r) {
            *slot = Some((rank, e));
        }
    }
    let cannot_follow = |what: &str| {
        LoadError::Rejected(format!(
            "merges {what} into itself (`<<: *x` inside x); this verifier cannot follow that (PyYAML may accept it: remove the merge)"
        ))
    };
    // Tags whose constructor is a generator: it fails on the wrong kind of node only when it
    // builds the node's contents, a round later.
    let generator_mismatch = |kind: &str, tag: &str| {
        LoadError::Rejected(format!(
            "has a {kind} tagged !!{tag}, which yaml.safe_load cannot construct"
        ))
    };

    let merge_not_mappings = |what: &str| {
        LoadError::Rejected(format!(
            "has a merge key (<<) whose value is a {what}, not a mapping or a list of mappings"
        ))
    };
    let rejected = |why: String| LoadError::Rejected(why);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Anchored> = HashMap::new();
    let mut names = Names {
        text,
        at: (0, 0),
        anchors: Default::default(),
    };
    let mut documents = 0usize;
    let mut root: Option<Value> = None;
    let mut merge_budget = MERGE_BUDGET;
    let mut first_error: Option<(Rank, LoadError)> = None;
    // A merge this verifier cannot follow: reported when nothing else fails.
    let mut unfollowed: Option<LoadError> = None;
    // Open lists merged from inside themselves, with the rank of the merge: every item must
    // turn out to be a mapping.
    let mut open_merges: Vec<(usize, Rank)> = Vec::new();
    let mut nodes = 0usize;

    for (ev, item) in parser.enumerate() {
        // A construction error this event finds, kept for the whole document and for the
        // collection it is in (an alias elsewhere may build that one first).
        let mut event_error: Option<(Rank, LoadError)> = None;
        let pushed = stack.len();
        'event: {
            let (event, span) = item.map_err(|e| {
                if e.info().contains("recursion limit") {
                    if flow_depth(text) > PYYAML_MAX_DEPTH {
                        LoadError::Crashes(PyException::RecursionError, format!(
                            "nests collections more than {PYYAML_MAX_DEPTH} deep; PyYAML's recursive composer raises RecursionError"
                        ))
                    } else {
                        rejected(format!("nests flow collections ([...] or {{...}}) deeper than this verifier's parser allows (255 levels; PyYAML reads up to about {PYYAML_MAX_DEPTH}, so Airflow may accept this file): {e}"))
                    }
                } else {
                    rejected(format!("is not valid YAML: {e}"))
                }
            })?;
            // Whether the node is anchored or an alias: its identity may recur elsewhere.
            let mut shared_ident = false;
            let anchor = match &event {
                Event::Scalar(_, _, a, _)
                | Event::SequenceStart(a, _)
                | Event::MappingStart(a, _) => *a,
                _ => 0,
            };
            if anchor > MAX_ANCHORS {
                return Err(rejected(format!(
                    "defines more than {MAX_ANCHORS} anchors (&name); this verifier stops there to bound its memory, so it cannot tell whether Airflow would load the file (a manifest written by cargo airflow pack has none)"
                )));
            }
            let done: Option<(Value, Ident, (u8, usize))> = match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        return Err(rejected("holds more than one YAML document; yaml.safe_load expects a single document".into()));
                    }
                    None
                }
                Event::Scalar(s, style, anchor, tag) => {
                    shared_ident = anchor > 0;
                    if anchor > 0 {
                        names.check(span.start.index(), '&')?;
                    }
                    let (role, want, body, at) = position(&stack, anchor, root_want, ev);
                    nodes += 1;
                    let ident = Ident::of_scalar(&s, nodes);
                    let loaded = match core_suffix(tag.as_deref()) {
                        TagKind::Core(t @ ("seq" | "map" | "set" | "omap" | "pairs")) => {
                            Err((generator_mismatch("scalar", t), true))
                        }
                        _ => scalar(&s, style, tag.as_deref(), want.keeps_text())
                            .map_err(|e| (e, false)),
                    };
                    let (v, error) = match loaded {
                        Ok(v) => (v, None),
                        // A merge source or pair item is never constructed: the merge or the
                        // `!!omap` reports it.
                        Err((e, later)) if role != Role::Constructed => (
                            Value::Other("unconstructable", empty_text()),
                            Some((e, later)),
                        ),
                        Err((e, later)) => {
                            let r = if later {
                                rank(Some(&Rc::new(Path { up: body, at })), (0, 0))
                            } else {
                                rank(body.as_ref(), at)
                            };
                            construct_error(&mut event_error, r, e.clone());
                            (
                                Value::Other("unconstructable", empty_text()),
                                Some((e, later)),
                            )
                        }
                    };
                    if anchor > 0 {
                        anchors.insert(
                            anchor,
                            Anchored {
                                value: v.clone(),
                                ident: ident.clone(),
                                error: error.map(Box::new),
                                inner: None,
                            },
                        );
                    }
                    Some((v, ident, at))
                }
                Event::Alias(id) => {
                    shared_ident = true;
                    names.check(span.start.index(), '*')?;
                    let (role, _, body, at) = position(&stack, 0, root_want, ev);
                    if let Some(a) = anchors.get(&id) {
                        if role == Role::Constructed
                            && let Some((e, later)) = a.error.as_deref()
                        {
                            let r = if *later {
                                rank(
                                    Some(&Rc::new(Path {
                                        up: body.clone(),
                                        at,
                                    })),
                                    (0, 0),
                                )
                            } else {
                                rank(body.as_ref(), at)
                            };
                            construct_error(&mut event_error, r, e.clone());
                        }
                        if role == Role::Constructed
                            && let Some((suffix, e)) = a.inner.as_deref()
                        {
                            let mut chain = rank(body.as_ref(), at).1;
                            chain.extend_from_slice(suffix);
                            construct_error(&mut event_error, (chain.len(), chain), e.clone());
                        }
                        Some((a.value.clone(), a.ident.clone(), at))
                    } else if let Some(open) = stack.iter().position(|f| f.anchor == id) {
                        // An alias inside its own anchor: PyYAML builds a recursive value.
                        let f = &stack[open];
                        let (kind, shape) = match &f.kind {
                            // Its items are known when it ends: checked then, if merged.
                            Kind::Seq(_) => ("list", Shape::Sequence { of_mappings: true }),
                            Kind::Map { .. } => (
                                if f.tag == Some("set") { "set" } else { "dict" },
                                Shape::Mapping,
                            ),
                        };
                        if role == Role::MergeSource {
                            // The mapping this merges into: the innermost open one.
                            let merging = stack
                                .iter()
                                .rposition(|f| matches!(f.kind, Kind::Map { .. }))
                                .unwrap_or(open);
                            if matches!(f.kind, Kind::Seq(_)) {
                                open_merges.push((id, rank(Some(&stack[merging].flatten), (0, 0))));
                            }
                            // Merging a mapping into itself adds no key it does not have; what any
                            // other open collection brings is unknown yet.
                            if (merging != open || matches!(f.kind, Kind::Seq(_)))
                                && stack[merging].want.keeps()
                            {
                                unfollowed.get_or_insert_with(|| cannot_follow("a collection"));
                            }
                        }
                        Some((Value::Pruned(kind, shape), Ident::Node(f.node), at))
                    } else {
                        return Err(rejected(format!(
                            "has an alias at line {} that names no anchor",
                            span.start.line()
                        )));
                    }
                }
                Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                    if stack.len() >= PYYAML_MAX_DEPTH {
                        return Err(LoadError::Crashes(
                            PyException::RecursionError,
                            format!(
                                "nests collections more than {PYYAML_MAX_DEPTH} deep; PyYAML's recursive composer raises RecursionError"
                            ),
                        ));
                    }
                    if anchor > 0 {
                        names.check(span.start.index(), '&')?;
                    }
                    let is_seq = matches!(event, Event::SequenceStart(..));
                    let node_kind = if is_seq { "sequence" } else { "mapping" };
                    let (role, want, parent_body, at) = position(&stack, anchor, root_want, ev);
                    // Ok(tag), or the error and whether it comes when the contents are built.
                    let tag = match (is_seq, core_suffix(tag.as_deref())) {
                        (true, TagKind::Implicit | TagKind::Core("seq")) => Ok(None),
                        (true, TagKind::Core("omap")) => Ok(Some("omap")),
                        (true, TagKind::Core("pairs")) => Ok(Some("pairs")),
                        (false, TagKind::Implicit | TagKind::Core("map")) => Ok(None),
                        (false, TagKind::Core("set")) => Ok(Some("set")),
                        (_, TagKind::Core(t @ ("seq" | "map" | "set" | "omap" | "pairs"))) => {
                            Err((generator_mismatch(node_kind, t), true))
                        }
                        (_, TagKind::Core(other)) => Err((
                            rejected(format!(
                                "has a {node_kind} tagged !!{}, which yaml.safe_load cannot construct",
                                shorten(other)
                            )),
                            false,
                        )),
                        (_, TagKind::Unknown(t)) => Err((no_constructor(&t), false)),
                    };
                    let body = match (role, &parent_body) {
                        (Role::Constructed, _) | (_, None) => Rc::new(Path {
                            up: parent_body.clone(),
                            at,
                        }),
                        (_, Some(b)) => b.clone(),
                    };
                    // Only a constructed node's tag matters; for the others, it matters where an
                    // alias constructs them.
                    let (tag, error) = match (role, tag) {
                        (Role::Constructed, Ok(t)) => (t, None),
                        (Role::Constructed, Err((e, later))) => {
                            let r = if later {
                                rank(Some(&body), (0, 0))
                            } else {
                                rank(parent_body.as_ref(), at)
                            };
                            construct_error(&mut event_error, r, e.clone());
                            (None, Some((e, later)))
                        }
                        (_, Ok(_)) => (None, None),
                        (_, Err(e)) => (None, Some(e)),
                    };
                    let flatten = match stack.last() {
                        Some(p) if role == Role::MergeSource => p.flatten.clone(),
                        _ => body.clone(),
                    };
                    nodes += 1;
                    stack.push(Frame {
                        kind: if is_seq {
                            Kind::Seq(Sources::default())
                        } else {
                            Kind::Map {
                                own: Vec::new(),
                                idents: Vec::new(),
                                pending: None,
                                merges: Sources::default(),
                                pairs: 0,
                                rest: None,
                                rest_pairs: 0,
                                fresh: 0,
                            }
                        },
                        anchor,
                        node: nodes,
                        want,
                        tag,
                        role,
                        at,
                        body,
                        flatten,
                        error,
                        of_mappings: true,
                        keeps_idents: role == Role::MergeSource
                            || matches!(want, Want::Any | Want::AnyItem | Want::All),
                        inner: None,
                        path: (anchor > 0 && role == Role::Constructed)
                            .then(|| rank(parent_body.as_ref(), at).1),
                    });
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = stack.pop() else {
                        return Err(rejected("has unbalanced collections".into()));
                    };
                    shared_ident = frame.anchor > 0;
                    let v = match frame.kind {
                        Kind::Seq(items) if frame.want.keeps() => Value::Seq(Rc::new(Sources {
                            of_mappings: frame.of_mappings,
                            ..items.finish()
                        })),
                        Kind::Seq(_) => Value::Pruned(
                            "list",
                            Shape::Sequence {
                                of_mappings: frame.of_mappings,
                            },
                        ),
                        Kind::Map {
                            own,
                            idents,
                            merges,
                            pairs,
                            rest,
                            rest_pairs,
                            fresh,
                            ..
                        } => {
                            if frame.role == Role::PairItem && pairs != 1 {
                                construct_error(
                                    &mut event_error,
                                    rank(Some(&frame.body), frame.at),
                                    rejected(format!(
                                        "has an !!omap or !!pairs item with {pairs} pairs, not one"
                                    )),
                                );
                            }
                            let kind = if frame.tag == Some("set") {
                                "set"
                            } else {
                                "dict"
                            };
                            if frame.want.keeps() {
                                merge_budget = merge_budget.checked_sub(merges.weight).ok_or_else(|| {
                                    rejected(format!("expands merge keys (<<) to more than {MERGE_BUDGET} entries; PyYAML copies them too and would take exponential time"))
                                })?;
                                // flatten_mapping (PyYAML 6.0.3+): the merged pairs in order, the
                                // first of each key identity only, then the mapping's own pairs.
                                let mut seen = std::collections::HashSet::new();
                                let (mut entries, mut merged_idents) = (Vec::new(), Vec::new());
                                for e in &merges.list {
                                    for (i, pair) in e.entries.iter().enumerate() {
                                        // Every merge source keeps its identities.
                                        let ident = e.idents.get(i).unwrap_or(&Ident::Node(0));
                                        if seen.insert(ident) {
                                            entries.push(pair.clone());
                                            if frame.keeps_idents {
                                                merged_idents.push(ident.clone());
                                            }
                                        }
                                    }
                                }
                                drop(seen);
                                entries.extend(own);
                                merged_idents.extend(idents);
                                // The merged pairs that are not entries: their identities
                                // united (the pairs they stand for are distinct), their keys
                                // taken over or referred to.
                                let keep_keys =
                                    frame.want.keeps_all_keys() && frame.want != Want::All;
                                let mut rest = rest.map(|r| *r).unwrap_or_default();
                                let mut merged = Idents::default();
                                let weight = merges.weight;
                                for e in merges.list {
                                    if let Some(r) = &e.rest {
                                        merged.add(&r.idents, frame.keeps_idents);
                                    }
                                    if keep_keys {
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
                                let merged_pairs = if frame.keeps_idents {
                                    merged.finish();
                                    merged.count()
                                } else {
                                    // Not exact, and never needed: nothing merges this mapping.
                                    weight
                                };
                                // The merged identities first: the first pair of a cached one
                                // is a merged one if any is.
                                let own = std::mem::replace(&mut rest.idents, merged);
                                rest.idents.groups.extend(own.groups);
                                rest.idents.nodes.extend(own.nodes);
                                if fresh > 0 {
                                    rest.idents.groups.push((node_u32(frame.node), fresh));
                                }
                                for key in own.cached.iter().flat_map(|c| &c.keys) {
                                    rest.idents.add_cached(*key);
                                }
                                rest.idents.finish();
                                if let Some(own) = rest.own_cached.as_mut() {
                                    own.0.shrink_to_fit();
                                }
                                rest.refs.sort_unstable_by_key(|r| Rc::as_ptr(r) as usize);
                                rest.refs.dedup_by(|a, b| Rc::ptr_eq(a, b));
                                rest.refs.shrink_to_fit();
                                rest.ids.shrink_to_fit();
                                let len = entries.len() + rest_pairs + merged_pairs;
                                let empty = rest_pairs == 0
                                    && rest.refs.is_empty()
                                    && rest.bad.count == 0
                                    && rest.idents.count() == 0
                                    && rest.ids.is_empty();
                                Value::Map(Rc::new(Mapping {
                                    set: frame.tag == Some("set"),
                                    entries,
                                    idents: merged_idents.into_boxed_slice(),
                                    len,
                                    rest: (!empty).then(|| Box::new(rest)),
                                }))
                            } else {
                                Value::Pruned(kind, Shape::Mapping)
                            }
                        }
                    };
                    if frame.anchor > 0 {
                        for (_, r) in open_merges.extract_if(.., |(id, _)| *id == frame.anchor) {
                            if !frame.of_mappings {
                                construct_error(
                                    &mut event_error,
                                    r,
                                    merge_not_mappings("list holding something else than mappings"),
                                );
                            }
                        }
                        let inner = match (&frame.path, &frame.inner) {
                            (Some(path), Some((r, e))) if r.1.starts_with(path) => {
                                Some((r.1[path.len()..].to_vec(), e.clone()))
                            }
                            _ => None,
                        };
                        anchors.insert(
                            frame.anchor,
                            Anchored {
                                value: v.clone(),
                                ident: Ident::Node(frame.node),
                                error: frame.error.map(Box::new),
                                inner: inner.map(Box::new),
                            },
                        );
                    }
                    if let (Some(parent), Some((r, e))) = (stack.last_mut(), frame.inner) {
                        construct_error(&mut parent.inner, r, e);
                    }
                    Some((v, Ident::Node(frame.node), frame.at))
                }
                _ => None,
            };
            let Some((v, ident, at)) = done else {
                break 'event;
            };
            let no_constructor_for = |v: &Value, place: &str| {
                no_constructor(&format!(
                    "tag:yaml.org,2002:{} (a plain `=` or `<<` {place})",
                    v.kind()
                ))
            };
            let Some(parent) = stack.last_mut() else {
                if matches!(v, Value::Other("value" | "merge", _)) {
                    construct_error(
                        &mut event_error,
                        rank(None, at),
                        no_constructor_for(&v, "alone"),
                    );
                }
                root = Some(v);
                break 'event;
            };
            // Built only for an error (a chain from the root).
            let body = parent.body.clone();
            let here = || rank(Some(&body), at);
            match &mut parent.kind {
                Kind::Seq(items) => {
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
                                &mut event_error,
                                here(),
                                rejected(
                                    "has an !!omap or !!pairs item that is not a one-pair mapping"
                                        .into(),
                                ),
                            );
                        }
                    } else if parent.role == Role::Constructed
                        && matches!(v, Value::Other("value" | "merge", _))
                    {
                        construct_error(
                            &mut event_error,
                            here(),
                            no_constructor_for(&v, "in a list"),
                        );
                    }
                    if parent.want.keeps()
                        && let Value::Map(m) = v
                    {
                        items.push(m);
                    }
                }
                Kind::Map {
                    own,
                    idents,
                    pending,
                    merges,
                    pairs,
                    rest,
                    rest_pairs,
                    fresh,
                } => match pending.take() {
                    None => {
                        *pairs += 1;
                        let v = if parent.role == Role::PairItem {
                            // Not flattened: `<<` and `=` keep their tags, which nothing
                            // constructs; any key may be unhashable (it becomes a tuple item).
                            if matches!(v, Value::Other("value" | "merge", _)) {
                                construct_error(
                                    &mut event_error,
                                    here(),
                                    no_constructor_for(&v, "as an !!omap key"),
                                );
                            }
                            v
                        } else {
                            if !v.hashable() {
                                construct_error(
                                    &mut event_error,
                                    here(),
                                    rejected(format!(
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
                        *pending = Some((v, ident, at, shared_ident));
                    }
                    Some((k, kid, _, k_shared)) => {
                        if matches!(k, Value::Other("merge", _)) && parent.role != Role::PairItem {
                            if !matches!(
                                v.shape(),
                                Shape::Mapping | Shape::Sequence { of_mappings: true }
                            ) {
                                construct_error(
                                    &mut event_error,
                                    rank(Some(&parent.flatten), (0, 0)),
                                    merge_not_mappings(match v.shape() {
                                        Shape::Scalar => "scalar",
                                        _ => "list holding something else than mappings",
                                    }),
                                );
                            }
                            if parent.want.keeps() {
                                match v {
                                    Value::Map(m) => merges.push(m),
                                    Value::Seq(list) => merges.extend(list),
                                    _ => {}
                                }
                            }
                        } else {
                            if matches!(v, Value::Other("value" | "merge", _)) {
                                construct_error(
                                    &mut event_error,
                                    here(),
                                    no_constructor_for(&v, "as a value"),
                                );
                            }
                            if parent.want.keeps_all_keys() || parent.want.value(&k) != Want::None {
                                let looked_up =
                                    matches!(&k, Value::Str(s) if LOOKED_UP.contains(&&**s));
                                if parent.want == Want::All || looked_up {
                                    own.push((k, v));
                                    if parent.keeps_idents {
                                        idents.push(kid);
                                    }
                                } else if parent.want.keeps_all_keys() || parent.keeps_idents {
                                    // Millions of dag ids: kept compactly (see Rest).
                                    *rest_pairs += 1;
                                    let r = rest.get_or_insert_with(Box::default);
                                    let keys = parent.want.keeps_all_keys();
                                    match kid {
                                        Ident::Cached(c) => {
                                            if keys {
                                                let (own_ids, own_bad) = &mut **r
                                                    .own_cached
                                                    .get_or_insert_with(Box::default);
                                                match &k {
                                                    Value::Str(s) => {
                                                        own_ids.insert(s).map_err(too_large)?
                                                    }
                                                    other => own_bad.add_key(other),
                                                }
                                            }
                                            r.idents.add_cached(CachedKey::of(c, &k, false));
                                        }
                                        Ident::Node(n) => {
                                            if keys {
                                                match &k {
                                                    Value::Str(s) => {
                                                        r.ids.insert(s).map_err(too_large)?
                                                    }
                                                    other => r.bad.add_key(other),
                                                }
                                            }
                                            if !parent.keeps_idents {
                                            } else if k_shared {
                                                r.idents.nodes.push(node_u32(n));
                                            } else {
                                                *fresh += 1;
                                            }
                                        }
                                    }
                                } else {
                                    *rest_pairs += 1;
                                }
                            }
                        }
                    }
                },
            }
        }
        if let Some((r, e)) = event_error {
            // Its collection: the parent of one that just started, else the innermost.
            let owner = if stack.len() > pushed {
                stack.len().checked_sub(2)
            } else {
                stack.len().checked_sub(1)
            };
            if let Some(f) = owner.and_then(|i| stack.get_mut(i)) {
                construct_error(&mut f.inner, r.clone(), e.clone());
            }
            construct_error(&mut first_error, r, e);
        }
    }
    match (first_error, unfollowed) {
        (Some((_, e)), _) | (None, Some(e)) => Err(e),
        (None, None) => Ok(root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_like_pyyaml() {
        for (text, kind) in [
            ("123", "int"),
            ("1_000", "int"),
            ("0x1f", "int"),
            ("017", "int"),
            ("1:30", "int"),
            ("1.5", "float"),
            (".inf", "float"),
            ("1e3", "str"),
            ("yes", "bool"),
            ("On", "bool"),
            ("y", "str"),
            ("null", "NoneType"),
            ("~", "NoneType"),
            ("", "NoneType"),
            ("2026-01-01", "timestamp"),
            ("2001-12-14t21:59:43.10-05:00", "timestamp"),
            ("=", "value"),
            ("<<", "merge"),
            ("café", "str"),
            ("etl_daily", "str"),
        ] {
            assert_eq!(resolve_plain(text), kind, "{text:?}");
        }
    }

    fn kind_of(doc: &str) -> Result<&'static str, LoadError> {
        load_all(doc).map(|v| {
            v.and_then(|v| v.get("a").map(Value::kind))
                .unwrap_or("missing")
        })
    }

    #[test]
    fn quoting_and_tags_decide_strings() {
        let v = load_all("a: \"2026-06-16\"\nb: 2026-06-16\nc: !!str 123\nd: '123'\ne: ! '12'\n")
            .unwrap()
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Str("2026-06-16".into())));
        assert_eq!(v.get("b").unwrap().kind(), "timestamp");
        assert_eq!(v.get("c"), Some(&Value::Str("123".into())));
        assert_eq!(v.get("d"), Some(&Value::Str("123".into())));
        // The non-specific tag resolves implicitly, even quoted (checked against PyYAML).
        assert_eq!(v.get("e").unwrap().kind(), "int");
        assert_eq!(kind_of("a: !<tag:yaml.org,2002:str> 1").unwrap(), "str");
        assert_eq!(
            kind_of("%TAG !e! tag:yaml.org,2002:\n---\na: !e!int 1").unwrap(),
            "int"
        );
    }

    #[test]
    fn refuses_what_safe_load_refuses() {
        for doc in [
            "a: 1\n---\nb: 2\n",
            "a: !python/object 1\n",
            "a: !!python/name:os.system 1\n",
            "a: !foo 1\n",
            "[a: [b",
            "a: \u{1}\n",
            "a: \u{FFFE}\n",
            "a: \u{7F}\n",
            "%YAML 2.0\n---\na: 1\n",
            "a: =\n",
            "a: <<\n",
            "a: [=]\n",
            "<<: 1\n",
            "a: !!binary 'YQ'\n",
            "a: !!str [1]\n",
            "a: !!seq x\n",
            "a: !!omap {a: 1}\n",
            "? [a]\n: 1\n",
            "? !!set {x}\n: 1\n",
        ] {
            assert!(
                matches!(load_all(doc), Err(LoadError::Rejected(_))),
                "{doc:?}: {:?}",
                load_all(doc)
            );
        }
        assert_eq!(load_all("").unwrap(), None);
    }

    #[test]
    fn finds_what_makes_safe_load_raise_outside_yaml_error() {
        for doc in [
            "2026-13-45: a\n",
            "a: 2026-02-29\n",
            "a: 2024-02-29 25:00:00\n",
            "a: 2024-02-29 23:00:00 +25\n",
            "a: 0000-01-01\n",
            "a: 0b_\n",
            "a: 0x_\n",
            "a: !!int abc\n",
            "a: !!bool x\n",
            "a: !!float ''\n",
        ] {
            assert!(
                matches!(load_all(doc), Err(LoadError::Crashes(..))),
                "{doc:?}: {:?}",
                load_all(doc)
            );
        }
        let long = format!("a: {}\n", "1".repeat(4301));
        assert!(matches!(load_all(&long), Err(LoadError::Crashes(..))));
        let ok = format!("a: {}\n", "1".repeat(4300));
        assert_eq!(kind_of(&ok).unwrap(), "int");
        let deep = format!("a:\n{}x\n", "- ".repeat(1000));
        assert!(
            matches!(load_all(&deep), Err(LoadError::Crashes(..))),
            "{:?}",
            load_all(&deep)
        );
    }

    #[test]
    fn accepts_what_safe_load_accepts() {
        assert_eq!(kind_of("a: 2024-02-29\n").unwrap(), "timestamp");
        assert_eq!(kind_of("a: !!float 1\n").unwrap(), "float");
        assert_eq!(kind_of("a: !!int ' 12'\n").unwrap(), "int");
        assert_eq!(kind_of("a: !!binary 'YW=='\n").unwrap(), "bytes");
        assert_eq!(kind_of("a: !!set {x}\n").unwrap(), "set");
        assert_eq!(kind_of("a: !!omap [b: 1]\n").unwrap(), "list");
        assert_eq!(kind_of("a: \"\\ud800\"\n").unwrap(), "str");
        assert_eq!(kind_of("%YAML 1.2\n---\na: x\n").unwrap(), "str");
        assert_eq!(kind_of("b: 1\u{85}a: 2\n").unwrap(), "int");
        assert_eq!(kind_of("b: 1\u{2028}a: 2\n").unwrap(), "int");
        // `=` is a string as a key.
        let v = load_all("=: 1\n").unwrap().unwrap();
        assert_eq!(v.get("="), Some(&Value::Other("int", "1".into())));
        // Merge keys: own keys override, earlier sources override later ones.
        let v = load_all("<<: [{a: 1, b: x}, {a: 2, c: y}]\nb: z\n")
            .unwrap()
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Other("int", "1".into())));
        assert_eq!(v.get("b"), Some(&Value::Str("z".into())));
        assert_eq!(v.get("c"), Some(&Value::Str("y".into())));
        let deep = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        assert_eq!(kind_of(&deep).unwrap(), "list");
        let deep = format!("a:\n{}x\n", "- ".repeat(400));
        assert_eq!(kind_of(&deep).unwrap(), "list");
    }

    #[test]
    fn only_what_a_verdict_reads_is_kept() {
        let doc = "base: &b {dags: {x: {tasks: [t]}}, sdk: {supervisor_schema_version: \"2026-06-16\", v: 1}}\n\
                   <<: *b\n\
                   extra: {k: [1, 2], s: text}\n\
                   dags: {<<: [{y: 1}], z: {tasks: [a]}}\n";
        let v = load(doc).unwrap().unwrap();
        assert_eq!(v.get("extra"), None);
        assert_eq!(v.get("base"), None);
        let Some(Value::Map(dags)) = v.get("dags") else {
            panic!("{v:?}")
        };
        // Dag ids are kept as keys only, values not at all.
        assert!(dags.entries().is_empty(), "{dags:?}");
        let (ids, bad) = keys(Rc::clone(dags)).unwrap();
        assert_eq!(ids, ["y", "z"]);
        assert_eq!(bad.count, 0);
        let sdk = v.get("sdk").unwrap();
        assert_eq!(
            sdk.get("supervisor_schema_version"),
            Some(&Value::Str("2026-06-16".into()))
        );
        assert_eq!(sdk.get("v"), None);
        // An anchored mapping used as `dags` keeps its keys.
        let v = load("d: &d {a: 1, b: [x]}\ndags: *d\n").unwrap().unwrap();
        let Some(Value::Map(dags)) = v.get("dags") else {
            panic!("{v:?}")
        };
        assert_eq!(dags.len, 2);
        assert_eq!(keys(Rc::clone(dags)).unwrap().0, ["a", "b"]);
        // What is dropped is still checked for what makes safe_load raise.
        assert!(matches!(
            load("extra: {k: 2026-13-45}\n"),
            Err(LoadError::Crashes(..))
        ));
        assert!(matches!(
            load("extra: [[[*nope]]]\n"),
            Err(LoadError::Rejected(_))
        ));
    }

    #[test]
    fn aliases_share_instead_of_copying() {
        // Ten levels of ten aliases each: 10^10 leaves if expanded.
        let mut doc = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..=10 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            doc.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        doc.push_str("a: *l10\n");
        assert_eq!(kind_of(&doc).unwrap(), "list");
    }

    fn dag_ids(doc: &str) -> (Vec<String>, BadKeys) {
        let root = load(doc).unwrap().unwrap();
        let Some(Value::Map(dags)) = root.get("dags").cloned() else {
            panic!("{root:?}")
        };
        drop(root);
        let (ids, bad) = keys(dags).unwrap();
        (ids.iter().map(str::to_owned).collect(), bad)
    }

    #[test]
    fn dag_keys_unite_merges_and_aliases() {
        let doc = "a: &a {x: 1, y: 2}\n\
                   b: &b [{y: 1, z: 2}, *a]\n\
                   k: &k w\n\
                   n: &n 7\n\
                   dags: {<<: [*a, {q: 1}], <<: *b, <<: {v: 1}, *k : 1, *n : 2, u: 3, u: 4, ~: 5, dags: 6}\n";
        let (ids, bad) = dag_ids(doc);
        assert_eq!(ids, ["dags", "q", "u", "v", "w", "x", "y", "z"]);
        assert_eq!(bad.count, 2);
        assert_eq!(
            bad.examples,
            ["\"7\" loads as int", "\"~\" loads as NoneType"]
        );
    }

    #[test]
    fn merged_keys_with_a_cached_identity_are_the_first_ones() {
        // `1` and `'1'` are one identity (CPython caches one-character texts): PyYAML 6.0.4
        // keeps the first merged one, whatever its type; the mapping's own keys all stay.
        let (ids, bad) = dag_ids("dags: {<<: [{1: {}}, {'1': {}}]}\n");
        assert!(ids.is_empty(), "{ids:?}");
        assert_eq!(bad.examples, ["\"1\" loads as int"]);
        let (ids, bad) = dag_ids("dags: {<<: [{'1': {}}, {1: {}}]}\n");
        assert_eq!(ids, ["1"]);
        assert_eq!(bad.count, 0);
        let (ids, bad) = dag_ids("a: &a {1: x}\ndags: {<<: [*a, {'1': {}}], '1': 2, 1: 3}\n");
        assert_eq!(ids, ["1"]);
        assert_eq!(bad.count, 2);
        let (ids, _) = dag_ids("a: &a {<<: {'': 1}, ab: 2}\ndags: {<<: [*a, {~: 1}]}\n");
        assert_eq!(ids, ["", "ab"]);
    }

    #[test]
    fn merged_pairs_are_counted_by_identity_without_being_copied() {
        // What a merge copies in PyYAML 6.0.4 (the first pair of each key identity), counted on
        // the compact form: one-character keys are one identity, so ten levels of ten merges
        // stay ten pairs; longer keys are one per node.
        let mut doc =
            String::from("m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n");
        for i in 1..=10 {
            let refs = vec![format!("*m{}", i - 1); 10].join(", ");
            doc.push_str(&format!("m{i}: &m{i} {{<<: [{refs}]}}\n"));
        }
        doc.push_str("dags: *m10\n");
        let (ids, _) = dag_ids(&doc);
        assert_eq!(ids.len(), 10);
        let root = load(&doc).unwrap().unwrap();
        let Some(Value::Map(m)) = root.get("dags") else {
            panic!()
        };
        assert_eq!(m.len, 10);
        let doc = "a: &a {ab: 1, cd: 2}\nb: &b {ab: 1}\nc: &c {<<: [*a, *b, *a]}\nd: !!omap [*c]\n";
        let Err(LoadError::Rejected(why)) = load(doc) else {
            panic!()
        };
        assert!(why.contains("one-pair"), "{why}");
        // The budget counts what PyYAML copies, repeats counted: 4 000 001 pairs.
        let mut doc = String::from("m0: &m0 {");
        doc.push_str(
            &(0..1000)
                .map(|i| format!("k{i}: 1"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        doc.push_str("}\nm1: &m1 {<<: [");
        doc.push_str(&vec!["*m0"; 2000].join(", "));
        doc.push_str("]}\nm2: &m2 {<<: [");
        doc.push_str(&vec!["*m0"; 2001].join(", "));
        doc.push_str("]}\n");
        let Err(LoadError::Rejected(why)) = load(&doc) else {
            panic!()
        };
        assert!(why.contains("expands merge keys"), "{why}");
    }

    #[test]
    fn repeated_keys_and_aliases_cost_nothing_per_repeat() {
        // Repeated keys: the key set drops them in passes (see dag_ids), and the ids are right.
        let (ids, _) = dag_ids(&format!("dags: {{{}}}\n", "a, b, ".repeat(50_000)));
        assert_eq!(ids, ["a", "b"]);
        // Merging the same anchor many times refers to it once.
        let doc = format!(
            "a: &a {{x: 1}}\ndags: {{<<: [{}]}}\n",
            "*a, ".repeat(20_000)
        );
        let root = load(&doc).unwrap().unwrap();
        let Some(Value::Map(dags)) = root.get("dags") else {
            panic!()
        };
        assert_eq!(dags.rest.as_ref().unwrap().refs.len(), 1);
        // A list of empty mappings holds nothing per item.
        let doc = format!(
            "e: &e [{}]\ndags: {{<<: *e, d: 1}}\n",
            "{}, ".repeat(20_000)
        );
        let root = load(&doc).unwrap().unwrap();
        let Some(Value::Map(dags)) = root.get("dags") else {
            panic!()
        };
        assert_eq!(dags.rest.as_ref().unwrap().refs.len(), 0);
        assert_eq!(dag_ids(&doc).0, ["d"]);
    }

    #[test]
    fn anchors_are_limited() {
        let mut doc = String::from("x: [");
        for i in 0..=MAX_ANCHORS {
            doc.push_str(&format!("&a{i} 1,"));
        }
        doc.push_str("]\n");
        let e = load(&doc).unwrap_err();
        assert!(
            matches!(&e, LoadError::Rejected(why) if why.contains("more than 50000 anchors")),
            "{e:?}"
        );
        // Up to the limit, they load.
        let doc = doc.replacen(&format!("&a{MAX_ANCHORS} 1,"), "", 1);
        assert!(load(&doc).is_ok());
    }

    #[test]
    fn messages_quote_at_most_a_little_of_the_text() {
        let long = "9".repeat(1_000_000);
        for doc in [
            format!("a: !!int x{long}\n"),
            format!("a: !!float x{long}\n"),
            format!("a: !!bool x{long}\n"),
            format!("a: !{long} 1\n"),
            format!("%YAML {long}\n---\na: 1\n"),
        ] {
            let e = load(&doc).unwrap_err();
            let (LoadError::Rejected(why) | LoadError::Crashes(_, why)) = &e;
            assert!(why.len() < 400, "{}", &why[..400]);
        }
    }

    #[test]
    fn line_breaks_and_surrogates_are_read_without_a_copy_of_the_text() {
        let v = load_all("a: \"\\ud800\"\u{85}b: \"\\U0000DFFF\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Str("\u{fffd}".into())));
        assert_eq!(v.get("b"), Some(&Value::Str("\u{fffd}".into())));
        // The replacement is textual, as it always was: a single-quoted `\ud800` reads as
        // `\uFFFD` (a str either way).
        let v = load_all("a: \"\\ud800\"\nb: '\\ud800'\n").unwrap().unwrap();
        assert_eq!(v.get("b"), Some(&Value::Str("\\uFFFD".into())));
    }

    fn rejected(doc: &str) -> bool {
        matches!(load_all(doc), Err(LoadError::Rejected(_)))
    }

    fn crashes(doc: &str) -> bool {
        matches!(load_all(doc), Err(LoadError::Crashes(..)))
    }

    #[test]
    fn merge_keys_follow_pyyaml_6_0_4() {
        // Checked against PyYAML 6.0.4, whose flatten_mapping keeps the first merged pair of
        // each key identity: different nodes with a text of two or more characters are
        // different keys (the later source wins, as in a dict), while one-character texts and
        // aliased key nodes are the same object (the first source wins).
        let get = |doc: &str, key: &str| load_all(doc).unwrap().unwrap().get(key).cloned();
        let int = |t: &str| Some(Value::Other("int", t.into()));
        assert_eq!(get("<<: [{ab: 1}, {ab: 2}]\n", "ab"), int("2"));
        assert_eq!(get("<<: [{a: 1}, {a: 2}]\n", "a"), int("1"));
        assert_eq!(get("<<: {ab: 1}\n<<: {ab: 2}\n", "ab"), int("2"));
        assert_eq!(get("<<: {a: 1}\n<<: {a: 2}\n", "a"), int("1"));
        assert_eq!(get("k: &k ab\n<<: [{*k : 1}, {*k : 2}]\n", "ab"), int("1"));
        assert_eq!(get("<<: [{é: 1}, {é: 2}]\n", "é"), int("1"));
        assert_eq!(get("<<: [{ж: 1}, {ж: 2}]\n", "ж"), int("2"));
        // Explicit keys win wherever they stand.
        assert_eq!(get("ab: 3\n<<: [{ab: 1}, {ab: 2}]\n", "ab"), int("3"));
        // A merge source is flattened first: its own pairs after its merged ones, and both
        // are merged on (so a one-character key keeps the nested merged value).
        let nested = "b: &b {<<: {ab: 1, c: 1}, ab: 2, c: 2}\n<<: *b\n";
        assert_eq!(get(nested, "ab"), int("2"));
        assert_eq!(get(nested, "c"), int("1"));
        assert_eq!(get("<<: {<<: {<<: {ab: 1}}}\n", "ab"), int("1"));
        // A `!!set` merges its keys; any tag on a merge source is ignored (never constructed).
        assert_eq!(
            get("<<: !!set {ab}\n", "ab").map(|v| v.kind()),
            Some("NoneType")
        );
        for doc in [
            "<<: !!omap [ab: 1]\n",
            "<<: !!pairs [ab: 1]\n",
            "<<: !foo {ab: 1}\n",
            "<<: !!str {ab: 1}\n",
            "<<: [!foo {ab: 1}]\n",
            "<<: !!set [{ab: 1}]\n",
            "<<: []\nab: 1\n",
        ] {
            assert_eq!(get(doc, "ab"), int("1"), "{doc:?}");
        }
        // A merge source's tag still fails where an alias constructs it.
        assert!(rejected("a: {<<: &x !foo {ab: 1}}\nb: *x\n"));
        // `<<` must hold a mapping or a list of mappings, wherever it is.
        for doc in [
            "<<: 1\n",
            "<<: ~\n",
            "x: {<<: [1]}\n",
            "x: {y: {<<: [{a: 1}, [b]]}}\n",
            "v: &v 1\nx: {<<: [*v]}\n",
            "x: !!set {<<: 1}\n",
            "x: {<<: {a: 1}, <<: 1}\n",
        ] {
            assert!(rejected(doc), "{doc:?}: {:?}", load_all(doc));
        }
        // PyYAML checks the merge before it builds the value: not a crash.
        assert!(rejected("x: {<<: !!int abc}\n"));
    }

    #[test]
    fn omap_items_are_single_unflattened_pairs() {
        for doc in [
            "x: !!omap [{a: 1, b: 2}]\n",
            "x: !!pairs [{a: 1, b: 2}]\n",
            "x: !!omap [<<: {a: 1}]\n",
            "x: !!omap [=: 1]\n",
            "x: !!omap [1]\n",
            "x: !!omap [{}]\n",
            "m: &m {a: 1, b: 2}\nx: !!omap [*m]\n",
        ] {
            assert!(rejected(doc), "{doc:?}: {:?}", load_all(doc));
        }
        for doc in [
            "x: !!omap [? [a] : 1]\n",
            "x: !!omap [!foo {a: 1}]\n",
            "m: &m {<<: {a: 1}}\nx: !!omap [*m]\n",
        ] {
            assert_eq!(
                kind_of(&doc.replace("x:", "a:")).unwrap(),
                "list",
                "{doc:?}"
            );
        }
    }

    #[test]
    fn recursive_aliases_load() {
        // PyYAML registers an anchor before composing its node: an alias inside it makes a
        // recursive value.
        assert_eq!(kind_of("a: &a [*a]\n").unwrap(), "list");
        assert_eq!(kind_of("a: &a {k: *a}\n").unwrap(), "dict");
        assert_eq!(kind_of("a: &a {<<: *a, y: 1}\n").unwrap(), "dict");
        assert!(rejected("a: &a {? *a : 1}\n"));
        assert!(rejected("a: &l [{<<: *l}, 1]\n"));
        // Merging an enclosing mapping into one that matters is beyond this verifier: it says
        // so rather than guess.
        let Err(LoadError::Rejected(why)) = load("--- &r\ndags: {<<: *r}\n") else {
            panic!()
        };
        assert!(why.contains("cannot follow"), "{why}");
    }

    #[test]
    fn anchors_are_named_and_defined_as_pyyaml_scans_them() {
        for doc in [
            "a: &x 1\nb: &x 2\n",
            "a: [&x 1, &x 2]\n",
            "a: !!str &x 1\nb: !!str &x 2\n",
            "# é ж 𝄞 in a comment\nc: 'ééé 𝄞' # and ж\na: &x\n  k: 1\nb: &x\n  k: 2\n",
            "a: &a.b 1\n",
            "a: &é 1\n",
            "a: &a 1\nb: *a.b\n",
            "a: &x[1]\n",
        ] {
            let Err(LoadError::Rejected(why)) = load_all(doc) else {
                panic!("{doc:?}: {:?}", load_all(doc))
            };
            assert!(
                why.contains("anchor") || why.contains("alias"),
                "{doc:?}: {why}"
            );
        }
        assert_eq!(kind_of("x: &a-_9 1\na: *a-_9\n").unwrap(), "int");
        assert_eq!(kind_of("c: 'é𝄞'\nx: &k 1\na: *k\n").unwrap(), "int");
    }

    #[test]
    fn the_error_pyyaml_meets_first_decides() {
        // The composer's errors come before any construction error.
        assert!(rejected("a: 2026-13-45\nb: [\n"));
        assert!(rejected("a: 2026-13-45\nb: &x 1\nc: &x 2\n"));
        // Then breadth first: the root's scalars before what nested collections hold.
        assert!(crashes("b: [!foo x]\na: 2026-13-45\n"));
        assert!(crashes("a: 2026-13-45\nb: {c: [!foo x]}\n"));
        assert!(crashes("b: {<<: 1}\na: 2026-13-45\n"));
        // Each round in the order its collections were built: `a`'s pairs before `b`'s merge.
        assert!(crashes("a: {x: 2026-13-45}\nb: {<<: 1}\n"));
        assert!(rejected("a: {x: {y: 2026-13-45}}\nb: {<<: 1}\n"));
        assert!(crashes(
            "b: {? [a] : 1}\na: {x: 2026-13-45}\nc: 2026-13-45\n"
        ));
        // A tag whose constructor builds a collection fails a round later.
        assert!(crashes("x: !!map []\na: 2026-13-45\n"));
        assert!(rejected("x: !!str []\na: 2026-13-45\n"));
        // Merged pairs are built before the mapping's own.
        assert!(rejected("sdk: !!int abc\n<<: {x: !foo 1}\n"));
        // An alias builds its anchor where PyYAML meets it first.
        assert!(crashes("z: {y: {x: &a !!int abc}, b: *a, ? [a] : 1}\n"));
    }
}
