#!/usr/bin/env bash
# Budget: what airflow-build adds to a user's first build. A clean `cargo build --release` of a
# minimal bundle with `[build-dependencies] airflow-build` (and the usual one-line build.rs) takes
# at most 1.10x the same bundle without it (median of N interleaved pairs, 3 by default); and
# airflow-build's dependency graph (`cargo tree -e normal`, distinct crates, itself included) is at
# most 40 crates. Prints the figures and ratios; asserts nothing.
#   scripts/bench-build.sh                      N=5 scripts/bench-build.sh
# AIRFLOW_WORKSPACE=/path/to/checkout measures that checkout's crates instead of this tree's (to
# compare with an older revision). The two bundles live in a temp dir, each with its own target
# dir, and start from the workspace's Cargo.lock (same dependency versions as the workspace).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(cd "${AIRFLOW_WORKSPACE:-$PWD}" && pwd)
N=${N:-3}
# Each bundle builds in its own target dir, inside the temp dir.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Writes a minimal bundle package at $1; with $2 = yes, it has airflow-build and a build.rs.
make_bundle() {
  local dir=$1 with=$2
  mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<EOF
[package]
name = "bench-bundle"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
airflow-sdk = { path = "$root/airflow-sdk" }

[workspace]
EOF
  if [[ $with == yes ]]; then
    cat >>"$dir/Cargo.toml" <<EOF

[build-dependencies]
airflow-build = { path = "$root/airflow-build" }
EOF
    printf 'fn main() {\n    airflow_build::build();\n}\n' >"$dir/build.rs"
  fi
  cat >"$dir/src/main.rs" <<'EOF'
use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};

fn hello(_ctx: &mut TaskContext) -> TaskResult {
    Ok(())
}

fn bundle() -> Bundle {
    Bundle::new().dag(Dag::new("bench").task("hello", hello))
}

airflow_sdk::main!(bundle());
EOF
  cp "$root/Cargo.lock" "$dir/Cargo.lock"
  # Resolve and download now (for this host only), so that the timed builds only compile.
  (cd "$dir" && cargo fetch --quiet --target "$host")
}
host=$(rustc -vV | sed -n 's/^host: //p')
make_bundle "$tmp/without" no
make_bundle "$tmp/with" yes

# Prints "<wall s> <cpu s>" of one clean release build of the bundle at $1 (rusage: children).
measure() {
  rm -rf "$1/target"
  python3 - "$1" <<'PY'
import resource, subprocess, sys, time
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
subprocess.run(["cargo", "build", "--quiet", "--release"], cwd=sys.argv[1], check=True)
wall = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(f"{wall:.2f} {cpu:.2f}")
PY
}
ratios_wall=() ratios_cpu=()
printf '%-5s %22s %22s %14s\n' pair "without: wall / cpu s" "with: wall / cpu s" "ratio wall/cpu"
for i in $(seq "$N"); do
  read -r ww wc < <(measure "$tmp/without")
  read -r bw bc < <(measure "$tmp/with")
  rw=$(awk -v a="$bw" -v b="$ww" 'BEGIN {printf "%.3f", a / b}')
  rc=$(awk -v a="$bc" -v b="$wc" 'BEGIN {printf "%.3f", a / b}')
  ratios_wall+=("$rw") ratios_cpu+=("$rc")
  printf '%-5s %10s / %9s %10s / %9s %7s / %s\n' "$i" "$ww" "$wc" "$bw" "$bc" "$rw" "$rc"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
crates=$(cd "$root" && cargo tree --quiet -p airflow-build -e normal --prefix none |
  sed 's/ (\*)$//' | sort -u | wc -l)
echo "median ratio with/without airflow-build (budget <= 1.10): wall $(median "${ratios_wall[@]}"), cpu $(median "${ratios_cpu[@]}")"
echo "airflow-build graph: $crates distinct crates (budget <= 40)"
