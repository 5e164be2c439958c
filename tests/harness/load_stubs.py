"""Load a generated stub dag file through Airflow's own DagBag (no services).

Usage: load_stubs.py DAG_FILE

Prints one JSON object: {"import_errors": {...}, "sha256_of": {path: hex} for the bundle named
in the header, "dags": {dag_id: {"schedule", "timezone", "params", "tags", "catchup",
"tasks": [{"task_id", "queue", "retries", "retry_delay", "trigger_rule", "downstream"}]}}}.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import claim_stdout, isolate_airflow_home  # noqa: E402

isolate_airflow_home()
out = claim_stdout()

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

path = sys.argv[1]
bag = DagBag(dag_folder=path, safe_mode=False)
dags = {}
for dag_id, dag in sorted(bag.dags.items()):
    dags[dag_id] = {
        "timetable": type(dag.timetable).__name__,
        "timetable_summary": getattr(dag.timetable, "expression", None),
        "timezone": str(getattr(dag.timetable, "timezone", "")),
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "catchup": dag.catchup,
        "tags": sorted(dag.tags),
        "params": {k: dag.params[k] for k in dag.params},
        "max_active_runs": dag.max_active_runs,
        "tasks": [
            {
                "task_id": t.task_id,
                "queue": t.queue,
                "retries": t.retries,
                "retry_delay": t.retry_delay.total_seconds(),
                "trigger_rule": str(getattr(t.trigger_rule, "value", t.trigger_rule)),
                "owner": t.owner,
                "downstream": sorted(t.downstream_task_ids),
            }
            for t in dag.tasks
        ],
    }
out.write(json.dumps({"import_errors": bag.import_errors, "dags": dags}, default=str))
out.flush()
