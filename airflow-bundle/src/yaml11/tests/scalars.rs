//! Scalars and the text around them: types, tags, what PyYAML refuses or raises on, and the
//! messages that say so.

use super::*;

#[test]
fn plain_scalars_resolve_like_pyyaml() {
    for (text, kind) in [
        ("123", "int"),
        ("1_000", "int"),
        ("0x1f", "int"),
        ("017", "int"),
        ("1:30", "int"),
        ("1.5", "float"),
        (".inf", "float"),
        ("1e3", "str"),
        ("yes", "bool"),
        ("On", "bool"),
        ("y", "str"),
        ("null", "NoneType"),
        ("~", "NoneType"),
        ("", "NoneType"),
        ("2026-01-01", "timestamp"),
        ("2001-12-14t21:59:43.10-05:00", "timestamp"),
        ("=", "value"),
        ("<<", "merge"),
        ("café", "str"),
        ("etl_daily", "str"),
    ] {
        assert_eq!(resolve_plain(text), kind, "{text:?}");
    }
}

#[test]
fn quoting_and_tags_decide_strings() {
    let v = load_all("a: \"2026-06-16\"\nb: 2026-06-16\nc: !!str 123\nd: '123'\ne: ! '12'\n")
        .unwrap()
        .unwrap();
    assert_eq!(v.get("a"), Some(&Value::Str("2026-06-16".into())));
    assert_eq!(v.get("b").unwrap().kind(), "timestamp");
    assert_eq!(v.get("c"), Some(&Value::Str("123".into())));
    assert_eq!(v.get("d"), Some(&Value::Str("123".into())));
    // The non-specific tag resolves implicitly, even quoted (checked against PyYAML).
    assert_eq!(v.get("e").unwrap().kind(), "int");
    assert_eq!(kind_of("a: !<tag:yaml.org,2002:str> 1").unwrap(), "str");
    assert_eq!(
        kind_of("%TAG !e! tag:yaml.org,2002:\n---\na: !e!int 1").unwrap(),
        "int"
    );
}

#[test]
fn refuses_what_safe_load_refuses() {
    for doc in [
        "a: 1\n---\nb: 2\n",
        "a: !python/object 1\n",
        "a: !!python/name:os.system 1\n",
        "a: !foo 1\n",
        "[a: [b",
        "a: \u{1}\n",
        "a: \u{FFFE}\n",
        "a: \u{7F}\n",
        "%YAML 2.0\n---\na: 1\n",
        "a: =\n",
        "a: <<\n",
        "a: [=]\n",
        "<<: 1\n",
        "a: !!binary 'YQ'\n",
        "a: !!str [1]\n",
        "a: !!seq x\n",
        "a: !!omap {a: 1}\n",
        "? [a]\n: 1\n",
        "? !!set {x}\n: 1\n",
    ] {
        assert!(
            matches!(load_all(doc), Err(LoadError::Rejected(_))),
            "{doc:?}: {:?}",
            load_all(doc)
        );
    }
    assert_eq!(load_all("").unwrap(), None);
}

#[test]
fn finds_what_makes_safe_load_raise_outside_yaml_error() {
    for doc in [
        "2026-13-45: a\n",
        "a: 2026-02-29\n",
        "a: 2024-02-29 25:00:00\n",
        "a: 2024-02-29 23:00:00 +25\n",
        "a: 0000-01-01\n",
        "a: 0b_\n",
        "a: 0x_\n",
        "a: !!int abc\n",
        "a: !!bool x\n",
        "a: !!float ''\n",
    ] {
        assert!(
            matches!(load_all(doc), Err(LoadError::Crashes(..))),
            "{doc:?}: {:?}",
            load_all(doc)
        );
    }
    let long = format!("a: {}\n", "1".repeat(4301));
    assert!(matches!(load_all(&long), Err(LoadError::Crashes(..))));
    let ok = format!("a: {}\n", "1".repeat(4300));
    assert_eq!(kind_of(&ok).unwrap(), "int");
    let deep = format!("a:\n{}x\n", "- ".repeat(1000));
    assert!(
        matches!(load_all(&deep), Err(LoadError::Crashes(..))),
        "{:?}",
        load_all(&deep)
    );
}

#[test]
fn accepts_what_safe_load_accepts() {
    assert_eq!(kind_of("a: 2024-02-29\n").unwrap(), "timestamp");
    assert_eq!(kind_of("a: !!float 1\n").unwrap(), "float");
    assert_eq!(kind_of("a: !!int ' 12'\n").unwrap(), "int");
    assert_eq!(kind_of("a: !!binary 'YW=='\n").unwrap(), "bytes");
    assert_eq!(kind_of("a: !!set {x}\n").unwrap(), "set");
    assert_eq!(kind_of("a: !!omap [b: 1]\n").unwrap(), "list");
    assert_eq!(kind_of("a: \"\\ud800\"\n").unwrap(), "str");
    assert_eq!(kind_of("%YAML 1.2\n---\na: x\n").unwrap(), "str");
    assert_eq!(kind_of("b: 1\u{85}a: 2\n").unwrap(), "int");
    assert_eq!(kind_of("b: 1\u{2028}a: 2\n").unwrap(), "int");
    // `=` is a string as a key.
    let v = load_all("=: 1\n").unwrap().unwrap();
    assert_eq!(v.get("="), Some(&Value::Other("int", "1".into())));
    // Merge keys: own keys override, earlier sources override later ones.
    let v = load_all("<<: [{a: 1, b: x}, {a: 2, c: y}]\nb: z\n")
        .unwrap()
        .unwrap();
    assert_eq!(v.get("a"), Some(&Value::Other("int", "1".into())));
    assert_eq!(v.get("b"), Some(&Value::Str("z".into())));
    assert_eq!(v.get("c"), Some(&Value::Str("y".into())));
    let deep = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
    assert_eq!(kind_of(&deep).unwrap(), "list");
    let deep = format!("a:\n{}x\n", "- ".repeat(400));
    assert_eq!(kind_of(&deep).unwrap(), "list");
}

#[test]
fn messages_quote_at_most_a_little_of_the_text() {
    let long = "9".repeat(1_000_000);
    for doc in [
        format!("a: !!int x{long}\n"),
        format!("a: !!float x{long}\n"),
        format!("a: !!bool x{long}\n"),
        format!("a: !{long} 1\n"),
        format!("%YAML {long}\n---\na: 1\n"),
    ] {
        let e = load(&doc).unwrap_err();
        let (LoadError::Rejected(why) | LoadError::Crashes(_, why)) = &e;
        assert!(why.len() < 400, "{}", &why[..400]);
    }
}

#[test]
fn line_breaks_and_surrogates_are_read_without_a_copy_of_the_text() {
    let v = load_all("a: \"\\ud800\"\u{85}b: \"\\U0000DFFF\"\n")
        .unwrap()
        .unwrap();
    assert_eq!(v.get("a"), Some(&Value::Str("\u{fffd}".into())));
    assert_eq!(v.get("b"), Some(&Value::Str("\u{fffd}".into())));
    // The replacement is textual, as it always was: a single-quoted `\ud800` reads as
    // `\uFFFD` (a str either way).
    let v = load_all("a: \"\\ud800\"\nb: '\\ud800'\n").unwrap().unwrap();
    assert_eq!(v.get("b"), Some(&Value::Str("\\uFFFD".into())));
}
