"""Hosts of a multi-host test deployment: Linux network namespaces joined by a bridge.

Host `a` (the control host: PostgreSQL, Redis, the Airflow services) holds the bridge; every
other host has one veth link to it, and the machine's own namespace one more, so that the test
process reaches the api-server. Addresses are 10.213.N.0/24 (N picked free under a lock, so two
deployments side by side get two subnets): `a` is .1, the others .2, .3, ..., the machine .254.
A second subnet, 10.214.N.0/24, carries only the Git server on `a` (.1); a host reaches it while
it holds its address there, so a test can cut one host off from the Git server alone.

Namespaces are named `afe2e-<pid>-<host>` after the deploy.py process that made them; ones whose
process is gone (a deploy.py killed with SIGKILL) are deleted by the next deployment.

Every process of a host other than `a` starts through host_exec.py, which gives it a mount
namespace of its own in which the directories it must not share are covered (see there).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from pathlib import Path

PREFIX = "afe2e-"
LOCK = Path("/run/afe2e-hosts.lock")


class HostsError(Exception):
    pass


def _ip(*args: str) -> str:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise HostsError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}")
    return r.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _delete_stale() -> None:
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{PREFIX}(\d+)-\w+", name)
        if m and not _alive(int(m.group(1))):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Network:
    """The hosts `names` (the first is the control host), created by `create`, removed by
    `remove`."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.tag = str(os.getpid())
        self.subnet: int | None = None
        self.created: list[str] = []

    def netns(self, host: str) -> str:
        return f"{PREFIX}{self.tag}-{host}"

    def address(self, host: str) -> str:
        return f"10.213.{self.subnet}.{self.names.index(host) + 1}"

    def git_address(self) -> str:
        return f"10.214.{self.subnet}.1"

    def exec_prefix(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns(host)]

    def create(self) -> None:
        if os.geteuid() != 0:
            raise HostsError("a multi-host deployment needs root (network namespaces)")
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _delete_stale()
            used = set(re.findall(r"10\.21[34]\.(\d+)\.", _ip("-4", "-o", "addr", "show")))
            free = [n for n in range(1, 255) if str(n) not in used]
            if not free:
                raise HostsError("no free 10.213.N.0/24 subnet for the test hosts")
            self.subnet = free[0]
            for host in self.names:
                _ip("netns", "add", self.netns(host))
                self.created.append(self.netns(host))
                _ip("-n", self.netns(host), "link", "set", "lo", "up")
            a = self.netns(self.names[0])
            _ip("-n", a, "link", "add", "br0", "type", "bridge")
            _ip("-n", a, "addr", "add", f"{self.address(self.names[0])}/24", "dev", "br0")
            _ip("-n", a, "addr", "add", f"{self.git_address()}/24", "dev", "br0")
            _ip("-n", a, "link", "set", "br0", "up")
            # The machine's own link, made under the lock: its address is what marks the subnet
            # as taken for the next deployment.
            root_end = f"afr{self.tag}"
            _ip("link", "add", root_end, "type", "veth", "peer", "name", "up0", "netns", a)
            _ip("-n", a, "link", "set", "up0", "master", "br0", "up")
            _ip("addr", "add", f"10.213.{self.subnet}.254/24", "dev", root_end)
            _ip("link", "set", root_end, "up")
            for host in self.names[1:]:
                ns = self.netns(host)
                _ip("-n", a, "link", "add", f"to-{host}", "type", "veth", "peer", "name", "eth0",
                    "netns", ns)
                _ip("-n", a, "link", "set", f"to-{host}", "master", "br0", "up")
                _ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                self.reach_git(host, True)

    def git_host_address(self, host: str) -> str:
        """`host`'s address (with its prefix) on the Git server's subnet."""
        return f"10.214.{self.subnet}.{self.names.index(host) + 1}/24"

    def reach_git(self, host: str, reach: bool) -> None:
        """Gives `host` its address on the Git server's subnet, or takes it away (the host then
        has no route to the Git server, and only to it)."""
        _ip("-n", self.netns(host), "addr", "add" if reach else "del",
            self.git_host_address(host), "dev", "eth0")

    def remove(self) -> None:
        # Deleting a namespace deletes its links, and so their peers (the machine's one too).
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created.clear()
