"""Writes the seed inputs of the `comm_frames` fuzz target: frame streams encoded by the released
apache-airflow-task-sdk's own supervisor code (its models and `_ResponseFrame.as_bytes`).

Usage: <airflow venv>/bin/python fuzz/seeds/make_comm_frames.py fuzz/seeds/comm_frames
"""

from __future__ import annotations

import os
import pathlib
import sys
import uuid
from datetime import datetime, timezone

from airflow.sdk.api.datamodels._generated import DagRun, TaskInstance, TIRunContext
from airflow.sdk.execution_time import comms as c


def frame(id_, body=None, error=None) -> bytes:
    return bytes(c._ResponseFrame(id=id_, body=body, error=error).as_bytes())


def dump(msg) -> dict:
    # As the supervisor sends most replies (its default dump options).
    return msg.model_dump()


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    when = datetime(2026, 6, 16, 10, 30, 5, 123456, tzinfo=timezone.utc)
    ti = TaskInstance(
        id=uuid.UUID("0196d6a6-7e29-7d3a-9c6c-4b1f0b1d2e3f"),
        task_id="extract",
        dag_id="etl",
        run_id="manual__2026-06-16",
        try_number=1,
        map_index=-1,
        dag_version_id=uuid.UUID("0196d6a6-7e29-7d3a-9c6c-4b1f0b1d2e40"),
    )
    dag_run = DagRun(
        dag_id="etl",
        run_id="manual__2026-06-16",
        logical_date=when,
        data_interval_start=when,
        data_interval_end=when,
        run_after=when,
        start_date=when,
        end_date=None,
        partition_key=None,
        run_type="manual",
        state="running",
        conf={"n": 3, "nested": {"list": [1, 2.5, None, True, "x"]}},
        consumed_asset_events=[],
    )
    ctx = TIRunContext(dag_run=dag_run, max_tries=2, should_retry=True, xcom_keys_to_clear=["k"])
    startup = c.StartupDetails(
        ti=ti,
        dag_rel_path="etl",
        bundle_info={"name": "dags", "version": None},
        start_date=when,
        ti_context=ctx,
        sentry_integration="",
        type="StartupDetails",
    )
    first = frame(0, dump(startup))
    replies = [
        frame(1, None),
        frame(2, dump(c.VariableResult(key="k", value="v"))),
        frame(3, dump(c.XComResult(key="return_value", value={"a": [1, 2]}))),
        frame(
            4,
            dump(
                c.ConnectionResult(
                    conn_id="db", conn_type="postgres", host="h", port=5432, login="u", password="p",
                    schema="s", extra='{"sslmode": "require"}',
                )
            ),
        ),
        frame(5, dump(c.ErrorResponse(error="VARIABLE_NOT_FOUND", detail={"key": "missing"}))),
        frame(6, None, {"error": "API_SERVER_ERROR", "detail": {"status_code": 500}}),
        frame(7, dump(c.XComCountResponse(len=2))),
        frame(8, dump(c.OKResponse(ok=True))),
        frame(9, dump(c.TICount(count=1))),
        frame(10, dump(c.DRCount(count=1))),
        frame(11, dump(c.DagRunStateResult(state="running"))),
    ]
    seeds = {
        "startup": first,
        "startup_and_replies": first + b"".join(replies),
        # The Dag processor's message (airflow.dag_processing.processor), as a plain dict.
        "parse_request": frame(
            0,
            {
                "file": "/dags/etl",
                "bundle_path": "/dags",
                "bundle_name": "dags",
                "callback_requests": [],
                "type": "DagFileParseRequest",
            },
        ),
    }
    for i, r in enumerate(replies):
        seeds[f"reply_{i:02}"] = first + r
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
