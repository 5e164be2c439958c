//! Key identities, which merging compares as PyYAML 6.0.3+ does (see [`Ident`]), and their
//! compact sets.

use std::rc::Rc;

use super::value::{Value, empty_text};

/// How PyYAML 6.0.3+ tells merged keys apart: `id(key_node.value)`, the identity of the key's
/// source text as a Python object. The same node (an alias) is the same object, and so is
/// every empty or one-character (below U+0100) text, which CPython caches; any other text is a
/// new object per node. The first merged pair of an identity is kept, later ones dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Ident {
    /// One node.
    Node(usize),
    /// A text CPython caches as a single object: empty, or this character.
    Cached(Option<char>),
}

impl Ident {
    /// The identity of the scalar node number `node` with the text `text`.
    pub(super) fn of_scalar(text: &str, node: usize) -> Ident {
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (None, _) => Ident::Cached(None),
            (Some(c), None) if u32::from(c) < 0x100 => Ident::Cached(Some(c)),
            _ => Ident::Node(node),
        }
    }
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
pub(super) struct CachedKey {
    pub(super) text: u16,
    /// An index in [`CACHED_KINDS`].
    pub(super) kind: u8,
    pub(super) merged: bool,
}

impl CachedKey {
    /// The first key `key` of the cached identity `c`, merged or the mapping's own.
    pub(super) fn of(c: Option<char>, key: &Value, merged: bool) -> CachedKey {
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
    pub(super) fn key(self) -> Value {
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
pub(super) struct Idents {
    /// A mapping node and how many of its own keys are not anchored nor aliases, sorted by node
    /// (after [`Idents::finish`]).
    pub(super) groups: Vec<(u32, u32)>,
    /// Anchored key nodes (or their aliases), sorted.
    pub(super) nodes: Vec<u32>,
    /// Cached texts, each with the first key that has it, in the order of the pairs.
    /// (Boxed: most mappings have none.)
    pub(super) cached: Option<Box<CachedKeys>>,
}

/// The first key of each cached identity (see [`Idents::cached`]).
#[derive(Debug, Clone, Default)]
pub(super) struct CachedKeys {
    pub(super) keys: Vec<CachedKey>,
    /// The texts in `keys`: bit `text`.
    pub(super) seen: [u64; 5],
}

impl Idents {
    /// Adds a cached identity, unless it is there already (the first pair of an identity is
    /// the one a merge keeps).
    pub(super) fn add_cached(&mut self, key: CachedKey) {
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
    pub(super) fn add(&mut self, other: &Idents, all: bool) {
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
    pub(super) fn cached_keys(&self) -> &[CachedKey] {
        self.cached.as_ref().map_or(&[], |c| &c.keys)
    }

    /// Sorts and drops repeats.
    pub(super) fn finish(&mut self) {
        self.groups.sort_unstable();
        self.groups.dedup_by_key(|g| g.0);
        self.groups.shrink_to_fit();
        self.nodes.sort_unstable();
        self.nodes.dedup();
        self.nodes.shrink_to_fit();
    }

    /// How many identities there are (after [`Idents::finish`]).
    pub(super) fn count(&self) -> usize {
        let groups: usize = self.groups.iter().map(|g| g.1 as usize).sum();
        groups + self.nodes.len() + self.cached_keys().len()
    }
}

/// A node number as stored in [`Idents`]: a manifest is less than 4 GiB, so it has fewer nodes.
pub(super) fn node_u32(node: usize) -> u32 {
    u32::try_from(node).unwrap_or(u32::MAX)
}
