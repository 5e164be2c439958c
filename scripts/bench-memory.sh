#!/usr/bin/env bash
# Peak resident memory of `cargo airflow inspect` and `verify` on bundles with big manifests.
#
#   scripts/bench-memory.sh [CARGO_AIRFLOW_BINARY]
#
# The bound to meet: peak RSS under 64 MiB plus the manifest's own size, on any input. Generates
# manifests of about 7 MB and 16 MB in several shapes (many dags, many tiny dag ids, one long
# task list, a huge unknown key, aliases of a big anchored node, one long scalar) into a temp dir,
# runs each command
# under /usr/bin/time -v, and prints one line per run:
#
#   shape  manifest-MiB  command  peak-RSS-MiB  bound-MiB  ok|OVER
#
# Exits 1 when a run is over the bound. Needs python3 and GNU time. Without an argument it builds
# cargo-airflow (release) and uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
    cargo build --release -p cargo-airflow --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/cargo-airflow"
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'EOF'
import hashlib, struct, sys, os
out = sys.argv[1]
exe = b"\x7fELF-not-really-an-executable" * 4
head = ('airflow_bundle_metadata_version: "1.0"\n'
        'sdk:\n  language: "rust"\n  version: "0.1.0"\n  supervisor_schema_version: "2026-06-16"\n'
        'source: "main.rs"\n')
def shape(name, size):
    if name == "dags":       # many dags, a few tasks each
        per = '  dag_{0:08d}:\n    tasks:\n      - "extract_{0}"\n      - "load_{0}"\n'
        n = size // len(per.format(0))
        return head + "dags:\n" + "".join(per.format(i) for i in range(n))
    if name == "tinykeys":   # as many dag ids as fit: the worst case for the kept keys
        n = size // len("  k0000000: 0\n")
        return head + "dags:\n" + "".join("  k%07d: 0\n" % i for i in range(n))
    if name == "tasks":      # one dag, one long task list
        n = size // len('      - "task_00000000"\n')
        return head + "dags:\n  d:\n    tasks:\n" + "".join('      - "task_%08d"\n' % i for i in range(n))
    if name == "unknown":    # a big mapping under a key readers ignore
        n = size // len('  key_00000000: [1, 2.5, yes, "s"]\n')
        return head + 'dags:\n  d: {tasks: ["t"]}\nextra:\n' + "".join('  key_%08d: [1, 2.5, yes, "s"]\n' % i for i in range(n))
    if name == "aliases":    # a big anchored list, aliased many times
        n = size // 2 // len('  - "item_00000000"\n')
        body = "big: &big\n" + "".join('  - "item_%08d"\n' % i for i in range(n))
        m = size // 2 // len("  a_00000000: *big\n")
        return head + 'dags:\n  d: {tasks: ["t"]}\n' + body + "uses:\n" + "".join("  a_%08d: *big\n" % i for i in range(m))
    if name == "scalar":     # one long string
        return head + 'dags:\n  d: {tasks: ["t"]}\nnote: "' + "x" * size + '"\n'
    raise SystemExit(name)
for name in ["dags", "tinykeys", "tasks", "unknown", "aliases", "scalar"]:
    for mb in [7, 16]:
        manifest = shape(name, mb * 1000 * 1000).encode()
        trailer = struct.pack("<III", 0, len(manifest), 1) + hashlib.sha256(exe).digest() + b"\0" * 12 + b"AFBNDL01"
        path = os.path.join(out, "%s-%dmb" % (name, mb))
        with open(path, "wb") as f:
            f.write(exe + manifest + trailer)
        os.chmod(path, 0o755)
EOF
status=0
printf '%-8s %8s %-8s %10s %10s %s\n' shape manifest command peak-MiB bound-MiB verdict
for f in "$dir"/*mb; do
    size=$(stat -c %s "$f")
    for cmd in verify inspect; do
        /usr/bin/time -v -o "$dir/time.txt" "$bin" "$cmd" "$f" >/dev/null 2>&1 || true
        rss_kb=$(awk '/Maximum resident set size/ {print $6}' "$dir/time.txt")
        awk -v n="$(basename "$f")" -v s="$size" -v c="$cmd" -v r="$rss_kb" 'BEGIN {
            mib = s / 1048576; peak = r / 1024; bound = 64 + mib;
            printf "%-12s %6.1f %-8s %10.1f %10.1f %s\n", n, mib, c, peak, bound, (peak < bound ? "ok" : "OVER")
            exit (peak < bound ? 0 : 1) }' || status=1
    done
done
exit $status
