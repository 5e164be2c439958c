"""Stub dag for the example bundle's `hitl` dag (example-bundle/src/hitl.rs): three tasks that
ask a person and wait in `awaiting_input` — one answered through the REST API, one whose short
timeout takes its defaults, one whose short timeout has no defaults to take (not retried, so it
fails at once)."""

from airflow.sdk import dag, task


def rust(task_id: str, **kwargs):
    """A stub for the bundle's task `task_id`, in the dag being defined."""

    def stub(): ...

    return task.stub(stub, task_id=task_id, queue="rust", **kwargs)()


@dag(dag_id="hitl", schedule=None, catchup=False, tags=["rust"])
def hitl():
    rust("approve")
    rust("auto")
    rust("expire", retries=0)


hitl()
