#!/usr/bin/env bash
# Install what cargo-airflow's cross-compilation tests need on Debian 12 x86_64, and print the
# environment they run with.
#
# rustup here ships only the x86_64-unknown-linux-gnu standard library, so cross builds use
# Debian's rustc-web (with its std sources, for -Zbuild-std), a GNU cross linker, and
# qemu-user-static (aarch64) or wine64 (x86_64-pc-windows-gnu) to run the results; a static
# x86_64-unknown-linux-musl build links with musl-gcc and runs natively (no libc needed at all).
#
# usage: scripts/cross-setup.sh [aarch64|windows|musl|all]     (default: all)
#   eval "$(scripts/cross-setup.sh)"   # installs, then exports the environment (optional)
# Idempotent: packages already installed are not fetched again.
set -euo pipefail

which_targets="${1:-all}"
pkgs=(rustc-web cargo-web rust-web-src)
case "$which_targets" in
  aarch64) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static) ;;
  windows) pkgs+=(gcc-mingw-w64-x86-64-posix wine64) ;;
  musl) pkgs+=(musl-tools libunwind-14-dev) ;;
  all) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static gcc-mingw-w64-x86-64-posix wine64 musl-tools libunwind-14-dev) ;;
  *) echo "cross-setup: unknown target set '$which_targets' (aarch64|windows|musl|all)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Checks: fail loudly here rather than in a confusing place later.
test -x /usr/bin/rustc || { echo "cross-setup: /usr/bin/rustc (rustc-web) missing" >&2; exit 1; }
test -d /usr/lib/rustlib/src/rust/library || { echo "cross-setup: std sources (rust-web-src) missing" >&2; exit 1; }

# Windows under wine: wine 8 lacks bcryptprimitives.dll (Rust >= 1.78's std imports ProcessPrng
# from it), so build a stub that forwards to SystemFunction036 and put it in a wine prefix of our
# own. The tests use this prefix by default.
CACHE="${AIRFLOW_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cargo-airflow-cross}"
if [ "$which_targets" = windows ] || [ "$which_targets" = all ]; then
  export WINEPREFIX="$CACHE/wineprefix" WINEDEBUG=-all
  if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
    mkdir -p "$CACHE/win"
    cat > "$CACHE/win/bcryptprimitives.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
/* ProcessPrng never fails on real Windows; forward to RtlGenRandom in chunks. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len) {
    ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
C
    x86_64-w64-mingw32-gcc-posix -shared -O2 -o "$CACHE/win/bcryptprimitives.dll" \
      "$CACHE/win/bcryptprimitives.c" -ladvapi32
    /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
    cp "$CACHE/win/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
  fi
fi

# Static musl: Debian ships no self-contained crt objects or libunwind.a for Rust's musl target,
# so link with musl-gcc's crt (-C link-self-contained=no) and LLVM 14's libunwind.a, plus a shim
# for the one glibc-only symbol that archive references (__fprintf_chk, from _FORTIFY_SOURCE).
if [ "$which_targets" = musl ] || [ "$which_targets" = all ]; then
  if [ ! -f "$CACHE/musl/libunwind.a" ]; then
    mkdir -p "$CACHE/musl"
    cat > "$CACHE/musl/fortify_shim.c" <<'C'
#include <stdarg.h>
#include <stdio.h>
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {
  (void)flag;
  va_list ap;
  va_start(ap, fmt);
  int r = vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}
C
    musl-gcc -O2 -c "$CACHE/musl/fortify_shim.c" -o "$CACHE/musl/fortify_shim.o"
    cp /usr/lib/llvm-14/lib/libunwind.a "$CACHE/musl/libunwind.a.new"
    ar rs "$CACHE/musl/libunwind.a.new" "$CACHE/musl/fortify_shim.o" 2>/dev/null
    mv "$CACHE/musl/libunwind.a.new" "$CACHE/musl/libunwind.a"
  fi
fi

# The environment (stdout, for eval). RUSTC is Debian's rustc: its sysroot has the std sources
# that -Zbuild-std needs; RUSTC_BOOTSTRAP=1 allows -Zbuild-std with a stable cargo.
cat <<'ENV'
export AIRFLOW_CROSS_TESTS=1
export AIRFLOW_CROSS_RUSTC=/usr/bin/rustc
export AIRFLOW_CROSS_RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"
ENV
if [ "$which_targets" = windows ] || [ "$which_targets" = all ]; then
cat <<'ENV'
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc-posix
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-C link-self-contained=no"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
export WINEDEBUG=-all
ENV
echo "export WINEPREFIX=\"$CACHE/wineprefix\""
fi
if [ "$which_targets" = musl ] || [ "$which_targets" = all ]; then
cat <<'ENV'
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=musl-gcc
ENV
echo "export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS=\"-C link-self-contained=no -C relocation-model=static -L native=$CACHE/musl\""
fi
