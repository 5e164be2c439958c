//! The comm socket client: numbered requests, replies matched by id, a deadline on every wait.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use rmpv::Value;

use super::messages::{
    self, DagFileParseRequest, Reply, StartupDetails, TaskHandlerParseRequest, ToSupervisor, ToTask,
};
use crate::transport::{CommError, Supervisor};
use airflow_protocol::SchemaVersion;
use airflow_protocol::frame::{self, FrameError};

/// How long a single socket read blocks before deadlines and cancellation are checked again.
const READ_SLICE: Duration = Duration::from_millis(50);
/// How long a frame may take to be written before the supervisor is considered gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// List the task handlers (the Dag processor of upstream main; no release sends it yet).
    Handlers(TaskHandlerParseRequest),
}

/// The request/response channel to the supervisor.
///
/// Shared by every thread of a task (`&self` methods): requests are numbered, written whole
/// under a short write lock, and each waits on its own slot for the reply with its id. One
/// reader thread (started with the first request) reads every reply and hands it to the slot of
/// its id, so no lock is held across a round trip and several requests can be in flight at once.
/// The supervisor answers in order; the ids are what tie replies to requests.
pub(crate) struct Comms {
    /// The stream replies are read from: used directly for the first frame, then handed to the
    /// reader thread.
    reader: Mutex<Option<TcpStream>>,
    writer: Mutex<TcpStream>,
    /// The schema version the bundle declared: outgoing messages take its shape.
    version: SchemaVersion,
    next_id: Arc<AtomicI64>,
    timeout: Duration,
    /// Non-zero once SIGTERM/SIGINT arrived; abortable waits give up then.
    signal: Arc<AtomicUsize>,
    shared: Arc<Mutex<Shared>>,
}

/// What the requesters and the reader thread share.
#[derive(Default)]
struct Shared {
    /// Requests waiting for their reply, by id.
    pending: HashMap<i64, mpsc::SyncSender<Reply>>,
    /// Set when the channel became unusable; later requests fail with it at once.
    broken: Option<String>,
}

impl Shared {
    /// Marks the channel unusable and wakes every waiter (their slots close).
    fn fail(&mut self, message: String) -> CommError {
        if self.broken.is_none() {
            self.broken = Some(message.clone());
        }
        self.pending.clear();
        CommError::Broken(message)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `m`'s guard, tried until `deadline`; `None` when another thread held it all along.
fn lock_until<T>(m: &Mutex<T>, deadline: Instant) -> Option<std::sync::MutexGuard<'_, T>> {
    loop {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() >= deadline => return None,
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Stack of the reader thread, which decodes replies recursively. Frames nest at most
/// [`frame::MAX_NESTING`] levels; decoding the deepest ones needed under 256 KiB in a release
/// build and 640-768 KiB in a debug build (measured by the test below), so 2 MiB (std's default,
/// reserved rather than committed) leaves a wide margin.
const READER_STACK: usize = 2 * 1024 * 1024;

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
        let writer = stream.try_clone()?;
        Ok(Comms {
            reader: Mutex::new(Some(stream)),
            writer: Mutex::new(writer),
            version,
            next_id: Arc::new(AtomicI64::new(1)),
            timeout,
            signal,
            shared: Arc::new(Mutex::new(Shared::default())),
        })
    }

    fn fail(&self, message: String) -> CommError {
        lock(&self.shared).fail(message)
    }

    /// Reads the supervisor's first frame, `[0, StartupDetails | DagFileParseRequest, nil]`.
    /// SIGTERM ends the wait: before it arrives there is nothing to report on.
    pub(crate) fn read_first(&mut self, timeout: Duration) -> Result<FirstMessage, CommError> {
        let signal = Arc::clone(&self.signal);
        let cancelled = move || signal.load(Ordering::SeqCst) != 0;
        let read = {
            let mut guard = lock(&self.reader);
            let Some(stream) = guard.as_mut() else {
                return Err(CommError::Broken("the first frame was already read".into()));
            };
            frame::read_frame(stream, Instant::now() + timeout, &cancelled)
        };
        let frame = match read {
            Ok(f) => f,
            Err(FrameError::Timeout) => return Err(CommError::Timeout(timeout)),
            Err(FrameError::Cancelled) => return Err(CommError::Cancelled),
            Err(other) => return Err(self.fail(other.to_string())),
        };
        decode_first(frame, self.version).map_err(|e| match e {
            CommError::Broken(m) => self.fail(m),
            other => other,
        })
    }

    /// Starts the reader thread, once. The runtime starts it before a task runs, so that a report
    /// sent while the process exits needs no new thread.
    pub(crate) fn start_reader(&self) -> Result<(), CommError> {
        let Some(mut stream) = lock(&self.reader).take() else {
            return Ok(());
        };
        let shared = Arc::clone(&self.shared);
        let next_id = Arc::clone(&self.next_id);
        let spawned = std::thread::Builder::new()
            .name("airflow-comms".into())
            .stack_size(READER_STACK)
            .spawn(move || read_replies(&mut stream, &shared, &next_id));
        match spawned {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(format!("cannot start the comm reader thread: {e}"))),
        }
    }

    /// Sends one request body and waits up to `timeout` for its reply. An `abortable` wait ends
    /// early once a termination signal arrived. Safe to call from several threads at once.
    pub(crate) fn request(
        &self,
        message: ToSupervisor,
        timeout: Duration,
        abortable: bool,
    ) -> Result<Reply, CommError> {
        self.request_with(message, timeout, abortable, None)
    }

    /// Like [`Comms::request`], for a report sent while the process exits: the channel's locks
    /// are waited for only until the deadline (another thread, which exit does not stop, may hold
    /// one), and the reader thread must already run.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn request_at_exit(
        &self,
        message: ToSupervisor,
        timeout: Duration,
    ) -> Result<Reply, CommError> {
        self.request_with(message, timeout, false, Some(Instant::now() + timeout))
    }

    fn request_with(
        &self,
        message: ToSupervisor,
        timeout: Duration,
        abortable: bool,
        lock_deadline: Option<Instant>,
    ) -> Result<Reply, CommError> {
        let shared = &*self.shared;
        let take = || match lock_deadline {
            None => Ok(lock(shared)),
            Some(deadline) => lock_until(shared, deadline).ok_or(CommError::Timeout(timeout)),
        };
        if lock_deadline.is_none() {
            self.start_reader()?;
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let mut shared = take()?;
            if let Some(m) = &shared.broken {
                return Err(CommError::Broken(format!(
                    "the comm channel is unusable: {m}"
                )));
            }
            // Registered before the frame is written: the reply cannot come first.
            shared.pending.insert(id, tx);
        }
        let bytes = frame::prefix(self.version.outgoing(message).encode_request(id));
        let written = {
            let mut w = match lock_deadline {
                None => lock(&self.writer),
                Some(deadline) => {
                    lock_until(&self.writer, deadline).ok_or(CommError::Timeout(timeout))?
                }
            };
            w.write_all(&bytes).and_then(|()| w.flush())
        };
        if let Err(e) = written {
            return Err(self.fail(format!("cannot write to the comm socket: {e}")));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let slice = deadline.saturating_duration_since(now).min(READ_SLICE);
            match rx.recv_timeout(slice) {
                Ok(reply) => return Ok(reply),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let m = take()?
                        .broken
                        .clone()
                        .unwrap_or_else(|| "the comm channel closed".into());
                    return Err(CommError::Broken(m));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let gave_up = if abortable && self.signal.load(Ordering::SeqCst) != 0 {
                Some(CommError::Cancelled)
            } else if Instant::now() >= deadline {
                Some(CommError::Timeout(timeout))
            } else {
                None
            };
            if let Some(e) = gave_up {
                // A reply that still comes is then a late one, and dropped.
                if let Ok(mut shared) = take() {
                    shared.pending.remove(&id);
                }
                return Err(e);
            }
        }
    }
}

/// Decodes the supervisor's first frame, `[0, StartupDetails | DagFileParseRequest |
/// TaskHandlerParseRequest, nil]` (the last also spelled `SDKTaskHandlerParseRequest`), into
/// the shape of `version`. A frame that cannot be read is [`CommError::Broken`].
pub(crate) fn decode_first(
    frame: Value,
    version: SchemaVersion,
) -> Result<FirstMessage, CommError> {
    let Value::Array(mut items) = frame else {
        return Err(CommError::Broken(format!(
            "the first frame is {}, not an array",
            messages::kind(&frame)
        )));
    };
    if items.len() < 2 {
        return Err(CommError::Broken(format!(
            "the first frame has {} elements, expected [id, body, error]",
            items.len()
        )));
    }
    if items.len() > 2 && !items[2].is_nil() {
        let err = messages::to_json(&items[2]);
        return Err(CommError::Broken(format!(
            "the first frame carries an error: {err}"
        )));
    }
    let body = std::mem::replace(&mut items[1], Value::Nil);
    match messages::type_of(&body) {
        Some(
            "StartupDetails"
            | "DagFileParseRequest"
            | "TaskHandlerParseRequest"
            | "SDKTaskHandlerParseRequest",
        ) => {}
        Some(other) => return Err(CommError::UnknownFirstMessage(other.to_owned())),
        None => {
            return Err(CommError::Broken(format!(
                "the first frame's body is {} without a string \"type\"",
                messages::kind(&body)
            )));
        }
    }
    match messages::decode_body(body) {
        Ok(ToTask::StartupDetails(d)) => Ok(FirstMessage::Startup(Box::new(version.incoming(*d)))),
        Ok(ToTask::DagFileParseRequest(r)) => Ok(FirstMessage::Parse(r)),
        Ok(ToTask::TaskHandlerParseRequest(r)) => Ok(FirstMessage::Handlers(r)),
        // Not expected (the type was checked above), but a protocol error, never a panic.
        Ok(other) => Err(CommError::Broken(format!(
            "the first frame's body decoded as {}, not StartupDetails or DagFileParseRequest",
            other.kind()
        ))),
        Err(e) => Err(CommError::Broken(e)),
    }
}

impl Supervisor for Comms {
    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn request(
        &self,
        message: ToSupervisor,
        timeout: Duration,
        abortable: bool,
    ) -> Result<Reply, CommError> {
        Comms::request(self, message, timeout, abortable)
    }
}

/// The reader thread: hands each reply to the request of its id until the channel breaks.
fn read_replies(stream: &mut TcpStream, shared: &Mutex<Shared>, next_id: &AtomicI64) {
    // Waits are bounded by the requesters; this thread just blocks on the socket.
    let _ = stream.set_read_timeout(None);
    let far = || Instant::now() + Duration::from_secs(86_400);
    loop {
        let frame = match frame::read_frame(stream, far(), &|| false) {
            Ok(f) => f,
            Err(FrameError::Timeout) => continue,
            Err(e) => {
                lock(shared).fail(e.to_string());
                return;
            }
        };
        let (id, reply) = match messages::decode_response(frame) {
            Ok(r) => r,
            Err(e) => {
                lock(shared).fail(format!("unexpected frame from the supervisor: {e}"));
                return;
            }
        };
        let mut guard = lock(shared);
        match guard.pending.remove(&id) {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None if id > 0 && id < next_id.load(Ordering::SeqCst) => {
                // The late reply to a request that timed out earlier.
                log::debug!(target: "airflow_sdk::runtime", id = id; "ignoring a late reply");
            }
            None => {
                guard.fail(format!(
                    "the supervisor answered request {id}, which was never sent"
                ));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::tests::peer::{field, recv, send};
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

    #[test]
    fn replies_are_matched_by_id_and_late_ones_skipped() {
        let (c, mut s, _) = pair();
        let t = c.timeout();
        // No reply: times out, does not hang.
        let start = Instant::now();
        let e = c
            .request(ToSupervisor::get_variable("a"), t, true)
            .unwrap_err();
        assert!(matches!(e, CommError::Timeout(_)), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
        let (first, _) = recv(&mut s);
        assert_eq!(first, 1);
        // The late reply to 1 arrives before the reply to 2.
        let server = std::thread::spawn(move || {
            let (id, _) = recv(&mut s);
            for i in [1, id] {
                let f = Value::Array(vec![Value::from(i), Value::Nil, Value::Nil]);
                send(&mut s, &f);
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
        send(&mut s, &f);
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
        let (c, s, signal) = pair();
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

    #[test]
    fn requests_from_several_threads_are_in_flight_together() {
        let (c, mut s, _) = pair();
        const N: usize = 8;
        // The fake supervisor reads all N requests before answering any: with a lock held
        // across the round trip, only one would ever arrive and this would time out.
        let server = std::thread::spawn(move || {
            let mut ids = Vec::new();
            for _ in 0..N {
                let (id, body) = recv(&mut s);
                let key = field(&body, "key").unwrap();
                ids.push((id, key));
            }
            // Answer in reverse order: replies are matched by id, not by arrival.
            for (id, key) in ids.iter().rev() {
                let body = Value::Map(vec![
                    (Value::from("key"), Value::from(key.as_str())),
                    (Value::from("value"), Value::from(format!("v-{key}"))),
                    (Value::from("type"), Value::from("VariableResult")),
                ]);
                let f = Value::Array(vec![Value::from(*id), body, Value::Nil]);
                send(&mut s, &f);
            }
            ids.len()
        });
        let c = &c;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    scope.spawn(move || {
                        let key = format!("k{i}");
                        let reply = c
                            .request(
                                ToSupervisor::get_variable(&key),
                                Duration::from_secs(5),
                                true,
                            )
                            .unwrap();
                        match reply {
                            Reply::Body(ToTask::VariableResult(r)) => {
                                assert_eq!(r.value.as_deref(), Some(format!("v-{key}").as_str()));
                            }
                            other => panic!("{other:?}"),
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        });
        assert_eq!(server.join().unwrap(), N);
    }

    /// The deepest nesting `frame::decode_payload` accepts of `open` (one level) around nil,
    /// inside `[1, <head>..., <nested>]`.
    fn deepest(head: &[u8], open: &[u8]) -> Vec<u8> {
        (1..=frame::MAX_NESTING + 8)
            .rev()
            .map(|depth| {
                let mut p = head.to_vec();
                for _ in 0..depth {
                    p.extend_from_slice(open);
                }
                p.push(0xc0);
                p
            })
            .find(|p| frame::decode_payload(p).is_ok())
            .expect("some depth decodes")
    }

    #[test]
    fn deepest_frames_decode_on_the_reader_stack() {
        // A hostile supervisor nests values as deep as the msgpack decoder allows; decoding the
        // reply, converting it to JSON and dropping it all happen on the reader thread's small
        // stack, which must hold.
        let xcom = b"\x92\x01\x83\xa4type\xaaXComResult\xa3key\xa1k\xa5value";
        let error = b"\x93\x01\xc0\x82\xa5error\xa1e\xa6detail";
        let bare_error = b"\x93\x01\xc0";
        let mut payloads = Vec::new();
        for head in [&xcom[..], &error[..], &bare_error[..]] {
            for open in [&[0x91][..], &[0x81, 0xa1, b'a'][..], &[0x81, 0xc0][..]] {
                payloads.push(deepest(head, open));
            }
        }
        let decoded = std::thread::Builder::new()
            .stack_size(READER_STACK)
            .spawn(move || {
                payloads
                    .into_iter()
                    .map(|p| {
                        let v = frame::decode_payload(&p).unwrap();
                        let r = messages::decode_response(v);
                        format!("{:?}", r.as_ref().map(|(id, _)| id))
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap()
            .join()
            .expect("the reader stack overflowed");
        assert_eq!(decoded.len(), 9);
    }
}
