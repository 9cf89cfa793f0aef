//! Transports: how queries reach the [`engine`] and responses leave.
//!
//! The engine is shared by every worker through a [`SharedEngine`]: readers load the current
//! engine without a lock, and a reload swaps a new one in at once, so no query sees half a
//! reload and a failed reload leaves the old engine serving. [`Shutdown`] tells every worker to
//! stop: blocking UDP workers poll it between receive timeouts, asynchronous TCP tasks wait on
//! it.

#![forbid(unsafe_code)]

mod access;
mod answer;
pub mod client_tls;
pub mod clock;
pub mod doh;
pub mod doh_client;
pub mod doq;
pub mod doq_client;
pub mod guards;
pub mod limits;
mod observe;
pub mod resolver;
pub mod secure_upstream;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod upstream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use engine::Engine;
use tokio::sync::Notify;

/// The engine every worker answers from; a reload stores a new one.
pub type SharedEngine = Arc<ArcSwap<Engine>>;

/// A stop signal shared by every worker.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<ShutdownInner>,
}

#[derive(Debug, Default)]
struct ShutdownInner {
    triggered: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Tells every worker to stop.
    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether the signal was triggered.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Waits until the signal is triggered.
    pub async fn wait(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_wakes_waiters() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let s = Shutdown::new();
        let waiter = s.clone();
        rt.block_on(async move {
            let task = tokio::spawn(async move { waiter.wait().await });
            tokio::task::yield_now().await;
            s.trigger();
            task.await.unwrap();
        });
    }
}
