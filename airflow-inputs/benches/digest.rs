//! Budget: digesting a crate of 5,000 files / 100 MB takes under 0.3 s in a build script.
//!
//! `cargo bench -p airflow-inputs --bench digest --profile dev` measures what a build script gets
//! with cargo's default build-override (opt-level 0 for build scripts and their dependencies);
//! that is the figure the budget is about. Without `--profile dev` it runs optimised. The
//! SHA-256 core is `ring`'s assembly, so the two differ little.
//!
//! Prints the figures; no harness.

use std::path::Path;
use std::time::{Duration, Instant};

const FILES: usize = 5_000;
const TOTAL_BYTES: usize = 100 * 1024 * 1024;

fn generate(root: &Path) {
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"big\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .unwrap();
    let per_file = TOTAL_BYTES / FILES;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut content = vec![0u8; per_file];
    for i in 0..FILES - 1 {
        let dir = root.join(format!("src/m{:02}/n{:02}", i % 50, (i / 50) % 10));
        std::fs::create_dir_all(&dir).unwrap();
        for b in content.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = b'a' + (x % 26) as u8;
        }
        std::fs::write(dir.join(format!("f{i}.rs")), &content).unwrap();
    }
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    generate(tmp.path());
    eprintln!(
        "generated {FILES} files / {} MiB in {:?}",
        TOTAL_BYTES >> 20,
        t.elapsed()
    );

    let mut times: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..7 {
        let t = Instant::now();
        let d = airflow_inputs::package_inputs(tmp.path(), None, &[]).unwrap();
        times.push(t.elapsed());
        last = Some(d);
    }
    let d = last.unwrap();
    let bytes: u64 = d.files.iter().map(|f| f.len).sum();
    times.sort();
    let median = times[times.len() / 2];
    let mibs = bytes as f64 / (1024.0 * 1024.0) / median.as_secs_f64();
    println!(
        "digest: {} files, {:.1} MiB: min {:?}, median {:?}, max {:?} ({:.0} MiB/s, page cache warm; {} threads)",
        d.files.len(),
        bytes as f64 / (1024.0 * 1024.0),
        times[0],
        median,
        times[times.len() - 1],
        mibs,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8),
    );
    println!(
        "budget 0.3 s: {}",
        if median.as_secs_f64() < 0.3 {
            "met"
        } else {
            "MISSED"
        }
    );
}
