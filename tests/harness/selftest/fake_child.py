"""A tiny fake bundle runtime for checking the harness itself (not the project's runtime).

Speaks just enough of the coordinator protocol: reads StartupDetails, dispatches on task_id.
Uses msgspec from the interpreter that runs it (the test venv).
"""

import datetime
import json
import signal
import socket
import struct
import sys
import time

import msgspec

args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))


def dial(addr):
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)))


comm = dial(args["comm"])
logs = dial(args["logs"])


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def log(level, event, **fields):
    rec = {"timestamp": now(), "level": level, "event": event, "logger": "fake_child", **fields}
    logs.sendall((json.dumps(rec) + "\n").encode())


def recv_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = comm.recv(n - len(buf))
        if not chunk:
            raise EOFError("comm closed")
        buf += chunk
    return buf


def recv():
    (n,) = struct.unpack(">I", recv_exact(4))
    return msgspec.msgpack.decode(recv_exact(n))


next_id = [1]


def request(body):
    rid = next_id[0]
    next_id[0] += 1
    payload = msgspec.msgpack.encode([rid, body])
    comm.sendall(struct.pack(">I", len(payload)) + payload)
    frame = recv()
    return frame[1], frame[2] if len(frame) > 2 else None


startup = recv()[1]
ti = startup["ti"]
ctx = startup["ti_context"]
task = ti["task_id"]
log("info", "starting", task_id=task, try_number=ti["try_number"], conf=ctx["dag_run"]["conf"])


def fail():
    if ctx["should_retry"]:
        request({"type": "RetryTask", "end_date": now()})
    else:
        request({"type": "TaskState", "state": "failed", "end_date": now()})


terminated = []
signal.signal(signal.SIGTERM, lambda *_: terminated.append(True))

if task == "succeed":
    print("hello from stdout", flush=True)
    print("hello from stderr", file=sys.stderr, flush=True)
    log("warning", "careful", answer=42, nested={"a": [1, 2]})
    request({"type": "SucceedTask", "end_date": now()})
elif task == "fail":
    log("error", "failing on purpose")
    fail()
elif task == "io":
    var, _ = request({"type": "GetVariable", "key": "my_var"})
    missing, _ = request({"type": "GetVariable", "key": "missing_var"})
    conn, _ = request({"type": "GetConnection", "conn_id": "my_conn"})
    up, _ = request({"type": "GetXCom", "key": "seeded", "dag_id": ti["dag_id"], "run_id": ti["run_id"], "task_id": "upstream"})
    request(
        {
            "type": "SetXCom",
            "key": "return_value",
            "value": {"var": var["value"], "missing": missing.get("error"), "port": conn["port"], "up": up["value"]},
            "dag_id": ti["dag_id"],
            "run_id": ti["run_id"],
            "task_id": ti["task_id"],
            "map_index": ti["map_index"],
        }
    )
    request({"type": "SucceedTask", "end_date": now()})
elif task == "sleep":
    deadline = time.monotonic() + 30
    while not terminated and time.monotonic() < deadline:
        time.sleep(0.05)
    log("warning", "got SIGTERM" if terminated else "slept 30s")
    fail()
else:
    request({"type": "TaskState", "state": "removed", "end_date": now()})
sys.exit(0)
