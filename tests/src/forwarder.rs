//! A TCP forwarder on loopback: the address a DSN names, moved by the test from one server to
//! another, as a virtual IP or a DNS name is moved in a failover.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards every connection to `127.0.0.1:<its port>` to the current target port; runs until
/// dropped (on the runtime that started it).
pub struct Forwarder {
    port: u16,
    target: Arc<AtomicU16>,
    /// Bumped by [`retarget`](Self::retarget): connections of an older generation are cut.
    generation: watch::Sender<u64>,
    forwarded: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    /// Listens on a free loopback port and forwards to `127.0.0.1:target`.
    pub async fn start(target: u16) -> Forwarder {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the forwarder");
        let port = listener
            .local_addr()
            .expect("the forwarder's address")
            .port();
        let target = Arc::new(AtomicU16::new(target));
        let (generation, _) = watch::channel(0u64);
        let forwarded = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let target = Arc::clone(&target);
            let generation = generation.clone();
            let forwarded = Arc::clone(&forwarded);
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    forwarded.fetch_add(1, Ordering::Relaxed);
                    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, target.load(Ordering::SeqCst)));
                    let cut = generation.subscribe();
                    tokio::spawn(forward(client, to, cut));
                }
            }
        });
        Forwarder {
            port,
            target,
            generation,
            forwarded,
            task,
        }
    }

    /// The port a DSN should name.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// New connections go to `127.0.0.1:target` from now on; those open now are cut, as the
    /// old address no longer reaches anything.
    pub fn retarget(&self, target: u16) {
        self.target.store(target, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Connections accepted so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}

/// Copies both ways until either side closes or the generation changes; a target that refuses
/// closes the client at once, as a dead address would.
async fn forward(mut client: TcpStream, to: SocketAddr, mut cut: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(to).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.changed() => {}
    }
}
