"""Takes glibc away from a running test host: a worker host whose root has no C library.

Usage: python strip_glibc.py PID

Enters the mount namespace of process PID (a worker host's Celery worker, started by
host_exec.py) and covers every file of Debian's libc6 package (libc.so.6, the dynamic loader
ld-linux-x86-64.so.2, libm, libpthread, the gconv modules, ldconfig, ...) with an empty,
read-only file. From then on no dynamically linked program starts on that host; the processes
already running there keep the glibc they mapped when they started (the worker, its log server),
as an image whose only native code is a static executable would run its interpreter. Prints one
JSON line: {"covered": N}.

All mounts are made by this one process: a `mount` command started for each file would itself
need the glibc the earlier ones took away.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

from host_exec import MS_BIND, _libc, _mount

CLONE_NEWNS = 0x00020000
MS_REMOUNT = 32
MS_RDONLY = 1


def glibc_files() -> list[str]:
    """Every regular file of the libc6 package, by its real path (merged /usr: /lib is /usr/lib)."""
    out = subprocess.run(["dpkg-query", "-L", "libc6"], capture_output=True, text=True, check=True)
    files = []
    for line in out.stdout.splitlines():
        if line.startswith("/") and os.path.isfile(line) and not os.path.islink(line):
            files.append(line)
    real = sorted({os.path.realpath(f) for f in files})
    if not any(os.path.basename(f) == "libc.so.6" for f in real):
        raise SystemExit(f"strip_glibc.py: libc.so.6 is not among libc6's files: {real[:10]}")
    return real


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: strip_glibc.py PID", file=sys.stderr)
        return 2
    files = glibc_files()
    ns = os.open(f"/proc/{int(argv[0])}/ns/mnt", os.O_RDONLY)
    if _libc.setns(ns, CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns into the mount namespace of {argv[0]}: {os.strerror(err)}")
    os.close(ns)
    # The host's /tmp is its own tmpfs (host_exec.py): the empty file stays on that host.
    empty = "/tmp/.no-glibc"
    with open(empty, "wb"):
        pass
    os.chmod(empty, 0o444)
    covered = 0
    for f in files:
        if not os.path.isfile(f):
            continue
        _mount(empty, f, None, MS_BIND, None)
        # Read-only: nothing on the host can write glibc back through the cover.
        _mount(empty, f, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
        covered += 1
    print(json.dumps({"covered": covered}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
