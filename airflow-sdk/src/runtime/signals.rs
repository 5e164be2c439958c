//! SIGTERM and SIGINT: the supervisor forwards them to ask the task to stop.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use signal_hook::consts::{SIGINT, SIGTERM};

/// Installs handlers that store the signal number in the returned flag (0 until one arrives).
pub(crate) fn install() -> io::Result<Arc<AtomicUsize>> {
    let flag = Arc::new(AtomicUsize::new(0));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register_usize(sig, Arc::clone(&flag), sig as usize)?;
    }
    Ok(flag)
}

/// The name of a signal number stored by [`install`].
pub(crate) fn name(sig: usize) -> &'static str {
    match sig as i32 {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "a signal",
    }
}
