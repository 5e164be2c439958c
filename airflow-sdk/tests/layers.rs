//! The crate's layer order, enforced: every module sits on a floor (the table below, the same
//! as the ARCHITECTURE section of README.md), and no module's code may name a module on a
//! higher floor. The test reads the sources: every `crate::…`, `super::…` and child-module
//! path outside comments and `#[cfg(test)] mod tests`, resolved to the module it names. A new
//! module must be given a floor here, so the rule cannot rot silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Module path (`""` is the crate root) → floor, bottom first. Floor 0 is the `airflow-protocol`
/// crate and the crate's constants, which everything may use.
const FLOORS: &[(&str, u8)] = &[
    // 1: plain data, no I/O.
    ("error", 1),
    ("suspend", 1),
    ("connection", 1),
    ("declare", 1),
    // 2: the protocol's messages as this runtime sends them (dags serialized from declarations).
    ("runtime::messages", 2),
    ("runtime::native", 2),
    ("runtime::handlers", 2),
    // 3: the channel to the supervisor, and the signals that end its waits.
    ("transport", 3),
    ("runtime::comms", 3),
    ("runtime::signals", 3),
    // 4: the task log.
    ("runtime::logging", 4),
    // 5: what a task can see and do.
    ("context", 5),
    ("context::args", 5),
    ("context::asset_alias", 5),
    ("context::asset_state", 5),
    ("context::assets", 5),
    ("context::connections", 5),
    ("context::hitl", 5),
    ("context::rendered", 5),
    ("context::runs", 5),
    ("context::secrets", 5),
    ("context::sensor", 5),
    ("context::state", 5),
    ("context::variables", 5),
    ("context::xcom", 5),
    ("storage", 5),
    // 6: running one task (the runtime's and the harness's one path).
    ("runtime::task", 6),
    ("runtime::timeout", 6),
    // 7: declaring a bundle; 8: async tasks on top of it.
    ("bundle", 7),
    ("asyncs", 8),
    // 9: the runtime under Airflow's supervisor.
    ("runtime", 9),
    ("runtime::exit", 9),
    ("runtime::identity", 9),
    // 10: the entry points.
    ("cli", 10),
    ("testing", 10),
    ("testing::logs", 10),
    ("testing::supervisor", 10),
    ("__fuzz", 10),
    ("", 10),
];

/// Root names that are no module of this crate's: constants of lib.rs and re-exports of other
/// crates, on floor 0.
const GROUND: &[&str] = &[
    "VERSION",
    "METADATA_VERSION",
    "SUPERVISOR_SCHEMA_VERSION",
    "SchemaVersion",
    "UnknownSchemaVersion",
    "Schedule",
    "TaskSettings",
    "TriggerRule",
    "log",
    "time",
];

fn floor_of(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

/// The module a source file defines (`runtime/comms.rs` → `runtime::comms`).
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    if parts.last().map(String::as_str) == Some("fuzzing") {
        // lib.rs mounts src/fuzzing.rs as `__fuzz`.
        return "__fuzz".to_owned();
    }
    parts.join("::")
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests` block (by
/// this crate's convention the last item of a file).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths named after `prefix::` in `code`: `a::b::C` gives `["a", "b", "C"]`; a brace
/// group gives one path per member (`{a, b::c}` gives `a` and `b::c`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let needle = format!("{prefix}::");
    let mut rest = code;
    while let Some(at) = rest.find(&needle) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + needle.len()..];
        // `$crate::` in macros, or a longer identifier ending in the prefix.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        collect(rest, &mut Vec::new(), &mut out);
    }
    out
}

/// Reads one path (or brace group) at the start of `s`, appending the full paths to `out`.
fn collect(s: &str, base: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let s = s.trim_start();
    if let Some(group) = s.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    collect(&group[start..i], &mut base.clone(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    collect(&group[start..i], &mut base.clone(), out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let ident: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if ident.is_empty() {
        if !base.is_empty() {
            out.push(base.clone());
        }
        return;
    }
    base.push(ident.clone());
    match s[ident.len()..].strip_prefix("::") {
        Some(more) => collect(more, base, out),
        None => out.push(base.clone()),
    }
}

/// The module a path from the crate root names: its longest prefix that is a module.
fn resolve(path: &[String], root_items: &BTreeMap<String, String>) -> Option<String> {
    for n in (1..=path.len()).rev() {
        let candidate = path[..n].join("::");
        if floor_of(&candidate).is_some() && !candidate.is_empty() {
            return Some(candidate);
        }
    }
    let first = path.first()?;
    if GROUND.contains(&first.as_str()) {
        return None;
    }
    root_items.get(first).cloned()
}

/// Where each name the root re-exports comes from (`pub use context::{TaskContext, ...}`).
fn root_items(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for path in paths_after(
        &format!(" {}", code_of(lib).replace("pub use ", "pub use self::")),
        "self",
    ) {
        if let [module @ .., name] = path.as_slice() {
            out.insert(name.clone(), module.join("::"));
        }
    }
    out
}

/// Every import that goes up: `module (floor) -> target (floor)`, for the sources `files`
/// (path relative to src/, text).
fn violations(files: &[(PathBuf, String)]) -> Vec<String> {
    let lib = files
        .iter()
        .find(|(p, _)| p == Path::new("lib.rs"))
        .map(|(_, t)| t.as_str())
        .unwrap_or("");
    let roots = root_items(lib);
    let mut problems = Vec::new();
    for (path, text) in files {
        let module = module_of(path);
        let Some(floor) = floor_of(&module) else {
            problems.push(format!(
                "src/{} (module `{module}`) has no floor: add it to FLOORS in tests/layers.rs and to \
                 the ARCHITECTURE section of README.md",
                path.display()
            ));
            continue;
        };
        let code = code_of(text);
        let parent: Vec<String> = module.split("::").map(str::to_owned).collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        let mut named = Vec::new();
        for p in paths_after(&code, "crate") {
            named.push(p);
        }
        for p in paths_after(&code, "super") {
            named.push(parent.iter().cloned().chain(p).collect());
        }
        for p in paths_after(&code, "self") {
            named.push(module.split("::").map(str::to_owned).chain(p).collect());
        }
        // `use child::...` in a module with children.
        for line in code.lines().map(str::trim) {
            let Some(rest) = line
                .strip_prefix("use ")
                .or(line.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let first: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let child = if module.is_empty() {
                first.clone()
            } else {
                format!("{module}::{first}")
            };
            if floor_of(&child).is_some() && rest[first.len()..].starts_with("::") {
                let mut p: Vec<String> = child.split("::").map(str::to_owned).collect();
                p.push(String::new());
                named.push(p);
            }
        }
        for p in named {
            let p: Vec<String> = p.into_iter().filter(|s| !s.is_empty()).collect();
            let Some(target) = resolve(&p, &roots) else {
                continue;
            };
            // A module may use its own children (they are on its floor or below by the table).
            let Some(target_floor) = floor_of(&target) else {
                continue;
            };
            if target_floor > floor && !target.starts_with(&format!("{module}::")) {
                problems.push(format!(
                    "src/{}: `{module}` (floor {floor}) uses `{}` from `{target}` (floor \
                     {target_floor}): a lower floor must not import from a higher one",
                    path.display(),
                    p.join("::")
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// Every source file of the crate that is not a test file, relative to src/.
fn sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tests") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.strip_prefix(&root).unwrap().to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_module_imports_from_a_higher_floor() {
    let files = sources();
    assert!(files.len() > 20, "only {} sources found", files.len());
    let problems = violations(&files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_upward_imports_in_each_form() {
    let lib = "pub use context::{RequestError, TaskContext};\npub use bundle::{Bundle, Dag};\n";
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_owned());
    let cases = [
        ("context/xcom.rs", "use crate::bundle::TaskFn;\n"),
        ("context/xcom.rs", "use crate::{TaskError, Bundle};\n"),
        ("runtime/comms.rs", "use super::task::run_one;\n"),
        (
            "runtime/logging.rs",
            "fn f() { crate::testing::logs::route(r) }\n",
        ),
        (
            "context/mod.rs",
            "use crate::runtime::{\n    self,\n    task::Outlets,\n};\n",
        ),
        ("new_module.rs", "use crate::error::TaskError;\n"),
    ];
    for (path, text) in cases {
        let files = [file("lib.rs", lib), file(path, text)];
        assert!(!violations(&files).is_empty(), "{path}: {text:?} passed");
    }
    let fine = [
        (
            "context/xcom.rs",
            "use super::{RequestError, TaskContext};\nuse crate::runtime::messages::Reply;\n",
        ),
        (
            "runtime/mod.rs",
            "use task::run_one;\nuse crate::{Bundle, TaskContext};\n",
        ),
        (
            "runtime/logging.rs",
            "/// See [`crate::testing`].\nfn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::Bundle;\n}\n",
        ),
        (
            "bundle.rs",
            "use crate::{SchemaVersion, TaskContext};\nconst V: &str = crate::VERSION;\n",
        ),
    ];
    for (path, text) in fine {
        let files = [file("lib.rs", lib), file(path, text)];
        assert_eq!(violations(&files), Vec::<String>::new(), "{path}: {text:?}");
    }
}
