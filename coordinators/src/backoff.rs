//! Retrying what must not be skipped: a reaction, an upcast, a restore.
//!
//! The policy is the same everywhere downstream: nothing moves past a
//! failure, so the caller retries — with exponential backoff, logging each
//! failure with the delay — until it works or the task is asked to stop.

use std::future::Future;
use std::time::Duration;

use crate::Shutdown;

/// First delay after a failure; doubles up to [`MAX`].
const FIRST: Duration = Duration::from_millis(100);
/// Longest delay between attempts.
const MAX: Duration = Duration::from_secs(10);

/// Runs `attempt` until it succeeds (`Some`) or `stop` is triggered first
/// (`None`). Each failure is handed to `failed` with the delay before the
/// next attempt, to be logged where its context is known.
pub async fn until_ok<T, E, Fut>(
    stop: &Shutdown,
    mut attempt: impl FnMut() -> Fut,
    mut failed: impl FnMut(&E, Duration),
) -> Option<T>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = FIRST;
    loop {
        match attempt().await {
            Ok(t) => return Some(t),
            Err(e) => failed(&e, delay),
        }
        tokio::select! {
            _ = stop.wait() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_with_growing_delays_until_it_works() {
        let stop = Shutdown::new();
        let mut calls = 0;
        let mut delays = Vec::new();
        let got = until_ok(
            &stop,
            || {
                calls += 1;
                let n = calls;
                async move { if n < 4 { Err("no") } else { Ok(n) } }
            },
            |_: &&str, d| delays.push(d),
        )
        .await;
        assert_eq!(got, Some(4));
        assert_eq!(delays, [100, 200, 400].map(Duration::from_millis));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_asked() {
        let stop = Shutdown::new();
        stop.trigger();
        let got: Option<()> = until_ok(&stop, || async { Err::<(), _>("down") }, |_, _| {}).await;
        assert_eq!(got, None);
    }
}
