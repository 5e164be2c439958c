//! The baseline of `benches/runtime.rs`: a program with the bundles' serde/serde_json
//! dependencies and no airflow-sdk, doing trivial work with them. It parses its first argument as
//! JSON (`{"sleep_ms": N, "words": [...]}`), prints it back as one line, then sleeps `sleep_ms`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Args {
    sleep_ms: u64,
    words: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "{}".to_owned());
    let args: Args = match serde_json::from_str(&arg) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    println!("{}", serde_json::to_string(&args).unwrap_or_default());
    std::thread::sleep(std::time::Duration::from_millis(args.sleep_ms));
    std::process::ExitCode::SUCCESS
}
