//! Explicit tags, as PyYAML's safe loader tells them apart.

use saphyr_parser::Tag;

/// Explicit tags, spelled out in full (`!!int` is `tag:yaml.org,2002:int`).
pub(super) enum TagKind<'a> {
    /// No tag, or the non-specific `!` (PyYAML resolves both implicitly).
    Implicit,
    /// `tag:yaml.org,2002:<suffix>`.
    Core(&'a str),
    /// Anything else; `safe_load` has no constructor for it.
    Unknown(String),
}

/// What kind of tag `tag` is, verbatim core tags aside (see [`core_suffix`]).
fn tag_kind(tag: Option<&Tag>) -> TagKind<'_> {
    match tag {
        None => TagKind::Implicit,
        Some(t) if t.is_yaml_core_schema() => TagKind::Core(t.suffix.as_str()),
        Some(t) if t.suffix.is_empty() && (t.handle == "!" || t.handle.is_empty()) => {
            TagKind::Implicit
        }
        Some(t) if t.handle.is_empty() && t.suffix == "!" => TagKind::Implicit,
        Some(t) => match t.suffix.strip_prefix("tag:yaml.org,2002:") {
            Some(_) if t.handle.is_empty() => TagKind::Unknown(t.suffix.clone()),
            _ => TagKind::Unknown(t.to_string()),
        },
    }
}

/// Verbatim `!<tag:yaml.org,2002:x>` tags come through with an empty handle.
pub(super) fn core_suffix(tag: Option<&Tag>) -> TagKind<'_> {
    if let Some(t) = tag
        && t.handle.is_empty()
        && let Some(s) = t.suffix.strip_prefix("tag:yaml.org,2002:")
    {
        return TagKind::Core(s);
    }
    tag_kind(tag)
}
