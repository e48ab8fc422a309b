//! A per-upstream circuit breaker.
//!
//! Closed: calls flow; consecutive failures are counted. At the threshold the
//! circuit opens and calls are refused without touching the network, so a dead
//! upstream costs clients nothing and fallbacks take over at once. After
//! `open_for`, one probe call is let through (half-open): success closes the
//! circuit, failure opens it again for another period.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::BreakerPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_started: Instant },
}

/// What the breaker says about a call about to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Make the call.
    Allowed,
    /// Do not call; retry after this long.
    Rejected(Duration),
}

/// Circuit breaker for one upstream. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker with `policy`.
    pub fn new(policy: BreakerPolicy) -> Self {
        Breaker {
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update; the
        // state is a plain value and still usable.
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Asks whether a call may be made now.
    pub fn admit(&self) -> Admission {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Admission {
        let open_for = self.policy.open_for;
        self.with_state(|state| match *state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_started: now };
                Admission::Allowed
            }
            State::Open { until } => Admission::Rejected(until - now),
            // A probe that never reported back (its task was cancelled) must
            // not wedge the breaker: allow a new probe after another period.
            State::HalfOpen { probe_started } if now.duration_since(probe_started) >= open_for => {
                *state = State::HalfOpen { probe_started: now };
                Admission::Allowed
            }
            State::HalfOpen { probe_started } => {
                Admission::Rejected(open_for - now.duration_since(probe_started))
            }
        })
    }

    /// Records a successful call.
    pub fn success(&self) {
        self.with_state(|state| *state = State::Closed { failures: 0 });
    }

    /// Records a failed call.
    pub fn failure(&self) {
        self.failure_at(Instant::now());
    }

    fn failure_at(&self, now: Instant) {
        let policy = self.policy;
        self.with_state(|state| {
            *state = match *state {
                State::Closed { failures } if failures + 1 < policy.failure_threshold => {
                    State::Closed {
                        failures: failures + 1,
                    }
                }
                _ => State::Open {
                    until: now + policy.open_for,
                },
            };
        });
    }

    /// Whether the circuit currently refuses calls.
    pub fn is_open(&self) -> bool {
        let now = Instant::now();
        self.with_state(|state| matches!(*state, State::Open { until } if now < until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerPolicy {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
        })
    }

    #[test]
    fn opens_after_consecutive_failures_and_probes_after_the_period() {
        let b = breaker();
        let t0 = Instant::now();
        b.failure_at(t0);
        b.failure_at(t0);
        assert_eq!(b.admit_at(t0), Admission::Allowed);
        b.failure_at(t0);
        assert_eq!(
            b.admit_at(t0 + Duration::from_secs(1)),
            Admission::Rejected(Duration::from_secs(9))
        );
        // One probe after the period; a second caller waits for its verdict.
        assert_eq!(b.admit_at(t0 + Duration::from_secs(10)), Admission::Allowed);
        assert!(matches!(
            b.admit_at(t0 + Duration::from_secs(11)),
            Admission::Rejected(_)
        ));
        b.success();
        assert_eq!(b.admit_at(t0 + Duration::from_secs(11)), Admission::Allowed);
    }

    #[test]
    fn failed_probe_reopens_and_success_resets_the_count() {
        let b = breaker();
        let t0 = Instant::now();
        b.failure_at(t0);
        b.failure_at(t0);
        b.success();
        b.failure_at(t0);
        b.failure_at(t0);
        assert_eq!(b.admit_at(t0), Admission::Allowed);
        b.failure_at(t0);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.admit_at(t1), Admission::Allowed);
        b.failure_at(t1);
        assert!(matches!(
            b.admit_at(t1 + Duration::from_secs(5)),
            Admission::Rejected(_)
        ));
    }

    #[test]
    fn an_abandoned_probe_does_not_wedge_the_breaker() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.failure_at(t0);
        }
        assert_eq!(b.admit_at(t0 + Duration::from_secs(10)), Admission::Allowed);
        assert_eq!(b.admit_at(t0 + Duration::from_secs(20)), Admission::Allowed);
    }
}
