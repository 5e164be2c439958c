//! The loader's unit tests, by concern; each case was checked against PyYAML.

mod keeping;
mod merges;
mod scalars;

use std::rc::Rc;

use super::anchors::MAX_ANCHORS;
use super::mapping::{BadKeys, keys};
use super::scalars::resolve_plain;
use super::{LoadError, Value, load, load_all};

pub(super) fn kind_of(doc: &str) -> Result<&'static str, LoadError> {
    load_all(doc).map(|v| {
        v.and_then(|v| v.get("a").map(Value::kind))
            .unwrap_or("missing")
    })
}

pub(super) fn dag_ids(doc: &str) -> (Vec<String>, BadKeys) {
    let root = load(doc).unwrap().unwrap();
    let Some(Value::Map(dags)) = root.get("dags").cloned() else {
        panic!("{root:?}")
    };
    drop(root);
    let (ids, bad) = keys(dags).unwrap();
    (ids.iter().map(str::to_owned).collect(), bad)
}

pub(super) fn rejected(doc: &str) -> bool {
    matches!(load_all(doc), Err(LoadError::Rejected(_)))
}

pub(super) fn crashes(doc: &str) -> bool {
    matches!(load_all(doc), Err(LoadError::Crashes(..)))
}
