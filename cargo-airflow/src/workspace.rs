//! The cargo workspace a pack runs in, described by `cargo metadata --no-deps` at most once and
//! only when something asks for it: a no-op pack whose build names its one bin never runs it.

use std::cell::OnceCell;
use std::path::PathBuf;

use cargo_metadata::{Metadata, MetadataCommand};

use crate::cli::PackArgs;
use crate::error::{Error, Result};

/// The workspace the pack flags point at (`--manifest-path`, `--locked`, `--frozen`,
/// `--offline`), loaded on first use.
#[derive(Debug)]
pub struct Workspace {
    /// `--manifest-path`.
    manifest_path: Option<PathBuf>,
    /// The flags passed on to `cargo metadata`.
    flags: Vec<String>,
    /// The metadata, once loaded. A failed load is not kept: the next use tries again.
    metadata: OnceCell<Metadata>,
}

impl Workspace {
    /// The workspace of a pack with these flags; nothing runs yet.
    pub fn of(args: &PackArgs) -> Self {
        let flags = [
            (args.locked, "--locked"),
            (args.frozen, "--frozen"),
            (args.offline, "--offline"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, flag)| flag.to_owned())
        .collect();
        Workspace {
            manifest_path: args.manifest_path.clone(),
            flags,
            metadata: OnceCell::new(),
        }
    }

    /// The metadata, running `cargo metadata --no-deps` the first time.
    pub fn get(&self) -> Result<&Metadata> {
        if let Some(m) = self.metadata.get() {
            return Ok(m);
        }
        let loaded = self.load()?;
        Ok(self.metadata.get_or_init(|| loaded))
    }

    /// The metadata if it was loaded already (never runs cargo).
    pub fn loaded(&self) -> Option<&Metadata> {
        self.metadata.get()
    }

    fn load(&self) -> Result<Metadata> {
        let mut cmd = MetadataCommand::new();
        cmd.cargo_path(airflow_process::toolchain::cargo())
            .no_deps();
        if let Some(path) = &self.manifest_path {
            cmd.manifest_path(path);
        }
        cmd.other_options(self.flags.clone());
        cmd.exec().map_err(|e| Error::Metadata {
            command: match &self.manifest_path {
                Some(p) => format!("cargo metadata --manifest-path {}", p.display()),
                None => "cargo metadata".to_owned(),
            },
            reason: cargo_error(&e.to_string()),
            manifest_path: self.manifest_path.clone(),
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cargo's own error, on one line and without its `error:` prefix and trailing advice, cut to a
/// readable length.
fn cargo_error(s: &str) -> String {
    let line = one_line(s);
    // cargo_metadata's wrapper, then cargo's own `error: `.
    let line = line
        .strip_prefix("`cargo metadata` exited with an error:")
        .unwrap_or(&line)
        .trim_start();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    let mut out: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_s_error_is_one_line_without_prefixes() {
        assert_eq!(
            cargo_error(
                "`cargo metadata` exited with an error: error: could not find `Cargo.toml` in \
                 `/x`\n\nCaused by: y"
            ),
            "could not find `Cargo.toml` in `/x` Caused by: y"
        );
    }

    #[test]
    fn the_metadata_is_loaded_once_on_first_use() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"one\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
        let manifest = dir.path().join("Cargo.toml");
        let args = match crate::cli::parse(vec![
            "cargo-airflow".into(),
            "pack".into(),
            "--manifest-path".into(),
            manifest.display().to_string(),
        ])
        .unwrap()
        .command
        {
            crate::cli::Command::Pack(p) => *p,
            _ => unreachable!(),
        };
        let ws = Workspace::of(&args);
        assert!(ws.loaded().is_none());
        let first: *const Metadata = ws.get().unwrap();
        assert_eq!(
            ws.get().unwrap().workspace_packages()[0].name.as_str(),
            "one"
        );
        assert!(std::ptr::eq(first, ws.loaded().unwrap()));
    }
}
