#!/usr/bin/env bash
# Budget: one small request (GetVariable) through the real supervisor,
# median over 1,000 in one task, stays within 2x of a Python task's Variable.get in the same
# deployment. Runs the task_api deployment test (tests/tests/e2e/task_api.rs), which times both
# and writes <target>/task-api-latency.json, then checks the ratio.
#   scripts/bench-request-latency.sh          (TASK_API_LATENCY_N=1000 by default)
# Needs AIRFLOW_E2E_PYTHON (a venv with apache-airflow 3.3.2), as the e2e tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
export TASK_API_LATENCY_N=${TASK_API_LATENCY_N:-1000}
cargo nextest run -p airflow-e2e --no-capture task_api_in_a_real_airflow_3_3
target=${CARGO_TARGET_DIR:-target}
python3 - "$target/task-api-latency.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rust, py, ratio = r["rust"]["median_us"], r["python"]["median_us"], r["ratio"]
print(f"GetVariable median over {r['n']}: Rust {rust:.0f} us, Python Variable.get {py:.0f} us, ratio {ratio:.2f} (budget 2.0)")
sys.exit(0 if ratio <= 2.0 else 1)
PY
