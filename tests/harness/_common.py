"""Helpers shared by the harness scripts (stdlib only; imported before Airflow)."""

from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile


def isolate_airflow_home() -> str:
    """Point AIRFLOW_HOME at a fresh temp dir so importing Airflow never touches ~/airflow."""
    home = tempfile.mkdtemp(prefix="airflow-e2e-home-")
    os.environ["AIRFLOW_HOME"] = home
    return home


def claim_stdout():
    """Keep the real stdout for the JSON result and send fd 1 to stderr.

    Importing Airflow configures logging to stdout; without this, log lines would be mixed
    into the one JSON object the Rust side parses.
    """
    sys.stdout.flush()
    real = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return real


def typed(value):
    """A JSON form of a YAML-loaded value that keeps its Python type.

    Every value becomes {"t": <type>, "v": <payload>}: str, int (decimal text, so big ints
    survive), float (repr), bool, none, date/datetime (ISO text), bytes (hex), list, dict
    (a list of [key, value] pairs, keys typed too), other (repr).
    """
    if value is None:
        return {"t": "none", "v": None}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, datetime.datetime):
        return {"t": "datetime", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"t": "date", "v": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"t": "bytes", "v": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return {"t": "list", "v": [typed(v) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[typed(k), typed(v)] for k, v in value.items()]}
    return {"t": "other", "v": f"{type(value).__name__}: {value!r}"}


def jsonable(value):
    """Best-effort plain JSON for log fields and request bodies."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        pass
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    return repr(value)
