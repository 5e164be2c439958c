"""Parse one bundle file as Airflow 3.4's Dag processor does, without services.

Usage: native_parse.py BUNDLE_ROOT BUNDLE_FILE

Runs BUNDLE_FILE with --comm/--logs on loopback sockets, sends the DagFileParseRequest the Dag
processor sends, reads the DagFileParsingResult (decoded with Airflow's own pydantic model), acks
it, and then, as `_handle_parsing_result` does, runs `DagSerialization.fill_config_defaults` and
`DagSerialization.validate_serialized_dag` on every serialized Dag. Prints one JSON object:
{"rc", "fileloc", "import_errors", "dags": {dag_id: {"error" | "tasks", "timetable", ...}}}.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import claim_stdout, isolate_airflow_home  # noqa: E402

isolate_airflow_home()
out = claim_stdout()

import msgspec  # noqa: E402
from airflow.dag_processing.processor import DagFileParsingResult  # noqa: E402
from airflow.serialization.serialized_objects import DagSerialization  # noqa: E402


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("the bundle closed the comm socket")
        buf += chunk
    return buf


def _expanded(task):
    if not getattr(task, "is_mapped", False):
        return None
    expand_input = getattr(task, task._expand_input_attr)
    return {
        "type": type(expand_input).__name__,
        "names": list(expand_input.value),
    }


def _parse_time_count(task):
    if not getattr(task, "is_mapped", False):
        return None
    try:
        return task.get_parse_time_mapped_ti_count()
    except Exception as e:  # noqa: BLE001 - an upstream's output: known only at run time
        return type(e).__name__


def group_tree(g):
    """A deserialized task group written back in the serialized shape (Airflow's serializer
    takes SDK groups only), so that it can be compared with what the bundle sent."""
    return {
        "_group_id": g._group_id,
        "group_display_name": g.group_display_name,
        "prefix_group_id": g.prefix_group_id,
        "tooltip": g.tooltip,
        "ui_color": g.ui_color,
        "ui_fgcolor": g.ui_fgcolor,
        "children": {
            label: ["taskgroup", group_tree(c)] if hasattr(c, "children") else ["operator", c.task_id]
            for label, c in g.children.items()
        },
        "upstream_group_ids": sorted(g.upstream_group_ids),
        "downstream_group_ids": sorted(g.downstream_group_ids),
        "upstream_task_ids": sorted(g.upstream_task_ids),
        "downstream_task_ids": sorted(g.downstream_task_ids),
    }


def main():
    root, bundle = sys.argv[1], sys.argv[2]
    comm, logs = socket.socket(), socket.socket()
    for s in (comm, logs):
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        s.settimeout(30)
    cport, lport = comm.getsockname()[1], logs.getsockname()[1]
    started = time.monotonic()
    proc = subprocess.Popen([bundle, f"--comm=127.0.0.1:{cport}", f"--logs=127.0.0.1:{lport}"])
    log_conn, _ = logs.accept()
    conn, _ = comm.accept()
    request = {
        "type": "DagFileParseRequest",
        "file": bundle,
        "bundle_path": root,
        "bundle_name": "native-bundle",
        "callback_requests": [],
    }
    frame = msgspec.msgpack.encode([0, request, None])
    conn.sendall(struct.pack(">I", len(frame)) + frame)
    (length,) = struct.unpack(">I", recv_exact(conn, 4))
    req_id, body = msgspec.msgpack.decode(recv_exact(conn, length))[:2]
    answered = time.monotonic() - started
    ack = msgspec.msgpack.encode([req_id, None, None])
    conn.sendall(struct.pack(">I", len(ack)) + ack)
    rc = proc.wait(timeout=10)
    log_conn.close()
    result = DagFileParsingResult.model_validate(body)
    dags = {}
    for dag in result.serialized_dags:
        data = dag.data
        dag_id = data["dag"]["dag_id"]
        DagSerialization.fill_config_defaults(data)
        try:
            d = DagSerialization.validate_serialized_dag(data)
        except Exception as e:  # noqa: BLE001 - reported to the Rust side verbatim
            dags[dag_id] = {"error": f"{type(e).__name__}: {e}"}
            continue
        dags[dag_id] = {
            "relative_fileloc": data["dag"].get("relative_fileloc"),
            "timetable": type(d.timetable).__name__,
            "timetable_summary": d.timetable.summary,
            "timetable_timezone": str(getattr(d.timetable, "_timezone", "")),
            "start_date": d.start_date.isoformat() if d.start_date else None,
            "catchup": d.catchup,
            "tags": sorted(d.tags),
            "params": {k: d.params[k] for k in d.params},
            "max_active_runs": d.max_active_runs,
            "dagrun_timeout": d.dagrun_timeout.total_seconds() if d.dagrun_timeout else None,
            "description": d.description,
            "timezone": str(d.timezone.name if hasattr(d.timezone, "name") else d.timezone),
            "tasks": {
                t.task_id: {
                    "queue": t.queue,
                    "retries": t.retries,
                    "retry_delay": t.retry_delay.total_seconds(),
                    "owner": t.owner,
                    "trigger_rule": str(t.trigger_rule.value if hasattr(t.trigger_rule, "value") else t.trigger_rule),
                    "execution_timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                    "downstream": sorted(t.downstream_task_ids),
                    "upstream": sorted(t.upstream_task_ids),
                    # What the API server hands each run (TIRunContext.arg_bindings) and
                    # whether NotPreviouslySkippedDep reads the task's skip decision.
                    "arg_bindings": t.arg_bindings,
                    "is_stub": t.is_stub,
                    "can_skip_downstream": t.inherits_from_skipmixin,
                    # Dynamic task mapping: what the scheduler expands (the expanded argument
                    # names) and, for literal lists, how many task instances it creates.
                    "is_mapped": bool(getattr(t, "is_mapped", False)),
                    "expanded": _expanded(t),
                    "parse_time_mapped_ti_count": _parse_time_count(t),
                    "task_group": t.task_group.group_id if t.task_group else None,
                }
                for t in d.tasks
            },
            "task_order": [t["__var"]["task_id"] for t in data["dag"]["tasks"]],
            # The groups as Airflow's deserializer rebuilt them, and whether serializing them
            # again gives exactly what the bundle sent (None when it sent no task_group).
            "task_groups": {
                gid: {
                    "label": g.label,
                    "tooltip": g.tooltip,
                    "prefix_group_id": g.prefix_group_id,
                    "children": sorted(g.children),
                    "upstream_group_ids": sorted(g.upstream_group_ids),
                    "downstream_group_ids": sorted(g.downstream_group_ids),
                    "upstream_task_ids": sorted(g.upstream_task_ids),
                    "downstream_task_ids": sorted(g.downstream_task_ids),
                }
                for gid, g in d.task_group.get_task_group_dict().items()
                if gid is not None
            },
            "task_group_round_trip": (
                group_tree(d.task_group) == data["dag"]["task_group"]
                if "task_group" in data["dag"]
                else None
            ),
        }
        # Assets: what the Rust bundle wrote, to compare with what Python writes for the same
        # declarations (python_assets.py), and what Airflow read back from it.
        cond = getattr(d.timetable, "asset_condition", None)
        if cond is not None or any(t.inlets or t.outlets for t in d.tasks):
            dags[dag_id]["assets"] = {
                "timetable": data["dag"]["timetable"],
                "dag_dependencies": data["dag"].get("dag_dependencies"),
                "lineage": {
                    t["__var"]["task_id"]: {k: t["__var"][k] for k in ("inlets", "outlets") if k in t["__var"]}
                    for t in data["dag"]["tasks"]
                    if "inlets" in t["__var"] or "outlets" in t["__var"]
                },
                "read_back": {
                    "timetable_description": d.timetable.description,
                    "asset_expression": cond.as_expression() if cond is not None else None,
                    "batch_asset_events": getattr(d.timetable, "batch_asset_events", None),
                    "tasks": {
                        t.task_id: {
                            k: [[type(o).__name__, o.name, getattr(o, "uri", None)] for o in getattr(t, k)]
                            for k in ("inlets", "outlets")
                        }
                        for t in d.tasks
                        if t.inlets or t.outlets
                    },
                },
            }
    out.write(
        json.dumps(
            {
                "rc": rc,
                "answered_s": answered,
                "fileloc": result.fileloc,
                "import_errors": result.import_errors,
                "dags": dags,
            },
            default=str,
        )
    )
    out.flush()


main()
