"""What the released apache-airflow-task-sdk reader makes of the files under some roots.

Usage: reader.py --root DIR [--root DIR ...] [--dag-id ID ...]
       reader.py --corpus --root DIR

``--corpus`` judges each regular file under the roots on its own, with the installed task SDK
(1.3.2 or 1.4.0b2), and prints
  {"package_version": "1.3.2",
   "files": [{"path", "verdict", "detail", "dag_ids", "mode_set", "native_parse"}]}
where ``verdict`` is ``accepted`` (the coordinator's own scan yields the file and its lookup,
``_Bundle.find([path], dag_id)``, returns the file for its first ``str`` dag id), ``rejected`` (the reader skips it), or ``raises``
(``_read_bundle_metadata`` or ``_Bundle.find`` lets an exception other than
``FileNotFoundError`` escape, which breaks the lookup for every bundle under the same root);
``detail`` is the exception, if any; ``dag_ids`` the ``str`` keys of ``dags`` (lone surrogates
as U+FFFD, so that the JSON is UTF-8) when the metadata reader returned a mapping, else null;
``mode_set`` whether the lookup gave the file an execute bit it lacked (1.4.0b2 does). A file
the scan skips is ``rejected`` unread. ``native_parse`` (1.4.0b2; null with 1.3.2) whether the
Dag processor's ``ExecutableDagImporter`` would run the file for native dags (no file extension,
ends with the trailer magic).
The lookup of 1.4.0b2 may chmod the files: judge them with it last.

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
    del migrator  # the lookup resolves the schema version itself
    try:  # 1.4.0b2's Dag processor side; 1.3.2 has no native dags
        from airflow.sdk.coordinators.executable._dag_importer import ExecutableDagImporter
        from airflow.sdk.importers.base import FilesystemDagDefinition

        importer = ExecutableDagImporter(bundle_name="corpus")
    except ImportError:
        importer = None
    files = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for name in sorted(names):
                path = pathlib.Path(dirpath) / name
                if not path.is_file():
                    continue
                entry = judge(coord, path)
                entry["native_parse"] = (
                    None
                    if importer is None
                    else importer.can_handle(path)
                    and importer.might_contain_dag(FilesystemDagDefinition(path=path), True)
                )
                files.append(entry)
    out.write(json.dumps({"package_version": metadata_mod.version("apache-airflow-task-sdk"), "files": files}))
    out.write("\n")
    out.flush()
    return 0


def judge(coord, path: pathlib.Path) -> dict:
    """One file's verdict from the reader's own functions, as in the module docstring."""
    entry = {"path": str(path.resolve()), "verdict": "rejected", "detail": None, "dag_ids": None, "mode_set": False}
    # The lookup reads only what its scan yields (1.3.2: executable regular files; 1.4.0b2: every
    # regular file), so a file the scan skips can make nothing raise.
    scan = getattr(coord, "_find_executables", None) or coord._find_bundle_files
    if path not in set(scan([path])):
        entry["detail"] = "the scan skips it"
        return entry
    try:
        metadata = coord._read_bundle_metadata(path)
    except BaseException as exc:  # noqa: BLE001 -- exactly what escapes is the point
        entry["verdict"], entry["detail"] = "raises", f"{type(exc).__name__}: {exc}"[:300]
        return entry
    if metadata is None:
        return entry
    ids = sorted(d for d in coord._dag_ids(metadata) if isinstance(d, str))
    entry["dag_ids"] = [d.encode("utf-16", "surrogatepass").decode("utf-16", "replace") for d in ids]
    if not ids:
        return entry
    executable_before = os.access(path, os.X_OK)
    try:
        found = coord._Bundle.find([path], ids[0])
        entry["verdict"] = "accepted" if found.path == path.resolve() else "rejected"
    except FileNotFoundError as exc:
        entry["detail"] = str(exc)[:300]
    except BaseException as exc:  # noqa: BLE001
        entry["verdict"], entry["detail"] = "raises", f"{type(exc).__name__}: {exc}"[:300]
    entry["mode_set"] = not executable_before and os.access(path, os.X_OK)
    return entry


if __name__ == "__main__":
    sys.exit(main())
