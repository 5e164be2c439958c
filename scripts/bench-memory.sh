#!/usr/bin/env bash
# Peak resident memory of `cargo airflow inspect` and `verify` on bundles with hostile manifests.
#
#   scripts/bench-memory.sh [CARGO_AIRFLOW_BINARY]
#
# The bound to meet: peak RSS under 64 MiB plus the manifest's own size, on any input. Generates
# bundles with manifests of about 0.1 MB, 7 MB and 16 MB in many shapes into a temp dir (see
# `all_shapes` and `shape()` below: many dags, many tiny dag ids, one huge task list, huge unknown
# keys, aliases and anchors of big nodes, billion laughs, merges, many anchors, one long scalar,
# deep nesting, long keys, many sdk keys, NEL line breaks, control bytes, and a hostile executable
# region with a large record), runs `inspect`, `inspect --json`, `verify` and
# `verify --message-format json` on each under /usr/bin/time -v, and prints one line per run:
#
#   shape-size  manifest-MiB  command  peak-RSS-MiB  bound-MiB  ok|OVER
#
# Exits 1 when a run is over the bound, takes longer than 10 minutes or crashes (its address
# space is capped at 4 GiB). Needs python3 and GNU time. Without an argument it builds
# cargo-airflow (release) and uses it.
#
# To run a subset: SHAPES="tinyids laughs" SIZES="16" CMDS="verify" scripts/bench-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
    cargo build --release -p cargo-airflow --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/cargo-airflow"
fi
all_shapes="dags tinykeys tinyids uniqids intkeys tasks tinytasks unknown aliases laughs anchormap
    merges anchors emptymaps scalar ssv deep longkeys sdkkeys nelkeys controls elfexe"
shapes="${SHAPES:-$all_shapes}"
sizes="${SIZES:-0.1 7 16}"
cmds="${CMDS:-inspect inspect-json verify verify-json}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" "$shapes" "$sizes" <<'EOF'
import hashlib, itertools, struct, sys, os
out, shapes, sizes = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
exe = b"\x7fELF-not-really-an-executable" * 4
head = ('airflow_bundle_metadata_version: "1.0"\n'
        'sdk:\n  language: "rust"\n  version: "0.1.0"\n  supervisor_schema_version: "2026-06-16"\n'
        'source: "main.rs"\n')
one_dag = 'dags:\n  d: {tasks: ["t"]}\n'
# Letters only: digits would make ids such as `0b_` that crash PyYAML (see the intkeys shape).
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"

def tiny_ids():
    """Every 1, 2, 3, 4... character id over ALNUM, shortest first."""
    for n in itertools.count(1):
        for t in itertools.product(ALNUM, repeat=n):
            yield "".join(t)

def fill(parts, size, sep=""):
    """Joins items of `parts` until about `size` characters."""
    out, n = [], 0
    for p in parts:
        if n >= size:
            break
        out.append(p)
        n += len(p) + len(sep)
    return sep.join(out)

def shape(name, size):
    if name == "dags":       # many dags, a few tasks each
        per = '  dag_{0:08d}:\n    tasks:\n      - "extract_{0}"\n      - "load_{0}"\n'
        n = size // len(per.format(0))
        return head + "dags:\n" + "".join(per.format(i) for i in range(n))
    if name == "tinykeys":   # one dag id a line, as many as fit
        n = size // len("  k0000000: 0\n")
        return head + "dags:\n" + "".join("  k%07d: 0\n" % i for i in range(n))
    if name == "tinyids":    # 1-3 character dag ids in a flow mapping, repeated: ~2 bytes an id
        ids = list(itertools.islice(tiny_ids(), 53 + 53**2 + 53**3))
        return head + "dags: {" + fill(itertools.cycle(ids), size, ",") + "}\n"
    if name == "uniqids":    # as many distinct dag ids as fit, the shortest first
        return head + "dags: {" + fill(tiny_ids(), size, ",") + "}\n"
    if name == "intkeys":    # dag keys that load as ints: each one is named in a warning
        return head + "dags: {d: {tasks: [t]}," + fill((str(i) for i in itertools.count(1)), size, ",") + "}\n"
    if name == "tasks":      # one dag, one long task list
        n = size // len('      - "task_00000000"\n')
        return head + "dags:\n  d:\n    tasks:\n" + "".join('      - "task_%08d"\n' % i for i in range(n))
    if name == "tinytasks":  # one dag, a flow list of 1-3 character task ids
        return head + "dags:\n  d:\n    tasks: [" + fill(tiny_ids(), size, ",") + "]\n"
    if name == "unknown":    # a big mapping under a key readers ignore
        n = size // len('  key_00000000: [1, 2.5, yes, "s"]\n')
        return head + one_dag + "extra:\n" + "".join('  key_%08d: [1, 2.5, yes, "s"]\n' % i for i in range(n))
    if name == "aliases":    # a big anchored list, aliased many times
        n = size // 2 // len('  - "item_00000000"\n')
        body = "big: &big\n" + "".join('  - "item_%08d"\n' % i for i in range(n))
        m = size // 2 // len("  a_00000000: *big\n")
        return head + one_dag + body + "uses:\n" + "".join("  a_%08d: *big\n" % i for i in range(m))
    if name == "laughs":     # billion laughs: ten levels of ten aliases, then aliases of the top
        doc = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in range(1, 11):
            doc += "l%d: &l%d [%s]\n" % (i, i, ", ".join(["*l%d" % (i - 1)] * 10))
        doc += "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n"
        for i in range(1, 6):   # merges nested five deep: a million merged entries
            doc += "m%d: &m%d {<<: [%s]}\n" % (i, i, ", ".join(["*m%d" % (i - 1)] * 10))
        n = (size - len(doc)) // len("  a_00000000: [*l10, *m5]\n")
        uses = "uses:\n" + "".join("  a_%08d: [*l10, *m5]\n" % i for i in range(n))
        return head + one_dag + doc + uses
    if name == "anchormap":  # a big anchored mapping of tiny keys, used as dags and aliased
        body = "big: &big {" + fill(tiny_ids(), size // 2, ",") + "}\n"
        m = (size - len(body)) // len("*big,")
        return head + body + "dags: *big\nuses: [" + ",".join(["*big"] * m) + "]\n"
    if name == "merges":     # thousands of anchored mappings of tiny keys, all merged into dags
        n = max(10, min(40_000, size // 400))
        ids = tiny_ids()
        per = max(1, size // n // 5)
        defs = "".join("  - &%s {%s}\n" % (next(ids), ",".join(next(ids) for _ in range(per))) for _ in range(n))
        names = [d.split()[1][1:] for d in defs.splitlines()]
        merge = "dags: {<<: [" + ",".join("*" + x for x in names) + "], d: {tasks: [t]}}\n"
        return head + "defs:\n" + defs + merge
    if name == "anchors":    # as many distinct anchors as fit
        return head + one_dag + "x: [" + fill(("&%s 1" % i for i in tiny_ids()), size, ",") + "]\n"
    if name == "emptymaps":  # an anchored list of empty mappings, merged into dags
        n = size // len("{},")
        return head + "e: &e [" + ",".join(["{}"] * n) + "]\ndags: {<<: *e, d: {tasks: [t]}}\n"
    if name == "scalar":     # one long string
        return head + one_dag + 'note: "' + "x" * size + '"\n'
    if name == "ssv":        # one long string where a verdict reads it (and quotes it)
        return ('sdk:\n  supervisor_schema_version: "' + "\\x1b" * (size // 4) + '"\n' + one_dag)
    if name == "deep":       # many collections nested as deep as PyYAML allows
        block = "  - " + "- " * 470 + "x\n"
        flow = "  - " + "[" * 250 + "]" * 250 + "\n"
        n = size // (len(block) + len(flow))
        return head + one_dag + "deep:\n" + (block + flow) * n
    if name == "longkeys":   # a few very long dag ids
        n = max(1, size // 1_000_000)
        per = size // n
        # Explicit keys (`?`): an implicit key is limited to 1024 characters.
        return head + "dags:\n" + "".join('  ? "%s%08d"\n  : {tasks: [t]}\n' % ("k" * (per - 40), i) for i in range(n))
    if name == "sdkkeys":    # very many keys under sdk
        n = size // len("  k_00000000: v\n")
        return ('airflow_bundle_metadata_version: "1.0"\nsdk:\n  supervisor_schema_version: "2026-06-16"\n'
                + "".join("  k_%08d: v\n" % i for i in range(n)) + one_dag)
    if name == "nelkeys":    # tiny dag ids on lines broken by NEL, which PyYAML reads as line breaks
        n = size // len("  k0000000: 0\x85")
        return head + "dags:\x85" + "".join("  k%07d: 0\x85" % i for i in range(n))
    if name == "elfexe":     # a small manifest after a hostile executable, see hostile_exe()
        return head + one_dag
    if name == "controls":   # control characters and invalid UTF-8, for the escaping of inspect
        return head + one_dag + "# " + "\x1b" * (size // 2) + "\n" + "\udcff" * (size // 2)
    raise SystemExit("unknown shape " + name)

def hostile_exe(size):
    """An ELF executable region of 6 x `size` bytes whose symbol table claims all of it, and
    whose airflow-build record holds `size` bytes (at most 16 MiB) of file digests: what
    inspect --json reads from the executable is bounded by neither."""
    files = []
    n = 0
    while n < min(size, 16 * 1024 * 1024 - 4096):
        f = '{"path":"src/f%d.rs","len":1,"sha256":"%s"}' % (len(files), "ab" * 32)
        files.append(f)
        n += len(f) + 1
    env = ('{"digest_scheme":1,"target":"x86_64-unknown-linux-gnu","profile":"release","features":[],'
           '"rustc_version":"rustc","user":null,"user_var":"V"}')
    payload = ('{"package":"p","version":"0.1.0","target":"x86_64-unknown-linux-gnu","profile":"release",'
               '"inputs":{"digest_scheme":1,"source":"a","package":"b","lock":"c","extra":"d"},'
               '"files":[' + ",".join(files) + '],"env":' + env + ',"env_signature":"e"}').encode()
    record = b"AFRECORD" + struct.pack("<II", 1, len(payload)) + payload
    total = max(6 * size, 4096)
    names = b"\0.afmeta\0.symtab\0.shstrtab\0"
    shoff = total - 4 * 64
    names_at = shoff - len(names)
    body = record + b"\0" * (names_at - 64 - len(record)) + names
    def sh(name, kind, offset, length):
        return struct.pack("<IIQQQQIIQQ", name, kind, 0, 0, offset, length, 0, 0, 1, 24 if kind == 2 else 0)
    header = (b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, 4, 3))
    tables = (sh(0, 0, 0, 0) + sh(1, 1, 64, len(record)) + sh(9, 2, 0, total // 24 * 24)
              + sh(17, 3, names_at, len(names)))
    return header + body + tables

for name in shapes:
    for mb in sizes:
        text = shape(name, int(float(mb) * 1000 * 1000))
        manifest = text.encode("utf-8", "surrogateescape")
        region = hostile_exe(int(float(mb) * 1000 * 1000)) if name == "elfexe" else exe
        trailer = struct.pack("<III", 0, len(manifest), 1) + hashlib.sha256(region).digest() + b"\0" * 12 + b"AFBNDL01"
        path = os.path.join(out, "%s-%smb" % (name, mb))
        with open(path, "wb") as f:
            f.write(region + manifest + trailer)
        os.chmod(path, 0o755)
        with open(path + ".len", "w") as f:
            f.write(str(len(manifest)))
EOF
status=0
printf '%-16s %8s %-12s %9s %9s %s\n' shape manifest command peak-MiB bound-MiB verdict
for name in $shapes; do
    for mb in $sizes; do
        f="$dir/$name-${mb}mb"
        len=$(cat "$f.len")
        for cmd in $cmds; do
            case "$cmd" in
                inspect) args=(inspect "$f") ;;
                inspect-json) args=(inspect --json "$f") ;;
                verify) args=(verify "$f") ;;
                verify-json) args=(verify --message-format json "$f") ;;
                *) echo "unknown command $cmd" >&2; exit 2 ;;
            esac
            code=0
            # The address space is capped at 4 GiB so that a runaway run cannot take the
            # machine's memory; it then dies, which counts as a failure like a hang does.
            (ulimit -v $((4 * 1024 * 1024)); exec /usr/bin/time -v -o "$dir/time.txt" \
                timeout 600 "$bin" "${args[@]}") >/dev/null 2>"$dir/err.txt" || code=$?
            rss_kb=$(awk '/Maximum resident set size/ {print $6}' "$dir/time.txt")
            # Exit codes 0, 1 and 3 are verdicts; 124 is a timeout, anything else a crash.
            awk -v n="$name-${mb}mb" -v s="$len" -v c="$cmd" -v r="$rss_kb" -v code="$code" 'BEGIN {
                mib = s / 1048576; peak = r / 1024; bound = 64 + mib;
                verdict = (code == 124 ? "TIMEOUT" : (code != 0 && code != 1 && code != 3 ? "CRASH(" code ")" : (peak < bound ? "ok" : "OVER")));
                printf "%-16s %8.1f %-12s %9.1f %9.1f %s\n", n, mib, c, peak, bound, verdict
                exit (verdict == "ok" ? 0 : 1) }' || status=1
        done
    done
done
exit $status
