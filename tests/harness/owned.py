"""Run one command for a test and make sure nothing it started outlives it.

Usage: owned.py [--grace SECONDS] -- COMMAND [ARGS...]

For commands the tests run directly against a deployment, such as `airflow dags test
--use-executor`, whose LocalExecutor workers, task supervisors and bundle processes would
otherwise be re-parented to init and keep running when the test stops early. Like deploy.py, the
command lives while this process's stdin is open: the caller (tests/src/deploy.rs) holds the
pipe and closes it, or dies, which closes it too, to stop it. SIGTERM and SIGINT stop it as well
(nextest sends SIGTERM to the test's process group on a timeout, and this process is in it).

The command runs in a session (and process group) of its own, with this process as the Linux
"child subreaper", so that every descendant, even one that detached itself, stays below this
process. When the command exits, or the caller goes, or a signal comes, every descendant gets
SIGTERM, then SIGKILL after the grace period. stdout and stderr are the command's own; the exit
status is the command's (128 + the signal if it was stopped).

When it is stopped before it ended (the caller's timeout, a signal), the Python processes below
it are first all stopped (SIGSTOP), then get SIGABRT one at a time: run with
PYTHONFAULTHANDLER=1 (as tests/src/deploy.rs runs it), each prints every thread's stack to its
stderr, which says where a hung command was waiting.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

import psutil

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def stop_descendants(pgid: int, grace: float) -> None:
    """SIGTERM to the command's process group and every descendant, SIGKILL after `grace`."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    procs = psutil.Process().children(recursive=True)
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for p in alive + psutil.Process().children(recursive=True):
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    # Reap what was re-parented to us.
    psutil.wait_procs(psutil.Process().children(recursive=True), timeout=5)


def dump_python_stacks(grace: float) -> None:
    """SIGABRT to every Python descendant: with faulthandler on, each prints its threads' stacks.

    All are stopped first, so that none moves on because another died (a parent joining a child,
    say), then aborted one at a time, so that their dumps do not interleave, the command itself
    last, so that its stacks end the output (what a caller shows of it is the tail).
    """
    procs = []
    for p in psutil.Process().children(recursive=True):
        try:
            if os.path.basename(p.exe()).startswith("python"):
                p.suspend()
                procs.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    for p in reversed(procs):
        try:
            p.send_signal(signal.SIGABRT)
            p.resume()
            # Gone, or a zombie its stopped parent does not reap: either way its dump is out.
            deadline = time.monotonic() + grace
            while p.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
                time.sleep(0.05)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grace", type=float, default=10.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command given")

    become_subreaper()
    stop = threading.Event()
    reason: list[int] = []

    def on_signal(signum, _frame):
        reason.append(128 + signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)

    def watch_stdin():
        # The raw descriptor: a daemon thread blocked in a buffered read aborts the interpreter
        # at exit.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        reason.append(128 + signal.SIGTERM)
        stop.set()

    def watch_child():
        child.wait()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Thread(target=watch_child, daemon=True).start()
    while not stop.wait(0.5):
        pass
    if reason and child.poll() is None:
        dump_python_stacks(min(args.grace, 2.0))
    stop_descendants(child.pid, args.grace)
    code = child.wait()
    if reason:
        return reason[0]
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
