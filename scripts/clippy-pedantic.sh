#!/usr/bin/env bash
# Count clippy's pedantic findings on product code (issue 18's budget).
#
#   scripts/clippy-pedantic.sh [MAX]
#
# Runs `cargo clippy -W clippy::pedantic` over the workspace's libraries and binaries (not tests,
# benches or the end-to-end crate), leaves out the lints the project keeps off, and prints the
# unique findings (lint, file, line, column) per crate and per lint, then the total. With MAX,
# exits 1 when the total is above it.
#
# The keep-off list lives in one place: the `"allow"` entries of `[workspace.lints.clippy]` in
# the root Cargo.toml, each with its reason. They are passed again here as `-A` after
# `-W clippy::pedantic`, because a later command-line group flag would otherwise switch them
# back on.
set -euo pipefail
cd "$(dirname "$0")/.."

max="${1:-}"
if [[ -n "$max" && ! "$max" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/clippy-pedantic.sh [MAX]  (MAX: a whole number, got '$max')" >&2
    exit 2
fi

# The allow entries of [workspace.lints.clippy], e.g. `must_use_candidate = "allow"`.
mapfile -t keep_off < <(awk '
    /^\[/ { in_clippy = ($0 == "[workspace.lints.clippy]"); next }
    in_clippy && /^[a-z_]+ *= *"allow"/ { sub(/ *=.*/, ""); print }
' Cargo.toml)
allow_flags=()
for lint in "${keep_off[@]}"; do
    allow_flags+=(-A "clippy::$lint")
done

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if ! cargo clippy --workspace --exclude airflow-e2e --lib --bins --locked --message-format=json \
    -- -W clippy::pedantic "${allow_flags[@]}" >"$out"; then
    echo "error: cargo clippy failed (its messages are above); fix the build first" >&2
    exit 1
fi

# One row per unique finding: lint, file, line, column (a finding reported for two targets of
# one crate, e.g. its lib and its bin, counts once).
findings="$(jq -r '
    select(.reason == "compiler-message")
    | .message as $m
    | select(($m.code.code // "") | startswith("clippy::"))
    | ($m.spans[] | select(.is_primary)) as $s
    | [($m.code.code | ltrimstr("clippy::")), $s.file_name, $s.line_start, $s.column_start]
    | @tsv' "$out" | sort -u)"

echo "keep-off (root Cargo.toml): ${keep_off[*]:-none}"
echo
if [[ -z "$findings" ]]; then
    total=0
else
    echo "per crate:"
    cut -f2 <<<"$findings" | cut -d/ -f1 | sort | uniq -c | sort -rn | awk '{ printf "  %5d  %s\n", $1, $2 }'
    echo
    echo "per lint:"
    cut -f1 <<<"$findings" | sort | uniq -c | sort -rn | awk '{ printf "  %5d  %s\n", $1, $2 }'
    echo
    total="$(wc -l <<<"$findings")"
fi
echo "total: $total"
if [[ -n "$max" && "$total" -gt "$max" ]]; then
    echo "error: $total pedantic findings, over the budget of $max" >&2
    exit 1
fi
