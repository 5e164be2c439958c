//! Text from files under inspection (dag ids, manifests, sources, file names) is untrusted: a
//! manifest could carry ESC sequences that rewrite the terminal, a CR that hides a line, a NUL.
//! Everything printed from such a file goes through here.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Whether `c` must not reach a terminal raw: C0 controls other than tab and newline, DEL, C1
/// controls, and the bidirectional overrides that reorder what is displayed.
fn dangerous(c: char, keep_newlines: bool) -> bool {
    match c {
        '\n' | '\t' => !keep_newlines,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

fn escape_with(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| dangerous(c, keep_newlines)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if dangerous(c, keep_newlines) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line's worth of untrusted text: every control character (newlines too) as `\u{..}`.
pub fn line(s: &str) -> Cow<'_, str> {
    escape_with(s, false)
}

/// A writer that turns untrusted bytes into text as they stream through: invalid UTF-8 as
/// U+FFFD, controls escaped, newlines and tabs kept so a manifest or source still reads as
/// itself. It holds at most the 3 bytes of a UTF-8 sequence split across writes (and one
/// write's worth of escaped text). Call [`BlockWriter::finish`].
pub struct BlockWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> BlockWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        BlockWriter {
            inner,
            pending: Vec::new(),
        }
    }

    /// Writes what is left of a cut-off UTF-8 sequence (as U+FFFD) and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            self.inner.write_all("\u{fffd}".as_bytes())?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for BlockWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    self.inner.write_all(escape_with(s, true).as_bytes())?;
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    let s = std::str::from_utf8(&self.pending[start..start + valid])
                        .unwrap_or_default();
                    self.inner.write_all(escape_with(s, true).as_bytes())?;
                    start += valid;
                    match e.error_len() {
                        Some(n) => {
                            self.inner.write_all("\u{fffd}".as_bytes())?;
                            start += n;
                        }
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..start);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(line("etl_daily"), Cow::Borrowed(_)));
        assert_eq!(line("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(line("a\rb\nc\0"), "a\\u{d}b\\u{a}c\\u{0}");
        assert_eq!(line("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(line("café"), "café");
        let mut w = BlockWriter::new(Vec::new());
        w.write_all(b"k: v\n\tx\x1b]0;title\x07\xff\n").unwrap();
        assert_eq!(
            String::from_utf8(w.finish().unwrap()).unwrap(),
            "k: v\n\tx\\u{1b}]0;title\\u{7}\u{fffd}\n"
        );
        // Split anywhere, the streaming writer gives the same text.
        let input = "é\x1b€\n".as_bytes();
        for cut in 0..input.len() {
            let mut w = BlockWriter::new(Vec::new());
            w.write_all(&input[..cut]).unwrap();
            w.write_all(&input[cut..]).unwrap();
            let out = String::from_utf8(w.finish().unwrap()).unwrap();
            assert_eq!(out, "é\\u{1b}€\n", "cut at {cut}");
        }
    }
}
