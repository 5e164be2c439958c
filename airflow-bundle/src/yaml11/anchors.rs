//! Anchors: what an alias finds, and anchor and alias names checked as PyYAML scans them.

use super::errors::{LoadError, shorten};
use super::idents::Ident;
use super::order::Chain;
use super::value::Value;

/// The most anchors (`&name`) a manifest may define. The YAML parser keeps every anchor's name
/// and the loader its node, so without a limit a manifest of anchors would take many times its
/// size; PyYAML keeps a node object for each too. serde-saphyr, which `cargo airflow` uses for
/// its own reading of manifests, stops at the same number.
pub(crate) const MAX_ANCHORS: usize = 50_000;

/// An anchored node, for its aliases.
pub(super) struct Anchored {
    pub(super) value: Value,
    pub(super) ident: Ident,
    /// The error constructing the node itself raises (its tag, or a scalar's value), which an
    /// alias in a constructed place raises too: first there, when PyYAML gets there first, and
    /// only there when the anchor is a merge source or pair item, never constructed itself.
    /// Whether it comes only when the node's contents are built (a round later).
    pub(super) error: Option<Box<(LoadError, bool)>>,
    /// The first error building the node's contents raises, and where, relative to the node:
    /// an alias PyYAML meets first raises it from there.
    pub(super) inner: Option<Box<(Chain, LoadError)>>,
}

/// Anchor and alias names as PyYAML's scanner reads them: only ASCII letters, digits, `-` and
/// `_`, and an anchor defined once per document (the Rust parser allows more, and a redefined
/// anchor).
pub(super) struct Names<'t> {
    pub(super) text: &'t str,
    /// A character index already mapped to its byte offset.
    pub(super) at: (usize, usize),
    pub(super) anchors: std::collections::HashSet<&'t str>,
}

impl<'t> Names<'t> {
    /// The text from character `index` on (the parser's markers count characters).
    pub(super) fn text_at(&mut self, index: usize) -> &'t str {
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
    pub(super) fn check(&mut self, index: usize, sigil: char) -> Result<(), LoadError> {
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
