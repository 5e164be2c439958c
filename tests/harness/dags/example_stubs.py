"""Python stub dags for the example bundle (example-bundle/src): each Rust task is declared with
`@task.stub` on the `rust` queue, which airflow.cfg routes to the executable coordinator. The
dag ids and task ids must match the bundle's; `testing_missing_task` declares one on purpose that
the bundle lacks."""

from datetime import timedelta

from airflow.sdk import dag, task

FAST_RETRY = {"retries": 1, "retry_delay": timedelta(seconds=1)}


def rust(task_id: str, **kwargs):
    """A stub for the bundle's task `task_id`, in the dag being defined."""

    def stub(): ...

    return task.stub(stub, task_id=task_id, queue="rust", **kwargs)()


@dag(dag_id="example_etl", schedule=None, catchup=False, tags=["rust"])
def example_etl():
    @task.stub(queue="rust")
    def extract(): ...

    @task.stub(queue="rust", **FAST_RETRY)
    def transform(): ...

    @task.stub(queue="rust")
    def load(): ...

    extract() >> transform() >> load()


example_etl()


@dag(dag_id="testing", schedule=None, catchup=False, tags=["rust"])
def testing():
    # Independent tasks: each ends in its own state.
    for task_id in [
        "succeed", "fail_no_retry", "io_error", "panic", "display_panics", "exit_early", "skip",
        "return_complex", "read_var_conn", "require_var", "log_levels", "context_facts",
        "async_echo",
    ]:
        rust(task_id)
    # A Python task hands an XCom to a Rust one.
    @task
    def upstream(ti=None):
        ti.xcom_push(key="seeded", value={"n": [1, 2, 3], "from": "python"})

    upstream() >> rust("push_pull")
    # Retried once, quickly: up_for_retry, then failed at try 2.
    rust("fail", **FAST_RETRY)
    # Cancelled by the tests (marked failed through the REST API while they run).
    rust("sleep_until_cancelled")
    rust("ignore_sigterm")
    rust("async_sleep_until_cancelled")


testing()


@dag(dag_id="testing_timeout", schedule=None, catchup=False, tags=["rust"])
def testing_timeout():
    # As the bundle declares them (the runtime enforces its own declaration; Airflow shows this
    # one): 3 s, the blocking one retried once.
    rust("sleep_past_timeout", execution_timeout=timedelta(seconds=3), **FAST_RETRY)
    rust("async_sleep_past_timeout", execution_timeout=timedelta(seconds=3))


testing_timeout()


@dag(dag_id="testing_missing_task", schedule=None, catchup=False, tags=["rust"])
def testing_missing_task():
    rust("first") >> rust("not_in_the_bundle", **FAST_RETRY) >> rust("after")


testing_missing_task()
