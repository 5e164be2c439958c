"""Dags for the per-task overhead benchmark (tests/benches/task_overhead.rs): the same trivial
task in Rust (the example bundle's `bench.noop`, through the executable coordinator) and as a
Python `@task`."""

from airflow.sdk import dag, task


@dag(dag_id="bench", schedule=None, catchup=False)
def bench():
    @task.stub(queue="rust")
    def noop(): ...

    noop()


bench()


@dag(dag_id="bench_python", schedule=None, catchup=False)
def bench_python():
    @task
    def noop():
        print("nothing to do, done")

    noop()


bench_python()
