#!/usr/bin/env bash
# Fuzz the bundle reader with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [RUNS_PER_TARGET] [TARGET...]
#   scripts/fuzz.sh smoke
#   scripts/fuzz.sh build
#
# RUNS_PER_TARGET defaults to 1000000. `smoke` is the CI mode: 300000 runs per target, each
# capped at 150 s (stub_render, the slowest, takes 40 s alone and about 120 s beside CI's lints),
# starting from a fresh temporary corpus (so it does not depend on, or grow, the local one); it
# still fails on any crash, leak or timeout. `smoke` and `build` (which only
# builds the targets for `smoke`: CI builds them while it installs other things) leave out
# AddressSanitizer, a third of the build's CPU: what a short run finds is a panic, a hang or an
# allocation over the limit, and the fuzzed readers have no unsafe code. Longer runs keep it.
# Targets: trailer (trailer + streaming reader), manifest_yaml (the YAML 1.1 typing behind
# `verify`), record (the airflow-build record decoder), comm_frames (the SDK runtime's frame and
# protocol message decoding, through airflow-sdk's internal `fuzzing` feature), stub_render (the
# Python stub dag file renderer: any manifest, output ASCII with only the template outside its
# string literals, through airflow-bundle's `stubs` feature). Each run prints
# libFuzzer's final `Done N runs` line; a crash leaves its input under fuzz/artifacts/<target>/
# and fails the script. Targets run one per core at a time (FUZZ_JOBS=N to change). The corpus
# grows under fuzz/corpus/<target>/ (not committed); committed seeds under fuzz/seeds/<target>/
# (if any) are read too, never written.
#
# Needs `cargo install cargo-fuzz`. cargo-fuzz passes nightly-only flags to rustc
# (-Zsanitizer=address); on a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs="${1:-1000000}"
shift || true
extra=()
scratch=()
corpus_root=corpus
sanitizer=address
if [ "$runs" = smoke ] || [ "$runs" = build ]; then
    sanitizer=none
fi
if [ "$runs" = smoke ]; then
    runs=300000
    extra=(-max_total_time=150)
    corpus_root="$(mktemp -d)"
    scratch+=("$corpus_root")
fi
targets=("$@")
# The slowest first (stub_render), so that the others run beside it rather than it alone last.
[ ${#targets[@]} -eq 0 ] && targets=(stub_render trailer manifest_yaml record comm_frames)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
if [ "$runs" = build ]; then
    # The same profile and sanitizer as the smoke run's `cargo fuzz run`, which finds them built.
    exec cargo fuzz build --sanitizer "$sanitizer"
fi
# One target per core at a time: libFuzzer runs one thread (the smoke step then takes about as
# long as its slowest target, stub_render: about 40 s alone here).
jobs="${FUZZ_JOBS:-$(nproc)}"
logs="$(mktemp -d)"
scratch+=("$logs")
trap 'rm -rf "${scratch[@]}"' EXIT
run_target() {
    # The status is written out, not returned: a failing run must not end the subshell first.
    set +e
    local t=$1 seeds=()
    mkdir -p "$corpus_root/$t"
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    echo "== fuzz $t: $runs runs"
    # -rss_limit_mb: a leak or an allocation sized by untrusted input fails the run.
    cargo fuzz run --sanitizer "$sanitizer" "$t" "$corpus_root/$t" "${seeds[@]}" -- -runs="$runs" -rss_limit_mb=512 -max_len=65536 \
        -timeout=10 -print_final_stats=1 "${extra[@]}" 2>&1 | grep -E "Done [0-9]+ runs|stat::number_of_executed_units|ERROR|panicked|SUMMARY"
    local status=${PIPESTATUS[0]}
    echo "$status" >"$logs/$t.status"
    [ "$status" -eq 0 ] || echo "fuzz $t failed (status $status); see fuzz/artifacts/$t"
}
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    run_target "$t" >"$logs/$t" 2>&1 &
done
wait
failed=()
for t in "${targets[@]}"; do
    cat "$logs/$t" >&2
    [ "$(cat "$logs/$t.status" 2>/dev/null)" = 0 ] || failed+=("$t")
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz targets failed: ${failed[*]}" >&2; exit 1; }
