//! The sidecar on the host (`AIRFLOW_BUILD_SIDECAR=always`) and its recursion guard.

use crate::support::{Fixture, metadata_of, read_record};

#[test]
fn sidecar_always_embeds_what_the_binary_prints() {
    let fx = Fixture::new("sidecar", "host");
    let b = fx.cargo(&[], &[("AIRFLOW_BUILD_SIDECAR", "always")]);
    assert!(b.ran_build_script);
    let exe = fx.exe(None, "debug");
    let r = read_record(&exe);
    let side = r.sidecar.as_ref().expect("sidecar output in the record");
    assert_eq!(side.host, r.target);
    let embedded = r
        .sidecar_metadata("mini-bundle")
        .expect("metadata of bin mini-bundle");
    assert_eq!(embedded, metadata_of(&[], &exe));
    let v: serde_json::Value = serde_json::from_str(embedded).unwrap();
    assert!(v["dags"]["mini"].is_object(), "{embedded}");
    let noop = fx.cargo(&[], &[("AIRFLOW_BUILD_SIDECAR", "always")]);
    assert!(
        !noop.ran_build_script,
        "no-op build with the sidecar reran the build script:\n{}",
        noop.stderr
    );

    // The nested build ran in its own persistent target dir, with the recursion guard: the
    // host-built sidecar binary carries a record, but without sidecar output of its own.
    let nested_exe = fx
        .target_dir
        .join("airflow-sidecar")
        .join(&r.target)
        .join("debug")
        .join("mini-bundle");
    let nested = read_record(&nested_exe);
    assert!(nested.sidecar.is_none(), "the guard must stop recursion");
    assert_eq!(nested.inputs, r.inputs);
    // Built without debug info (a third of a cold nested build's CPU time): it is only run for
    // its metadata, while the outer debug build keeps its own.
    let has_debug_info = |exe: &std::path::Path| {
        use object::{Object, ObjectSection};
        let bytes = std::fs::read(exe).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        file.sections()
            .any(|s| s.name().is_ok_and(|n| n == ".debug_info") && s.size() > 0)
    };
    assert!(!has_debug_info(&nested_exe), "{}", nested_exe.display());
    assert!(has_debug_info(&exe), "{}", exe.display());

    // With a sidecar, the sources of path dependencies (airflow-sdk) are watched too: the
    // metadata depends on them.
    let sdk_lib = crate::support::workspace_root().join("airflow-sdk/src/lib.rs");
    let watched = std::fs::read_dir(fx.target_dir.join("debug/build"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("output")).ok())
        .any(|out| out.contains(&format!("cargo::rerun-if-changed={}", sdk_lib.display())));
    assert!(watched, "airflow-sdk's sources are not watched");

    // A one-line change: the build script and the sidecar rerun (incrementally), the inputs'
    // digest moves, the metadata stays; a no-op build after it runs neither.
    let sidecar = [("AIRFLOW_BUILD_SIDECAR", "always")];
    let before = read_record(&exe);
    fx.write(
        "src/tasks.rs",
        "use airflow_sdk::{TaskContext, TaskResult};\n\npub fn hello(_ctx: &mut TaskContext) -> TaskResult {\n    Ok(()) // changed\n}\n",
    );
    assert!(fx.cargo(&[], &sidecar).ran_build_script);
    let after = read_record(&exe);
    assert_ne!(after.inputs.source, before.inputs.source);
    assert_eq!(
        after.sidecar.as_ref().unwrap().metadata_json,
        before.sidecar.as_ref().unwrap().metadata_json
    );
    assert!(!fx.cargo(&[], &sidecar).ran_build_script);

    // Features reach the sidecar.
    fx.cargo(
        &["--features", "second-dag"],
        &[("AIRFLOW_BUILD_SIDECAR", "always")],
    );
    let r2 = read_record(&exe);
    let v: serde_json::Value =
        serde_json::from_str(r2.sidecar_metadata("mini-bundle").unwrap()).unwrap();
    assert!(v["dags"]["second"].is_object(), "{v}");

    // `never` turns it off.
    fx.cargo(&[], &[("AIRFLOW_BUILD_SIDECAR", "never")]);
    assert!(read_record(&exe).sidecar.is_none());
}

/// The features in the record are cargo's own list, and the sidecar builds with exactly those:
/// a `dep:` feature (whose optional dependency is no feature of its own) and the implicit
/// feature of an optional dependency declared in a target-specific table.
#[test]
fn dep_features_and_target_specific_optional_dependencies() {
    let fx = Fixture::new("features", "host");
    for dep in ["opt-dep", "tgt-dep"] {
        fx.write(
            &format!("{dep}/Cargo.toml"),
            &format!("[package]\nname = \"{dep}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n"),
        );
        fx.write(
            &format!("{dep}/src/lib.rs"),
            &format!(
                "//! A dag id.\n\n/// The id.\npub const DAG: &str = \"{}\";\n",
                dep.replace('-', "_")
            ),
        );
    }
    let manifest = std::fs::read_to_string(fx.dir.join("Cargo.toml"))
        .unwrap()
        .replace(
            "second-dag = []\n",
            "second-dag = []\nwith-opt = [\"dep:opt-dep\"]\n",
        )
        .replace(
            "[build-dependencies]",
            "opt-dep = { path = \"opt-dep\", optional = true }\n\n[target.'cfg(any(unix, windows))'.dependencies]\ntgt-dep = { path = \"tgt-dep\", optional = true }\n\n[build-dependencies]",
        );
    fx.write("Cargo.toml", &manifest);
    fx.write(
        "src/main.rs",
        "mod tasks;\n\nuse airflow_sdk::{Bundle, Dag};\n\nfn bundle() -> Bundle {\n    let b = Bundle::new().dag(Dag::new(\"mini\").task(\"hello\", tasks::hello));\n    #[cfg(feature = \"with-opt\")]\n    let b = b.dag(Dag::new(opt_dep::DAG).task(\"hello\", tasks::hello));\n    #[cfg(feature = \"tgt-dep\")]\n    let b = b.dag(Dag::new(tgt_dep::DAG).task(\"hello\", tasks::hello));\n    b\n}\n\nairflow_sdk::main!(bundle());\n",
    );
    fx.cargo(
        &["--features", "with-opt,tgt-dep"],
        &[("AIRFLOW_BUILD_SIDECAR", "always")],
    );
    let exe = fx.exe(None, "debug");
    let r = read_record(&exe);
    assert_eq!(r.env.features, ["default", "tgt-dep", "with-opt"]);
    // The sidecar built the same bundle: both dags are in what it printed.
    let embedded = r.sidecar_metadata("mini-bundle").expect("sidecar metadata");
    assert_eq!(embedded, metadata_of(&[], &exe));
    let v: serde_json::Value = serde_json::from_str(embedded).unwrap();
    assert!(v["dags"]["opt_dep"].is_object(), "{embedded}");
    assert!(v["dags"]["tgt_dep"].is_object(), "{embedded}");
    // Both optional dependencies are path dependencies, hence inputs, enabled or not.
    let paths: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"opt-dep/src/lib.rs"), "{paths:?}");
    assert!(paths.contains(&"tgt-dep/src/lib.rs"), "{paths:?}");
}

#[test]
fn recursion_guard_disables_the_sidecar() {
    let fx = Fixture::new("guard", "host");
    fx.cargo(
        &[],
        &[
            ("AIRFLOW_BUILD_SIDECAR", "always"),
            (airflow_build::NESTED_GUARD_VAR, "1"),
        ],
    );
    assert!(fx.record().sidecar.is_none());
}

#[test]
fn bad_sidecar_value_fails_with_a_clear_message() {
    let fx = Fixture::new("bad-var", "host");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out =
        airflow_process::toolchain::without_package_env(&mut std::process::Command::new(cargo))
            .current_dir(&fx.dir)
            .args(["build"])
            .env("CARGO_TARGET_DIR", &fx.target_dir)
            .env("AIRFLOW_BUILD_SIDECAR", "sometimes")
            .output()
            .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AIRFLOW_BUILD_SIDECAR=\"sometimes\" is not understood"),
        "{err}"
    );
}
