//! Package-relative paths: `/`-separated UTF-8, the form inputs are recorded under.

use std::path::{Component, Path};

use crate::Error;

/// `p` (as written in a manifest or given as an extra input) in recorded form: `.` components
/// dropped, `/` separators. Absolute paths are refused.
pub(crate) fn normalize(p: &str) -> Result<String, Error> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => {
                parts.push(s.to_str().ok_or_else(|| Error::NonUtf8Path(p.into()))?);
            }
            Component::CurDir => {}
            Component::ParentDir => parts.push(".."),
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::AbsoluteInput(p.to_owned()));
            }
        }
    }
    Ok(parts.join("/"))
}

/// `to` relative to `from` (both canonical), with `/` separators: `../shared`.
pub(crate) fn relative_to(from: &Path, to: &Path) -> Result<String, Error> {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        // Another drive (Windows): no relative path exists.
        return Err(Error::AbsoluteInput(to.display().to_string()));
    }
    let mut parts: Vec<&str> = vec![".."; a.len() - common];
    for c in &b[common..] {
        parts.push(
            c.as_os_str()
                .to_str()
                .ok_or_else(|| Error::NonUtf8Path(to.to_path_buf()))?,
        );
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_forms() {
        assert_eq!(normalize("./src//main.rs").unwrap(), "src/main.rs");
        assert_eq!(normalize("../shared/x.sql").unwrap(), "../shared/x.sql");
        assert_eq!(normalize(".").unwrap(), "");
        assert!(matches!(
            normalize("/etc/passwd"),
            Err(Error::AbsoluteInput(_))
        ));
    }

    #[test]
    fn relative_paths() {
        let r = |a: &str, b: &str| relative_to(Path::new(a), Path::new(b)).unwrap();
        assert_eq!(r("/w/app", "/w/shared"), "../shared");
        assert_eq!(r("/w/app", "/w/app/sub"), "sub");
        assert_eq!(r("/w/a/b", "/x"), "../../../x");
        assert_eq!(r("/w/app", "/w/app"), "");
    }
}
