//! Sequences and mappings: opened on their start event, built on their end event.

use std::rc::Rc;

use saphyr_parser::Tag;

use super::super::PYYAML_MAX_DEPTH;
use super::super::anchors::Anchored;
use super::super::errors::{self, LoadError, no_constructor, shorten};
use super::super::idents::Ident;
use super::super::mapping::Sources;
use super::super::merge;
use super::super::order::{Path, construct_error, rank};
use super::super::tags::{TagKind, core_suffix};
use super::super::value::{Shape, Value};
use super::super::want::Want;
use super::frame::{Frame, Kind, MapParts, Position, Role, position};
use super::{Composer, Node};

/// A collection's tag as its constructor takes it: `omap`, `pairs` or `set` (`None` for a
/// plain list or dict), or the error and whether it comes when the contents are built.
type CollectionTag = Result<Option<&'static str>, (LoadError, bool)>;

impl Composer<'_> {
    /// A sequence (`is_seq`) or mapping starting at character `start`: a new open collection.
    pub(super) fn collection_start(
        &mut self,
        is_seq: bool,
        anchor: usize,
        tag: Option<&Tag>,
        start: usize,
    ) -> Result<(), LoadError> {
        if self.stack.len() >= PYYAML_MAX_DEPTH {
            return Err(errors::too_deep());
        }
        if anchor > 0 {
            self.names.check(start, '&')?;
        }
        let Position {
            role,
            want,
            body: parent_body,
            at,
        } = position(&self.stack, anchor, self.root_want, self.ev);
        let tag = collection_tag(is_seq, tag);
        let body = match (role, &parent_body) {
            (Role::Constructed, _) | (_, None) => Rc::new(Path {
                up: parent_body.clone(),
                at,
            }),
            (_, Some(b)) => b.clone(),
        };
        // Only a constructed node's tag matters; for the others, it matters where an alias
        // constructs them.
        let (tag, error) = match (role, tag) {
            (Role::Constructed, Ok(t)) => (t, None),
            (Role::Constructed, Err((e, later))) => {
                let r = if later {
                    rank(Some(&body), (0, 0))
                } else {
                    rank(parent_body.as_ref(), at)
                };
                construct_error(&mut self.event_error, r, e.clone());
                (None, Some((e, later)))
            }
            (_, Ok(_)) => (None, None),
            (_, Err(e)) => (None, Some(e)),
        };
        let flatten = match self.stack.last() {
            Some(p) if role == Role::MergeSource => p.flatten.clone(),
            _ => body.clone(),
        };
        self.nodes += 1;
        self.stack.push(Frame {
            kind: if is_seq {
                Kind::Seq(Sources::default())
            } else {
                Kind::Map(MapParts::default())
            },
            anchor,
            node: self.nodes,
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
        Ok(())
    }

    /// The end of the innermost open collection: its value, kept for its aliases if anchored.
    pub(super) fn collection_end(&mut self) -> Result<Node, LoadError> {
        let Some(mut frame) = self.stack.pop() else {
            return Err(errors::rejected("has unbalanced collections"));
        };
        let kind = std::mem::replace(&mut frame.kind, Kind::Seq(Sources::default()));
        let value = match kind {
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
            Kind::Map(parts) => self.mapping_end(&frame, parts)?,
        };
        let (ident, at, shared) = (Ident::Node(frame.node), frame.at, frame.anchor > 0);
        if frame.anchor > 0 {
            self.check_open_merges(&frame);
        }
        let Frame {
            anchor,
            node,
            error,
            inner,
            path,
            ..
        } = frame;
        if anchor > 0 {
            let inner_here = match (&path, &inner) {
                (Some(path), Some((r, e))) if r.1.starts_with(path) => {
                    Some((r.1[path.len()..].to_vec(), e.clone()))
                }
                _ => None,
            };
            self.anchors.insert(
                anchor,
                Anchored {
                    value: value.clone(),
                    ident: Ident::Node(node),
                    error: error.map(Box::new),
                    inner: inner_here.map(Box::new),
                },
            );
        }
        if let (Some(parent), Some((r, e))) = (self.stack.last_mut(), inner) {
            construct_error(&mut parent.inner, r, e);
        }
        Ok(Node {
            value,
            ident,
            at,
            shared,
        })
    }

    /// The anchored collection `frame` has ended: where it was merged from inside itself,
    /// every item must have been a mapping.
    fn check_open_merges(&mut self, frame: &Frame) {
        for (_, r) in self
            .open_merges
            .extract_if(.., |(id, _)| *id == frame.anchor)
        {
            if !frame.of_mappings {
                construct_error(
                    &mut self.event_error,
                    r,
                    errors::merge_not_mappings("list holding something else than mappings"),
                );
            }
        }
    }

    /// A mapping's value from its pairs: merge keys applied when it is kept, its Python type
    /// only otherwise.
    fn mapping_end(&mut self, frame: &Frame, parts: MapParts) -> Result<Value, LoadError> {
        let pairs = parts.pairs;
        if frame.role == Role::PairItem && pairs != 1 {
            construct_error(
                &mut self.event_error,
                rank(Some(&frame.body), frame.at),
                errors::rejected(format!(
                    "has an !!omap or !!pairs item with {pairs} pairs, not one"
                )),
            );
        }
        let kind = if frame.tag == Some("set") {
            "set"
        } else {
            "dict"
        };
        if !frame.want.keeps() {
            return Ok(Value::Pruned(kind, Shape::Mapping));
        }
        self.merge_budget = self
            .merge_budget
            .checked_sub(parts.merges.weight)
            .ok_or_else(errors::merge_budget_exceeded)?;
        merge::build(
            parts,
            merge::Built {
                set: frame.tag == Some("set"),
                node: frame.node,
                keeps_idents: frame.keeps_idents,
                keep_keys: frame.want.keeps_all_keys() && frame.want != Want::All,
            },
        )
        .map(|m| Value::Map(Rc::new(m)))
    }
}

/// How a sequence (`is_seq`) or mapping tagged `tag` is constructed.
fn collection_tag(is_seq: bool, tag: Option<&Tag>) -> CollectionTag {
    let node_kind = if is_seq { "sequence" } else { "mapping" };
    match (is_seq, core_suffix(tag)) {
        (true, TagKind::Implicit | TagKind::Core("seq"))
        | (false, TagKind::Implicit | TagKind::Core("map")) => Ok(None),
        (true, TagKind::Core("omap")) => Ok(Some("omap")),
        (true, TagKind::Core("pairs")) => Ok(Some("pairs")),
        (false, TagKind::Core("set")) => Ok(Some("set")),
        (_, TagKind::Core(t @ ("seq" | "map" | "set" | "omap" | "pairs"))) => {
            Err((errors::generator_mismatch(node_kind, t), true))
        }
        (_, TagKind::Core(other)) => Err((
            errors::rejected(format!(
                "has a {node_kind} tagged !!{}, which yaml.safe_load cannot construct",
                shorten(other)
            )),
            false,
        )),
        (_, TagKind::Unknown(t)) => Err((no_constructor(&t), false)),
    }
}
