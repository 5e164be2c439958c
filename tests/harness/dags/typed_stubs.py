"""Python stubs for example-typed (Airflow 3.4, schema 2026-10-30): the stub's call binds the Rust
task's typed arguments. `example_typed_wrong_type` passes an int where Rust takes a String."""

from datetime import timedelta

from airflow.sdk import dag, task


@task.stub(queue="rust")
def transform() -> dict: ...


@task.stub(queue="rust")
def load(totals: dict, table: str) -> str: ...


@dag(dag_id="example_typed", schedule=None, catchup=False)
def example_typed():
    load(transform(), table="t1")


example_typed()


# Unannotated, so that Airflow hands the int over and the Rust side is what refuses it.
@task.stub(queue="rust", task_id="load")
def load_untyped(totals, table): ...


@dag(dag_id="example_typed_wrong_type", schedule=None, catchup=False)
def example_typed_wrong_type():
    load_untyped(transform(), table=7)


example_typed_wrong_type()


# Overruns its 3 s limit (declared in Rust too): the runtime reports the timeout, and tells the
# supervisor the limit with SetExecutionTimeout (schema 2026-10-30).
@dag(dag_id="example_typed_timeout", schedule=None, catchup=False)
def example_typed_timeout():
    @task.stub(queue="rust", execution_timeout=timedelta(seconds=3))
    def overrun(): ...

    overrun()


example_typed_timeout()
