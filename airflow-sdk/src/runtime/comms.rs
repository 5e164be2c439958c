//! The comm socket client: numbered requests, replies matched by id, a deadline on every wait.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmpv::Value;

use super::frame::{self, FrameError};
use super::messages::{self, DagFileParseRequest, Reply, StartupDetails, ToSupervisor, ToTask};
use super::versions::SchemaVersion;

/// How long a single socket read blocks before deadlines and cancellation are checked again.
const READ_SLICE: Duration = Duration::from_millis(50);
/// How long a frame may take to be written before the supervisor is considered gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to the supervisor.
#[derive(Debug)]
pub(crate) enum CommError {
    /// No reply before the deadline.
    Timeout(Duration),
    /// The wait was abandoned because the task was asked to stop.
    Cancelled,
    /// The socket is closed, or the supervisor sent something this runtime cannot read. The
    /// channel is unusable afterwards.
    Broken(String),
    /// The first frame is a message this runtime does not know how to start from.
    UnknownFirstMessage(String),
}

impl std::fmt::Display for CommError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommError::Timeout(d) => write!(
                f,
                "the supervisor did not answer within {:.1} s",
                d.as_secs_f64()
            ),
            CommError::Cancelled => write!(f, "cancelled: the task was asked to stop"),
            CommError::Broken(m) => write!(f, "{m}"),
            CommError::UnknownFirstMessage(kind) => write!(
                f,
                "the first message is {kind:?}; this runtime starts only from StartupDetails \
                 (run a task) or DagFileParseRequest (parse the file)"
            ),
        }
    }
}

/// Connects to `HOST:PORT`, trying each resolved address, within `timeout` per address.
pub(crate) fn connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    let mut last = io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{addr:?} resolves to no address"),
    );
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// What the supervisor's first frame asks for.
#[derive(Debug)]
pub(crate) enum FirstMessage {
    /// Run a task.
    Startup(Box<StartupDetails>),
    /// Parse the bundle file (the Dag processor of Airflow 3.4).
    Parse(DagFileParseRequest),
}

/// The request/response channel to the supervisor.
pub(crate) struct Comms {
    stream: TcpStream,
    /// The schema version the bundle declared: outgoing messages take its shape.
    version: SchemaVersion,
    next_id: i64,
    timeout: Duration,
    /// Non-zero once SIGTERM/SIGINT arrived; abortable waits give up then.
    signal: Arc<AtomicUsize>,
    /// Set when the channel became unusable; later requests fail with it at once.
    broken: Option<String>,
}

impl Comms {
    /// Wraps a connected comm socket. `timeout` bounds every wait for a reply.
    pub(crate) fn new(
        stream: TcpStream,
        version: SchemaVersion,
        timeout: Duration,
        signal: Arc<AtomicUsize>,
    ) -> io::Result<Comms> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_SLICE))?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Comms {
            stream,
            version,
            next_id: 1,
            timeout,
            signal,
            broken: None,
        })
    }

    /// The default wait for a reply.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    fn read(&mut self, deadline: Instant, abortable: bool) -> Result<Value, CommError> {
        let signal = &self.signal;
        let cancelled = || abortable && signal.load(Ordering::SeqCst) != 0;
        frame::read_frame(&mut self.stream, deadline, &cancelled).map_err(|e| match e {
            FrameError::Timeout => CommError::Timeout(self.timeout),
            FrameError::Cancelled => CommError::Cancelled,
            other => {
                let m = other.to_string();
                self.broken = Some(m.clone());
                CommError::Broken(m)
            }
        })
    }

    /// Reads the supervisor's first frame, `[0, StartupDetails | DagFileParseRequest, nil]`.
    /// SIGTERM ends the wait: before it arrives there is nothing to report on.
    pub(crate) fn read_first(&mut self, timeout: Duration) -> Result<FirstMessage, CommError> {
        let frame = self
            .read(Instant::now() + timeout, true)
            .map_err(|e| match e {
                CommError::Timeout(_) => CommError::Timeout(timeout),
                e => e,
            })?;
        let mut items = match frame {
            Value::Array(items) => items,
            _ => unreachable!("frames are arrays"),
        };
        if items.len() < 2 {
            return Err(self.fail(format!(
                "the first frame has {} elements, expected [id, body, error]",
                items.len()
            )));
        }
        if items.len() > 2 && !items[2].is_nil() {
            let err = messages::to_json(&items[2]);
            return Err(self.fail(format!("the first frame carries an error: {err}")));
        }
        let body = std::mem::replace(&mut items[1], Value::Nil);
        match messages::type_of(&body) {
            Some("StartupDetails" | "DagFileParseRequest") => {}
            Some(other) => return Err(CommError::UnknownFirstMessage(other.to_owned())),
            None => {
                return Err(self.fail(format!(
                    "the first frame's body is {} without a string \"type\"",
                    messages::kind(&body)
                )));
            }
        }
        match messages::decode_body(body) {
            Ok(ToTask::StartupDetails(d)) => {
                Ok(FirstMessage::Startup(Box::new(self.version.incoming(*d))))
            }
            Ok(ToTask::DagFileParseRequest(r)) => Ok(FirstMessage::Parse(r)),
            Ok(other) => unreachable!("type checked above, decoded as {}", other.kind()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, message: String) -> CommError {
        self.broken = Some(message.clone());
        CommError::Broken(message)
    }

    /// Sends one request body and waits up to `timeout` for its reply. An `abortable` wait ends
    /// early once a termination signal arrived.
    pub(crate) fn request(
        &mut self,
        message: ToSupervisor,
        timeout: Duration,
        abortable: bool,
    ) -> Result<Reply, CommError> {
        if let Some(m) = &self.broken {
            return Err(CommError::Broken(format!(
                "the comm channel is unusable: {m}"
            )));
        }
        let id = self.next_id;
        self.next_id += 1;
        let bytes = frame::prefix(self.version.outgoing(message).encode_request(id));
        if let Err(e) = self
            .stream
            .write_all(&bytes)
            .and_then(|()| self.stream.flush())
        {
            return Err(self.fail(format!("cannot write to the comm socket: {e}")));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let frame = self.read(deadline, abortable).map_err(|e| match e {
                CommError::Timeout(_) => CommError::Timeout(timeout),
                e => e,
            })?;
            let (got, reply) = messages::decode_response(frame)
                .map_err(|e| self.fail(format!("unexpected frame from the supervisor: {e}")))?;
            if got == id {
                return Ok(reply);
            }
            if got < id {
                // The late reply to a request that timed out earlier.
                log::debug!(target: "airflow_sdk::runtime", id = got; "ignoring a late reply");
                continue;
            }
            return Err(self.fail(format!(
                "the supervisor answered request {got}, but only {id} was sent"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair() -> (Comms, TcpStream, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let c = connect(&addr, Duration::from_secs(1)).unwrap();
        let (s, _) = l.accept().unwrap();
        let signal = Arc::new(AtomicUsize::new(0));
        (
            Comms::new(
                c,
                SchemaVersion::default(),
                Duration::from_millis(300),
                signal.clone(),
            )
            .unwrap(),
            s,
            signal,
        )
    }

    fn read_request(s: &mut TcpStream) -> Value {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut buf = vec![0; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).unwrap();
        frame::decode_payload(&buf).unwrap()
    }

    #[test]
    fn replies_are_matched_by_id_and_late_ones_skipped() {
        let (mut c, mut s, _) = pair();
        let t = c.timeout();
        // No reply: times out, does not hang.
        let start = Instant::now();
        let e = c
            .request(ToSupervisor::get_variable("a"), t, true)
            .unwrap_err();
        assert!(matches!(e, CommError::Timeout(_)), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
        let first = read_request(&mut s);
        assert_eq!(first.as_array().unwrap()[0].as_i64(), Some(1));
        // The late reply to 1 arrives before the reply to 2.
        let server = std::thread::spawn(move || {
            let req = read_request(&mut s);
            let id = req.as_array().unwrap()[0].as_i64().unwrap();
            for i in [1, id] {
                let f = Value::Array(vec![Value::from(i), Value::Nil, Value::Nil]);
                s.write_all(&frame::encode_frame(&f)).unwrap();
            }
            s
        });
        assert_eq!(
            c.request(ToSupervisor::get_variable("b"), t, true).unwrap(),
            Reply::Ack
        );
        let mut s = server.join().unwrap();
        // A reply for a request never sent breaks the channel.
        let f = Value::Array(vec![Value::from(99), Value::Nil, Value::Nil]);
        s.write_all(&frame::encode_frame(&f)).unwrap();
        let e = c
            .request(ToSupervisor::get_variable("c"), t, true)
            .unwrap_err();
        assert!(matches!(e, CommError::Broken(_)), "{e}");
        let e = c
            .request(ToSupervisor::get_variable("d"), t, true)
            .unwrap_err();
        assert!(e.to_string().contains("unusable"), "{e}");
    }

    #[test]
    fn closed_socket_and_signal_end_waits() {
        let (mut c, s, signal) = pair();
        signal.store(15, Ordering::SeqCst);
        let e = c
            .request(
                ToSupervisor::get_variable("a"),
                Duration::from_secs(30),
                true,
            )
            .unwrap_err();
        assert!(matches!(e, CommError::Cancelled), "{e}");
        drop(s);
        let e = c
            .request(
                ToSupervisor::get_variable("a"),
                Duration::from_secs(30),
                false,
            )
            .unwrap_err();
        assert!(matches!(e, CommError::Broken(_)), "{e}");
    }
}
