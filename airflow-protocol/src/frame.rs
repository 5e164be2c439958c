//! The comm socket's framing: a 4-byte big-endian length, then one msgpack value that must be an
//! array.

use std::io::{self, Read};
use std::time::Instant;

use rmpv::Value;

/// The largest frame the runtime accepts (128 MiB). A longer length prefix is treated as garbage
/// rather than allocated.
pub const MAX_FRAME_LEN: usize = 128 * 1024 * 1024;

/// The deepest nesting of arrays and maps a frame may have, counting the frame's own array (as
/// `serde_json`'s default limit: a hostile peer must not exhaust the reader thread's stack in the
/// recursive decoders). Airflow's own frames nest about ten levels; a dag run's `conf` or an
/// XCom value gets the rest.
pub const MAX_NESTING: usize = 128;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The peer closed the socket (`partial` when it did so in the middle of a frame).
    #[error("the supervisor closed the socket{}", if *partial { " in the middle of a frame" } else { "" })]
    Closed {
        /// Whether part of a frame had arrived.
        partial: bool,
    },
    /// The deadline passed before a whole frame arrived.
    #[error("timed out waiting for the supervisor")]
    Timeout,
    /// The caller asked to stop waiting (SIGTERM).
    #[error("cancelled while waiting for the supervisor")]
    Cancelled,
    /// The length prefix is larger than [`MAX_FRAME_LEN`].
    #[error("frame length {0} exceeds the limit of {MAX_FRAME_LEN} bytes (garbage on the socket?)")]
    TooLarge(usize),
    /// The payload is not one msgpack array.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Any other I/O error (its text is part of this message, so it is not a `source`).
    #[error("I/O error on the comm socket: {0}")]
    Io(io::Error),
}

/// Encodes `value` (which must be an array) as one frame: length prefix and payload.
///
/// # Panics
///
/// If the payload is 4 GiB or more, which the length prefix cannot express.
pub fn encode_frame(value: &Value) -> Vec<u8> {
    debug_assert!(value.is_array(), "frames are always arrays");
    let mut payload = Vec::new();
    rmpv::encode::write_value(&mut payload, value).expect("writing to a Vec cannot fail");
    prefix(payload)
}

/// Puts the length prefix before a payload (a msgpack array).
///
/// # Panics
///
/// If the payload is 4 GiB or more, which the length prefix cannot express.
pub fn prefix(payload: Vec<u8>) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("frame larger than 4 GiB");
    // Reuses the payload's buffer: the prefix is spliced in front of it.
    let mut out = payload;
    out.splice(0..0, len.to_be_bytes());
    out
}

/// Decodes one frame payload (without its length prefix): exactly one msgpack array, no
/// trailing bytes.
///
/// # Errors
///
/// [`FrameError::Malformed`] when the payload is not exactly one msgpack array.
pub fn decode_payload(payload: &[u8]) -> Result<Value, FrameError> {
    let mut rest = payload;
    // rmpv counts two levels per array or map, three for a string, binary or extension leaf
    // and one for any other: MAX_NESTING collections hold any value (one more, a bare scalar).
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, 2 * MAX_NESTING + 3).map_err(
        |e| match e {
            rmpv::decode::Error::DepthLimitExceeded => FrameError::Malformed(format!(
                "nests arrays and maps deeper than {MAX_NESTING} levels"
            )),
            e => FrameError::Malformed(format!("not msgpack: {e}")),
        },
    )?;
    if !rest.is_empty() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes after the msgpack value",
            rest.len()
        )));
    }
    if !value.is_array() {
        return Err(FrameError::Malformed(format!(
            "expected a msgpack array, got {}",
            kind(&value)
        )));
    }
    Ok(value)
}

/// Reads one frame from `r`.
///
/// `r` should return `WouldBlock`/`TimedOut` regularly (a socket with a short read timeout) so
/// that `deadline` and `cancelled` are honoured; partial reads are continued.
///
/// # Errors
///
/// [`FrameError`] when the peer closes, `deadline` passes, `cancelled` returns true, reading fails,
/// or the frame is too large or malformed.
pub fn read_frame(
    r: &mut impl Read,
    deadline: Instant,
    cancelled: &dyn Fn() -> bool,
) -> Result<Value, FrameError> {
    let header = read_exact(r, 4, false, deadline, cancelled)?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len));
    }
    if len == 0 {
        return Err(FrameError::Malformed("empty frame".into()));
    }
    let payload = read_exact(r, len, true, deadline, cancelled)?;
    decode_payload(&payload)
}

/// Reads exactly `len` bytes (`started`: part of the frame was read before, so an end of stream
/// here cuts a frame). The buffer grows with the bytes that actually arrive (`read_to_end`
/// doubles it), never to the untrusted length up front: a peer that announces
/// [`MAX_FRAME_LEN`] and then closes costs a few bytes, not 128 MiB.
fn read_exact(
    r: &mut impl Read,
    len: usize,
    started: bool,
    deadline: Instant,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<u8>, FrameError> {
    let mut buf = Vec::new();
    loop {
        let remaining = (len - buf.len()) as u64;
        // `read_to_end` keeps whatever it read before an error, so a `WouldBlock` (the socket's
        // read timeout, used to poll `deadline` and `cancelled`) loses nothing.
        match r.by_ref().take(remaining).read_to_end(&mut buf) {
            // `Ok` means the limit or the end of the stream was reached.
            Ok(_) if buf.len() == len => return Ok(buf),
            Ok(_) => {
                return Err(FrameError::Closed {
                    partial: started || !buf.is_empty(),
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
        if buf.len() == len {
            return Ok(buf);
        }
        if cancelled() {
            return Err(FrameError::Cancelled);
        }
        if Instant::now() >= deadline {
            return Err(FrameError::Timeout);
        }
    }
}

/// A short name for a msgpack value's kind, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "a boolean",
        Value::Integer(_) => "an integer",
        Value::F32(_) | Value::F64(_) => "a float",
        Value::String(_) => "a string",
        Value::Binary(_) => "binary",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Ext(..) => "an extension value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Hands out its bytes a few at a time, then reports `WouldBlock` forever (or EOF).
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
        eof: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// Wraps a reader and records the largest buffer a caller offered to `read`: the frame
    /// reader's allocation, seen from outside (it reads into the buffer it allocated).
    struct Widest<R> {
        inner: R,
        widest: usize,
    }

    impl<R: Read> Read for Widest<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.widest = self.widest.max(buf.len());
            self.inner.read(buf)
        }
    }

    fn trickle(data: Vec<u8>, step: usize, eof: bool) -> Trickle {
        Trickle {
            data,
            pos: 0,
            step,
            eof,
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(200)
    }

    fn sample() -> Value {
        Value::Array(vec![
            Value::from(7),
            Value::Map(vec![
                (Value::from("type"), Value::from("GetVariable")),
                (Value::from("key"), Value::from("k")),
            ]),
        ])
    }

    #[test]
    fn round_trip_with_partial_reads() {
        let bytes = encode_frame(&sample());
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len() - 4
        );
        // Payload starts with fixarray(2), then positive fixint 7.
        assert_eq!(&bytes[4..6], &[0x92, 0x07]);
        for step in [1, 3, 1000] {
            let mut two = bytes.clone();
            two.extend_from_slice(&bytes);
            let mut r = trickle(two, step, true);
            assert_eq!(read_frame(&mut r, soon(), &|| false).unwrap(), sample());
            assert_eq!(read_frame(&mut r, soon(), &|| false).unwrap(), sample());
            assert!(matches!(
                read_frame(&mut r, soon(), &|| false),
                Err(FrameError::Closed { partial: false })
            ));
        }
    }

    #[test]
    fn truncated_frame_is_a_partial_close() {
        let bytes = encode_frame(&sample());
        let mut r = trickle(bytes[..bytes.len() - 2].to_vec(), 2, true);
        assert!(matches!(
            read_frame(&mut r, soon(), &|| false),
            Err(FrameError::Closed { partial: true })
        ));
    }

    #[test]
    fn silence_times_out_and_cancel_stops_waiting() {
        let bytes = encode_frame(&sample());
        let mut r = trickle(bytes[..3].to_vec(), 1, false);
        let start = Instant::now();
        assert!(matches!(
            read_frame(&mut r, start + Duration::from_millis(50), &|| false),
            Err(FrameError::Timeout)
        ));
        assert!(start.elapsed() < Duration::from_secs(5));
        let mut r = trickle(Vec::new(), 1, false);
        assert!(matches!(
            read_frame(&mut r, soon(), &|| true),
            Err(FrameError::Cancelled)
        ));
    }

    #[test]
    fn oversized_and_garbage_frames_are_rejected() {
        // A length prefix of ~4 GiB (e.g. text on the socket) is refused without allocating.
        let mut r = trickle(b"HTTP/1.1 200".to_vec(), 100, true);
        assert!(matches!(
            read_frame(&mut r, soon(), &|| false),
            Err(FrameError::TooLarge(_))
        ));
        let mut r = trickle(vec![0, 0, 0, 0], 100, true);
        assert!(matches!(
            read_frame(&mut r, soon(), &|| false),
            Err(FrameError::Malformed(_))
        ));
        // A map-shaped frame, a truncated value, trailing bytes, a reserved byte (0xc1).
        for payload in [
            &[0x81, 0xa1, b'a', 0x01][..],
            &[0x92, 0x01][..],
            &[0x91, 0x01, 0x02][..],
            &[0xc1][..],
        ] {
            let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(payload);
            let mut r = trickle(frame, 100, true);
            let err = read_frame(&mut r, soon(), &|| false).unwrap_err();
            assert!(
                matches!(err, FrameError::Malformed(_)),
                "{payload:?}: {err}"
            );
        }
    }

    #[test]
    fn hostile_length_prefix_fails_fast_without_allocating_it() {
        // 0xFFFFFFFF then EOF: refused on the prefix alone, nothing read past it.
        let start = Instant::now();
        let mut r = Widest {
            inner: trickle(vec![0xff; 4], 100, true),
            widest: 0,
        };
        let err = read_frame(&mut r, soon(), &|| false).unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge(n) if n == u32::MAX as usize),
            "{err}"
        );
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
        assert!(r.widest <= 4, "offered a {}-byte buffer", r.widest);
        // The largest accepted prefix, a few bytes, then EOF: the buffer follows what arrived.
        let mut frame = (MAX_FRAME_LEN as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&[0x92, 0x01, 0x02]);
        for eof in [true, false] {
            let mut r = Widest {
                inner: trickle(frame.clone(), 1, eof),
                widest: 0,
            };
            let err = read_frame(&mut r, Instant::now() + Duration::from_millis(50), &|| {
                false
            })
            .unwrap_err();
            if eof {
                assert!(matches!(err, FrameError::Closed { partial: true }), "{err}");
            } else {
                assert!(matches!(err, FrameError::Timeout), "{err}");
            }
            assert!(
                r.widest <= 64 * 1024,
                "offered a {}-byte buffer for 3 bytes",
                r.widest
            );
        }
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn large_frame_arrives_in_pieces() {
        // 1 MiB of binary in one frame, handed over 4000 bytes at a time with `WouldBlock`s
        // between the pieces: the growing buffer keeps every byte.
        let big = Value::Array(vec![Value::Binary(vec![7; 1 << 20])]);
        let bytes = encode_frame(&big);
        struct Stutter {
            data: Vec<u8>,
            pos: usize,
            block: bool,
        }
        impl Read for Stutter {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.block = !self.block;
                if self.block {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = buf.len().min(4000).min(self.data.len() - self.pos);
                buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
                self.pos += n;
                Ok(n)
            }
        }
        let mut r = Stutter {
            data: bytes,
            pos: 0,
            block: false,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(read_frame(&mut r, deadline, &|| false).unwrap(), big);
    }

    #[test]
    fn nesting_is_limited() {
        // `depth` arrays (the frame's own included) around a leaf.
        let nested = |depth: usize, leaf: &[u8]| {
            let mut p = vec![0x91; depth];
            p.extend_from_slice(leaf);
            p
        };
        for (leaf, extra) in [
            (&[0xa1, b'x'][..], 0),
            (&[0xd4, 0x01, 0x00][..], 0),
            (&[0xc4, 0x00][..], 0),
            (&[0xc0][..], 1),
            (&[0x07][..], 1),
        ] {
            let limit = MAX_NESTING + extra;
            assert!(decode_payload(&nested(limit, leaf)).is_ok(), "{leaf:?}");
            let err = decode_payload(&nested(limit + 1, leaf)).unwrap_err();
            assert!(err.to_string().contains("deeper than 128 levels"), "{err}");
        }
        // Maps count like arrays.
        let mut p = vec![0x91];
        p.extend(std::iter::repeat_n([0x81, 0xc0], MAX_NESTING - 1).flatten());
        p.extend_from_slice(&[0xa1, b'x']);
        assert!(decode_payload(&p).is_ok());
        p.splice(1..1, [0x81, 0xc0]);
        assert!(decode_payload(&p).is_err());
    }
}
