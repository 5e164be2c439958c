//! An error and its causes on one line (`what: why: why`), the one way cargo-airflow and
//! airflow-build render a cause chain: a build script prints a single line, and so does
//! `cargo airflow` after `error: `, so every cause must be in it.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its causes, separated by `: `. A cause whose text is
/// already part of the previous one (some errors repeat their source in their own message) is
/// not printed again.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a>(pub &'a dyn Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        f.write_str(&previous)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !previous.contains(&text) {
                write!(f, ": {text}")?;
            }
            previous = text;
            cause = c.source();
        }
        Ok(())
    }
}

/// [`Chain`] as a `String`.
pub fn chain(e: &dyn Error) -> String {
    Chain(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    #[test]
    fn every_cause_once_on_one_line() {
        let e = E(
            "cannot read x",
            Some(Box::new(E("bad header", Some(Box::new(E("eof", None)))))),
        );
        assert_eq!(chain(&e), "cannot read x: bad header: eof");
        assert_eq!(chain(&E("alone", None)), "alone");
        // A message that repeats its cause's text: the cause is not printed again, but its own
        // cause is.
        let repeated = E(
            "cannot read x: bad header",
            Some(Box::new(E("bad header", Some(Box::new(E("eof", None)))))),
        );
        assert_eq!(chain(&repeated), "cannot read x: bad header: eof");
    }
}
