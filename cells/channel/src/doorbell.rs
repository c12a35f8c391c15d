//! The [`Doorbell`] trait: how a backend interrupts a peer, waits for an
//! interrupt with a timeout, and tells the time. The Linux backend rings
//! through UIO, the in-memory one through a condition variable, a
//! bare-metal cell through its own interrupt handler and timer.
#![forbid(unsafe_code)]

use core::time::Duration;

use crate::error::Error;
use crate::region::PeerId;

/// Why [`Doorbell::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// An interrupt arrived (or the backend woke up for another reason:
    /// callers re-check the rings either way).
    Interrupt,
    /// The timeout passed without an interrupt.
    Timeout,
}

/// A backend's interrupt and time services.
///
/// The contract the channel's blocking calls rely on:
///
/// - **Latching.** An interrupt that arrives after the previous `wait`
///   returned (or after the doorbell was made) makes the next `wait` return
///   promptly, even if it arrived before `wait` was called. Channels check
///   the ring, then wait: a message published in between must not be
///   slept through. (UIO's event counter and a flag set by an interrupt
///   handler both behave like this.)
/// - **Bounded.** `wait` returns within about `timeout`. It may return
///   earlier, spuriously.
/// - **Monotonic.** `now` never goes back and keeps advancing. Blocking
///   calls end when `now` passes their deadline, so a peer ringing without
///   pause cannot keep them waiting: no peer can touch the clock.
/// - **One waiter.** A doorbell reports each interrupt once. Two threads
///   waiting on one doorbell could take each other's wakeups, so threads
///   that block at the same time (say, the two halves of a
///   [`Channel::split`](crate::Channel::split)) each use their own doorbell
///   on the same device; every one of them sees every interrupt. The
///   backends' doorbells are not `Sync`, which makes the compiler check it.
pub trait Doorbell {
    /// Interrupts `peer` on `vector`. Ringing a peer that is absent or has
    /// interrupts disabled is not an error (ivshmem-v2 drops it).
    fn ring(&self, peer: PeerId, vector: u16) -> Result<(), Error>;

    /// Waits up to `timeout` for an interrupt.
    fn wait(&self, timeout: Duration) -> Result<Wakeup, Error>;

    /// The time on a monotonic clock, from an arbitrary origin.
    fn now(&self) -> Duration;
}

impl<D: Doorbell + ?Sized> Doorbell for &D {
    fn ring(&self, peer: PeerId, vector: u16) -> Result<(), Error> {
        (**self).ring(peer, vector)
    }

    fn wait(&self, timeout: Duration) -> Result<Wakeup, Error> {
        (**self).wait(timeout)
    }

    fn now(&self) -> Duration {
        (**self).now()
    }
}

/// Retries `attempt` until it succeeds, fails for good, or `timeout`
/// passes, waiting on `doorbell` in between while the failure is
/// transient ([`Error::is_transient`]).
///
/// Terminates: every round either returns or waits on the doorbell, and the
/// loop ends once the doorbell's clock passes the deadline, however often
/// (or seldom) the doorbell wakes up.
pub(crate) fn block_on<T>(
    doorbell: &impl Doorbell,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    // The clock is read only once an attempt has failed: a send or a
    // receive that succeeds at once (the common case, and the one on a
    // round trip's path) costs no clock reading.
    let mut deadline = None;
    loop {
        // `Ok` rebuilt rather than passed on: the success path then writes
        // its value alone, not a copy of the whole (40-byte) result.
        match attempt() {
            Ok(value) => return Ok(value),
            Err(error) if error.is_transient() => {}
            Err(error) => return Err(error),
        }
        let now = doorbell.now();
        let deadline = *deadline.get_or_insert_with(|| now.saturating_add(timeout));
        if now >= deadline {
            return Err(Error::Timeout);
        }
        doorbell.wait(deadline - now)?;
    }
}
