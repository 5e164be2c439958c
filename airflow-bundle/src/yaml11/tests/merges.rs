//! Merge keys, `!!omap` items, aliases and anchors, and which error PyYAML meets first.

use super::*;

#[test]
fn merge_keys_follow_pyyaml_6_0_4() {
    // Checked against PyYAML 6.0.4, whose flatten_mapping keeps the first merged pair of
    // each key identity: different nodes with a text of two or more characters are
    // different keys (the later source wins, as in a dict), while one-character texts and
    // aliased key nodes are the same object (the first source wins).
    let get = |doc: &str, key: &str| load_all(doc).unwrap().unwrap().get(key).cloned();
    let int = |t: &str| Some(Value::Other("int", t.into()));
    assert_eq!(get("<<: [{ab: 1}, {ab: 2}]\n", "ab"), int("2"));
    assert_eq!(get("<<: [{a: 1}, {a: 2}]\n", "a"), int("1"));
    assert_eq!(get("<<: {ab: 1}\n<<: {ab: 2}\n", "ab"), int("2"));
    assert_eq!(get("<<: {a: 1}\n<<: {a: 2}\n", "a"), int("1"));
    assert_eq!(get("k: &k ab\n<<: [{*k : 1}, {*k : 2}]\n", "ab"), int("1"));
    assert_eq!(get("<<: [{é: 1}, {é: 2}]\n", "é"), int("1"));
    assert_eq!(get("<<: [{ж: 1}, {ж: 2}]\n", "ж"), int("2"));
    // Explicit keys win wherever they stand.
    assert_eq!(get("ab: 3\n<<: [{ab: 1}, {ab: 2}]\n", "ab"), int("3"));
    // A merge source is flattened first: its own pairs after its merged ones, and both
    // are merged on (so a one-character key keeps the nested merged value).
    let nested = "b: &b {<<: {ab: 1, c: 1}, ab: 2, c: 2}\n<<: *b\n";
    assert_eq!(get(nested, "ab"), int("2"));
    assert_eq!(get(nested, "c"), int("1"));
    assert_eq!(get("<<: {<<: {<<: {ab: 1}}}\n", "ab"), int("1"));
    // A `!!set` merges its keys; any tag on a merge source is ignored (never constructed).
    assert_eq!(
        get("<<: !!set {ab}\n", "ab").map(|v| v.kind()),
        Some("NoneType")
    );
    for doc in [
        "<<: !!omap [ab: 1]\n",
        "<<: !!pairs [ab: 1]\n",
        "<<: !foo {ab: 1}\n",
        "<<: !!str {ab: 1}\n",
        "<<: [!foo {ab: 1}]\n",
        "<<: !!set [{ab: 1}]\n",
        "<<: []\nab: 1\n",
    ] {
        assert_eq!(get(doc, "ab"), int("1"), "{doc:?}");
    }
    // A merge source's tag still fails where an alias constructs it.
    assert!(rejected("a: {<<: &x !foo {ab: 1}}\nb: *x\n"));
    // `<<` must hold a mapping or a list of mappings, wherever it is.
    for doc in [
        "<<: 1\n",
        "<<: ~\n",
        "x: {<<: [1]}\n",
        "x: {y: {<<: [{a: 1}, [b]]}}\n",
        "v: &v 1\nx: {<<: [*v]}\n",
        "x: !!set {<<: 1}\n",
        "x: {<<: {a: 1}, <<: 1}\n",
    ] {
        assert!(rejected(doc), "{doc:?}: {:?}", load_all(doc));
    }
    // PyYAML checks the merge before it builds the value: not a crash.
    assert!(rejected("x: {<<: !!int abc}\n"));
}

#[test]
fn omap_items_are_single_unflattened_pairs() {
    for doc in [
        "x: !!omap [{a: 1, b: 2}]\n",
        "x: !!pairs [{a: 1, b: 2}]\n",
        "x: !!omap [<<: {a: 1}]\n",
        "x: !!omap [=: 1]\n",
        "x: !!omap [1]\n",
        "x: !!omap [{}]\n",
        "m: &m {a: 1, b: 2}\nx: !!omap [*m]\n",
    ] {
        assert!(rejected(doc), "{doc:?}: {:?}", load_all(doc));
    }
    for doc in [
        "x: !!omap [? [a] : 1]\n",
        "x: !!omap [!foo {a: 1}]\n",
        "m: &m {<<: {a: 1}}\nx: !!omap [*m]\n",
    ] {
        assert_eq!(
            kind_of(&doc.replace("x:", "a:")).unwrap(),
            "list",
            "{doc:?}"
        );
    }
}

#[test]
fn recursive_aliases_load() {
    // PyYAML registers an anchor before composing its node: an alias inside it makes a
    // recursive value.
    assert_eq!(kind_of("a: &a [*a]\n").unwrap(), "list");
    assert_eq!(kind_of("a: &a {k: *a}\n").unwrap(), "dict");
    assert_eq!(kind_of("a: &a {<<: *a, y: 1}\n").unwrap(), "dict");
    assert!(rejected("a: &a {? *a : 1}\n"));
    assert!(rejected("a: &l [{<<: *l}, 1]\n"));
    // Merging an enclosing mapping into one that matters is beyond this verifier: it says
    // so rather than guess.
    let Err(LoadError::Rejected(why)) = load("--- &r\ndags: {<<: *r}\n") else {
        panic!()
    };
    assert!(why.contains("cannot follow"), "{why}");
}

#[test]
fn anchors_are_named_and_defined_as_pyyaml_scans_them() {
    for doc in [
        "a: &x 1\nb: &x 2\n",
        "a: [&x 1, &x 2]\n",
        "a: !!str &x 1\nb: !!str &x 2\n",
        "# é ж 𝄞 in a comment\nc: 'ééé 𝄞' # and ж\na: &x\n  k: 1\nb: &x\n  k: 2\n",
        "a: &a.b 1\n",
        "a: &é 1\n",
        "a: &a 1\nb: *a.b\n",
        "a: &x[1]\n",
    ] {
        let Err(LoadError::Rejected(why)) = load_all(doc) else {
            panic!("{doc:?}: {:?}", load_all(doc))
        };
        assert!(
            why.contains("anchor") || why.contains("alias"),
            "{doc:?}: {why}"
        );
    }
    assert_eq!(kind_of("x: &a-_9 1\na: *a-_9\n").unwrap(), "int");
    assert_eq!(kind_of("c: 'é𝄞'\nx: &k 1\na: *k\n").unwrap(), "int");
}

#[test]
fn the_error_pyyaml_meets_first_decides() {
    // The composer's errors come before any construction error.
    assert!(rejected("a: 2026-13-45\nb: [\n"));
    assert!(rejected("a: 2026-13-45\nb: &x 1\nc: &x 2\n"));
    // Then breadth first: the root's scalars before what nested collections hold.
    assert!(crashes("b: [!foo x]\na: 2026-13-45\n"));
    assert!(crashes("a: 2026-13-45\nb: {c: [!foo x]}\n"));
    assert!(crashes("b: {<<: 1}\na: 2026-13-45\n"));
    // Each round in the order its collections were built: `a`'s pairs before `b`'s merge.
    assert!(crashes("a: {x: 2026-13-45}\nb: {<<: 1}\n"));
    assert!(rejected("a: {x: {y: 2026-13-45}}\nb: {<<: 1}\n"));
    assert!(crashes(
        "b: {? [a] : 1}\na: {x: 2026-13-45}\nc: 2026-13-45\n"
    ));
    // A tag whose constructor builds a collection fails a round later.
    assert!(crashes("x: !!map []\na: 2026-13-45\n"));
    assert!(rejected("x: !!str []\na: 2026-13-45\n"));
    // Merged pairs are built before the mapping's own.
    assert!(rejected("sdk: !!int abc\n<<: {x: !foo 1}\n"));
    // An alias builds its anchor where PyYAML meets it first.
    assert!(crashes("z: {y: {x: &a !!int abc}, b: *a, ? [a] : 1}\n"));
}
