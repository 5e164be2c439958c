"""Run ONE task of an executable bundle under the released Airflow task supervisor, against a
MOCKED Task Execution API, to inject faults a real API server cannot be made to produce.

Only for faults: whatever a real deployment can show (states, XComs, logs, retries, SIGTERM) is
asserted in a real deployment (tests/src/deploy.rs, tests/tests/e2e/deployment.rs). A mock is no
proof of what the real server accepts: this one once accepted a SucceedTask body the 3.3.2 API
server refuses.

The bundle is found and launched by the real ``ExecutableCoordinator`` (or, with
``--via supervise_task``, by the worker entry point ``supervise_task`` routed to that coordinator
through ``[sdk] coordinators`` / ``[sdk] queue_to_coordinator``). The Task Execution API is an
in-process ``httpx.MockTransport`` that serves the run context, heartbeats, Variables,
Connections and XComs from the flags, and records every call.

Prints one JSON object on stdout (see ``report`` at the bottom of ``main``). Exit status is 0
whenever a report was written, whatever the task did; judge the run by the report. Exit status 2
means bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

COORDINATOR_KEY = "airflow-e2e"
ROUTED_QUEUE = "airflow-e2e-queue"
BASE_URL = "http://execution-api.invalid/"


def parse_args(argv):
    p = argparse.ArgumentParser(description="Run one task of a bundle under the real supervisor.")
    p.add_argument("--bundles", required=True, help="executables_root directory")
    p.add_argument("--dag-id", required=True)
    p.add_argument("--task-id", required=True)
    p.add_argument("--run-id", default="manual__e2e")
    p.add_argument("--try-number", type=int, default=1)
    p.add_argument("--map-index", type=int, default=-1)
    p.add_argument("--max-tries", type=int, default=None, help="default: 1, or 2 with --should-retry")
    p.add_argument("--should-retry", action="store_true")
    p.add_argument("--conf", default=None, help="dag run conf, a JSON object")
    p.add_argument("--variable", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--connection", action="append", default=[], metavar="ID=JSON")
    p.add_argument("--xcom", action="append", default=[], metavar="DAG/RUN/TASK/KEY=JSON")
    p.add_argument("--via", choices=["coordinator", "supervise_task"], default="coordinator")
    p.add_argument("--api-fault", action="append", default=[], metavar="METHOD:PATH_PART=STATUS",
                   help="answer matching API calls with this HTTP status (e.g. GET:/variables/=403)")
    p.add_argument("--timeout", type=float, default=60.0, help="kill the bundle after this many s")
    p.add_argument("--startup-timeout", type=float, default=10.0)
    p.add_argument("--sigterm-after", type=float, default=None, metavar="SECONDS")
    p.add_argument(
        "--sigterm-when-logged",
        default=None,
        metavar="TEXT",
        help="send SIGTERM to the bundle once a task-log record containing TEXT was written",
    )
    return p.parse_args(argv)


def split_once(text, sep, what):
    if sep not in text:
        raise SystemExit(f"run_task.py: bad {what} {text!r}: expected {sep!r}")
    return text.split(sep, 1)


def main(argv=None) -> int:
    args = parse_args(argv)
    conf = json.loads(args.conf) if args.conf is not None else None
    if conf is not None and not isinstance(conf, dict):
        raise SystemExit("run_task.py: --conf must be a JSON object")
    variables = dict(split_once(v, "=", "--variable") for v in args.variable)
    connections = {}
    for c in args.connection:
        conn_id, body = split_once(c, "=", "--connection")
        connections[conn_id] = json.loads(body)
    # (dag, run, task, key, map_index) -> value
    xcoms = {}
    for x in args.xcom:
        path, body = split_once(x, "=", "--xcom")
        parts = path.split("/")
        if len(parts) != 4:
            raise SystemExit(f"run_task.py: bad --xcom {x!r}: expected DAG/RUN/TASK/KEY=JSON")
        xcoms[(*parts, -1)] = json.loads(body)

    home = _common.isolate_airflow_home()
    os.environ["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] = "1"
    bundles = os.path.abspath(args.bundles)
    if args.via == "supervise_task":
        os.environ["AIRFLOW__SDK__COORDINATORS"] = json.dumps(
            {
                COORDINATOR_KEY: {
                    "classpath": "airflow.sdk.coordinators.executable.ExecutableCoordinator",
                    "kwargs": {
                        "executables_root": [bundles],
                        "task_startup_timeout": args.startup_timeout,
                    },
                }
            }
        )
        os.environ["AIRFLOW__SDK__QUEUE_TO_COORDINATOR"] = json.dumps({ROUTED_QUEUE: COORDINATOR_KEY})
    out = _common.claim_stdout()

    import httpx

    from airflow.sdk.api import client as api_client
    from airflow.sdk.api.datamodels import _generated as dm
    from airflow.sdk.execution_time import supervisor as sup

    ti_id = uuid.uuid4()
    now = time.time()
    import datetime

    utc_now = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    max_tries = args.max_tries if args.max_tries is not None else (2 if args.should_retry else 1)
    run_context = dm.TIRunContext(
        dag_run=dm.DagRun(
            dag_id=args.dag_id,
            run_id=args.run_id,
            logical_date=utc_now,
            data_interval_start=utc_now - datetime.timedelta(days=1),
            data_interval_end=utc_now,
            run_after=utc_now,
            start_date=utc_now,
            end_date=None,
            clear_number=0,
            run_type=dm.DagRunType.MANUAL,
            state=dm.DagRunState.RUNNING,
            conf=conf,
            consumed_asset_events=[],
            partition_key=None,
        ),
        task_reschedule_count=0,
        max_tries=max_tries,
        should_retry=args.should_retry,
    )

    calls = []
    state_patches = []
    lock = threading.Lock()
    prefix = f"/task-instances/{ti_id}"

    def json_response(status, body):
        return httpx.Response(status, json=body)

    def not_found(detail):
        return httpx.Response(404, json={"detail": detail})

    faults = []
    for spec in args.api_fault:
        what, status = spec.rsplit("=", 1)
        fmethod, fpath = what.split(":", 1)
        faults.append((fmethod, fpath, int(status)))

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        method = request.method
        for fmethod, fpath, status in faults:
            if method == fmethod and fpath in path:
                with lock:
                    calls.append({"method": method, "path": path, "query": dict(request.url.params),
                                  "body": None, "fault": status})
                return httpx.Response(status, json={"detail": {"reason": "injected",
                                                               "message": f"injected {status}"}})
        body = None
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                body = request.content.decode("utf-8", "replace")
        params = dict(request.url.params)
        with lock:
            calls.append({"method": method, "path": path, "query": params, "body": body})
        parts = path.strip("/").split("/")
        if path == f"{prefix}/run" and method == "PATCH":
            return httpx.Response(200, content=run_context.model_dump_json(), headers={"content-type": "application/json"})
        if path == f"{prefix}/heartbeat" and method == "PUT":
            return httpx.Response(204)
        if path == f"{prefix}/state" and method == "PATCH":
            with lock:
                state_patches.append(body)
            return httpx.Response(204)
        if parts[0] == "variables" and len(parts) == 2 and method == "GET":
            key = parts[1]
            if key in variables:
                return json_response(200, {"key": key, "value": variables[key]})
            return not_found({"reason": "not_found", "message": f"Variable {key!r} not found"})
        if parts[0] == "connections" and len(parts) == 2 and method == "GET":
            conn_id = parts[1]
            if conn_id in connections:
                c = dict(connections[conn_id])
                extra = c.get("extra")
                if extra is not None and not isinstance(extra, str):
                    extra = json.dumps(extra)
                return json_response(
                    200,
                    {
                        "conn_id": conn_id,
                        "conn_type": c.get("conn_type", "generic"),
                        "host": c.get("host"),
                        "schema": c.get("schema"),
                        "login": c.get("login"),
                        "password": c.get("password"),
                        "port": c.get("port"),
                        "extra": extra,
                    },
                )
            return not_found({"reason": "not_found", "message": f"Connection {conn_id!r} not found"})
        if parts[0] == "xcoms" and len(parts) == 5:
            _, dag, run, task, key = parts
            map_index = int(params.get("map_index", -1))
            k = (dag, run, task, key, map_index)
            if method == "GET":
                with lock:
                    if k in xcoms:
                        return json_response(200, {"key": key, "value": xcoms[k]})
                return not_found({"reason": "not_found", "message": f"XCom {key!r} not found"})
            if method == "POST":
                with lock:
                    xcoms[k] = body
                return json_response(201, None)
            if method == "DELETE":
                with lock:
                    xcoms.pop(k, None)
                return json_response(200, None)
        if parts[0] == "xcoms" and len(parts) == 5 and method == "HEAD":
            return httpx.Response(200, headers={"content-range": "map_indexes 0"})
        return not_found({"reason": "not_found", "message": f"no mock route for {method} {path}"})

    client = api_client.Client(base_url=BASE_URL, token="", transport=httpx.MockTransport(handler))

    ti = dm.TaskInstance(
        id=ti_id,
        task_id=args.task_id,
        dag_id=args.dag_id,
        run_id=args.run_id,
        try_number=args.try_number,
        dag_version_id=uuid.uuid4(),
        map_index=args.map_index,
        queue=ROUTED_QUEUE if args.via == "supervise_task" else "default",
    )
    bundle_info = dm.BundleInfo(name="airflow-e2e", version=None)
    log_path = os.path.join(home, "task.log")

    import psutil

    me = psutil.Process()
    events = {"sigterm_sent_to": [], "timed_out": False}
    done = threading.Event()

    def children():
        try:
            return me.children(recursive=True)
        except psutil.Error:
            return []

    def logged(text):
        try:
            with open(log_path, "rb") as f:
                return text.encode() in f.read()
        except FileNotFoundError:
            return False

    def sigterm_later():
        if args.sigterm_after is not None:
            if done.wait(args.sigterm_after):
                return
        if args.sigterm_when_logged is not None:
            while not logged(args.sigterm_when_logged):
                if done.wait(0.02):
                    return
        # The child may still be starting; retry briefly until one exists.
        for _ in range(100):
            kids = children()
            if kids:
                for k in kids:
                    try:
                        k.send_signal(signal.SIGTERM)
                        events["sigterm_sent_to"].append(k.pid)
                    except psutil.Error:
                        pass
                return
            if done.wait(0.05):
                return

    def watchdog():
        if done.wait(args.timeout):
            return
        events["timed_out"] = True
        for k in children():
            try:
                k.kill()
            except psutil.Error:
                pass
        # Last resort if the supervisor still does not return: report what we have.
        if not done.wait(15):
            emit(None, None, "harness timeout: the supervisor did not return after the bundle was killed")
            os._exit(0)

    started = time.monotonic()
    result = {"exit_code": None, "supervisor_state": None}

    def read_logs():
        records = []
        try:
            with open(log_path, "rb") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        rec = {"event": line.decode("utf-8", "replace"), "level": None, "unparsed": True}
                    records.append(rec)
        except FileNotFoundError:
            pass
        return records

    emitted = threading.Lock()

    def emit(exit_code, supervisor_state, error):
        if not emitted.acquire(blocking=False):
            return
        with lock:
            stored = [
                {"dag_id": k[0], "run_id": k[1], "task_id": k[2], "key": k[3], "map_index": k[4], "value": v}
                for k, v in xcoms.items()
            ]
            patches = list(state_patches)
            api_calls = list(calls)
        api_state = None
        if patches and isinstance(patches[-1], dict):
            api_state = patches[-1].get("state")
        report = {
            "ti_id": str(ti_id),
            "via": args.via,
            "api_state": api_state,
            "state_patches": patches,
            "supervisor_state": supervisor_state,
            "exit_code": exit_code,
            "error": error,
            "api_calls": api_calls,
            "xcoms": stored,
            "logs": [_common.jsonable(r) for r in read_logs()],
            "sigterm_sent_to": events["sigterm_sent_to"],
            "timed_out": events["timed_out"],
            "duration_s": time.monotonic() - started,
        }
        out.write(json.dumps(report))
        out.write("\n")
        out.flush()

    if args.sigterm_after is not None or args.sigterm_when_logged is not None:
        threading.Thread(target=sigterm_later, daemon=True).start()
    threading.Thread(target=watchdog, daemon=True).start()

    error = None
    try:
        if args.via == "supervise_task":
            result["exit_code"] = sup.supervise_task(
                ti=ti,
                bundle_info=bundle_info,
                dag_rel_path="stub_dag.py",
                token="",
                client=client,
                log_path=log_path,
                subprocess_logs_to_stdout=False,
            )
        else:
            from airflow.sdk.coordinators.executable import ExecutableCoordinator

            logger, fd = sup._configure_logging(log_path, client)
            try:
                coordinator = ExecutableCoordinator(
                    executables_root=[bundles], task_startup_timeout=args.startup_timeout
                )
                res = coordinator.execute_task(
                    what=ti,
                    dag_rel_path="stub_dag.py",
                    bundle_info=bundle_info,
                    client=client,
                    logger=logger,
                    subprocess_logs_to_stdout=False,
                )
                result["exit_code"] = res.exit_code
                state = res.final_state
                result["supervisor_state"] = getattr(state, "value", state)
            finally:
                fd.close()
    except BaseException as exc:  # report everything, including SystemExit from deep inside
        error = f"{type(exc).__name__}: {exc}"
    finally:
        done.set()
    emit(result["exit_code"], result["supervisor_state"], error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
