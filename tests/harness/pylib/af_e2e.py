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


# The multi-host deployment's workers: each host's address (deploy.py sets it per host), which
# is also where the api-server fetches the task logs that host wrote.
def hostname_from_env() -> str:
    import os

    return os.environ["AF_E2E_HOSTNAME"]
