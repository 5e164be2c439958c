//! The record survives release builds with LTO and strip.

use std::process::Command;

use crate::support::{Fixture, read_record};

#[test]
fn record_survives_release_lto_and_strip() {
    let fx = Fixture::new("release", "release-lto");
    fx.cargo(
        &["--release"],
        &[
            ("CARGO_PROFILE_RELEASE_LTO", "fat"),
            ("CARGO_PROFILE_RELEASE_STRIP", "symbols"),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
        ],
    );
    let exe = fx.exe(None, "release");
    let r = read_record(&exe);
    assert_eq!(r.profile, "release");
    assert_eq!(r.package, "mini-bundle");

    // And an external `strip --strip-all` on top.
    let stripped = fx.dir.join("stripped");
    std::fs::copy(&exe, &stripped).unwrap();
    let st = Command::new("strip")
        .arg("--strip-all")
        .arg(&stripped)
        .status();
    if let Ok(st) = st {
        assert!(st.success());
        assert_eq!(read_record(&stripped), r);
    }
}

#[test]
fn crate_that_forbids_unsafe_code_still_gets_its_record() {
    let fx = Fixture::new("forbid-unsafe", "host");
    let main = std::fs::read_to_string(fx.dir.join("src/main.rs")).unwrap();
    fx.write("src/main.rs", &format!("#![forbid(unsafe_code)]\n{main}"));
    let b = fx.cargo(&[], &[]);
    assert!(!b.stderr.contains("warning: unused"), "{}", b.stderr);
    assert_eq!(fx.record().package, "mini-bundle");
}

#[test]
fn crate_without_airflow_build_compiles_cleanly_without_record() {
    let fx = Fixture::new("no-build-script", "host");
    std::fs::remove_file(fx.dir.join("build.rs")).unwrap();
    let manifest = std::fs::read_to_string(fx.dir.join("Cargo.toml")).unwrap();
    let manifest: String = manifest
        .lines()
        .filter(|l| !l.starts_with("airflow-build ") && !l.starts_with("[build-dependencies]"))
        .map(|l| format!("{l}\n"))
        .collect();
    fx.write("Cargo.toml", &manifest);
    let b = fx.cargo(&[], &[]);
    assert!(!b.stderr.contains("warning"), "{}", b.stderr);
    let exe = fx.exe(None, "debug");
    assert!(
        airflow_bundle::record::find_in_file(&exe)
            .unwrap()
            .is_none()
    );
}
