//! One stable sort for every caller in a bundle.
//!
//! Each `sort`/`sort_by`/`sort_by_key` on a slice of another element type, or with another
//! closure, is a copy of the standard library's stable sort (5 to 9 KB of machine code each),
//! and airflow-sdk compiles into every bundle. [`sort_by`] sorts the positions `0..len` with a
//! comparator behind `dyn`: the standard sort is instantiated once, for `usize`, whatever is
//! sorted, and the items are then moved into that order. Same result as `slice::sort_by`
//! (stable), for lists as short as a bundle's declarations.

use std::cmp::Ordering;

/// The positions `0..len` in the order that sorts them stably by `cmp`.
fn order(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

/// Sorts `items` stably by `cmp`, as `items.sort_by(cmp)` does, without a copy of the sort of
/// its own.
pub fn sort_by<T>(items: &mut Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) {
    let order = order(items.len(), &|a, b| cmp(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_as_the_standard_sort() {
        let items: Vec<(u8, usize)> = [3, 1, 2, 1, 3, 0, 2, 2]
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, i))
            .collect();
        let mut expected = items.clone();
        expected.sort_by_key(|&(k, _)| k);
        let mut sorted = items;
        sort_by(&mut sorted, |a, b| a.0.cmp(&b.0));
        assert_eq!(sorted, expected);
        let mut empty: Vec<String> = Vec::new();
        sort_by(&mut empty, Ord::cmp);
        assert!(empty.is_empty());
    }
}
