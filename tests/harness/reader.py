"""What the released apache-airflow-task-sdk reader makes of the files under some roots.

Usage: reader.py --root DIR [--root DIR ...] [--dag-id ID ...]
       reader.py --corpus --root DIR

``--corpus`` judges each regular file under the roots on its own and prints
  {"package_version": "1.3.2", "files": [{"path", "verdict", "detail"}]}
where ``verdict`` is ``accepted`` (``_read_bundle_metadata`` returns a mapping whose ``dags`` has
a ``str`` key and whose supervisor schema version resolves), ``rejected`` (the reader skips it),
or ``raises`` (``_read_bundle_metadata`` lets an exception escape, which breaks ``_Bundle.find``
for every bundle under the same root); ``detail`` is the exception, if any.

Uses the coordinator module's own functions, never a re-implementation:
  * ``_find_executables`` to list the files its scan considers (regular + executable);
  * ``_read_bundle_metadata`` for each regular file under the roots (trailer, sha256, UTF-8,
    ``yaml.safe_load``, mapping);
  * ``_Bundle.find`` for each dag id (the lookup ``ExecutableCoordinator`` does before launching).

Prints one JSON object on stdout:
  {"package_version": "1.3.2",
   "lookups": {dag_id: {"found": bool, "path": str|null, "schema_version": str|null,
                        "error": str|null}},
   "files": [{"path", "scanned", "metadata_accepted", "manifest": typed|null,
              "dag_ids": [typed], "schema_version": str|null, "schema_error": str|null,
              "accepted"}]}
``accepted`` means: scanned, the metadata reader returned a mapping, ``dags`` is a mapping with
at least one ``str`` key, and ``sdk.supervisor_schema_version`` is a string the installed
supervisor resolves -- i.e. ``_Bundle.find`` would return this file for one of its dag ids.
Manifests are in the typed form of ``_common.typed``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", required=True, type=pathlib.Path)
    parser.add_argument("--dag-id", action="append", default=[])
    parser.add_argument("--corpus", action="store_true")
    args = parser.parse_args()

    _common.isolate_airflow_home()
    out = _common.claim_stdout()

    import importlib.metadata

    from airflow.sdk.coordinators.executable import coordinator as coord
    from airflow.sdk.execution_time.schema import get_schema_version_migrator

    roots = [r for r in args.root]
    if args.corpus:
        return corpus(out, coord, get_schema_version_migrator, importlib.metadata, roots)

    lookups = {}
    for dag_id in args.dag_id:
        try:
            bundle = coord._Bundle.find(roots, dag_id)
            lookups[dag_id] = {
                "found": True,
                "path": str(bundle.path),
                "schema_version": bundle.schema_version,
                "error": None,
            }
        except Exception as exc:  # FileNotFoundError, or anything unexpected: report it
            lookups[dag_id] = {
                "found": False,
                "path": None,
                "schema_version": None,
                "error": f"{type(exc).__name__}: {exc}",
            }

    scanned = {str(p) for p in coord._find_executables(roots)}
    regular = []
    for root in roots:
        if root.is_file():
            regular.append(root)
        else:
            for dirpath, _dirs, names in os.walk(root, followlinks=True):
                regular.extend(pathlib.Path(dirpath) / n for n in names)

    files = []
    for path in sorted(set(regular)):
        if not path.is_file():
            continue
        metadata = coord._read_bundle_metadata(path)
        entry = {
            "path": str(path.resolve()),
            "scanned": str(path) in scanned,
            "metadata_accepted": metadata is not None,
            "manifest": _common.typed(metadata) if metadata is not None else None,
            "dag_ids": [],
            "schema_version": None,
            "schema_error": None,
            "accepted": False,
        }
        if metadata is not None:
            dag_ids = coord._dag_ids(metadata)
            entry["dag_ids"] = [_common.typed(d) for d in sorted(dag_ids, key=repr)]
            version = coord._supervisor_schema_version(metadata)
            if version is None:
                entry["schema_error"] = "missing or invalid sdk.supervisor_schema_version"
            else:
                try:
                    entry["schema_version"] = get_schema_version_migrator().resolve_version(version)
                except (TypeError, ValueError) as exc:
                    entry["schema_error"] = str(exc)
            entry["accepted"] = bool(
                entry["scanned"]
                and entry["schema_version"] is not None
                and any(isinstance(d, str) for d in dag_ids)
            )
        files.append(entry)

    report = {
        "package_version": importlib.metadata.version("apache-airflow-task-sdk"),
        "lookups": lookups,
        "files": files,
    }
    out.write(json.dumps(report))
    out.write("\n")
    out.flush()
    return 0


def corpus(out, coord, migrator, metadata_mod, roots) -> int:
    files = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for name in sorted(names):
                path = pathlib.Path(dirpath) / name
                if not path.is_file():
                    continue
                verdict, detail = "rejected", None
                try:
                    metadata = coord._read_bundle_metadata(path)
                except BaseException as exc:  # noqa: BLE001 -- exactly what escapes is the point
                    metadata, verdict, detail = None, "raises", f"{type(exc).__name__}: {exc}"[:300]
                if metadata is not None:
                    dag_ids = coord._dag_ids(metadata)
                    version = coord._supervisor_schema_version(metadata)
                    resolved = False
                    if version is not None:
                        try:
                            migrator().resolve_version(version)
                            resolved = True
                        except (TypeError, ValueError) as exc:
                            detail = str(exc)
                    if resolved and any(isinstance(d, str) for d in dag_ids):
                        verdict = "accepted"
                files.append({"path": str(path.resolve()), "verdict": verdict, "detail": detail})
    out.write(json.dumps({"package_version": metadata_mod.version("apache-airflow-task-sdk"), "files": files}))
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
