"""Airflow's verdict on cron expressions, as a stub dag and a native dag meet them (no services).

Usage: cron_verdicts.py CASES_JSON

CASES_JSON holds {"stub": [expression, ...], "native": [expression, ...]}: each expression as the
bundle sends it. A stub's goes into `airflow.sdk.CronTriggerTimetable` of a `DAG` that is then
validated, as the Dag processor does when it imports the stub; a native dag's into the
scheduler's `airflow.timetables.trigger.CronTriggerTimetable`, validated. Prints one JSON
object: {"stub": {expression: "ok" or the error}, "native": {...}}.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import claim_stdout, isolate_airflow_home  # noqa: E402

isolate_airflow_home()
out = claim_stdout()

from airflow.sdk import DAG, CronTriggerTimetable as SdkCron  # noqa: E402
from airflow.timetables.trigger import CronTriggerTimetable as CoreCron  # noqa: E402


def verdict(check) -> str:
    try:
        check()
    except Exception as e:  # any refusal is a verdict; its text is for the test's message
        return f"{type(e).__name__}: {e}"
    return "ok"


def stub(expression: str) -> None:
    DAG(dag_id="cron", schedule=SdkCron(expression, timezone="UTC")).validate()


def native(expression: str) -> None:
    CoreCron(expression, timezone="UTC").validate()


with open(sys.argv[1], encoding="utf-8") as f:
    cases = json.load(f)
json.dump(
    {
        "stub": {e: verdict(lambda e=e: stub(e)) for e in cases["stub"]},
        "native": {e: verdict(lambda e=e: native(e)) for e in cases["native"]},
    },
    out,
)
