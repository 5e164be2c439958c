//! Airflow's rules for dag and task ids.
//!
//! An id that breaks them still packs (the 1.3.2 bundle reader does not check ids), but the
//! Airflow server refuses the dag, so packers warn about every such id, naming it.

use std::fmt;

/// Airflow's maximum id length, in characters.
pub const MAX_ID_CHARS: usize = 250;

/// What is wrong with an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdProblem {
    /// Longer than [`MAX_ID_CHARS`] characters.
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// Empty, or holds a character other than letters, digits, `_`, `.` and `-`.
    BadCharacters,
    /// Contains `..`, refused unless the server sets `[core] allow_double_dot_in_ids`.
    DoubleDot,
}

/// Checks one id against Airflow's rules; `None` when it is fine.
pub fn check_id(id: &str) -> Option<IdProblem> {
    let chars = id.chars().count();
    if chars > MAX_ID_CHARS {
        return Some(IdProblem::TooLong { chars });
    }
    if id.is_empty() || !id.chars().all(|c| word_char(c) || matches!(c, '.' | '-')) {
        return Some(IdProblem::BadCharacters);
    }
    if id.contains("..") {
        return Some(IdProblem::DoubleDot);
    }
    None
}

/// Airflow's maximum task group id length, in characters.
pub const MAX_GROUP_ID_CHARS: usize = 200;

/// Whether `id` is a task group id Airflow accepts (`validate_group_key`): 1 to
/// [`MAX_GROUP_ID_CHARS`] characters, each a letter, digit, `_` or `-` (no `.`: the dot joins a
/// group's id to its children's).
pub fn is_group_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_GROUP_ID_CHARS
        && id.chars().all(|c| word_char(c) || c == '-')
}

/// Whether `c` matches Python's `\w` in a str pattern, as Airflow's `^[\w.-]+$` does: letters
/// (`\p{L}`), numbers (`\p{N}`) and `_`. Rust's `is_alphanumeric` also accepts combining marks
/// such as U+093E, which Python refuses.
#[cfg(feature = "io")]
fn word_char(c: char) -> bool {
    use std::sync::LazyLock;
    static WORD: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{N}_]$").expect("valid pattern"));
    let mut buf = [0u8; 4];
    WORD.is_match(c.encode_utf8(&mut buf))
}

/// Without the `io` feature (no regex), the nearest std test; packers enable `io`.
#[cfg(not(feature = "io"))]
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A problem with one dag or task id, with the id (and its dag) named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdWarning {
    /// The dag id, or the dag that holds the task.
    pub dag_id: String,
    /// The task id, when the warning is about a task.
    pub task_id: Option<String>,
    /// What is wrong.
    pub problem: IdProblem,
}

impl fmt::Display for IdWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task_id {
            Some(task) => write!(f, "task id {task:?} in dag {:?}", self.dag_id)?,
            None => write!(f, "dag id {:?}", self.dag_id)?,
        }
        match self.problem {
            IdProblem::TooLong { chars } => write!(
                f,
                " is {chars} characters long, over Airflow's limit of {MAX_ID_CHARS}; the Airflow server will reject it"
            ),
            IdProblem::BadCharacters => f.write_str(
                " must be made of letters, digits, '_', '.' and '-'; the Airflow server will reject it",
            ),
            IdProblem::DoubleDot => f.write_str(
                " contains '..'; the Airflow server rejects it unless [core] allow_double_dot_in_ids is enabled",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "io")]
    #[test]
    fn word_characters_are_pythons() {
        // U+093E DEVANAGARI VOWEL SIGN AA: alphabetic for Rust, not `\w` for Python.
        assert!('\u{93e}'.is_alphanumeric());
        assert_eq!(check_id("ka\u{93e}"), Some(IdProblem::BadCharacters));
        for ok in ["dag_1", "データ", "x\u{2160}", "\u{b2}", "a.b-c"] {
            assert_eq!(check_id(ok), None, "{ok}");
        }
    }

    #[test]
    fn accepts_airflow_ids() {
        for id in [
            "etl_daily",
            "a.b-c",
            "café_dag",
            "任務",
            "123",
            &"a".repeat(250),
            &"任".repeat(250),
        ] {
            assert_eq!(check_id(id), None, "{id}");
        }
    }

    #[test]
    fn rejects_with_reason() {
        assert_eq!(
            check_id(&"a".repeat(251)),
            Some(IdProblem::TooLong { chars: 251 })
        );
        for id in ["", "a b", "a/b", "a:b", "a\tb", "x!"] {
            assert_eq!(check_id(id), Some(IdProblem::BadCharacters), "{id:?}");
        }
        assert_eq!(check_id("a..b"), Some(IdProblem::DoubleDot));
    }

    #[test]
    fn warning_names_the_ids() {
        let w = IdWarning {
            dag_id: "d".into(),
            task_id: Some("t t".into()),
            problem: IdProblem::BadCharacters,
        };
        assert!(
            w.to_string()
                .starts_with("task id \"t t\" in dag \"d\" must be made of")
        );
    }
}
