//! The composer: PyYAML's composer and safe constructor in one pass over the parser's events,
//! keeping only what a verdict can look at (see [`Want`]) and the construction error PyYAML
//! meets first (see [`Rank`]).
//!
//! One method per kind of event: [`Composer::document_start`], [`Composer::scalar`],
//! [`Composer::alias`], [`Composer::collection_start`] and [`Composer::collection_end`] (for
//! sequences and mappings alike); a complete node is then [`Composer::attach`]ed to the
//! collection it is in, or becomes the root.

mod attach;
mod collections;
mod frame;
mod nodes;

use std::collections::HashMap;

use saphyr_parser::{Event, Input, Parser, Span};

use super::MERGE_BUDGET;
use super::anchors::{Anchored, MAX_ANCHORS, Names};
use super::errors::{self, LoadError};
use super::idents::Ident;
use super::order::{Rank, construct_error};
use super::value::Value;
use super::want::Want;
use frame::Frame;
pub(super) use frame::MapParts;

/// Loads the events of `parser`, which reads `text` (or [`Normalized`] `text`).
///
/// [`Normalized`]: super::input::Normalized
pub(super) fn load_events<T: Input>(
    parser: Parser<'_, T>,
    text: &str,
    root_want: Want,
) -> Result<Option<Value>, LoadError> {
    let mut composer = Composer::new(text, root_want);
    for (ev, item) in parser.enumerate() {
        let (event, span) = item.map_err(|e| errors::not_parsed(&e, text))?;
        composer.event(ev, event, span)?;
    }
    composer.finish()
}

/// A node just complete, for the collection it is in.
struct Node {
    value: Value,
    ident: Ident,
    /// Its place in the collection that builds it.
    at: (u8, usize),
    /// Whether the node is anchored or an alias: its identity may recur elsewhere.
    shared: bool,
}

/// The state of one pass over a document's events.
struct Composer<'t> {
    /// What the verdict needs from the root.
    root_want: Want,
    /// The open collections, outermost first.
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    names: Names<'t>,
    documents: usize,
    root: Option<Value>,
    /// What merge keys may still copy (see [`MERGE_BUDGET`]).
    merge_budget: usize,
    first_error: Option<(Rank, LoadError)>,
    /// A merge this verifier cannot follow: reported when nothing else fails.
    unfollowed: Option<LoadError>,
    /// Open lists merged from inside themselves, with the rank of the merge: every item must
    /// turn out to be a mapping.
    open_merges: Vec<(usize, Rank)>,
    /// Nodes started so far (a node's number is its identity).
    nodes: usize,
    /// The number of the event being read.
    ev: usize,
    /// A construction error the event being read finds, kept for the whole document and for
    /// the collection it is in (an alias elsewhere may build that one first).
    event_error: Option<(Rank, LoadError)>,
}

impl<'t> Composer<'t> {
    /// Ready for the events of `text`, wanting `root_want` of the root.
    fn new(text: &'t str, root_want: Want) -> Composer<'t> {
        Composer {
            root_want,
            stack: Vec::new(),
            anchors: HashMap::new(),
            names: Names {
                text,
                at: (0, 0),
                anchors: std::collections::HashSet::default(),
            },
            documents: 0,
            root: None,
            merge_budget: MERGE_BUDGET,
            first_error: None,
            unfollowed: None,
            open_merges: Vec::new(),
            nodes: 0,
            ev: 0,
            event_error: None,
        }
    }

    /// Reads event number `ev`, which starts at `span`.
    fn event(&mut self, ev: usize, event: Event<'_>, span: Span) -> Result<(), LoadError> {
        self.ev = ev;
        self.event_error = None;
        let pushed = self.stack.len();
        let anchor = match &event {
            Event::Scalar(_, _, a, _) | Event::SequenceStart(a, _) | Event::MappingStart(a, _) => {
                *a
            }
            _ => 0,
        };
        if anchor > MAX_ANCHORS {
            return Err(errors::too_many_anchors());
        }
        let start = span.start.index();
        let done = match event {
            Event::DocumentStart(_) => {
                self.document_start()?;
                None
            }
            Event::Scalar(s, style, anchor, tag) => {
                Some(self.scalar(&s, style, anchor, tag.as_deref(), start)?)
            }
            Event::Alias(id) => Some(self.alias(id, start, span.start.line())?),
            Event::SequenceStart(anchor, tag) => {
                self.collection_start(true, anchor, tag.as_deref(), start)?;
                None
            }
            Event::MappingStart(anchor, tag) => {
                self.collection_start(false, anchor, tag.as_deref(), start)?;
                None
            }
            Event::SequenceEnd | Event::MappingEnd => Some(self.collection_end()?),
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
        };
        if let Some(node) = done {
            self.attach(node)?;
        }
        self.settle(pushed);
        Ok(())
    }

    /// `---` (or the implicit start of the first document).
    fn document_start(&mut self) -> Result<(), LoadError> {
        self.documents += 1;
        if self.documents > 1 {
            return Err(errors::rejected(
                "holds more than one YAML document; yaml.safe_load expects a single document",
            ));
        }
        Ok(())
    }

    /// Keeps the event's construction error for the document and for its collection: the
    /// parent of one that just started (the stack was `pushed` long before), else the
    /// innermost.
    fn settle(&mut self, pushed: usize) {
        let Some((r, e)) = self.event_error.take() else {
            return;
        };
        let owner = if self.stack.len() > pushed {
            self.stack.len().checked_sub(2)
        } else {
            self.stack.len().checked_sub(1)
        };
        if let Some(f) = owner.and_then(|i| self.stack.get_mut(i)) {
            construct_error(&mut f.inner, r.clone(), e.clone());
        }
        construct_error(&mut self.first_error, r, e);
    }

    /// The document, or the error PyYAML meets first.
    fn finish(self) -> Result<Option<Value>, LoadError> {
        match (self.first_error, self.unfollowed) {
            (Some((_, e)), _) | (None, Some(e)) => Err(e),
            (None, None) => Ok(self.root),
        }
    }
}
