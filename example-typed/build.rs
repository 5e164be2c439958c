fn main() {
    airflow_build::build();
}
