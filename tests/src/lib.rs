//! Support for the end-to-end tests: the Airflow venv and the harness that drives it.
