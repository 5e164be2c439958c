"""Start a real Airflow deployment (api-server, scheduler, dag-processor, Celery workers) for the
end-to-end tests, and stop exactly what it started.

Usage: deploy.py --home DIR --dags DIR --sdk-config FILE [--executor local|celery] ...

With --hosts, the deployment spans hosts that share no disk (hosts.py, host_exec.py): host `a`
runs PostgreSQL, Redis, the api-server, scheduler, dag-processor (and triggerer, and the Git
server of --git-daemon); hosts `b`, `c`, ... run one Celery worker each, with an AIRFLOW_HOME of
their own under HOME/../hosts/<host>/ and nothing else of the deployment's directory (nor of the
directories given with --worker-hide) in sight.

Protocol with the caller (tests/src/deploy.rs), on stdout, one JSON object per line:
  {"event": "ready", "api": "http://127.0.0.1:PORT", "home": ..., "pids": {...}}
  {"event": "failed", "error": "...", "logs": {"scheduler": "<tail>", ...}}
  {"event": "stopped"}
Everything else (Airflow's own output) goes to per-service log files under HOME/services/.

The deployment lives while this process's stdin is open: the caller holds the pipe and closes it
(or dies, which closes it too) to stop everything. SIGTERM and SIGINT stop it as well. Every
service is started in this process's process group, so a runner that kills the group on a
timeout takes the services with it; on an orderly stop, each service and all its descendants
(LocalExecutor workers, task supervisors, the bundles they run) get SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import argparse
import configparser
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import tempfile

import psutil

from hosts import HostsError, Network

SERVICES_START_TIMEOUT = 240.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Set when the deployment must stop: stdin closed (the caller is gone), a signal, a service died.
STOP = threading.Event()


def emit(obj: dict) -> None:
    try:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
    except OSError:
        # The caller is gone: nobody will use the deployment.
        STOP.set()


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return "\n".join(text.splitlines()[-lines:])


class Deployment:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.home = Path(args.home).resolve()
        self.services_dir = self.home / "services"
        self.procs: dict[str, subprocess.Popen] = {}
        # PostgreSQL and Redis, stopped after the Airflow services.
        self.infra: dict[str, subprocess.Popen] = {}
        self.scratch: list[Path] = []
        self.env = dict(os.environ)
        self.env["AIRFLOW_HOME"] = str(self.home)
        # Airflow's CLI and services must not pick up a user's configuration by accident.
        for k in list(self.env):
            if k.startswith("AIRFLOW__") or k == "AIRFLOW_CONFIG":
                del self.env[k]
        self.env.update(dict(kv.split("=", 1) for kv in args.env))
        pylib = str(Path(__file__).resolve().parent / "pylib")
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in [pylib, self.env.get("PYTHONPATH", "")] if p)
        # Hosts have ports of their own: there, the services take their usual ones, as the
        # README's multi-host configuration says.
        self.api_port = args.api_port or (8080 if args.hosts else free_port())
        self.net: Network | None = None
        # Where the api-server (and PostgreSQL, Redis, the Git server) answer.
        self.addr = "127.0.0.1"
        self.git_url: str | None = None

    # ----------------------------------------------------------------------------------------
    # configuration

    def write_config(self) -> None:
        a = self.args
        cfg = configparser.ConfigParser(interpolation=None)
        cfg.optionxform = str  # keep keys as written
        db = a.sql_alchemy_conn or f"sqlite:///{self.home / 'airflow.db'}"
        api = f"http://{self.addr}:{self.api_port}"
        from cryptography.fernet import Fernet

        cfg["core"] = {
            "dags_folder": str(Path(a.dags).resolve()),
            "executor": {"local": "LocalExecutor", "celery": "CeleryExecutor"}[a.executor],
            "load_examples": "False",
            "dags_are_paused_at_creation": "False",
            # Enough for the tests' concurrent runs; more only adds lock contention on 2 cores.
            "parallelism": "8",
            "max_active_tasks_per_dag": "16",
            "max_active_runs_per_dag": "16",
            "fernet_key": Fernet.generate_key().decode(),
            "execution_api_server_url": f"{api}/execution/",
            "simple_auth_manager_users": "admin:admin",
            "simple_auth_manager_passwords_file": str(self.home / "passwords.json"),
        }
        cfg["database"] = {"sql_alchemy_conn": db}
        cfg["api"] = {
            "host": self.addr,
            "port": str(self.api_port),
            "base_url": api,
            # The same key in every component: the api-server signs log fetches with it.
            "secret_key": secrets.token_hex(16),
            "workers": "1",
        }
        # Written by hand, airflow.cfg must carry the JWT secret: otherwise each process makes
        # its own and the workers' tokens are refused by the api-server.
        cfg["api_auth"] = {"jwt_secret": secrets.token_hex(32)}
        cfg["logging"] = {
            "worker_log_server_port": "8793" if self.net else str(free_port()),
            "trigger_log_server_port": "8794" if self.net else str(free_port()),
            "logging_level": "INFO",
        }
        cfg["scheduler"] = {"task_queued_timeout": "300"}
        cfg["dag_processor"] = {"refresh_interval": "5", "min_file_process_interval": "30"}
        cfg["workers"] = {
            "min_heartbeat_interval": "1",
            # Airflow's advice for a loaded machine: on 2 cores with two deployments (nextest
            # runs them in pairs), the single api-server worker can take longer than the 5 s
            # default to answer a task's first Execution API call, which then fails the try.
            "execution_api_timeout": "30",
        }
        if a.executor == "celery":
            cfg["celery"] = {
                "broker_url": a.broker_url,
                "result_backend": f"db+{db}",
                "worker_concurrency": str(a.worker_concurrency),
            }
        # The [sdk] block comes from the caller (taken from the README, so the documented
        # configuration is the tested one).
        sdk = configparser.ConfigParser(interpolation=None)
        sdk.optionxform = str
        sdk.read_string(Path(a.sdk_config).read_text())
        for section in sdk.sections():
            if not cfg.has_section(section):
                cfg.add_section(section)
            for key, value in sdk[section].items():
                cfg[section][key] = value
        if cfg["database"]["sql_alchemy_conn"].startswith("sqlite"):
            cfg["database"]["sql_alchemy_connect_args"] = "af_e2e.SQLITE_CONNECT_ARGS"
        # In the caller's configuration, `{control_host}` is where the control host's services
        # answer, `{git_url}` the Git server (a GitDagBundle's repo_url is `{git_url}/<repo>`).
        for section in cfg.sections():
            for key, value in cfg[section].items():
                value = value.replace("{control_host}", self.addr)
                if self.git_url:
                    value = value.replace("{git_url}", self.git_url)
                cfg[section][key] = value
        with open(self.home / "airflow.cfg", "w") as f:
            cfg.write(f)
        (self.home / "passwords.json").write_text(json.dumps({"admin": "admin"}))

    # ----------------------------------------------------------------------------------------
    # processes

    def airflow(self, *argv: str) -> list[str]:
        return [str(Path(sys.executable).parent / "airflow"), *argv]

    def run_checked(self, name: str, argv: list[str], timeout: float) -> None:
        log = self.services_dir / f"{name}.log"
        with open(log, "wb") as out:
            r = subprocess.run(
                argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, timeout=timeout,
            )
        if r.returncode != 0:
            raise StartError(f"`{' '.join(argv[1:])}` exited with {r.returncode}", {name: tail(log)})

    def on_a(self, argv: list[str]) -> list[str]:
        """`argv` as a process of the control host."""
        return (self.net.exec_prefix(self.net.names[0]) if self.net else []) + argv

    def start(self, name: str, argv: list[str], extra_env: dict | None = None,
              cwd: Path | None = None) -> None:
        env = dict(self.env)
        env.update(extra_env or {})
        out = open(self.services_dir / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=cwd or self.home,
        )
        out.close()

    def logs(self) -> dict[str, str]:
        return {p.stem: tail(p) for p in sorted(self.services_dir.glob("*.log"))}

    def check_alive(self) -> None:
        if STOP.is_set():
            raise StartError("asked to stop while starting (the caller went away)", {})
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise StartError(f"{name} exited with {p.returncode} while starting", self.logs())

    def health(self) -> dict | None:
        url = f"http://{self.addr}:{self.api_port}/api/v2/monitor/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait_api_answers(self) -> None:
        deadline = time.monotonic() + SERVICES_START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            if self.health() is not None:
                return
            time.sleep(0.5)
        raise StartError(
            f"the api-server did not answer within {SERVICES_START_TIMEOUT:.0f} s", self.logs()
        )

    def wait_healthy(self) -> None:
        want = ["metadatabase", "scheduler", "dag_processor"]
        if self.args.triggerer:
            want.append("triggerer")
        deadline = time.monotonic() + SERVICES_START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            self.check_alive()
            h = self.health()
            if h is not None:
                last = h
                if all((h.get(k) or {}).get("status") == "healthy" for k in want):
                    return
            time.sleep(1)
        raise StartError(
            f"the deployment was not healthy within {SERVICES_START_TIMEOUT:.0f} s "
            f"(last /api/v2/monitor/health: {json.dumps(last)})",
            self.logs(),
        )

    def wait_workers(self) -> None:
        """Waits until every Celery worker answers a ping."""
        deadline = time.monotonic() + SERVICES_START_TIMEOUT
        names = [f"{n}@{socket.gethostname()}" for n in self.worker_names]
        # Within one UTS namespace every host has the machine's host name.
        while time.monotonic() < deadline:
            self.check_alive()
            argv = [str(Path(sys.executable).parent / "celery"), "--broker", self.args.broker_url,
                    "inspect", "ping", "--json", "--timeout", "2"]
            r = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=60)
            if r.returncode == 0:
                try:
                    answered = set(json.loads(r.stdout.strip().splitlines()[-1]))
                except (ValueError, IndexError):
                    answered = set()
                if all(n in answered for n in names):
                    return
            time.sleep(1)
        raise StartError(f"the Celery workers {names} did not answer within "
                         f"{SERVICES_START_TIMEOUT:.0f} s", self.logs())

    # ----------------------------------------------------------------------------------------
    # private PostgreSQL and Redis

    def start_postgres(self) -> str:
        """Starts a throw-away PostgreSQL cluster on a free port; returns its SQLAlchemy URL."""
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise StartError("PostgreSQL is not installed (apt-get install postgresql)", {})
        bindir = Path(bins[-1]).parent
        data_parent = Path(tempfile.mkdtemp(prefix="airflow-e2e-pg-"))
        self.scratch.append(data_parent)
        data = data_parent / "data"
        run_as: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            pw = pwd.getpwnam("postgres")
            os.chown(data_parent, pw.pw_uid, pw.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        log = self.services_dir / "postgres.log"
        with open(log, "wb") as out:
            r = subprocess.run(
                [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                 "--auth=trust", "--no-sync"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120,
            )
        if r.returncode != 0:
            raise StartError("initdb failed", {"postgres": tail(log)})
        port = 5432 if self.net else free_port()
        listen = "127.0.0.1"
        if self.net:
            listen += f",{self.addr}"
            with open(data / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.addr.rsplit('.', 1)[0]}.0/24 trust\n")
        out = open(log, "ab")
        self.infra["postgres"] = subprocess.Popen(
            self.on_a([*run_as, str(bindir / "postgres"), "-D", str(data), "-p", str(port),
                       "-k", str(data_parent), "-c", f"listen_addresses={listen}",
                       "-c", "fsync=off", "-c", "max_connections=300"]),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        out.close()
        deadline = time.monotonic() + 60
        while True:
            if self.infra["postgres"].poll() is not None:
                raise StartError("postgres exited while starting", {"postgres": tail(log)})
            r = subprocess.run(
                [str(bindir / "createdb"), "-h", self.addr, "-p", str(port), "-U", "postgres",
                 "airflow"],
                capture_output=True, stdin=subprocess.DEVNULL, timeout=30,
            )
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise StartError("postgres did not accept connections within 60 s",
                                 {"postgres": tail(log) + "\n" + r.stderr.decode(errors="replace")})
            time.sleep(0.3)
        return f"postgresql+psycopg2://postgres@{self.addr}:{port}/airflow"

    def start_redis(self) -> str:
        exe = shutil.which("redis-server")
        if exe is None:
            raise StartError("redis-server is not installed (apt-get install redis-server)", {})
        port = 6379 if self.net else free_port()
        out = open(self.services_dir / "redis.log", "wb")
        bind = ["127.0.0.1"] + ([self.addr] if self.net else [])
        self.infra["redis"] = subprocess.Popen(
            self.on_a([exe, "--port", str(port), "--bind", *bind, "--protected-mode", "no",
                       "--save", "", "--appendonly", "no"]),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        out.close()

        def pong() -> bool:
            with socket.create_connection((self.addr, port), timeout=1) as c:
                c.sendall(b"PING\r\n")
                return c.recv(16).startswith(b"+PONG")

        self.wait_answers("redis", pong)
        return f"redis://{self.addr}:{port}/0"

    def wait_answers(self, name: str, probe, timeout: float = 30.0) -> None:
        """Waits until `probe()` is true (an OSError counts as false) for the service `name` of
        self.infra, which must not exit meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            if self.infra[name].poll() is not None:
                raise StartError(f"{name} exited while starting", self.logs())
            try:
                if probe():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StartError(f"{name} did not answer within {timeout:.0f} s", self.logs())
            time.sleep(0.2)

    def start_git_daemon(self) -> None:
        """Serves the repositories under --git-daemon over git://, from the control host."""
        listen = self.net.git_address() if self.net else "127.0.0.1"
        port = 9418 if self.net else free_port()
        out = open(self.services_dir / "git-daemon.log", "wb")
        self.infra["git-daemon"] = subprocess.Popen(
            self.on_a(["git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
                       f"--base-path={Path(self.args.git_daemon).resolve()}",
                       f"--listen={listen}", f"--port={port}"]),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        out.close()

        def accepts() -> bool:
            socket.create_connection((listen, port), timeout=1).close()
            return True

        self.wait_answers("git-daemon", accepts)
        self.git_url = f"git://{listen}:{port}"

    def start_worker_host(self, host: str, name: str, argv: list[str]) -> None:
        """Starts `argv` (a Celery worker) on `host`, which sees none of the deployment's
        directory but its own HOME/../hosts/<host>/."""
        own = self.home.parent / "hosts" / host
        home = own / "home"
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.home / "airflow.cfg", home / "airflow.cfg")
        shutil.copy(self.home / "passwords.json", home / "passwords.json")
        binds = ["--bind", str(own), str(own)]
        for src, dest in self.args.worker_image:
            # The host's own copy of what its image holds, where the configuration says it is.
            mine = own / Path(dest).name
            shutil.copytree(src, mine, dirs_exist_ok=True)
            binds += ["--bind", str(mine), dest]
        hides = [str(self.home.parent), "/tmp", *self.args.worker_hide]
        launcher = [sys.executable, str(Path(__file__).resolve().parent / "host_exec.py"),
                    *[x for d in hides for x in ("--hide", d)], *binds, "--"]
        self.start(name, self.net.exec_prefix(host) + launcher + argv, {
            "AIRFLOW_HOME": str(home),
            # The api-server fetches a task's log from the host that ran it, by this name.
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "af_e2e.hostname_from_env",
            "AF_E2E_HOSTNAME": self.net.address(host),
        }, cwd=own)

    def up(self) -> None:
        a = self.args
        if a.api_port and not port_is_free(a.api_port):
            raise StartError(f"port {a.api_port} on 127.0.0.1 is already taken", {})
        self.home.mkdir(parents=True, exist_ok=True)
        self.services_dir.mkdir(exist_ok=True)
        if a.hosts:
            names = ["a"] + [chr(ord("b") + i) for i in range(a.celery_workers)]
            self.net = Network(names)
            try:
                self.net.create()
            except HostsError as e:
                raise StartError(str(e), {})
            self.addr = self.net.address("a")
        if a.git_daemon:
            self.start_git_daemon()
        # PostgreSQL, as production deployments run: SQLite takes one writer at a time, and on a
        # loaded machine its lock waits outlast API calls (a 500 "Database error" on a trigger,
        # a task failed because the supervisor's state update timed out).
        if a.sql_alchemy_conn is None and (a.database == "postgres" or a.private_services):
            a.sql_alchemy_conn = self.start_postgres()
        if a.private_services:
            a.broker_url = self.start_redis()
        self.write_config()
        self.run_checked("db-migrate", self.airflow("db", "migrate"), timeout=600)
        self.start("api-server", self.on_a(self.airflow("api-server", "--port", str(self.api_port))))
        self.start("dag-processor", self.on_a(self.airflow("dag-processor")))
        # Tasks reach the Execution API of the api-server: a scheduler started before it answers
        # can queue a task (a catchup run, say) that fails with "connection refused".
        self.wait_api_answers()
        self.start("scheduler", self.on_a(self.airflow("scheduler")))
        if a.triggerer:
            # Runs the triggers of deferred tasks (and reports in the health check).
            self.start("triggerer", self.on_a(self.airflow("triggerer")))
        self.worker_names: list[str] = []
        if a.executor == "celery":
            log_dir = self.home / "logs"
            for i in range(a.celery_workers):
                name = f"worker{i + 1}"
                self.worker_names.append(name)
                argv = self.airflow("celery", "worker", "-q", a.celery_queues,
                                    "--celery-hostname", f"{name}@%h")
                if self.net:
                    # One worker per host, each serving its own logs.
                    self.start_worker_host(self.net.names[i + 1], name, argv)
                    continue
                # One log server per host: the first worker serves the shared log folder.
                if i > 0:
                    argv.append("--skip-serve-logs")
                self.start(name, argv, {
                    # Each worker records its own hostname on the task instances it runs.
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"af_e2e.{name}",
                    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(log_dir),
                })
        self.wait_healthy()
        if a.executor == "celery":
            self.wait_workers()

    def down(self) -> None:
        # The Airflow services (and everything they started) first, then their database and
        # broker.
        stop_tree(list(self.procs.values()))
        stop_tree(list(self.infra.values()))
        if self.net:
            self.net.remove()
        for d in self.scratch:
            shutil.rmtree(d, ignore_errors=True)


def stop_tree(popens: list[subprocess.Popen]) -> None:
    """SIGTERM to each process and all its descendants, SIGKILL to what is left after a while."""
    procs = []
    for p in popens:
        try:
            ps = psutil.Process(p.pid)
            procs.append(ps)
            procs.extend(ps.children(recursive=True))
        except psutil.NoSuchProcess:
            pass
    for ps in procs:
        try:
            ps.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=STOP_TIMEOUT)
    for ps in alive:
        try:
            ps.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    for p in popens:
        try:
            p.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


class StartError(Exception):
    def __init__(self, message: str, logs: dict[str, str]) -> None:
        super().__init__(message)
        self.logs = logs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--dags", required=True)
    ap.add_argument("--sdk-config", required=True,
                    help="an ini file with the [sdk] block (and any other settings to add)")
    ap.add_argument("--executor", choices=["local", "celery"], default="local")
    ap.add_argument("--api-port", type=int, default=0)
    ap.add_argument("--sql-alchemy-conn")
    ap.add_argument("--broker-url")
    ap.add_argument("--database", choices=["postgres", "sqlite"], default="postgres",
                    help="without --sql-alchemy-conn: a private PostgreSQL cluster (the default) "
                         "or SQLite in AIRFLOW_HOME")
    ap.add_argument("--private-services", action="store_true",
                    help="start a private PostgreSQL and Redis for the Celery executor")
    ap.add_argument("--celery-workers", type=int, default=2)
    ap.add_argument("--celery-queues", default="default,rust")
    ap.add_argument("--worker-concurrency", type=int, default=4)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every service")
    ap.add_argument("--triggerer", action="store_true",
                    help="also start `airflow triggerer` (deferred tasks need it)")
    ap.add_argument("--hosts", action="store_true",
                    help="run the Celery workers on hosts of their own (network and mount "
                         "namespaces, see hosts.py); needs root")
    ap.add_argument("--worker-hide", action="append", default=[],
                    help="with --hosts: a directory the worker hosts must not see (where the "
                         "bundles were built)")
    ap.add_argument("--worker-image", action="append", default=[], nargs=2,
                    metavar=("SRC", "DEST"),
                    help="with --hosts: each worker host gets its own copy of directory SRC, in "
                         "HOME/../hosts/<host>/<name of DEST>, seen there at DEST (what its image "
                         "holds: the executables root, the dags folder)")
    ap.add_argument("--git-daemon", metavar="DIR",
                    help="serve the Git repositories under DIR over git:// from the control "
                         "host; `{git_url}` in the configuration names the server")
    args = ap.parse_args()
    if args.hosts and (args.executor != "celery" or not args.private_services):
        ap.error("--hosts needs --executor celery --private-services")
    if args.executor == "celery" and not args.private_services and not (
            args.broker_url and args.sql_alchemy_conn):
        ap.error("--executor celery needs --broker-url and --sql-alchemy-conn")

    dep = Deployment(args)
    stop = STOP
    reason: list[str] = []

    def on_signal(signum, _frame):
        reason.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # The caller closing stdin (or dying) stops the deployment.
    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        reason.append("stdin closed")
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    try:
        try:
            dep.up()
        except Exception as e:  # noqa: BLE001 - reported to the caller, then everything stops
            logs = e.logs if isinstance(e, StartError) else dep.logs()
            emit({"event": "failed", "error": f"{type(e).__name__}: {e}", "logs": logs})
            return 1
        hosts = {}
        if dep.net:
            for i, h in enumerate(dep.net.names):
                worker = dep.procs.get(f"worker{i}") if i else None
                hosts[h] = {"address": dep.net.address(h), "netns": dep.net.netns(h),
                            "git_address": dep.net.git_host_address(h),
                            "worker_pid": worker.pid if worker else None}
        emit({
            "event": "ready",
            "api": f"http://{dep.addr}:{dep.api_port}",
            "home": str(dep.home),
            "pids": {name: p.pid for name, p in dep.procs.items()},
            "hosts": hosts,
            "git_url": dep.git_url,
        })
        while not stop.wait(0.5):
            for name, p in dep.procs.items():
                # A worker host going down is what the fault tests do to it.
                if dep.net and name.startswith("worker"):
                    continue
                if p.poll() is not None:
                    emit({"event": "died", "service": name, "code": p.returncode,
                          "logs": {name: tail(dep.services_dir / f"{name}.log")}})
                    reason.append(f"{name} died")
                    stop.set()
                    break
        return 0
    finally:
        # Whatever happened, nothing this script started outlives it.
        print(f"deploy.py: stopping ({', '.join(reason) or 'done'})", file=sys.stderr, flush=True)
        dep.down()
        emit({"event": "stopped"})


if __name__ == "__main__":
    code = main()
    try:
        sys.stdout.flush()
    except OSError:
        pass
    # Not sys.exit: the thread blocked reading stdin would abort the interpreter's shutdown.
    os._exit(code)
