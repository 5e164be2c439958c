"""Settings the test deployments import by path (tests/harness/deploy.py puts this folder on
every service's PYTHONPATH)."""

# `[database] sql_alchemy_connect_args` for sqlite: wait up to a minute for a lock instead of
# sqlite's 5 s. On two cores, with the scheduler, dag-processor, api-server and a dozen task
# supervisors writing, "database is locked" otherwise kills a service now and then.
SQLITE_CONNECT_ARGS = {"timeout": 60}


# `[core] hostname_callable` targets that give each Celery worker of a deployment its own name,
# so the tests can see which worker ran a task instance (all of them run on one host).
def worker1() -> str:
    return "worker1"


def worker2() -> str:
    return "worker2"
