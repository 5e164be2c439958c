//! Step timings for finding where a pack spends its time: with `CARGO_AIRFLOW_TIMINGS=1` in the
//! environment, each [`mark`] prints `timing: <step>: <ms since the previous mark> (<ms since
//! start>)` on stderr. Off by default, and then a mark costs one relaxed atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

/// The environment variable that turns the timings on.
pub const ENV: &str = "CARGO_AIRFLOW_TIMINGS";

/// 0: not read yet, 1: off, 2: on.
static STATE: AtomicU8 = AtomicU8::new(0);
/// (start, previous mark).
static CLOCK: Mutex<Option<(Instant, Instant)>> = Mutex::new(None);

fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os(ENV).is_some_and(|v| !v.is_empty() && v != "0");
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            if on {
                start();
            }
            on
        }
        s => s == 2,
    }
}

/// Starts the clock (the first [`mark`] starts it otherwise).
pub fn start() {
    let mut clock = CLOCK.lock().unwrap_or_else(|e| e.into_inner());
    if clock.is_none() {
        let now = Instant::now();
        *clock = Some((now, now));
    }
}

/// Records the end of `step`.
pub fn mark(step: &str) {
    if !enabled() {
        return;
    }
    let now = Instant::now();
    let mut clock = CLOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (start, last) = clock.get_or_insert((now, now));
    let line = format!(
        "timing: {step}: {:.1} ms ({:.1} ms)",
        (now - *last).as_secs_f64() * 1e3,
        (now - *start).as_secs_f64() * 1e3
    );
    *last = now;
    drop(clock);
    eprintln!("{line}");
}
