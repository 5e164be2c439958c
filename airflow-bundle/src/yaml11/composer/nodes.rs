//! Scalars and aliases: nodes complete in one event.

use std::rc::Rc;

use saphyr_parser::{ScalarStyle, Tag};

use super::super::anchors::Anchored;
use super::super::errors::{self, LoadError};
use super::super::idents::Ident;
use super::super::order::{Path, Rank, construct_error, rank};
use super::super::scalars;
use super::super::tags::{TagKind, core_suffix};
use super::super::value::{Shape, Value, empty_text};
use super::frame::{Kind, Position, Role, position};
use super::{Composer, Node};

impl Composer<'_> {
    /// A scalar `s`, starting at character `start`: typed as `safe_load` would, or its
    /// construction error kept where PyYAML meets it.
    pub(super) fn scalar(
        &mut self,
        s: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        start: usize,
    ) -> Result<Node, LoadError> {
        if anchor > 0 {
            self.names.check(start, '&')?;
        }
        let Position {
            role,
            want,
            body,
            at,
        } = position(&self.stack, anchor, self.root_want, self.ev);
        self.nodes += 1;
        let ident = Ident::of_scalar(s, self.nodes);
        let loaded = match core_suffix(tag) {
            TagKind::Core(t @ ("seq" | "map" | "set" | "omap" | "pairs")) => {
                Err((errors::generator_mismatch("scalar", t), true))
            }
            _ => scalars::scalar(s, style, tag, want.keeps_text()).map_err(|e| (e, false)),
        };
        let (value, error) = match loaded {
            Ok(v) => (v, None),
            Err((e, later)) => {
                // A merge source or pair item is never constructed: the merge or the `!!omap`
                // reports it.
                if role == Role::Constructed {
                    let r = if later {
                        rank(Some(&Rc::new(Path { up: body, at })), (0, 0))
                    } else {
                        rank(body.as_ref(), at)
                    };
                    construct_error(&mut self.event_error, r, e.clone());
                }
                (
                    Value::Other("unconstructable", empty_text()),
                    Some((e, later)),
                )
            }
        };
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: value.clone(),
                    ident: ident.clone(),
                    error: error.map(Box::new),
                    inner: None,
                },
            );
        }
        Ok(Node {
            value,
            ident,
            at,
            shared: anchor > 0,
        })
    }

    /// An alias of anchor `id`, at character `start` on `line`: the anchored node, shared.
    pub(super) fn alias(
        &mut self,
        id: usize,
        start: usize,
        line: usize,
    ) -> Result<Node, LoadError> {
        self.names.check(start, '*')?;
        let Position { role, body, at, .. } = position(&self.stack, 0, self.root_want, self.ev);
        let (value, ident) = if let Some(a) = self.anchors.get(&id) {
            if role == Role::Constructed {
                alias_errors(a, body.as_ref(), at, &mut self.event_error);
            }
            (a.value.clone(), a.ident.clone())
        } else if let Some(open) = self.stack.iter().position(|f| f.anchor == id) {
            self.recursive_alias(id, open, role)
        } else {
            return Err(errors::rejected(format!(
                "has an alias at line {line} that names no anchor"
            )));
        };
        Ok(Node {
            value,
            ident,
            at,
            shared: true,
        })
    }

    /// An alias inside its own anchor, the open collection `stack[open]`: PyYAML builds a
    /// recursive value.
    fn recursive_alias(&mut self, id: usize, open: usize, role: Role) -> (Value, Ident) {
        let f = &self.stack[open];
        let (kind, shape) = match &f.kind {
            // Its items are known when it ends: checked then, if merged.
            Kind::Seq(_) => ("list", Shape::Sequence { of_mappings: true }),
            Kind::Map(_) => (
                if f.tag == Some("set") { "set" } else { "dict" },
                Shape::Mapping,
            ),
        };
        if role == Role::MergeSource {
            // The mapping this merges into: the innermost open one.
            let merging = self
                .stack
                .iter()
                .rposition(|f| matches!(f.kind, Kind::Map(_)))
                .unwrap_or(open);
            if matches!(f.kind, Kind::Seq(_)) {
                self.open_merges
                    .push((id, rank(Some(&self.stack[merging].flatten), (0, 0))));
            }
            // Merging a mapping into itself adds no key it does not have; what any other open
            // collection brings is unknown yet.
            if (merging != open || matches!(f.kind, Kind::Seq(_)))
                && self.stack[merging].want.keeps()
            {
                self.unfollowed
                    .get_or_insert_with(|| errors::cannot_follow("a collection"));
            }
        }
        (Value::Pruned(kind, shape), Ident::Node(f.node))
    }
}

/// The errors an alias of `a` raises where it is constructed, at `at` in the collection built
/// at `body`: the anchored node's own, and the first within it (from there).
fn alias_errors(
    a: &Anchored,
    body: Option<&Rc<Path>>,
    at: (u8, usize),
    slot: &mut Option<(Rank, LoadError)>,
) {
    if let Some((e, later)) = a.error.as_deref() {
        let r = if *later {
            rank(
                Some(&Rc::new(Path {
                    up: body.cloned(),
                    at,
                })),
                (0, 0),
            )
        } else {
            rank(body, at)
        };
        construct_error(slot, r, e.clone());
    }
    if let Some((suffix, e)) = a.inner.as_deref() {
        let mut chain = rank(body, at).1;
        chain.extend_from_slice(suffix);
        construct_error(slot, (chain.len(), chain), e.clone());
    }
}
