//! What changed between a recorded file list and the current one.

use std::collections::BTreeMap;
use std::fmt;

use airflow_bundle::record::FileDigest;

/// One difference between two file lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// In both, with another digest.
    Modified(String),
    /// Only in the current sources.
    Added(String),
    /// Only in the recorded list.
    Removed(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Modified(p) => write!(f, "modified: {p}"),
            Change::Added(p) => write!(f, "added: {p}"),
            Change::Removed(p) => write!(f, "removed: {p}"),
        }
    }
}

/// Names the files that differ between a recorded file list and the current one.
pub fn diff(recorded: &[FileDigest], current: &[FileDigest]) -> Vec<Change> {
    let old: BTreeMap<&str, &FileDigest> = recorded.iter().map(|f| (f.path.as_str(), f)).collect();
    let new: BTreeMap<&str, &FileDigest> = current.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut out = Vec::new();
    for (p, o) in &old {
        match new.get(p) {
            None => out.push(Change::Removed((*p).to_owned())),
            Some(n) if n.sha256 != o.sha256 || n.len != o.len => {
                out.push(Change::Modified((*p).to_owned()));
            }
            Some(_) => {}
        }
    }
    for p in new.keys() {
        if !old.contains_key(p) {
            out.push(Change::Added((*p).to_owned()));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_files() {
        let a = vec![
            FileDigest {
                path: "a".into(),
                len: 1,
                sha256: "1".into(),
            },
            FileDigest {
                path: "b".into(),
                len: 1,
                sha256: "1".into(),
            },
        ];
        let b = vec![
            FileDigest {
                path: "b".into(),
                len: 1,
                sha256: "2".into(),
            },
            FileDigest {
                path: "c".into(),
                len: 1,
                sha256: "1".into(),
            },
        ];
        assert_eq!(
            diff(&a, &b),
            [
                Change::Modified("b".into()),
                Change::Added("c".into()),
                Change::Removed("a".into())
            ]
        );
    }
}
