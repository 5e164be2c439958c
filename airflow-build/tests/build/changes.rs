//! Change detection: what reruns the build script, and which digest each change moves.

use airflow_bundle::record::Record;

use crate::support::Fixture;

/// Which parts of two records differ.
#[derive(Debug, PartialEq, Eq)]
struct Moved {
    package: bool,
    lock: bool,
    extra: bool,
    source: bool,
    env: bool,
}

fn moved(a: &Record, b: &Record) -> Moved {
    Moved {
        package: a.inputs.package != b.inputs.package,
        lock: a.inputs.lock != b.inputs.lock,
        extra: a.inputs.extra != b.inputs.extra,
        source: a.inputs.source != b.inputs.source,
        env: a.env_signature != b.env_signature,
    }
}

const NOTHING: Moved = Moved {
    package: false,
    lock: false,
    extra: false,
    source: false,
    env: false,
};

#[test]
fn each_change_moves_the_right_digest_and_noop_does_not_rerun() {
    let fx = Fixture::new("changes", "host");
    let first = fx.cargo(&[], &[]);
    assert!(
        first.ran_build_script,
        "first build must run the build script"
    );
    let r0 = fx.record();
    assert!(r0.sidecar.is_none(), "host build: no sidecar by default");
    // The fixture's path dependencies (airflow-sdk, airflow-build and what they use in this
    // repository) are inputs too, under paths relative to the package.
    let (deps, paths): (Vec<&str>, Vec<&str>) = r0
        .files
        .iter()
        .map(|f| f.path.as_str())
        .partition(|p| p.starts_with("../"));
    for dep in [
        "/airflow-sdk/src/lib.rs",
        "/airflow-bundle/Cargo.toml",
        "/airflow-build/src/lib.rs",
    ] {
        assert!(deps.iter().any(|d| d.ends_with(dep)), "{dep}: {deps:?}");
    }
    assert_eq!(
        paths,
        [
            "$WORKSPACE/Cargo.lock",
            "Cargo.toml",
            "build.rs",
            "queries/one.sql",
            "src/main.rs",
            "src/tasks.rs"
        ]
    );

    // A no-op build does not rerun the build script.
    let noop = fx.cargo(&[], &[]);
    assert!(
        !noop.ran_build_script,
        "no-op build reran the build script:\n{}",
        noop.stderr
    );
    assert_eq!(fx.record(), r0);

    // Editing a source file.
    fx.write(
        "src/tasks.rs",
        "use airflow_sdk::{TaskContext, TaskResult};\n\npub fn hello(_ctx: &mut TaskContext) -> TaskResult {\n    Ok(()) // edited\n}\n",
    );
    assert!(fx.cargo(&[], &[]).ran_build_script);
    let r1 = fx.record();
    assert_eq!(
        moved(&r0, &r1),
        Moved {
            package: true,
            source: true,
            ..NOTHING
        }
    );
    assert_eq!(
        airflow_inputs::diff(&r0.files, &r1.files),
        [airflow_inputs::Change::Modified("src/tasks.rs".into())]
    );
    assert!(!fx.cargo(&[], &[]).ran_build_script);

    // Adding a file under src/ (not referenced by any module: only the directory watch sees it).
    fx.write("src/unused.rs", "// not a module\n");
    assert!(
        fx.cargo(&[], &[]).ran_build_script,
        "a new file under src/ must rerun"
    );
    let r2 = fx.record();
    assert_eq!(
        moved(&r1, &r2),
        Moved {
            package: true,
            source: true,
            ..NOTHING
        }
    );
    assert_eq!(
        airflow_inputs::diff(&r1.files, &r2.files),
        [airflow_inputs::Change::Added("src/unused.rs".into())]
    );
    assert!(!fx.cargo(&[], &[]).ran_build_script);

    // Changing Cargo.lock (the lock format version 4 -> 3: cargo keeps that, and does not
    // rewrite it; the resolution itself stays the same, so this works offline).
    let lock = fx.dir.join("Cargo.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains("\nversion = 4\n"));
    std::fs::write(&lock, text.replace("\nversion = 4\n", "\nversion = 3\n")).unwrap();
    assert!(fx.cargo(&[], &[]).ran_build_script);
    let r3 = fx.record();
    assert_eq!(
        moved(&r2, &r3),
        Moved {
            lock: true,
            source: true,
            ..NOTHING
        }
    );

    // Changing an extra input.
    fx.write("queries/one.sql", "select 2;\n");
    assert!(fx.cargo(&[], &[]).ran_build_script);
    let r4 = fx.record();
    assert_eq!(
        moved(&r3, &r4),
        Moved {
            extra: true,
            source: true,
            ..NOTHING
        }
    );

    // Changing a feature.
    assert!(
        fx.cargo(&["--features", "second-dag"], &[])
            .ran_build_script
    );
    let r5 = fx.record();
    assert_eq!(
        moved(&r4, &r5),
        Moved {
            env: true,
            ..NOTHING
        }
    );
    assert_eq!(r5.env.features, ["default", "second-dag"]);

    // Changing the signature variable.
    let b = fx.cargo(&[], &[("AIRFLOW_BUILD_ENV_SIGNATURE", "cuda-12.4")]);
    assert!(b.ran_build_script);
    let r6 = fx.record();
    assert_eq!(
        moved(&r4, &r6),
        Moved {
            env: true,
            ..NOTHING
        }
    );
    assert_eq!(r6.env.user.as_deref(), Some("cuda-12.4"));
    assert!(
        !fx.cargo(&[], &[("AIRFLOW_BUILD_ENV_SIGNATURE", "cuda-12.4")])
            .ran_build_script
    );

    // Back to the previous environment: the same digests as before.
    fx.cargo(&[], &[]);
    assert_eq!(moved(&r4, &fx.record()), NOTHING);
}

#[test]
fn clean_builds_in_different_directories_agree() {
    let ra = {
        let a = Fixture::new("repro-a", "host");
        a.cargo(&[], &[]);
        a.record()
    };
    let b = Fixture::new("repro-b", "host");
    b.cargo(&[], &[]);
    let rb = b.record();
    assert_eq!(ra.inputs, rb.inputs);
    assert_eq!(ra.files, rb.files);
    assert_eq!(ra.env_signature, rb.env_signature);
}

#[test]
fn packer_recompute_matches_build_script() {
    let fx = Fixture::new("recompute", "host");
    fx.cargo(&[], &[]);
    let r = fx.record();
    let lock = airflow_inputs::find_workspace_lock(&fx.dir);
    let d = airflow_inputs::recompute(&r, &fx.dir, lock.as_deref()).unwrap();
    assert_eq!(d.inputs, r.inputs);
    assert_eq!(d.files, r.files);
    fx.write("src/tasks.rs", "// changed after the build\n");
    let d = airflow_inputs::recompute(&r, &fx.dir, lock.as_deref()).unwrap();
    assert_ne!(d.inputs.source, r.inputs.source);
    assert_eq!(
        airflow_inputs::diff(&r.files, &d.files),
        [airflow_inputs::Change::Modified("src/tasks.rs".into())]
    );
}
