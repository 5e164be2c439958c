"""Stub dags for the example bundle's `task_api` dag (example-bundle/src/task_api.rs), with the
Python tasks the tests compare the Rust ones with, the dag a Rust task triggers, and a dag
scheduled on the asset a Rust task produces."""

import statistics
import time
from datetime import timedelta

from airflow.sdk import Asset, Connection, Variable, dag, task

ASSET = Asset("rust_task_api_asset", uri="file:///tmp/rust_task_api_asset")


def rust(task_id: str, **kwargs):
    """A stub for the bundle's task `task_id`, in the dag being defined."""

    def stub(): ...

    return task.stub(stub, task_id=task_id, queue="rust", **kwargs)()


@dag(dag_id="task_api", schedule=None, catchup=False, tags=["rust"])
def task_api():
    for task_id in ["variables", "connections", "ui", "secrets", "concurrent", "errors", "latency"]:
        rust(task_id)

    @task
    def py_mapped(x):
        return x

    mapped = py_mapped.expand(x=[10, 20, 30])
    mapped >> rust("xcoms")

    rust("resumable", retries=1, retry_delay=timedelta(seconds=1))

    @task
    def follow_me(): ...

    @task
    def skip_me(): ...

    branch = rust("branch")
    branch >> [follow_me(), skip_me()]

    history = rust("history")
    rust("trigger") >> history
    mapped >> history
    branch >> history

    rust("emit_asset", outlets=[ASSET]) >> rust("read_asset")

    @task
    def py_uri():
        return {c: Connection.get(c).get_uri() for c in ["ta_conn", "ta_env_uri", "ta_env_json"]}

    py_uri()

    @task
    def py_latency(dag_run=None):
        n = int((dag_run.conf or {}).get("latency_n", 1000))
        micros = []
        for _ in range(n):
            t = time.perf_counter()
            Variable.get("ta_latency")
            micros.append((time.perf_counter() - t) * 1e6)
        micros.sort()
        return {"n": n, "median_us": micros[n // 2], "p90_us": micros[n * 9 // 10],
                "mean_us": statistics.fmean(micros)}

    py_latency()

    @task
    def py_fs_read():
        """Reads what the Rust task wrote, through the same `fs` connection (FSHook's path)."""
        from pathlib import Path

        from airflow.providers.standard.hooks.filesystem import FSHook

        return (Path(FSHook("ta_fs").get_path()) / "rust" / "hello.txt").read_text()

    rust("object_store_fs") >> py_fs_read()
    rust("object_store_s3")


task_api()


@dag(dag_id="task_api_target", schedule=None, catchup=False, tags=["rust"])
def task_api_target():
    @task
    def echo(dag_run=None):
        return {"conf": dag_run.conf, "note_seen": True}

    echo()


task_api_target()


@dag(dag_id="task_api_consumer", schedule=[ASSET], catchup=False, tags=["rust"])
def task_api_consumer():
    @task
    def consume(triggering_asset_events=None):
        events = triggering_asset_events[ASSET]
        return [e.extra for e in events]

    consume()


task_api_consumer()
