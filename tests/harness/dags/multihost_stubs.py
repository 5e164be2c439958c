"""Python stub dags of the multi-host deployment tests (tests/tests/e2e/multihost.rs) and the
load benchmark (tests/benches/multihost_load.rs), for the example bundle's `multihost` and
`load_rust` dags (example-bundle/src/multihost.rs); `load_python` is `load_rust` as Python
`@task`s, to compare with."""

from datetime import timedelta

from airflow.sdk import dag, task


@dag(dag_id="multihost", schedule=None, catchup=False, tags=["rust"])
def multihost():
    @task.stub(queue="rust", retries=1, retry_delay=timedelta(seconds=1))
    def slow_step(): ...

    @task.stub(queue="rust")
    def after(): ...

    slow_step() >> after()


multihost()


def rust(task_id: str):
    """A stub for the bundle's task `task_id`, in the dag being defined."""

    def stub(): ...

    return task.stub(stub, task_id=task_id, queue="rust")()


@dag(dag_id="load_rust", schedule=None, catchup=False, tags=["rust"])
def load_rust():
    for i in range(10):
        rust(f"t{i}")


load_rust()


@dag(dag_id="load_python", schedule=None, catchup=False)
def load_python():
    for i in range(10):

        @task(task_id=f"t{i}")
        def step():
            print("load step")
            return 1

        step()


load_python()
