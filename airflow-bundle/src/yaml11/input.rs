//! The text before the parser sees it: characters and directives PyYAML refuses, line breaks
//! and escapes the parser reads differently, and an estimate of flow nesting.

use std::sync::LazyLock;

use regex::Regex;

use super::errors::{LoadError, shorten};

/// Characters PyYAML's reader refuses anywhere in the stream (`ReaderError`).
pub(super) fn non_printable(c: char) -> bool {
    !matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks the `%YAML` directives before the first document: PyYAML refuses any major version
/// other than 1 (`%YAML 1.2` only warns).
pub(super) fn check_directives(text: &str) -> Result<(), LoadError> {
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
pub(super) static SURROGATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\(u[dD][89a-fA-F][0-9a-fA-F]{2}|U0000[dD][89a-fA-F][0-9a-fA-F]{2})")
        .expect("valid pattern")
});

/// The text as the Rust parser must see it to read it as PyYAML does, made on the fly rather
/// than copied (the text may be the whole manifest): NEL, LS and PS break lines (the parser
/// only breaks at CR and LF), and with `surrogates`, each escape [`SURROGATE`] matches is
/// replaced by the escape of U+FFFD, which types the same way. Every character stays one
/// character, so the parser's character positions are those of the text.
pub(super) struct Normalized<'a> {
    pub(super) rest: std::str::Chars<'a>,
    pub(super) surrogates: bool,
    /// The rest of a replacement escape, after its backslash.
    pub(super) queued: std::str::Chars<'static>,
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
pub(super) fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
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
