//! Entry points for the fuzz targets under `fuzz/` (feature `fuzzing`). Not part of the API: no
//! stability promise, and nothing a bundle should call.

use std::time::{Duration, Instant};

use crate::runtime::comms::decode_first;
use crate::runtime::messages::decode_response;
use airflow_protocol::SchemaVersion;
use airflow_protocol::frame::read_frame;

/// Decodes `bytes` as the runtime decodes what arrives on the comm socket: length-prefixed
/// frames until the stream ends or breaks, the first one as the supervisor's first message
/// (in the shape of every schema version), each later one as a reply. Must never panic,
/// hang or allocate beyond a small multiple of `bytes.len()`.
pub fn comm_stream(bytes: &[u8]) {
    let mut rest = bytes;
    // A slice never blocks: the deadline only has to be in the future.
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut first = true;
    while let Ok(frame) = read_frame(&mut rest, deadline, &|| false) {
        if first {
            first = false;
            for &version in SchemaVersion::ALL {
                let _ = decode_first(frame.clone(), version);
            }
        } else if decode_response(frame).is_err() {
            // The reader thread stops at the first reply it cannot read.
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_streams_end_quietly() {
        let frame = |payload: &[u8]| {
            let mut f = (payload.len() as u32).to_be_bytes().to_vec();
            f.extend_from_slice(payload);
            f
        };
        let mut deep = vec![0x91; 4096];
        deep.push(0xc0);
        for stream in [
            vec![0xff; 4],
            vec![0x07, 0xff, 0xff, 0xff, 0x92],
            frame(&deep),
            [
                frame(&[0x93, 0x00, 0x81, 0xa4, b't', b'y', b'p', b'e', 0xc0, 0xc0]),
                frame(&deep),
            ]
            .concat(),
            frame(&[
                0x93, 0x00, 0xc0, 0x81, 0xa5, b'e', b'r', b'r', b'o', b'r', 0x07,
            ]),
        ] {
            comm_stream(&stream);
        }
    }
}
