"""Packs fake_child.py into an AFBNDL01 bundle for harness self-checks (own minimal packer).

Usage: pack_fake.py OUT_FILE PYTHON [--dag ID=task,task ...]

The executable region is a /bin/sh launcher that execs PYTHON on a here-document holding the
script; exec happens before the shell could read the appended regions.
"""

import hashlib
import json
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
out, python = sys.argv[1], sys.argv[2]
dags = {}
rest = sys.argv[3:]
for i, a in enumerate(rest):
    if a == "--dag":
        dag_id, tasks = rest[i + 1].split("=", 1)
        dags[dag_id] = {"tasks": tasks.split(",")}
script = open(os.path.join(here, "fake_child.py")).read()
launcher = f"#!/bin/sh\nexec '{python}' - \"$@\" <<'AIRFLOW_E2E_EOF'\n{script}\nAIRFLOW_E2E_EOF\n".encode()
manifest = json.dumps(
    {
        "airflow_bundle_metadata_version": "1.0",
        "sdk": {"language": "python-fake", "version": "0", "supervisor_schema_version": "2026-06-16"},
        "source": "fake_child.py",
        "dags": dags,
    }
).encode()
source = script.encode()
trailer = struct.pack("<III", len(source), len(manifest), 1) + hashlib.sha256(launcher).digest()
trailer += b"\0" * 12 + b"AFBNDL01"
with open(out, "wb") as f:
    f.write(launcher + source + manifest + trailer)
os.chmod(out, 0o755)
