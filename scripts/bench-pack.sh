#!/usr/bin/env bash
# Budget from the pack issue: `cargo airflow pack` with nothing to rebuild takes at most 1.25x the
# time of the equivalent no-op `cargo build`. Both run interleaved, N times each, in this script;
# it prints the medians and their ratio.
#   scripts/bench-pack.sh            (N=15 by default; N=31 scripts/bench-pack.sh for more)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-15}
cargo build --quiet --release -p cargo-airflow
ca=$PWD/target/release/cargo-airflow
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Warm both: the first pack builds the example in release mode and writes the bundle.
cargo build --quiet --release -p example-bundle
"$ca" airflow pack --quiet -p example-bundle -o "$out/bundle" >/dev/null

now() { date +%s%N; }
build_ns=() pack_ns=()
for _ in $(seq "$N"); do
  t=$(now); cargo build --quiet --release -p example-bundle; build_ns+=($(( $(now) - t )))
  t=$(now); "$ca" airflow pack --quiet -p example-bundle -o "$out/bundle" >/dev/null; pack_ns+=($(( $(now) - t )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "${build_ns[@]}") p=$(median "${pack_ns[@]}")
awk -v b="$b" -v p="$p" -v n="$N" 'BEGIN {
  printf "no-op cargo build --release -p example-bundle: %7.1f ms (median of %d)\n", b/1e6, n
  printf "no-op cargo airflow pack -p example-bundle:    %7.1f ms (median of %d)\n", p/1e6, n
  printf "ratio: %.3f (budget <= 1.25)\n", p/b
}'
