//! The helper a bundle's `build.rs` calls.
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     airflow_build::build();
//! }
//! ```

/// Options for the build-script helper.
#[derive(Debug, Default, Clone)]
pub struct Builder {}

/// Why the build-script helper failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

impl Builder {
    /// Default options.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Runs the helper, printing `cargo:` directives on stdout.
    pub fn run(self) -> Result<(), Error> {
        println!("cargo:rerun-if-changed=build.rs");
        Ok(())
    }

    /// Runs the helper and ends the build script with a clear message if it fails.
    pub fn build_or_exit(self) {
        if let Err(e) = self.run() {
            eprintln!("error: airflow-build: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs the helper with default options; the one line a bundle's `build.rs` needs.
pub fn build() {
    Builder::new().build_or_exit()
}
