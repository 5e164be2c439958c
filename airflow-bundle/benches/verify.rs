//! Budget: `verify` of a 256 MiB bundle runs within 1.1x of
//! `openssl dgst -sha256` on the same file, with flat memory (no copy of the executable).
//!
//! `cargo bench -p airflow-bundle --bench verify` writes a 256 MiB bundle to a temp dir, warms the
//! page cache, then times both in this process (median of 7 runs each) and prints the ratio and
//! the peak resident memory growth. Set `VERIFY_BENCH_MIB` to change the size.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use airflow_bundle::verify::{AirflowRelease, verify_path};
use airflow_bundle::write::write_bundle;

/// An endless stream of pseudo-random bytes (xorshift), so the file does not compress to nothing.
struct Noise(u64);

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
        Ok(buf.len())
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mib: u64 = std::env::var("VERIFY_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bundle");
    {
        let mut out = BufWriter::new(File::create(&path).expect("create bundle"));
        let man =
            "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d:\n    tasks: [\"t\"]\n";
        let mut exe = Noise(0x9e37_79b9_7f4a_7c15).take(mib * 1024 * 1024 - 200);
        write_bundle(&mut exe, &mut out, b"fn main() {}\n", man.as_bytes()).expect("write bundle");
        out.flush().expect("flush");
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let size = std::fs::metadata(&path).unwrap().len();
    // Warm the page cache so both sides measure hashing, not the disk.
    std::io::copy(&mut File::open(&path).unwrap(), &mut std::io::sink()).unwrap();

    let rss_before = peak_rss_kib();
    let ours: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let report = verify_path(&path, &AirflowRelease::ALL).expect("verify");
            assert!(report.accepted(), "{report:?}");
            t.elapsed()
        })
        .collect();
    let rss_growth = peak_rss_kib().saturating_sub(rss_before);
    let openssl: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let out = Command::new("openssl")
                .arg("dgst")
                .arg("-sha256")
                .arg(&path)
                .output()
                .expect("run openssl");
            assert!(out.status.success(), "openssl failed");
            t.elapsed()
        })
        .collect();
    let (ours, openssl) = (median(ours), median(openssl));
    println!("verify bundle of {size} bytes ({mib} MiB)");
    println!(
        "  cargo-airflow verify (in process): {:>8.1} ms",
        ours.as_secs_f64() * 1e3
    );
    println!(
        "  openssl dgst -sha256 (process):    {:>8.1} ms",
        openssl.as_secs_f64() * 1e3
    );
    println!(
        "  ratio: {:.3} (budget <= 1.10)",
        ours.as_secs_f64() / openssl.as_secs_f64()
    );
    println!(
        "  peak RSS growth while verifying: {rss_growth} KiB (file is {} KiB)",
        size / 1024
    );
}
