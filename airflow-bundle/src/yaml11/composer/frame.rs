//! An open collection on the composer's stack, and where a node starting inside it sits.

use std::rc::Rc;

use super::super::errors::LoadError;
use super::super::idents::Ident;
use super::super::mapping::{Rest, Sources};
use super::super::order::{Chain, Path, Rank};
use super::super::value::Value;
use super::super::want::Want;

/// How PyYAML uses a node where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
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

/// What an open collection has gathered so far.
pub(super) enum Kind {
    /// The mapping items, as merge sources.
    Seq(Sources),
    /// A mapping's pairs so far.
    Map(MapParts),
}

/// A key waiting for its value, its place, and whether its node is anchored (or an alias).
pub(in crate::yaml11) type Pending = (Value, Ident, (u8, usize), bool);

/// The pairs of an open mapping (see [`Kind::Map`]).
#[derive(Default)]
pub(in crate::yaml11) struct MapParts {
    /// The mapping's own pairs kept as entries (see [`Mapping`]) and their key identities.
    ///
    /// [`Mapping`]: super::super::mapping::Mapping
    pub(in crate::yaml11) own: Vec<(Value, Value)>,
    pub(in crate::yaml11) idents: Vec<Ident>,
    /// A key waiting for its value.
    pub(in crate::yaml11) pending: Option<Pending>,
    /// The merge sources (`<<` values), in order.
    pub(in crate::yaml11) merges: Sources,
    /// Every pair, kept or not.
    pub(in crate::yaml11) pairs: usize,
    /// The mapping's own kept pairs that are not entries (see [`Rest`]), how many, and how
    /// many of their key nodes are neither anchored nor aliases.
    pub(in crate::yaml11) rest: Option<Box<Rest>>,
    pub(in crate::yaml11) rest_pairs: usize,
    pub(in crate::yaml11) fresh: u32,
}

/// An open collection.
pub(super) struct Frame {
    pub(super) kind: Kind,
    pub(super) anchor: usize,
    pub(super) node: usize,
    /// What the verdict needs from this collection.
    pub(super) want: Want,
    /// `omap`/`pairs` (a list of one-pair mappings) or `set`, when constructed as one.
    pub(super) tag: Option<&'static str>,
    pub(super) role: Role,
    /// The node's place in the collection that builds it.
    pub(super) at: (u8, usize),
    /// Where this node's pairs or items are built (a merge source's and a pair item's are
    /// built by the collection they belong to).
    pub(super) body: Rc<Path>,
    /// Where `flatten_mapping` checks this mapping's merge keys, before any of its pairs
    /// (a merge source is flattened with the mapping it is merged into).
    pub(super) flatten: Rc<Path>,
    /// See [`Anchored::error`].
    ///
    /// [`Anchored::error`]: super::super::anchors::Anchored::error
    pub(super) error: Option<(LoadError, bool)>,
    /// Whether every item so far is a mapping node (sequences).
    pub(super) of_mappings: bool,
    /// Whether the mapping keeps its keys' identities (see [`Mapping::idents`]).
    ///
    /// [`Mapping::idents`]: super::super::mapping::Mapping::idents
    pub(super) keeps_idents: bool,
    /// The first construction error within this node so far.
    pub(super) inner: Option<(Rank, LoadError)>,
    /// The node's place from the root, for an anchored constructed node.
    pub(super) path: Option<Chain>,
}

/// Where a node starts: its role, the parts wanted, the place that builds it and its place
/// there.
pub(super) struct Position {
    pub(super) role: Role,
    pub(super) want: Want,
    pub(super) body: Option<Rc<Path>>,
    pub(super) at: (u8, usize),
}

/// Where a node starting now (at event `ev`) sits, inside the open collections `stack`.
pub(super) fn position(stack: &[Frame], anchor: usize, root_want: Want, ev: usize) -> Position {
    let Some(f) = stack.last() else {
        let want = if anchor > 0 && root_want != Want::All {
            Want::Any
        } else {
            root_want
        };
        return Position {
            role: Role::Constructed,
            want,
            body: None,
            at: (1, ev),
        };
    };
    let role = match &f.kind {
        Kind::Seq(_) if f.role == Role::MergeSource => Role::MergeSource,
        Kind::Seq(_) if matches!(f.tag, Some("omap" | "pairs")) => Role::PairItem,
        Kind::Map(MapParts {
            pending: Some((Value::Other("merge", _), ..)),
            ..
        }) if f.role != Role::PairItem => Role::MergeSource,
        _ => Role::Constructed,
    };
    let want = if anchor > 0 && f.want != Want::All {
        Want::Any
    } else {
        match &f.kind {
            Kind::Seq(_) => f.want.item(),
            // A key: its text, when the mapping is kept at all.
            Kind::Map(MapParts { pending: None, .. }) if f.want == Want::All => Want::All,
            Kind::Map(MapParts { pending: None, .. }) if f.want.keeps() => Want::Scalar,
            Kind::Map(MapParts { pending: None, .. }) => Want::None,
            Kind::Map(MapParts {
                pending: Some((k, ..)),
                ..
            }) => f.want.value(k),
        }
    };
    // A merge source's pairs are built among the merging mapping's, before its own.
    let section = u8::from(f.role != Role::MergeSource);
    Position {
        role,
        want,
        body: Some(f.body.clone()),
        at: (section, ev),
    }
}
