//! What the loader keeps of a document, and what that costs: only what a verdict reads, shared
//! aliases, keys counted compactly, and the anchor limit.

use super::*;

#[test]
fn only_what_a_verdict_reads_is_kept() {
    let doc = "base: &b {dags: {x: {tasks: [t]}}, sdk: {supervisor_schema_version: \"2026-06-16\", v: 1}}\n\
               <<: *b\n\
               extra: {k: [1, 2], s: text}\n\
               dags: {<<: [{y: 1}], z: {tasks: [a]}}\n";
    let v = load(doc).unwrap().unwrap();
    assert_eq!(v.get("extra"), None);
    assert_eq!(v.get("base"), None);
    let Some(Value::Map(dags)) = v.get("dags") else {
        panic!("{v:?}")
    };
    // Dag ids are kept as keys only, values not at all.
    assert!(dags.entries().is_empty(), "{dags:?}");
    let (ids, bad) = keys(Rc::clone(dags)).unwrap();
    assert_eq!(ids, ["y", "z"]);
    assert_eq!(bad.count, 0);
    let sdk = v.get("sdk").unwrap();
    assert_eq!(
        sdk.get("supervisor_schema_version"),
        Some(&Value::Str("2026-06-16".into()))
    );
    assert_eq!(sdk.get("v"), None);
    // An anchored mapping used as `dags` keeps its keys.
    let v = load("d: &d {a: 1, b: [x]}\ndags: *d\n").unwrap().unwrap();
    let Some(Value::Map(dags)) = v.get("dags") else {
        panic!("{v:?}")
    };
    assert_eq!(dags.len, 2);
    assert_eq!(keys(Rc::clone(dags)).unwrap().0, ["a", "b"]);
    // What is dropped is still checked for what makes safe_load raise.
    assert!(matches!(
        load("extra: {k: 2026-13-45}\n"),
        Err(LoadError::Crashes(..))
    ));
    assert!(matches!(
        load("extra: [[[*nope]]]\n"),
        Err(LoadError::Rejected(_))
    ));
}

#[test]
fn aliases_share_instead_of_copying() {
    // Ten levels of ten aliases each: 10^10 leaves if expanded.
    let mut doc = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..=10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        doc.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    doc.push_str("a: *l10\n");
    assert_eq!(kind_of(&doc).unwrap(), "list");
}

#[test]
fn dag_keys_unite_merges_and_aliases() {
    let doc = "a: &a {x: 1, y: 2}\n\
               b: &b [{y: 1, z: 2}, *a]\n\
               k: &k w\n\
               n: &n 7\n\
               dags: {<<: [*a, {q: 1}], <<: *b, <<: {v: 1}, *k : 1, *n : 2, u: 3, u: 4, ~: 5, dags: 6}\n";
    let (ids, bad) = dag_ids(doc);
    assert_eq!(ids, ["dags", "q", "u", "v", "w", "x", "y", "z"]);
    assert_eq!(bad.count, 2);
    assert_eq!(
        bad.examples,
        ["\"7\" loads as int", "\"~\" loads as NoneType"]
    );
}

#[test]
fn merged_keys_with_a_cached_identity_are_the_first_ones() {
    // `1` and `'1'` are one identity (CPython caches one-character texts): PyYAML 6.0.4
    // keeps the first merged one, whatever its type; the mapping's own keys all stay.
    let (ids, bad) = dag_ids("dags: {<<: [{1: {}}, {'1': {}}]}\n");
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(bad.examples, ["\"1\" loads as int"]);
    let (ids, bad) = dag_ids("dags: {<<: [{'1': {}}, {1: {}}]}\n");
    assert_eq!(ids, ["1"]);
    assert_eq!(bad.count, 0);
    let (ids, bad) = dag_ids("a: &a {1: x}\ndags: {<<: [*a, {'1': {}}], '1': 2, 1: 3}\n");
    assert_eq!(ids, ["1"]);
    assert_eq!(bad.count, 2);
    let (ids, _) = dag_ids("a: &a {<<: {'': 1}, ab: 2}\ndags: {<<: [*a, {~: 1}]}\n");
    assert_eq!(ids, ["", "ab"]);
}

#[test]
fn merged_pairs_are_counted_by_identity_without_being_copied() {
    // What a merge copies in PyYAML 6.0.4 (the first pair of each key identity), counted on
    // the compact form: one-character keys are one identity, so ten levels of ten merges
    // stay ten pairs; longer keys are one per node.
    let mut doc =
        String::from("m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n");
    for i in 1..=10 {
        let refs = vec![format!("*m{}", i - 1); 10].join(", ");
        doc.push_str(&format!("m{i}: &m{i} {{<<: [{refs}]}}\n"));
    }
    doc.push_str("dags: *m10\n");
    let (ids, _) = dag_ids(&doc);
    assert_eq!(ids.len(), 10);
    let root = load(&doc).unwrap().unwrap();
    let Some(Value::Map(m)) = root.get("dags") else {
        panic!()
    };
    assert_eq!(m.len, 10);
    let doc = "a: &a {ab: 1, cd: 2}\nb: &b {ab: 1}\nc: &c {<<: [*a, *b, *a]}\nd: !!omap [*c]\n";
    let Err(LoadError::Rejected(why)) = load(doc) else {
        panic!()
    };
    assert!(why.contains("one-pair"), "{why}");
    // The budget counts what PyYAML copies, repeats counted: 4 000 001 pairs.
    let mut doc = String::from("m0: &m0 {");
    doc.push_str(
        &(0..1000)
            .map(|i| format!("k{i}: 1"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    doc.push_str("}\nm1: &m1 {<<: [");
    doc.push_str(&vec!["*m0"; 2000].join(", "));
    doc.push_str("]}\nm2: &m2 {<<: [");
    doc.push_str(&vec!["*m0"; 2001].join(", "));
    doc.push_str("]}\n");
    let Err(LoadError::Rejected(why)) = load(&doc) else {
        panic!()
    };
    assert!(why.contains("expands merge keys"), "{why}");
}

#[test]
fn repeated_keys_and_aliases_cost_nothing_per_repeat() {
    // Repeated keys: the key set drops them in passes (see dag_ids), and the ids are right.
    let (ids, _) = dag_ids(&format!("dags: {{{}}}\n", "a, b, ".repeat(50_000)));
    assert_eq!(ids, ["a", "b"]);
    // Merging the same anchor many times refers to it once.
    let doc = format!(
        "a: &a {{x: 1}}\ndags: {{<<: [{}]}}\n",
        "*a, ".repeat(20_000)
    );
    let root = load(&doc).unwrap().unwrap();
    let Some(Value::Map(dags)) = root.get("dags") else {
        panic!()
    };
    assert_eq!(dags.rest.as_ref().unwrap().refs.len(), 1);
    // A list of empty mappings holds nothing per item.
    let doc = format!(
        "e: &e [{}]\ndags: {{<<: *e, d: 1}}\n",
        "{}, ".repeat(20_000)
    );
    let root = load(&doc).unwrap().unwrap();
    let Some(Value::Map(dags)) = root.get("dags") else {
        panic!()
    };
    assert_eq!(dags.rest.as_ref().unwrap().refs.len(), 0);
    assert_eq!(dag_ids(&doc).0, ["d"]);
}

#[test]
fn anchors_are_limited() {
    let mut doc = String::from("x: [");
    for i in 0..=MAX_ANCHORS {
        doc.push_str(&format!("&a{i} 1,"));
    }
    doc.push_str("]\n");
    let e = load(&doc).unwrap_err();
    assert!(
        matches!(&e, LoadError::Rejected(why) if why.contains("more than 50000 anchors")),
        "{e:?}"
    );
    // Up to the limit, they load.
    let doc = doc.replacen(&format!("&a{MAX_ANCHORS} 1,"), "", 1);
    assert!(load(&doc).is_ok());
}
