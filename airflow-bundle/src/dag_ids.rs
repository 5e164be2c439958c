//! A compact set of dag ids: sorted by bytes, without repeats, in one buffer.
//!
//! A manifest can hold millions of one-character dag ids; a `String` each (24 bytes plus an
//! allocation) would take many times the manifest's size. [`DagIds`] keeps every id in one byte
//! buffer behind a length prefix, plus a 4-byte offset per id, and serializes as a plain list of
//! strings.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes added between two passes, at least.
const MIN_PENDING_BYTES: usize = 1 << 20;

/// Dag ids, sorted by bytes (so by code point) and without repeats.
///
/// ```
/// use airflow_bundle::dag_ids::DagIds;
///
/// let ids: DagIds = ["etl", "123", "etl"].into_iter().collect();
/// assert_eq!(ids.iter().collect::<Vec<_>>(), ["123", "etl"]);
/// assert!(ids.contains("etl"));
/// assert_eq!(serde_json::to_string(&ids).unwrap(), r#"["123","etl"]"#);
/// ```
#[derive(Clone, Default)]
pub struct DagIds {
    /// Each id as a LEB128 length and its UTF-8 bytes.
    buf: Vec<u8>,
    /// Where each id's record starts in `buf`, in the order of the ids.
    offsets: Vec<u32>,
}

impl DagIds {
    /// No ids.
    pub fn new() -> Self {
        DagIds::default()
    }

    /// How many ids there are.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The ids, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            offsets: self.offsets.iter(),
        }
    }

    /// The first id, if any.
    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }

    /// Whether `id` is one of them.
    pub fn contains(&self, id: &str) -> bool {
        self.offsets
            .binary_search_by(|o| record(&self.buf, *o).cmp(id.as_bytes()))
            .is_ok()
    }
}

/// The ids of a [`DagIds`], in order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    buf: &'a [u8],
    offsets: std::slice::Iter<'a, u32>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.offsets.next().map(|o| text(self.buf, *o))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.offsets.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.offsets.next_back().map(|o| text(self.buf, *o))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a DagIds {
    type Item = &'a str;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<S: AsRef<str>> FromIterator<S> for DagIds {
    /// Collects ids in any order, with repeats.
    ///
    /// # Panics
    ///
    /// When the ids take more than 4 GiB.
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut set = IdSet::default();
        for id in iter {
            set.insert(id.as_ref())
                .expect("dag ids collected from memory take less than 4 GiB");
        }
        set.finish()
    }
}

impl fmt::Debug for DagIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for DagIds {
    /// The same ids (however the buffers are laid out).
    fn eq(&self, other: &DagIds) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for DagIds {}

impl<const N: usize> PartialEq<[&str; N]> for DagIds {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

impl PartialEq<[&str]> for DagIds {
    fn eq(&self, other: &[&str]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

impl Serialize for DagIds {
    /// A list of strings, streamed from the buffer.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for DagIds {
    /// A list of strings, in any order; repeats are dropped.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DagIds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of dag ids")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<DagIds, A::Error> {
                let mut set = IdSet::default();
                while let Some(id) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    set.insert(&id).map_err(serde::de::Error::custom)?;
                }
                Ok(set.finish())
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

/// The ids would take more than the 4 GiB a [`DagIds`] can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the dag ids take more than 4 GiB")]
pub(crate) struct TooLarge;

/// A set being built. Ids are appended as they come, each as its length and bytes, so the
/// buffer never outgrows the text they came from; while repeats are common, passes sort the ids,
/// drop the repeats and close the gaps, so memory follows the distinct ids. Offsets (4 bytes an
/// id) exist only during a pass and in the finished [`DagIds`].
#[derive(Debug, Default, Clone)]
pub(crate) struct IdSet {
    buf: Vec<u8>,
    /// How many ids `buf` holds (repeats counted until the next pass).
    count: usize,
    /// `buf.len()` after the last pass.
    mark: usize,
    /// A pass dropped too few repeats to be worth another: the ids are mostly distinct.
    distinct: bool,
}

impl IdSet {
    /// How many ids were added (repeats counted until the next pass).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Whether no id was added.
    #[cfg(any(test, feature = "io"))]
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one id.
    pub(crate) fn insert(&mut self, id: &str) -> Result<(), TooLarge> {
        let end = self.buf.len() as u64 + 10 + id.len() as u64;
        if end > u64::from(u32::MAX) {
            return Err(TooLarge);
        }
        reserve(&mut self.buf, 10 + id.len());
        write_len(&mut self.buf, id.len());
        self.buf.extend_from_slice(id.as_bytes());
        self.count += 1;
        if !self.distinct && self.buf.len() - self.mark >= self.mark.max(MIN_PENDING_BYTES) {
            let before = self.count;
            self.pass();
            // Fewer than a quarter repeats: sorting again would cost more than it saves.
            self.distinct = self.count * 4 > before * 3;
        }
        Ok(())
    }

    /// Adds every id of `other`, reusing the bigger set's buffer.
    #[cfg_attr(not(feature = "io"), allow(dead_code))]
    pub(crate) fn absorb(&mut self, mut other: IdSet) -> Result<(), TooLarge> {
        if other.buf.len() > self.buf.len() {
            std::mem::swap(self, &mut other);
        }
        for id in other.iter() {
            self.insert(id)?;
        }
        Ok(())
    }

    /// The ids, in no particular order, with repeats since the last pass.
    #[cfg_attr(not(feature = "io"), allow(dead_code))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let mut at = 0usize;
        std::iter::from_fn(move || {
            let from = extent(&self.buf, u32::try_from(at).ok()?);
            if from.end <= at {
                return None;
            }
            at = from.end;
            Some(text(&self.buf, u32::try_from(from.start).ok()?))
        })
    }

    /// Drops the unused capacity (for a set that is complete, kept for later).
    #[cfg_attr(not(feature = "io"), allow(dead_code))]
    pub(crate) fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// The offsets of every id, sorted by id, without repeats.
    fn sorted(&self) -> Vec<u32> {
        let mut offsets = Vec::new();
        reserve(&mut offsets, self.count);
        let mut at = 0usize;
        while at < self.buf.len() {
            let Ok(offset) = u32::try_from(at) else { break };
            offsets.push(offset);
            at = extent(&self.buf, offset).end;
        }
        let buf = &self.buf;
        offsets.sort_unstable_by(|a, b| record(buf, *a).cmp(record(buf, *b)));
        offsets.dedup_by(|a, b| record(buf, *a) == record(buf, *b));
        offsets
    }

    /// Moves the ids at `offsets` down over the space of the others, in buffer order, and
    /// updates the offsets.
    fn compact(&mut self, offsets: &mut [u32]) {
        offsets.sort_unstable();
        let mut to = 0usize;
        for o in offsets.iter_mut() {
            let from = extent(&self.buf, *o);
            let len = from.len();
            self.buf.copy_within(from, to);
            // `to` only shrinks from an offset that fit in a u32.
            *o = u32::try_from(to).unwrap_or(u32::MAX);
            to += len;
        }
        self.buf.truncate(to);
        self.buf.shrink_to_fit();
    }

    /// Drops repeats and closes the gaps they leave.
    fn pass(&mut self) {
        let mut offsets = self.sorted();
        self.count = offsets.len();
        self.compact(&mut offsets);
        self.mark = self.buf.len();
    }

    /// The sorted set.
    pub(crate) fn finish(mut self) -> DagIds {
        let mut offsets = self.sorted();
        let live: usize = offsets.iter().map(|o| extent(&self.buf, *o).len()).sum();
        if live * 2 < self.buf.len() {
            self.compact(&mut offsets);
            let buf = &self.buf;
            offsets.sort_unstable_by(|a, b| record(buf, *a).cmp(record(buf, *b)));
        }
        offsets.shrink_to_fit();
        DagIds {
            buf: self.buf,
            offsets,
        }
    }
}

/// Buffers past this size reserve [`BIG_RESERVE`] bytes of address space at once.
const BIG: usize = 1 << 20;

/// Address space reserved for a big buffer: more than glibc's largest mmap threshold (32 MiB), so
/// the buffer is always mapped apart and grows in place. Grown by doubling on the heap instead,
/// each step would leave the previous buffer behind as a hole, and the process would hold about
/// twice what the set needs. Reserved space that is never written takes no memory.
const BIG_RESERVE: usize = 64 << 20;

/// Makes room for `additional` more items, reserving address space generously once the buffer is
/// big (see [`BIG_RESERVE`]).
fn reserve<T>(v: &mut Vec<T>, additional: usize) {
    if v.capacity() - v.len() >= additional {
        return;
    }
    let size = std::mem::size_of::<T>().max(1);
    let needed = v.len().saturating_add(additional);
    if needed.saturating_mul(size) < BIG {
        v.reserve(additional);
        return;
    }
    let target = needed
        .max(v.capacity().saturating_mul(2))
        .max(BIG_RESERVE / size);
    // Address space can be short (a ulimit): then grow as any vector does.
    if v.try_reserve_exact(target - v.len()).is_err() {
        v.reserve(additional);
    }
}

fn write_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = n.to_le_bytes()[0] & 0x7f;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// The byte range of the whole record (length prefix and bytes) at `at`.
fn extent(buf: &[u8], at: u32) -> std::ops::Range<usize> {
    let start = at as usize;
    let (len, prefix) = read_len(buf, start);
    start..(start + prefix + len).min(buf.len())
}

/// The id's length and the size of its prefix.
fn read_len(buf: &[u8], start: usize) -> (usize, usize) {
    let mut len = 0usize;
    let mut shift = 0u32;
    let mut i = start;
    while let Some(&byte) = buf.get(i) {
        i += 1;
        if shift < usize::BITS {
            len |= usize::from(byte & 0x7f) << shift;
        }
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    (len, i - start)
}

/// The id's bytes.
fn record(buf: &[u8], at: u32) -> &[u8] {
    let start = at as usize;
    let (len, prefix) = read_len(buf, start);
    let from = start + prefix;
    buf.get(from..from.saturating_add(len)).unwrap_or_default()
}

/// The id's text. Only whole `&str`s are ever inserted, so the bytes are UTF-8.
fn text(buf: &[u8], at: u32) -> &str {
    std::str::from_utf8(record(buf, at)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_drops_repeats_across_passes() {
        let mut set = IdSet::default();
        // Enough repeats to go through several passes (a megabyte each), and one long id.
        let long = "x".repeat(300);
        for round in 0..60 {
            for i in (0..3000).rev() {
                set.insert(&format!("id{i}")).unwrap();
            }
            set.insert(&long).unwrap();
            set.insert(if round % 2 == 0 { "" } else { "é" }).unwrap();
        }
        assert!(set.len() < 30 * 3002, "passes dropped repeats");
        assert!(!set.distinct);
        let ids = set.finish();
        assert_eq!(ids.len(), 3000 + 3);
        let all: Vec<&str> = ids.iter().collect();
        let mut expected: Vec<String> = (0..3000).map(|i| format!("id{i}")).collect();
        expected.extend([long.clone(), String::new(), "é".into()]);
        expected.sort();
        assert_eq!(all, expected);
        assert!(ids.contains("id2999") && ids.contains("") && !ids.contains("id3000"));
        assert_eq!(ids.iter().next_back(), Some("é"));
    }

    #[test]
    fn repeats_do_not_grow_the_buffer() {
        let mut set = IdSet::default();
        for _ in 0..600_000 {
            set.insert("a").unwrap();
            set.insert("b").unwrap();
        }
        assert!(set.buf.len() < 2 * MIN_PENDING_BYTES, "{}", set.buf.len());
        assert_eq!(set.finish(), ["a", "b"]);
    }

    #[test]
    fn distinct_ids_stop_the_passes() {
        let mut set = IdSet::default();
        for i in 0..400_000 {
            set.insert(&format!("{i:x}")).unwrap();
        }
        assert!(set.distinct);
        // Repeats after that are kept until the end, and never outgrow their text.
        for _ in 0..100_000 {
            set.insert("1").unwrap();
        }
        assert_eq!(set.len(), 500_000);
        let ids = set.finish();
        assert_eq!(ids.len(), 400_000);
        assert_eq!(ids.first(), Some("0"));
    }

    #[test]
    fn absorb_unites() {
        let mut a = IdSet::default();
        let mut b = IdSet::default();
        for i in 0..10 {
            a.insert(&i.to_string()).unwrap();
        }
        for i in 5..100 {
            b.insert(&i.to_string()).unwrap();
        }
        a.absorb(b).unwrap();
        assert_eq!(a.finish().len(), 100);
    }

    #[test]
    fn serializes_as_a_list() {
        let ids: DagIds = ["b", "a\u{0}", "a"].into_iter().collect();
        let json = serde_json::to_string(&ids).unwrap();
        assert_eq!(json, r#"["a","a\u0000","b"]"#);
        let back: DagIds = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ids);
        assert_eq!(format!("{ids:?}"), r#"["a", "a\0", "b"]"#);
        assert_eq!(DagIds::new().first(), None);
    }
}
