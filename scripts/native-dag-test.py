"""Run one dag run of a native Rust dag locally, as `airflow dags test` does for a Python dag.

Airflow 3.4.0b2's `airflow dags test` cannot run a native (Lang-SDK) dag: it looks the dag up
with `get_bagged_dag(...)` without `allow_lang_sdk_dag` (airflow/cli/commands/dag_command.py,
`dag_test`), so the bundle file is never parsed and the command fails with "Dag '<id>' could not
be found; either it does not exist or it failed to parse." (airflow/utils/cli.py,
`get_bagged_dag`; with the flag it still refuses a native dag: "TODO: Support running a Lang-SDK
Dag directly from the CLI"), and `Dag.test()` exists only on Python (SDK) dags.

This script does the same thing with Airflow's own pieces, with no scheduler, api-server or
worker running:

1. `airflow dag-processor --num-runs 1`, run before it, has parsed the Dag bundles once (the
   bundle answers the Dag processor's parse request) and written the native dags to the
   metadata database (the CLI's own parsing, `get_bagged_dag`, never writes a native dag:
   `sync_bag_to_db` skips them);
2. a manual run is created, and `DagRun.update_state` schedules its tasks as `Dag.test()`'s loop
   does;
3. each scheduled task runs through `supervise_task`, the worker's own entry point, which routes
   it by queue (`[sdk] queue_to_coordinator`) to the ExecutableCoordinator and starts the bundle,
   against Airflow's in-process Execution API (the one `dags test` uses).

Usage (AIRFLOW_HOME configured as the README's "Airflow 3.4: a Dag bundle" says):

    airflow db migrate
    airflow dag-processor --num-runs 1
    python scripts/native-dag-test.py DAG_ID [--conf JSON] [--timeout SECONDS]

Prints the task logs, then one line per task, `task <task_id> <state>`, one per return value,
`xcom <task_id> <JSON>`, and `run <state>`; exits 1 when the run did not succeed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dag_id")
    ap.add_argument("--conf", default="{}", help="the run's conf, as JSON")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before giving up")
    args = ap.parse_args()

    from airflow import settings
    from airflow.executors.workloads import ExecuteTask
    from airflow.models.dagrun import DagRun, get_or_create_dagrun
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.xcom import XComModel
    from airflow.sdk import timezone
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, supervise_task
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    settings.configure_orm()
    # The dag as the Dag processor stored it.
    dag = SerializedDagModel.get_dag(args.dag_id)
    if dag is None:
        print(
            f"dag {args.dag_id!r} is not in the metadata database: run "
            "`airflow dag-processor --num-runs 1` first (and check `airflow dags list-import-errors`)",
            file=sys.stderr,
        )
        return 2
    session = settings.Session()
    now = timezone.utcnow()
    dr = get_or_create_dagrun(
        dag=dag,
        start_date=now,
        logical_date=now,
        data_interval=dag.timetable.infer_manual_data_interval(run_after=now),
        run_after=now,
        run_id=DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=now, run_after=now),
        session=session,
        conf=json.loads(args.conf),
        triggered_by=DagRunTriggeredByType.TEST,
        triggering_user_name="native-dag-test",
    )
    session.commit()
    deadline = time.monotonic() + args.timeout
    while dr.state == DagRunState.RUNNING and time.monotonic() < deadline:
        session.expire_all()
        schedulable, _ = dr.update_state(session=session)
        for ti in schedulable:
            if ti.try_number == 0:
                ti.try_number = 1
            ti.state = TaskInstanceState.SCHEDULED
            ti.scheduled_dttm = timezone.utcnow()
        session.commit()
        scheduled = [
            ti for ti in dr.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED
        ]
        if not scheduled:
            time.sleep(1)  # a retry waiting for its delay
            continue
        for ti in scheduled:
            # The Execution API starts only a queued task instance.
            ti.state = TaskInstanceState.QUEUED
            session.commit()
            workload = ExecuteTask.make(ti)
            supervise_task(
                ti=workload.ti,
                bundle_info=workload.bundle_info,
                dag_rel_path=workload.dag_rel_path,
                token=workload.token,
                client=InProcessTestSupervisor._api_client(dag, workload.ti.id),
                subprocess_logs_to_stdout=True,
            )
    session.expire_all()
    for ti in sorted(dr.get_task_instances(session=session), key=lambda t: t.task_id):
        print(f"task {ti.task_id} {ti.state}", flush=True)
    returned = session.scalars(
        select(XComModel)
        .where(XComModel.dag_id == dag.dag_id, XComModel.run_id == dr.run_id)
        .where(XComModel.key == "return_value")
        .order_by(XComModel.task_id)
    )
    for x in returned:
        print(f"xcom {x.task_id} {json.dumps(XComModel.deserialize_value(x))}", flush=True)
    state = dr.state
    session.close()
    print(f"run {state}", flush=True)
    return 0 if state == DagRunState.SUCCESS else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is committed. A normal exit would have SQLAlchemy close the in-process Execution
    # API's aiosqlite connections outside their event loop, which logs a MissingGreenlet error.
    os._exit(code)
