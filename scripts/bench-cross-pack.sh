#!/usr/bin/env bash
# Budget: after a one-line change, `cargo airflow pack --target
# aarch64-unknown-linux-gnu` takes at most 2.5x the time of the same incremental
# `cargo build --target aarch64-unknown-linux-gnu` of the crate without airflow-build.
#
# Two copies of example-bundle are made in a scratch directory: one as it is (airflow-build in
# build.rs, so the build script re-digests and the host sidecar rebuilds incrementally), one with
# airflow-build removed (the baseline). Each round makes the same one-line edit in both and times
# the two commands, interleaved; the script prints the medians and their ratio.
#
#   scripts/cross-setup.sh aarch64 && scripts/bench-cross-pack.sh     (N=7 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ws=$PWD
N=${N:-7}
triple=aarch64-unknown-linux-gnu
export RUSTC=${AIRFLOW_CROSS_RUSTC:-/usr/bin/rustc} RUSTDOC=${AIRFLOW_CROSS_RUSTDOC:-/usr/bin/rustdoc}
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
unset AIRFLOW_BUILD_SIDECAR

env -u RUSTC -u RUSTDOC -u RUSTC_BOOTSTRAP cargo build --quiet --release -p cargo-airflow
ca=$ws/target/release/cargo-airflow
scratch=${BENCH_DIR:-$ws/target/bench-cross-pack}
mkdir -p "$scratch"

# A standalone copy of the example crate, with path dependencies on this workspace's crates and
# the workspace's lock file (same versions, no network).
make_copy() { # dir with_airflow_build
  local dir=$1
  rm -rf "$dir/src"
  mkdir -p "$dir"
  cp -r "$ws/example-bundle/src" "$dir/"
  cp "$ws/Cargo.lock" "$dir/Cargo.lock"
  {
    printf '[package]\nname = "example-bundle"\nversion = "0.1.0"\nedition = "2024"\npublish = false\n\n'
    printf '[dependencies]\nairflow-sdk = { path = "%s/airflow-sdk" }\n' "$ws"
    printf 'serde = { version = "1", features = ["derive"] }\nserde_json = "1"\n\n'
    if [ "$2" = yes ]; then
      printf '[build-dependencies]\nairflow-build = { path = "%s/airflow-build" }\n\n' "$ws"
    fi
    printf '[workspace]\n'
  } >"$dir/Cargo.toml"
  if [ "$2" = yes ]; then
    printf 'fn main() {\n    airflow_build::build();\n}\n' >"$dir/build.rs"
  else
    rm -f "$dir/build.rs"
  fi
}
make_copy "$scratch/with" yes
make_copy "$scratch/without" no

build_base() { (cd "$scratch/without" && cargo build --quiet --target $triple -Zbuild-std); }
pack_with() {
  "$ca" airflow pack --quiet --manifest-path "$scratch/with/Cargo.toml" --profile dev \
    --target $triple -o "$scratch/bundle" -- -Zbuild-std >/dev/null
}
edit() { printf '// bench edit %s\n' "$1" >>"$scratch/$2/src/main.rs"; }

echo "warming up (the first builds compile std for $triple and the host sidecar)..." >&2
build_base
pack_with

now() { date +%s%N; }
base_ns=() pack_ns=()
for i in $(seq "$N"); do
  edit "$i" without
  t=$(now); build_base; base_ns+=($(( $(now) - t )))
  edit "$i" with
  t=$(now); pack_with; pack_ns+=($(( $(now) - t )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "${base_ns[@]}") p=$(median "${pack_ns[@]}")
awk -v b="$b" -v p="$p" -v n="$N" 'BEGIN {
  printf "one-line change, cargo build --target aarch64 (no airflow-build): %7.1f ms (median of %d)\n", b/1e6, n
  printf "one-line change, cargo airflow pack --target aarch64:            %7.1f ms (median of %d)\n", p/1e6, n
  printf "ratio: %.3f (budget <= 2.5)\n", p/b
}'
