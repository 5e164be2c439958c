"""Stub dags for the example bundle's deferral dags (example-bundle/src/deferral.rs).

`deferral`: Rust tasks that defer (a timer, a wait on a triggered run of `deferral_target`, a
trigger that times out).

`deferral_bench` and `deferral_bench_py`: a Rust timer and a Python timer deferring on the same
trigger for 3 s, whose resumptions tests/benches/resume_cost.rs compares.

`deferral_slots`: three Rust tasks that defer for 25 s, ranked first, and `busy`, ranked last:
with one worker slot in the deployment, `busy` can only run while the three are deferred.
"""

from datetime import timedelta

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator, dag, task
from airflow.sdk.timezone import utcnow


def rust(task_id: str, **kwargs):
    """A stub for the bundle's task `task_id`, in the dag being defined."""

    def stub(): ...

    return task.stub(stub, task_id=task_id, queue="rust", **kwargs)()


class PyTimer(BaseOperator):
    """Defers on the standard provider's DateTimeTrigger for `delay` seconds, as the Rust timers
    do, and returns the same XCom fields."""

    def __init__(self, delay: int, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def execute(self, context):
        now = utcnow()
        self.defer(
            trigger=DateTimeTrigger(moment=now + timedelta(seconds=self.delay)),
            method_name="woke",
            kwargs={"deferred_at": now.isoformat()},
        )

    def woke(self, context, event=None, deferred_at=None):
        return {
            "event": event.isoformat(),
            "deferred_at": deferred_at,
            "resumed_at": utcnow().isoformat(),
        }


@dag(dag_id="deferral", schedule=None, catchup=False, tags=["rust"])
def deferral():
    rust("timer")
    rust("wait_dag")
    rust("times_out", retries=0)


@dag(dag_id="deferral_bench", schedule=None, catchup=False, tags=["rust"])
def deferral_bench():
    rust("timer")


@dag(dag_id="deferral_bench_py", schedule=None, catchup=False, tags=["rust"])
def deferral_bench_py():
    PyTimer(task_id="timer", delay=3)


@dag(dag_id="deferral_target", schedule=None, catchup=False, tags=["rust"])
def deferral_target():
    @task
    def hello():
        return "hello"

    hello()


@dag(dag_id="deferral_slots", schedule=None, catchup=False, tags=["rust"])
def deferral_slots():
    for i in range(1, 4):
        rust(f"hold_{i}", priority_weight=10)
    rust("busy", priority_weight=1)


deferral()
deferral_bench()
deferral_bench_py()
deferral_target()
deferral_slots()
