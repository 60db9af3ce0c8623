//! Hybrid logical clock (Kulkarni et al., 2014).
//!
//! Every edit a phone makes is stamped with an [`Hlc`]: physical milliseconds, a counter that
//! orders events inside one millisecond (or while the physical clock stands still or runs
//! backwards), and the device id as the final tie-break. Stamps are totally ordered, so
//! "the later edit wins" is well defined even between phones whose clocks disagree.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One timestamp of the hybrid logical clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch, as the stamping device's clock saw them.
    pub wall_ms: u64,
    /// Orders stamps that share `wall_ms`.
    pub counter: u32,
    /// The stamping device (or the server's node id for server-made changes).
    pub node: Uuid,
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.wall_ms, self.counter, self.node).cmp(&(other.wall_ms, other.counter, other.node))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hlc {
    /// The smallest stamp of a node: what a clock holds before its first event.
    pub fn zero(node: Uuid) -> Self {
        Hlc {
            wall_ms: 0,
            counter: 0,
            node,
        }
    }
}

/// The clock of one node. Call [`HlcClock::tick`] for a local event and
/// [`HlcClock::observe`] when a stamp from another node arrives (a pulled record).
#[derive(Clone, Debug)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    pub fn new(node: Uuid) -> Self {
        HlcClock {
            last: Hlc::zero(node),
        }
    }

    /// Restores a clock from the last stamp it issued (after an app restart).
    pub fn resume(last: Hlc) -> Self {
        HlcClock { last }
    }

    pub fn last(&self) -> Hlc {
        self.last
    }

    /// Stamps a local event at physical time `now_ms`.
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        if now_ms > self.last.wall_ms {
            self.last.wall_ms = now_ms;
            self.last.counter = 0;
        } else {
            self.bump_counter();
        }
        self.last
    }

    /// Merges a stamp received from another node, so that every later local stamp orders after
    /// it. Returns the clock's new stamp.
    pub fn observe(&mut self, remote: &Hlc, now_ms: u64) -> Hlc {
        let wall = now_ms.max(self.last.wall_ms).max(remote.wall_ms);
        if wall == self.last.wall_ms && wall == remote.wall_ms {
            self.last.counter = self.last.counter.max(remote.counter);
            self.bump_counter();
        } else if wall == self.last.wall_ms {
            self.bump_counter();
        } else if wall == remote.wall_ms {
            self.last.wall_ms = wall;
            self.last.counter = remote.counter;
            self.bump_counter();
        } else {
            self.last.wall_ms = wall;
            self.last.counter = 0;
        }
        self.last
    }

    /// A counter overflow (four billion events in one millisecond) moves to the next
    /// millisecond rather than wrapping, which would break monotonicity.
    fn bump_counter(&mut self) {
        match self.last.counter.checked_add(1) {
            Some(c) => self.last.counter = c,
            None => {
                self.last.wall_ms += 1;
                self.last.counter = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    #[test]
    fn tick_is_monotonic_when_the_clock_runs_backwards() {
        let mut c = HlcClock::new(node(1));
        let a = c.tick(1_000);
        let b = c.tick(900);
        let d = c.tick(900);
        assert!(a < b && b < d);
        assert_eq!(b.wall_ms, 1_000);
        assert_eq!(d.counter, 2);
    }

    #[test]
    fn observe_orders_after_a_remote_stamp_from_the_future() {
        let mut c = HlcClock::new(node(1));
        c.tick(1_000);
        let remote = Hlc {
            wall_ms: 5_000,
            counter: 7,
            node: node(2),
        };
        let seen = c.observe(&remote, 1_001);
        assert!(seen > remote);
        assert!(c.tick(1_002) > remote);
    }

    #[test]
    fn node_breaks_ties() {
        let a = Hlc {
            wall_ms: 1,
            counter: 0,
            node: node(1),
        };
        let b = Hlc { node: node(2), ..a };
        assert!(a < b);
    }

    proptest! {
        #[test]
        fn stamps_strictly_increase(events in proptest::collection::vec((0u64..10_000, any::<bool>(), 0u64..10_000, 0u32..5), 1..60)) {
            let mut c = HlcClock::new(node(1));
            let mut prev = c.last();
            for (now, is_remote, remote_wall, remote_counter) in events {
                let next = if is_remote {
                    let remote = Hlc { wall_ms: remote_wall, counter: remote_counter, node: node(2) };
                    let s = c.observe(&remote, now);
                    prop_assert!(s > remote);
                    s
                } else {
                    c.tick(now)
                };
                prop_assert!(next > prev);
                prev = next;
            }
        }
    }
}
