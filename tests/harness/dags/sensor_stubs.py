"""Stub dag for the example bundle's `sensors` dag (example-bundle/src/sensors.rs): sensors in
reschedule and poke mode. The sensors that time out declare retries, which a timed-out sensor
must not use."""

from datetime import timedelta

from airflow.sdk import dag, task


def rust(task_id: str, **kwargs):
    """A stub for the bundle's task `task_id`, in the dag being defined."""

    def stub(): ...

    return task.stub(stub, task_id=task_id, queue="rust", **kwargs)()


@dag(dag_id="sensors", schedule=None, catchup=False, tags=["rust"])
def sensors():
    rust("wait_reschedule")
    rust("wait_poke")
    rust("timeout_reschedule", retries=2, retry_delay=timedelta(seconds=1))
    rust("timeout_poke", retries=2, retry_delay=timedelta(seconds=1))
    rust("soft_fail", retries=2, retry_delay=timedelta(seconds=1))


sensors()
