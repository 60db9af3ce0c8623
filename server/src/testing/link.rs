//! A weak mobile link between a phone and the server, for tests and benchmarks: a TCP proxy on
//! loopback that delays, throttles and cuts what passes through it, and counts it.
//!
//! The machines this project is built on have no `netem` (`tc qdisc add … netem` answers
//! "unknown qdisc"), so the link is emulated where it works everywhere: in user space, between
//! the client's socket and the server's. Each direction is a queue with its own bandwidth; a
//! segment leaves the queue when the link has had time to send it and arrives half a round trip
//! later. What it does not do, and why that matters:
//! - **Loss becomes delay.** TCP on loopback never loses a segment, so a lost one is played as
//!   TCP would recover it: the segment is sent again after one round trip (fast retransmit),
//!   taking the link's time again, and everything behind it waits (head-of-line blocking). A
//!   retransmission timeout (a second or more, when a whole window is lost) is not played.
//! - **No slow start.** The kernel's loopback TCP opens its window at once; a new connection
//!   over a real link starts slow, so short exchanges on a fresh connection are a little
//!   optimistic here. Each new connection does pay its handshake (one round trip before the
//!   first byte goes up).
//! - **Queues are bounded like a socket's**: the proxy takes no more from a sender than about
//!   64 KiB (or one round trip's worth, if more) beyond what the link has sent, so a cut loses
//!   what was in flight, as a real drop does, and the sender cannot race ahead of the link.
//! - **A drop is a cut**: every open connection is closed at once and new ones are refused
//!   until the link comes back. A phone that lost its signal sees stalls and timeouts first;
//!   here it sees the closed connection at once, which only makes its retries start sooner.
//!
//! It counts bytes each way (as the application sent them: HTTP headers and bodies, not TCP/IP
//! headers), connections, and round trips: each new connection's handshake and each turn of an
//! exchange (a request going up after the last thing on its connection came down).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What a link does: bandwidth each way, round-trip time and the share of segments lost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    /// Server to phone, bits per second.
    pub down_bps: u64,
    /// Phone to server, bits per second.
    pub up_bps: u64,
    pub rtt: Duration,
    /// Share of segments lost (0.03 for 3 %), each recovered after one more round trip.
    pub loss: f64,
}

/// EDGE (2.75G) at the edge of coverage: what a mountain village has at its one good spot.
pub const EDGE: Profile = Profile {
    name: "edge",
    down_bps: 200_000,
    up_bps: 100_000,
    rtt: Duration::from_millis(500),
    loss: 0.03,
};

/// A weak 3G (HSPA) cell.
pub const WEAK_3G: Profile = Profile {
    name: "3g-weak",
    down_bps: 1_000_000,
    up_bps: 384_000,
    rtt: Duration::from_millis(250),
    loss: 0.01,
};

/// An ordinary 4G cell in a township.
pub const FOUR_G: Profile = Profile {
    name: "4g",
    down_bps: 10_000_000,
    up_bps: 5_000_000,
    rtt: Duration::from_millis(60),
    loss: 0.001,
};

/// The profiles by name, weakest first.
pub const PROFILES: [Profile; 3] = [EDGE, WEAK_3G, FOUR_G];

/// The profile called `name`.
pub fn profile(name: &str) -> Option<Profile> {
    PROFILES.into_iter().find(|p| p.name == name)
}

/// The largest piece of a stream handled as one: a TCP segment on a link with a 1,500-byte MTU.
const SEGMENT: usize = 1_448;
/// How far a sender may get ahead of the link: a socket buffer's worth.
const QUEUE_BYTES: u64 = 64 * 1024;

/// What passed through a link so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes the phone sent (taken by the link, whether or not they arrived).
    pub up: u64,
    /// Bytes the server sent.
    pub down: u64,
    pub connections: u64,
    /// Handshakes plus turns of exchanges.
    pub round_trips: u64,
    /// Bytes the phone sent that a drop lost on the way.
    pub up_lost: u64,
}

impl std::ops::Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            up: self.up - o.up,
            down: self.down - o.down,
            connections: self.connections - o.connections,
            round_trips: self.round_trips - o.round_trips,
            up_lost: self.up_lost - o.up_lost,
        }
    }
}

#[derive(Debug, Default)]
struct Counting {
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
    round_trips: AtomicU64,
    up_lost: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    profile: Profile,
    counting: Counting,
    /// Bumped at every drop: each connection watches it and closes when it moves.
    drops: watch::Sender<u64>,
    /// While the link is down (until this moment), new connections are refused.
    down_until: std::sync::Mutex<Option<Instant>>,
    /// Bytes the link delivered to the server.
    up_delivered: AtomicU64,
    /// A drop armed to happen when this many bytes in all were delivered up (0: none), for
    /// how long.
    drop_at_up: AtomicU64,
    drop_for_ms: AtomicU64,
    /// The random state for losses (xorshift: reproducible, no dependency).
    dice: AtomicU64,
}

impl Shared {
    fn drop_now(&self, outage: Duration) {
        if let Ok(mut until) = self.down_until.lock() {
            *until = Some(Instant::now() + outage);
        }
        self.drops.send_modify(|n| *n += 1);
    }

    /// Counts bytes that reached the server, and drops the link when an armed drop is due.
    fn delivered(&self, n: u64) {
        let total = self.up_delivered.fetch_add(n, Ordering::Relaxed) + n;
        let at = self.drop_at_up.load(Ordering::Relaxed);
        if at != 0 && total >= at {
            self.drop_at_up.store(0, Ordering::Relaxed);
            let ms = self.drop_for_ms.load(Ordering::Relaxed);
            self.drop_now(Duration::from_millis(ms));
        }
    }

    fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .ok()
            .and_then(|u| *u)
            .is_some_and(|u| Instant::now() < u)
    }

    /// Whether the next segment is lost (and sent again after a round trip).
    fn lost(&self) -> bool {
        if self.profile.loss <= 0.0 {
            return false;
        }
        let mut x = self.dice.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.dice.store(x, Ordering::Relaxed);
        // The top 53 bits as a fraction in [0, 1).
        ((x >> 11) as f64 / (1u64 << 53) as f64) < self.profile.loss
    }
}

/// A running link: connect to [`Link::url`] instead of the server.
#[derive(Debug)]
pub struct Link {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.drops.send_modify(|n| *n += 1);
    }
}

impl Link {
    /// A link on a loopback port to the server at `server` (a loopback address too).
    pub async fn start(server: SocketAddr, profile: Profile) -> std::io::Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            profile,
            counting: Counting::default(),
            drops: watch::channel(0).0,
            down_until: std::sync::Mutex::new(None),
            up_delivered: AtomicU64::new(0),
            drop_at_up: AtomicU64::new(0),
            drop_for_ms: AtomicU64::new(0),
            dice: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        });
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((phone, _)) = listener.accept().await {
                if accepting.is_down() {
                    drop(phone);
                    continue;
                }
                tokio::spawn(carry(phone, server, accepting.clone()));
            }
        });
        Ok(Link {
            addr,
            shared,
            accept,
        })
    }

    /// The base URL a client uses to reach the server through the link.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn profile(&self) -> Profile {
        self.shared.profile
    }

    pub fn counters(&self) -> Counters {
        let c = &self.shared.counting;
        Counters {
            up: c.up.load(Ordering::Relaxed),
            down: c.down.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            round_trips: c.round_trips.load(Ordering::Relaxed),
            up_lost: c.up_lost.load(Ordering::Relaxed),
        }
    }

    /// Cuts every connection now and refuses new ones for `outage`.
    pub fn drop_for(&self, outage: Duration) {
        self.shared.drop_now(outage);
    }

    /// Cuts the link (for `outage`) once `bytes` more have reached the server: mid-upload.
    pub fn drop_after_up(&self, bytes: u64, outage: Duration) {
        let at = self.shared.up_delivered.load(Ordering::Relaxed) + bytes.max(1);
        let ms = u64::try_from(outage.as_millis()).unwrap_or(u64::MAX);
        self.shared.drop_for_ms.store(ms, Ordering::Relaxed);
        self.shared.drop_at_up.store(at, Ordering::Relaxed);
    }

    /// Whether the link is down now.
    pub fn is_down(&self) -> bool {
        self.shared.is_down()
    }
}

/// Which way the last bytes on a connection went: a request going up after an answer came
/// down is a new turn.
#[derive(Debug, Default)]
struct Turns {
    answered: AtomicBool,
}

/// One phone connection, carried both ways until either side closes or the link drops.
async fn carry(phone: TcpStream, server: SocketAddr, shared: Arc<Shared>) {
    let Ok(upstream) = TcpStream::connect(server).await else {
        return;
    };
    let _ = phone.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let counting = &shared.counting;
    counting.connections.fetch_add(1, Ordering::Relaxed);
    counting.round_trips.fetch_add(1, Ordering::Relaxed);
    let (phone_read, phone_write) = phone.into_split();
    let (server_read, server_write) = upstream.into_split();
    // The first request is a turn of its own, after the handshake's.
    let turns = Arc::new(Turns {
        answered: AtomicBool::new(true),
    });
    let p = shared.profile;
    // The handshake: the phone's first bytes go up one round trip after it connected.
    let opened = Instant::now() + p.rtt;
    let up = direction(
        phone_read,
        server_write,
        shared.clone(),
        Way::Up,
        turns.clone(),
        opened,
    );
    let down = direction(
        server_read,
        phone_write,
        shared.clone(),
        Way::Down,
        turns,
        opened,
    );
    // Each direction ends at a drop by itself (and counts what the drop lost).
    tokio::join!(up, down);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    Up,
    Down,
}

/// One direction of a connection: reads what the sender writes, as fast as the link's queue
/// takes it, and writes each segment when it would have arrived.
async fn direction(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: Arc<Shared>,
    way: Way,
    turns: Arc<Turns>,
    opened: Instant,
) {
    let p = shared.profile;
    let bps = match way {
        Way::Up => p.up_bps,
        Way::Down => p.down_bps,
    }
    .max(1);
    let one_way = p.rtt / 2;
    // Seconds the link takes to send `n` bytes.
    let airtime = |n: usize| Duration::from_secs_f64(n as f64 * 8.0 / bps as f64);
    let ahead = airtime(usize::try_from(QUEUE_BYTES).unwrap_or(usize::MAX)).max(p.rtt);
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    // Bytes taken from the sender and bytes delivered: what a drop finds between them is lost.
    let (taken, sent) = (AtomicU64::new(0), AtomicU64::new(0));
    let writer = async {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
            sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            if way == Way::Up {
                shared.delivered(bytes.len() as u64);
            }
        }
        let _ = to.shutdown().await;
    };
    let counting = &shared.counting;
    let reader = async {
        // When the link is free to send the next segment, and when the last one arrives.
        let mut free = opened;
        let mut last_arrival = opened;
        let mut buf = vec![0u8; SEGMENT];
        loop {
            // Take no more than a socket buffer's worth ahead of the link.
            let now = Instant::now();
            if free > now + ahead {
                tokio::time::sleep_until(free - ahead).await;
            }
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            taken.fetch_add(n as u64, Ordering::Relaxed);
            match way {
                Way::Up => {
                    // A request going up after an answer came down (or the first) is a turn.
                    if turns.answered.swap(false, Ordering::Relaxed) {
                        counting.round_trips.fetch_add(1, Ordering::Relaxed);
                    }
                    counting.up.fetch_add(n as u64, Ordering::Relaxed);
                }
                Way::Down => {
                    turns.answered.store(true, Ordering::Relaxed);
                    counting.down.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            let start = free.max(Instant::now());
            let mut done = start + airtime(n);
            let mut arrival = done + one_way;
            if shared.lost() {
                // Sent again once the sender hears of the gap (a round trip), taking the
                // link's time again.
                done += airtime(n);
                arrival = done + p.rtt + one_way;
            }
            free = done;
            // In order, as TCP delivers: nothing overtakes a segment that is late.
            last_arrival = last_arrival.max(arrival);
            if tx.send((last_arrival, buf[..n].to_vec())).is_err() {
                break;
            }
        }
        drop(tx);
    };
    let mut drops = shared.drops.subscribe();
    drops.mark_unchanged();
    tokio::select! {
        _ = async { tokio::join!(reader, writer) } => {}
        _ = drops.changed() => {}
    }
    if way == Way::Up {
        let lost = taken
            .load(Ordering::Relaxed)
            .saturating_sub(sent.load(Ordering::Relaxed));
        counting.up_lost.fetch_add(lost, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers every read with the same bytes.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    const SLOW: Profile = Profile {
        name: "slow",
        down_bps: 400_000,
        up_bps: 80_000,
        rtt: Duration::from_millis(100),
        loss: 0.0,
    };

    /// Sends `n` bytes and reads them back through `link`.
    async fn exchange(link: &Link, n: usize) -> std::io::Result<()> {
        let mut s = TcpStream::connect(link.addr).await?;
        s.write_all(&vec![7u8; n]).await?;
        let mut back = vec![0u8; n];
        s.read_exact(&mut back).await?;
        assert!(back.iter().all(|b| *b == 7));
        Ok(())
    }

    #[tokio::test]
    async fn a_link_takes_the_time_its_bandwidth_and_latency_say_and_counts_what_passed() {
        let link = Link::start(echo().await, SLOW).await.expect("link");
        let started = std::time::Instant::now();
        exchange(&link, 10_000).await.expect("exchange");
        // The handshake, 10 KB at 80 kbit/s up (1 s) and the last segment's round trip (the
        // echo streams back while the rest goes up): never less, whatever the machine's speed.
        let least = Duration::from_millis(100 + 1_000 + 100);
        assert!(started.elapsed() >= least, "{:?}", started.elapsed());
        let c = link.counters();
        assert_eq!((c.up, c.down, c.connections), (10_000, 10_000, 1), "{c:?}");
        // The handshake and one turn.
        assert_eq!(c.round_trips, 2, "{c:?}");
        assert_eq!(c.up_lost, 0);
    }

    #[tokio::test]
    async fn a_drop_cuts_the_connection_refuses_new_ones_and_counts_what_it_lost() {
        let link = Link::start(echo().await, SLOW).await.expect("link");
        link.drop_after_up(5_000, Duration::from_millis(500));
        // 20 KB at 80 kbit/s: two seconds, cut after the first 5 KB.
        assert!(exchange(&link, 20_000).await.is_err(), "the cut is seen");
        assert!(link.is_down());
        // The sender's 20 KB were all taken (a socket buffer's worth); what had not reached
        // the server when the link dropped was lost.
        let c = link.counters();
        assert_eq!(c.up, 20_000, "{c:?}");
        assert!(c.up_lost >= 10_000 && c.up_lost <= 15_000, "{c:?}");
        // While down, a new connection is closed at once.
        let mut s = TcpStream::connect(link.addr).await.expect("connect");
        let mut buf = [0u8; 1];
        assert_eq!(s.read(&mut buf).await.unwrap_or(0), 0);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!link.is_down());
        exchange(&link, 100).await.expect("the link is back");
    }
}
