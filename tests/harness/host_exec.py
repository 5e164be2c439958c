"""Starts a command as a process of a test host that shares no disk with the others.

Usage: ip netns exec NS python host_exec.py [--hide DIR]... [--bind SRC DEST]... -- ARGV...

`ip netns exec` has already given this process a mount namespace of its own (mounts made here
are seen by it and its children only). Each --hide DIR is covered with an empty tmpfs: the
deployment's directory, the build directories where bundles are packed, /tmp. Each --bind SRC
DEST then puts a directory of the host's own back (its AIRFLOW_HOME and logs, and on Airflow 3.3
its own executables root, the "worker image"), at DEST. SRC is opened before anything is
covered, so it may lie under a hidden directory. Then ARGV replaces this process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

MS_BIND = 4096
MS_REC = 16384

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    rc = _libc.mount(source.encode(), target.encode(),
                     fstype.encode() if fstype else None, flags,
                     data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: host_exec.py [--hide DIR]... [--bind SRC DEST]... -- ARGV...",
              file=sys.stderr)
        return 2
    split = argv.index("--")
    opts, command = argv[:split], argv[split + 1:]
    hides: list[str] = []
    binds: list[tuple[int, str]] = []
    i = 0
    while i < len(opts):
        if opts[i] == "--hide":
            hides.append(opts[i + 1])
            i += 2
        elif opts[i] == "--bind":
            # The kernel follows /proc/self/fd/N to the directory itself, not to its path.
            binds.append((os.open(opts[i + 1], os.O_PATH | os.O_DIRECTORY), opts[i + 2]))
            i += 3
        else:
            print(f"host_exec.py: unknown option {opts[i]}", file=sys.stderr)
            return 2
    for d in hides:
        if os.path.isdir(d):
            _mount("tmpfs", d, "tmpfs", 0, "mode=0755")
    for fd, dest in binds:
        os.makedirs(dest, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", dest, None, MS_BIND | MS_REC, None)
        os.close(fd)
    os.execvp(command[0], command)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
