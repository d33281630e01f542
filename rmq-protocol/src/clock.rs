//! The time that message timestamps are stamped with and that scheduled deliveries wait on.
//!
//! Production runs on the system clock. A test can run the broker and the application on one *virtual*
//! clock instead: virtual time flows with the system clock but can be moved forward at will, so a level-18
//! delay (two hours), sixteen retries with their growing back-off, or a transaction check-back interval pass
//! in milliseconds. Anything that waits for a point in virtual time (a delay level's head, a timer message, a
//! transaction check round, an orderly consumer's suspension) waits through [`Clock::sleep_until`], which
//! wakes when the time is reached by either real passage or [`Clock::advance`].
//!
//! Network timeouts, long polling and flush intervals are not part of this: they stay on tokio's real time,
//! because the bytes they wait for move in real time.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What a sleeper waits for, so an auto-advancing test clock can jump to deliveries without also jumping to
/// every periodic round (which would run forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wait {
    /// A message becomes deliverable then: a delay level's head, a timer message, a suspended orderly queue,
    /// a consume request resubmitted later.
    Delivery,
    /// A periodic round (transaction checks): moved only by an explicit [`Clock::advance`].
    Periodic,
}

/// A clock shared by a broker and the applications in one process: the system clock, or a virtual one.
///
/// Cheap to clone (one `Arc`); all clones of a virtual clock see the same time.
#[derive(Clone, Default)]
pub struct Clock {
    virt: Option<Arc<Virtual>>,
}

/// The state of a virtual clock.
#[derive(Default)]
struct Virtual {
    /// How far virtual time is ahead of the system clock, in ms.
    offset_ms: AtomicI64,
    /// Fired (to all waiters) when the offset moves.
    moved: Notify,
    /// Everyone currently sleeping: (due ms, id) → what for.
    sleepers: Mutex<BTreeMap<(i64, u64), Wait>>,
    /// Fired when a sleeper arrives or leaves.
    sleepers_changed: Notify,
    next_id: AtomicU64,
    /// Whether [`Clock::drive`] jumps to the next delivery.
    auto: AtomicBool,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.virt {
            None => f.write_str("Clock::System"),
            Some(v) => f
                .debug_struct("Clock::Virtual")
                .field("offset_ms", &v.offset_ms.load(Ordering::Relaxed))
                .field("sleepers", &v.sleepers.lock().len())
                .finish(),
        }
    }
}

/// The system clock in epoch ms (0 if the clock is before 1970).
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self { virt: None }
    }

    /// A virtual clock starting at the system time; it moves forward only with real time and
    /// [`advance`](Self::advance).
    pub fn virtual_time() -> Self {
        Self {
            virt: Some(Arc::new(Virtual::default())),
        }
    }

    /// Whether this is a virtual clock.
    pub fn is_virtual(&self) -> bool {
        self.virt.is_some()
    }

    /// Now in epoch ms.
    pub fn now_ms(&self) -> i64 {
        let real = system_now_ms();
        match &self.virt {
            None => real,
            Some(v) => real.saturating_add(v.offset_ms.load(Ordering::Acquire)),
        }
    }

    /// How far a virtual clock has been moved ahead of the system clock (zero for the system clock).
    pub fn offset(&self) -> Duration {
        self.virt.as_ref().map_or(Duration::ZERO, |v| {
            Duration::from_millis(u64::try_from(v.offset_ms.load(Ordering::Acquire)).unwrap_or(0))
        })
    }

    /// Moves a virtual clock forward by `by` and wakes every sleeper whose time has come.
    ///
    /// # Panics
    /// On the system clock: moving real time is a programming error, never a silent no-op.
    pub fn advance(&self, by: Duration) {
        let v = self
            .virt
            .as_ref()
            .expect("Clock::advance on the system clock; build the app with a virtual clock");
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        v.offset_ms.fetch_add(ms, Ordering::AcqRel);
        v.moved.notify_waiters();
    }

    /// Sleeps for `d` of this clock's time.
    pub async fn sleep(&self, d: Duration, what: Wait) {
        let due = self
            .now_ms()
            .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.sleep_until(due, what).await
    }

    /// Sleeps until this clock reads at least `due_ms` (epoch ms).
    pub async fn sleep_until(&self, due_ms: i64, what: Wait) {
        let Some(v) = &self.virt else {
            let wait = u64::try_from(due_ms.saturating_sub(system_now_ms())).unwrap_or(0);
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            return;
        };
        let _registered = Sleeper::register(v, due_ms, what);
        loop {
            let moved = v.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            let left = due_ms.saturating_sub(self.now_ms());
            if left <= 0 {
                return;
            }
            let real = Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
            tokio::select! {
                _ = moved => {}
                _ = tokio::time::sleep(real) => {}
            }
        }
    }

    /// The earliest due time among the current sleepers waiting for `what`.
    pub fn next_due(&self, what: Wait) -> Option<i64> {
        let v = self.virt.as_ref()?;
        let sleepers = v.sleepers.lock();
        sleepers
            .iter()
            .find(|(_, w)| **w == what)
            .map(|((due, _), _)| *due)
    }

    /// Switches auto-advance on or off (see [`drive`](Self::drive)); ignored on the system clock.
    pub fn set_auto_advance(&self, on: bool) {
        if let Some(v) = &self.virt {
            v.auto.store(on, Ordering::Release);
            v.sleepers_changed.notify_waiters();
        }
    }

    /// Whether auto-advance is on.
    pub fn auto_advance(&self) -> bool {
        self.virt
            .as_ref()
            .is_some_and(|v| v.auto.load(Ordering::Acquire))
    }

    /// Runs forever (spawn it, abort it to stop): while auto-advance is on, whenever someone sleeps for a
    /// [`Wait::Delivery`] that has not come yet, moves the clock to it. Periodic rounds are left to explicit
    /// advances, so a test that waits for a retry chain does not also fast-forward through endless checks.
    pub async fn drive(self) {
        let Some(v) = self.virt.clone() else {
            return;
        };
        loop {
            let changed = v.sleepers_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if v.auto.load(Ordering::Acquire) {
                if let Some(due) = self.next_due(Wait::Delivery) {
                    let ahead = due.saturating_sub(self.now_ms());
                    if ahead > 0 {
                        self.advance(Duration::from_millis(u64::try_from(ahead).unwrap_or(0)));
                    }
                }
            }
            changed.await;
        }
    }
}

/// A sleeper's entry in the table, removed when the sleep ends or is cancelled.
struct Sleeper<'a> {
    v: &'a Virtual,
    key: (i64, u64),
}

impl<'a> Sleeper<'a> {
    fn register(v: &'a Virtual, due: i64, what: Wait) -> Self {
        let key = (due, v.next_id.fetch_add(1, Ordering::Relaxed));
        v.sleepers.lock().insert(key, what);
        v.sleepers_changed.notify_waiters();
        Self { v, key }
    }
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        self.v.sleepers.lock().remove(&self.key);
        self.v.sleepers_changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_virtual_sleep_ends_when_the_clock_is_advanced_past_it() {
        let clock = Clock::virtual_time();
        let due = clock.now_ms() + 3_600_000;
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(due, Wait::Delivery).await }
        });
        // Wait for the sleeper to be registered (an event, not a pause).
        while clock.next_due(Wait::Delivery).is_none() {
            tokio::task::yield_now().await;
        }
        assert_eq!(clock.next_due(Wait::Delivery), Some(due));
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(3_600));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woken by the advance")
            .expect("sleeper task");
        assert!(clock.now_ms() >= due);
        assert_eq!(clock.next_due(Wait::Delivery), None, "deregistered");
    }

    #[tokio::test]
    async fn auto_advance_jumps_to_deliveries_but_not_to_periodic_rounds() {
        let clock = Clock::virtual_time();
        clock.set_auto_advance(true);
        let driver = tokio::spawn(clock.clone().drive());
        let start = clock.now_ms();
        let round_due = start + 600_000;
        let periodic = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(round_due, Wait::Periodic).await }
        });
        tokio::time::timeout(
            Duration::from_secs(5),
            clock.sleep(Duration::from_secs(7_200), Wait::Delivery),
        )
        .await
        .expect("auto-advance reached the delivery");
        assert!(clock.now_ms() - start >= 7_200_000);
        // The periodic sleeper was overtaken by the jump, so it ended too.
        tokio::time::timeout(Duration::from_secs(5), periodic)
            .await
            .expect("the jump past the round woke it")
            .expect("periodic");
        // A lone periodic round is not jumped to: a later delivery one second ahead moves the clock by
        // about a second, not to the round ten minutes away.
        let lone = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(600), Wait::Periodic).await }
        });
        while clock.next_due(Wait::Periodic).is_none() {
            tokio::task::yield_now().await;
        }
        let round = clock.next_due(Wait::Periodic).expect("registered");
        clock.sleep(Duration::from_secs(1), Wait::Delivery).await;
        assert!(
            clock.now_ms() < round,
            "the clock jumped to the periodic round"
        );
        assert!(!lone.is_finished());
        lone.abort();
        driver.abort();
    }

    #[test]
    fn the_system_clock_reads_the_system_time() {
        let c = Clock::system();
        assert!(!c.is_virtual());
        assert!((c.now_ms() - system_now_ms()).abs() < 1_000);
        assert_eq!(c.offset(), Duration::ZERO);
    }
}
