//! A fault proxy on loopback: a TCP forwarder between a service and PostgreSQL that, on the
//! test's command, adds latency, black-holes traffic, resets every connection, refuses new ones
//! or cuts one direction — the network faults of the fault matrix (`tests/fault_matrix.rs`),
//! injected for real with tokio alone, no external tool.
//!
//! Each connection is two pumps (client → server, "up"; server → client, "down"). A pump's
//! reader stamps every chunk with its arrival time and queues it; its writer delivers the chunk
//! once `arrival + latency` has passed and nothing holds that direction. A black hole or a cut
//! holds chunks (bytes are accepted, never answered, as by a dead route; delivered if the route
//! comes back, as TCP would retransmit them); a stranded connection holds them for good; a
//! reset aborts every connection with an RST.
//!
//! ```no_run
//! # async fn f() {
//! use std::time::Duration;
//! use pgready_tests::faults::FaultProxy;
//!
//! let proxy = FaultProxy::start(5432).await;
//! // DSN: postgres://…@127.0.0.1:{proxy.port()}/…
//! proxy.set_latency(Duration::from_millis(50), Duration::from_millis(50));
//! proxy.black_hole(true);
//! proxy.heal();
//! # }
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};

/// What the proxy does to traffic right now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added to every chunk from the client to the server.
    pub latency_up: Duration,
    /// Added to every chunk from the server to the client.
    pub latency_down: Duration,
    /// No byte is delivered either way, on open and new connections alike; new connections are
    /// still accepted.
    pub black_hole: bool,
    /// The listener is closed: new connections are refused (`ECONNREFUSED`).
    pub refuse: bool,
    /// Nothing is delivered from the client to the server.
    pub cut_up: bool,
    /// Nothing is delivered from the server to the client.
    pub cut_down: bool,
    /// Bumped by [`FaultProxy::reset_all`]: connections older than the bump are reset.
    resets: u64,
    /// Bumped by [`FaultProxy::strand`]: connections older than the bump deliver nothing again.
    strands: u64,
}

impl Faults {
    /// Whether a connection born at strand generation `born` holds its bytes going `dir`.
    fn holds(&self, dir: Dir, born: u64) -> bool {
        self.black_hole
            || self.strands != born
            || match dir {
                Dir::Up => self.cut_up,
                Dir::Down => self.cut_down,
            }
    }

    fn latency(&self, dir: Dir) -> Duration {
        match dir {
            Dir::Up => self.latency_up,
            Dir::Down => self.latency_down,
        }
    }
}

#[derive(Clone, Copy)]
enum Dir {
    Up,
    Down,
}

/// Counts kept by the proxy.
#[derive(Default)]
struct Counts {
    accepted: AtomicU64,
    /// Client sockets open now: accepted, and the client has not closed its side yet.
    open: AtomicU64,
    /// The most client sockets open at once since the last [`FaultProxy::reset_peak`],
    /// sampled [`SETTLE`] after each acceptance (see there).
    peak: AtomicU64,
    reset: AtomicU64,
}

/// The fault proxy: listens on a free loopback port and forwards every connection to
/// `127.0.0.1:<target>`, applying the current [`Faults`]; runs until dropped (on the runtime
/// that started it).
pub struct FaultProxy {
    port: u16,
    target: Arc<AtomicU16>,
    faults: watch::Sender<Faults>,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:target`, with no fault.
    pub async fn start(target: u16) -> FaultProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the fault proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let target = Arc::new(AtomicU16::new(target));
        let (faults, _) = watch::channel(Faults::default());
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(accept_loop(
            listener,
            port,
            Arc::clone(&target),
            faults.subscribe(),
            Arc::clone(&counts),
        ));
        FaultProxy {
            port,
            target,
            faults,
            counts,
            task,
        }
    }

    /// The port a DSN should name.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// New connections go to `127.0.0.1:target` from now on (open ones stay where they are).
    pub fn retarget(&self, target: u16) {
        self.target.store(target, Ordering::SeqCst);
    }

    /// The faults in force now.
    pub fn faults(&self) -> Faults {
        self.faults.borrow().clone()
    }

    /// Adds `up` to every chunk client → server and `down` to every chunk server → client
    /// (a round trip gains `up + down`).
    pub fn set_latency(&self, up: Duration, down: Duration) {
        self.faults.send_modify(|f| {
            f.latency_up = up;
            f.latency_down = down;
        });
    }

    /// Black-holes every connection, open and new (`true`), or lets held bytes through again.
    pub fn black_hole(&self, on: bool) {
        self.faults.send_modify(|f| f.black_hole = on);
    }

    /// Closes the listener, so new connections are refused (`true`), or listens again on the
    /// same port. Open connections are not touched.
    pub fn refuse(&self, on: bool) {
        self.faults.send_modify(|f| f.refuse = on);
    }

    /// Holds everything client → server (`up`) and/or server → client (`down`).
    pub fn cut(&self, up: bool, down: bool) {
        self.faults.send_modify(|f| {
            f.cut_up = up;
            f.cut_down = down;
        });
    }

    /// Every connection open now is black-holed for good, while new ones work: the route of
    /// a lost NAT entry, or of a host replaced behind its address. Only the client's own
    /// timeouts (or the kernel's, minutes later on a real network) end them.
    pub fn strand(&self) {
        self.faults.send_modify(|f| f.strands += 1);
    }

    /// Aborts every open connection with an RST, both to the client and to the server.
    pub fn reset_all(&self) {
        self.faults.send_modify(|f| f.resets += 1);
    }

    /// No fault any more: no latency, nothing held, listening; held bytes are delivered
    /// (except on stranded connections).
    pub fn heal(&self) {
        self.faults.send_modify(|f| {
            *f = Faults {
                resets: f.resets,
                strands: f.strands,
                ..Faults::default()
            }
        });
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.counts.accepted.load(Ordering::Relaxed)
    }

    /// Client sockets open now (accepted, and not yet closed by the client).
    pub fn open(&self) -> u64 {
        self.counts.open.load(Ordering::Relaxed)
    }

    /// The most client sockets open at once since the start or the last
    /// [`reset_peak`](Self::reset_peak).
    pub fn peak(&self) -> u64 {
        self.counts.peak.load(Ordering::Relaxed)
    }

    /// Starts a new peak from the sockets open now.
    pub fn reset_peak(&self) {
        self.counts.peak.store(self.open(), Ordering::Relaxed);
    }

    /// Connections aborted by [`reset_all`](Self::reset_all) so far.
    pub fn resets(&self) -> u64 {
        self.counts.reset.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Open connections end with the proxy, as with a machine that went away.
        self.reset_all();
    }
}

/// Accepts while not refusing; closes the listener while refusing and binds the same port
/// again afterwards.
async fn accept_loop(
    listener: TcpListener,
    port: u16,
    target: Arc<AtomicU16>,
    mut faults: watch::Receiver<Faults>,
    counts: Arc<Counts>,
) {
    let mut listener = Some(listener);
    loop {
        let refuse = faults.borrow_and_update().refuse;
        match (&listener, refuse) {
            (Some(_), true) => listener = None,
            (None, false) => listener = Some(rebind(port).await),
            _ => {}
        }
        let Some(open) = &listener else {
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                let Ok((client, _)) = accepted else { continue };
                if faults.borrow().refuse {
                    // Accepted in the same instant as the order to refuse: turned away, as the
                    // connections still queued on the closing listener are (RST).
                    #[allow(deprecated)] // linger 0 never blocks: see `connection`
                    let _ = client.set_linger(Some(Duration::ZERO));
                    continue;
                }
                counts.accepted.fetch_add(1, Ordering::Relaxed);
                let to = SocketAddr::from((Ipv4Addr::LOCALHOST, target.load(Ordering::SeqCst)));
                tokio::spawn(connection(client, to, faults.clone(), Arc::clone(&counts)));
            }
            changed = faults.changed() => if changed.is_err() { return },
        }
    }
}

/// The listener again on `port` (`SO_REUSEADDR`, so the old connections' `TIME_WAIT` does not
/// block it); retried briefly, as the port was just released.
async fn rebind(port: u16) -> TcpListener {
    let started = Instant::now();
    loop {
        let bound = TcpSocket::new_v4().and_then(|socket| {
            socket.set_reuseaddr(true)?;
            socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
            socket.listen(1024)
        });
        match bound {
            Ok(listener) => return listener,
            Err(_) if started.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the fault proxy cannot listen on port {port} again: {e}"),
        }
    }
}

/// How long after accepting a socket the peak is sampled. A client that closes a connection
/// and then opens another (a pool replacing one it discarded) has sent the first one's FIN
/// before the second one's SYN, but the proxy's task reading that FIN may run after the one
/// accepting the SYN; sampled at once, the two would count as open together. 5 ms is far
/// longer than that race and far shorter than any connection the pool keeps.
const SETTLE: Duration = Duration::from_millis(5);

/// Counts a client socket open from its acceptance until the client closes its side (or the
/// connection ends), once.
struct OpenGuard {
    counts: Arc<Counts>,
    closed: bool,
}

impl OpenGuard {
    fn new(counts: Arc<Counts>) -> OpenGuard {
        counts.open.fetch_add(1, Ordering::Relaxed);
        let sampled = Arc::clone(&counts);
        tokio::spawn(async move {
            tokio::time::sleep(SETTLE).await;
            let open = sampled.open.load(Ordering::Relaxed);
            sampled.peak.fetch_max(open, Ordering::Relaxed);
        });
        OpenGuard {
            counts,
            closed: false,
        }
    }

    fn close(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            self.counts.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.close();
    }
}

/// One proxied connection: a server that refuses closes the client at once, as a dead address
/// would; a reset aborts both sides with an RST.
async fn connection(
    mut client: TcpStream,
    to: SocketAddr,
    mut faults: watch::Receiver<Faults>,
    counts: Arc<Counts>,
) {
    let (born, stranded) = {
        let f = faults.borrow_and_update();
        (f.resets, f.strands)
    };
    let guard = std::sync::Mutex::new(OpenGuard::new(Arc::clone(&counts)));
    let Ok(mut server) = TcpStream::connect(to).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let reset = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let up = pump(
            client_read,
            server_write,
            (Dir::Up, stranded),
            faults.clone(),
            Some(&guard),
        );
        let down = pump(
            server_read,
            client_write,
            (Dir::Down, stranded),
            faults.clone(),
            None,
        );
        let reset = faults.wait_for(|f| f.resets != born);
        tokio::select! {
            _ = async { tokio::try_join!(up, down) } => false,
            r = reset => r.is_ok(),
        }
    };
    if reset {
        counts.reset.fetch_add(1, Ordering::Relaxed);
        // SO_LINGER 0: the close below sends an RST instead of a FIN. tokio deprecates
        // `set_linger` because a positive linger blocks the thread in `close`; zero never does.
        #[allow(deprecated)]
        let _ = (
            client.set_linger(Some(Duration::ZERO)),
            server.set_linger(Some(Duration::ZERO)),
        );
    }
}

/// Copies `from` to `to` under the faults of `dir`, until EOF (then shuts `to` down) or an
/// error. `guard`, on the client's side, is closed when the client closes.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    (dir, stranded): (Dir, u64),
    faults: watch::Receiver<Faults>,
    guard: Option<&std::sync::Mutex<OpenGuard>>,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    let read = async {
        let mut buf = vec![0u8; 16 * 1024];
        let result = loop {
            match from.read(&mut buf).await {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    let _ = tx.send((Instant::now(), Some(buf[..n].to_vec())));
                }
                Err(e) => break Err(e),
            }
        };
        if let Some(guard) = guard {
            guard.lock().unwrap_or_else(|p| p.into_inner()).close();
        }
        // EOF travels through the queue, behind the bytes before it; an error ends at once.
        let _ = tx.send((Instant::now(), None));
        match result {
            Ok(()) => std::future::pending().await,
            Err(e) => Err(e),
        }
    };
    let write = async {
        let mut faults = faults;
        while let Some((arrived, chunk)) = rx.recv().await {
            if faults.borrow().holds(dir, stranded) {
                let _ = faults.wait_for(|f| !f.holds(dir, stranded)).await;
            }
            let latency = faults.borrow().latency(dir);
            tokio::time::sleep_until((arrived + latency).into()).await;
            match chunk {
                Some(bytes) => to.write_all(&bytes).await?,
                None => {
                    let _ = to.shutdown().await;
                    return Ok(());
                }
            }
        }
        Ok(())
    };
    tokio::select! {
        r = read => r,
        r = write => r,
    }
}
