"""Serialize, with Airflow 3.4's own DagSerialization, the Python dags equivalent to the asset
declarations of a Rust bundle's native dags.

Usage: python_assets.py DECLARATIONS_JSON

DECLARATIONS_JSON maps each dag id to its declaration as the bundle's metadata carries it
(`schedule`, `schedule_on`, `tasks` with `inlets`/`outlets`). Each becomes a Python DAG with the
same timetable (the condition alone, or AssetOrTimeSchedule with the cron schedule) and an
EmptyOperator per task with the same inlets and outlets, built from Python's Asset, AssetAlias,
AssetAll and AssetAny. Prints one JSON object: {dag_id: {"timetable", "dag_dependencies",
"lineage": {task_id: {"inlets", "outlets"}}}}, the keys of the serialized DAG the Rust side
compares with its own.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import claim_stdout, isolate_airflow_home  # noqa: E402

isolate_airflow_home()
out = claim_stdout()

from airflow.providers.standard.operators.empty import EmptyOperator  # noqa: E402
from airflow.sdk import DAG, Asset, AssetAlias  # noqa: E402
from airflow.sdk.definitions.asset import AssetAll, AssetAny  # noqa: E402
from airflow.sdk.definitions.timetables.assets import AssetOrTimeSchedule  # noqa: E402
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable  # noqa: E402
from airflow.serialization.serialized_objects import DagSerialization  # noqa: E402


def leaf(d):
    if d["kind"] == "asset":
        return Asset(name=d["name"], uri=d["uri"])
    if d["kind"] == "alias":
        return AssetAlias(d["name"])
    raise ValueError(f"not an asset or alias: {d}")


def condition(d):
    if d["kind"] == "all":
        return AssetAll(*(condition(c) for c in d["of"]))
    if d["kind"] == "any":
        return AssetAny(*(condition(c) for c in d["of"]))
    return leaf(d)


def schedule(decl):
    s = decl.get("schedule", "none")
    cond = decl.get("schedule_on")
    if isinstance(s, dict) and "cron" in s:
        tt = CronTriggerTimetable(s["cron"]["expression"], timezone=s["cron"]["timezone"])
    elif s == "none":
        tt = None
    else:
        raise ValueError(f"schedule not covered here: {s}")
    if cond is None:
        return tt
    if tt is None:
        return condition(cond)
    return AssetOrTimeSchedule(timetable=tt, assets=condition(cond))


def main():
    with open(sys.argv[1]) as f:
        decls = json.load(f)
    result = {}
    for dag_id, decl in decls.items():
        with DAG(dag_id, schedule=schedule(decl)) as dag:
            for t in decl["tasks"]:
                EmptyOperator(
                    task_id=t["id"],
                    inlets=[leaf(x) for x in t.get("inlets", [])],
                    outlets=[leaf(x) for x in t.get("outlets", [])],
                )
        data = DagSerialization.to_dict(dag)["dag"]
        result[dag_id] = {
            "timetable": data["timetable"],
            "dag_dependencies": data["dag_dependencies"],
            "lineage": {
                t["__var"]["task_id"]: {k: t["__var"][k] for k in ("inlets", "outlets") if k in t["__var"]}
                for t in data["tasks"]
                if "inlets" in t["__var"] or "outlets" in t["__var"]
            },
        }
    out.write(json.dumps(result))
    out.flush()


main()
