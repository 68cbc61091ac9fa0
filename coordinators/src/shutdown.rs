//! Clean shutdown as a value passed down to every long-running part.
//!
//! Triggering it makes gateways stop accepting calls, lets each partition task
//! finish (commit or abandon) its open batch, and has workers leave their
//! consumer group so partitions move to other members promptly.

use tokio_util::sync::CancellationToken;

/// A shutdown signal shared by a process's parts. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every part to stop.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether stop was asked.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once stop is asked.
    pub async fn wait(&self) {
        self.token.cancelled().await
    }

    /// A child signal: triggered with this one, or on its own (e.g. a single
    /// partition task being revoked).
    pub fn child(&self) -> Shutdown {
        Shutdown { token: self.token.child_token() }
    }
}
