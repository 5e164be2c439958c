//! The order in which PyYAML meets construction errors (see [`Rank`]).

use std::rc::Rc;

use super::errors::LoadError;

/// Where PyYAML's constructor stands: the chain of places from the document root down, each a
/// node's place among the pairs or items of the collection being built (`(0, event)` for a
/// merged pair, which comes before the mapping's own `(1, event)` ones).
pub(super) struct Path {
    pub(super) up: Option<Rc<Path>>,
    pub(super) at: (u8, usize),
}

/// When PyYAML raises a construction error. Its constructor builds breadth first: a
/// collection's pairs or items in the round after the one that built the collection (scalars
/// where they stand), each round in the order its collections were built; so a shorter
/// [`Path`] comes first, then the lexically smaller. (The composer's errors, syntax, aliases
/// and anchors, come before all of these.)
pub(super) type Rank = (usize, Chain);

/// The places of a [`Rank`], from the root down.
pub(super) type Chain = Vec<(u8, usize)>;

/// The rank of the node at `at` in the collection built at `body`.
pub(super) fn rank(body: Option<&Rc<Path>>, at: (u8, usize)) -> Rank {
    let mut chain = vec![at];
    let mut p = body;
    while let Some(node) = p {
        chain.push(node.at);
        p = node.up.as_ref();
    }
    chain.reverse();
    (chain.len(), chain)
}

/// Keeps the construction error PyYAML raises first.
pub(super) fn construct_error(slot: &mut Option<(Rank, LoadError)>, rank: Rank, e: LoadError) {
    if slot.as_ref().is_none_or(|(r, _)| rank < *r) {
        *slot = Some((rank, e));
    }
}
