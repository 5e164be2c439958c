#!/usr/bin/env bash
# Budget: `cargo airflow pack` with nothing to rebuild takes at most 1.10x the time of the
# equivalent no-op `cargo build --release`. Runs N interleaved pairs (11 by default) of both on
# the example bundle and prints the medians of wall time and of CPU time (user + system, which
# the load of other processes disturbs less), and their ratios.
#   scripts/bench-noop-pack.sh                 N=31 scripts/bench-noop-pack.sh
# CARGO_AIRFLOW=/path/to/cargo-airflow measures that binary instead of this tree's (to compare
# with an older build).
# With CARGO_AIRFLOW_TIMINGS=1 each pack also prints the time of its steps on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-11}
if [[ -z "${CARGO_AIRFLOW:-}" ]]; then
  cargo build --quiet --release -p cargo-airflow
fi
ca=${CARGO_AIRFLOW:-$PWD/target/release/cargo-airflow}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Warm both: the first pack builds the example in release mode and writes the bundle.
cargo build --quiet --release -p example-bundle
"$ca" airflow pack --quiet -p example-bundle -o "$out/bundle" >/dev/null

# Prints "<wall ms> <cpu ms>" of one run of the command, children included (rusage: µs).
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
wall = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(f"{wall * 1e3:.1f} {cpu * 1e3:.1f}")
PY
}
build_wall=() build_cpu=() pack_wall=() pack_cpu=()
for _ in $(seq "$N"); do
  read -r w c < <(measure cargo build --quiet --release -p example-bundle)
  build_wall+=("$w") build_cpu+=("$c")
  read -r w c < <(measure "$ca" airflow pack --quiet -p example-bundle -o "$out/bundle")
  pack_wall+=("$w") pack_cpu+=("$c")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bw=$(median "${build_wall[@]}") pw=$(median "${pack_wall[@]}")
bc=$(median "${build_cpu[@]}") pc=$(median "${pack_cpu[@]}")
awk -v bw="$bw" -v pw="$pw" -v bc="$bc" -v pc="$pc" -v n="$N" 'BEGIN {
  printf "                                     wall ms   cpu ms   (medians of %d pairs)\n", n
  printf "no-op cargo build --release:         %7.1f  %7.1f\n", bw, bc
  printf "no-op cargo airflow pack:            %7.1f  %7.1f\n", pw, pc
  printf "ratio (budget <= 1.10):              %7.2f  %7.2f\n", pw / bw, (bc > 0 ? pc / bc : 0)
}'
