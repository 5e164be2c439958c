"""Stub dag for the example bundle's `retry_assets` dag (example-bundle/src/retry_assets.rs):
a task that picks its own retry delay (the declared one, 60 s, is what the test tells apart),
a task that ends removed, the asset whose state store a task uses, and the alias a task emits
through."""

from datetime import timedelta

from airflow.sdk import Asset, AssetAlias, dag, task

STATE_ASSET = Asset("rust_state_asset", uri="file:///tmp/rust_state_asset")
ALIAS = AssetAlias("rust_alias")


def rust(task_id: str, **kwargs):
    """A stub for the bundle's task `task_id`, in the dag being defined."""

    def stub(): ...

    return task.stub(stub, task_id=task_id, queue="rust", **kwargs)()


@dag(dag_id="retry_assets", schedule=None, catchup=False, tags=["rust"])
def retry_assets():
    rust("retry_custom", retries=1, retry_delay=timedelta(seconds=60))
    rust("removed", retries=2, retry_delay=timedelta(seconds=1))
    rust("asset_state", outlets=[STATE_ASSET])
    rust("emit_alias", outlets=[ALIAS]) >> rust("read_alias")


retry_assets()
