//! The gateway's reply inbox.
//!
//! Replies are keyed by gateway instance, so each gateway reads only the one
//! `_replies` partition its id hashes to, from the end as it was when the
//! gateway started (every waiter registers later than that), with
//! `read_committed` — a reply is visible exactly when the events it reports are.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{broadcast, oneshot};

use super::{KafkaConfig, client, records};
use crate::record::{CommandOutcome, Notice};
use crate::{LogError, Result};

type Waiters = Arc<DashMap<String, oneshot::Sender<CommandOutcome>>>;

/// Waiting callers by request id, and notices for this gateway, fed by a
/// reader thread.
pub struct Inbox {
    waiters: Waiters,
    notices: broadcast::Sender<Arc<Notice>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Inbox {
    /// Starts reading `partition` of the replies topic (request ids are
    /// unique, so replies to other gateways sharing it are simply not waited for).
    pub fn start(config: &KafkaConfig, partition: u32, instance: &str) -> Result<Self> {
        let mut cfg = client::committed_reader(config);
        cfg.set("enable.partition.eof", "false").set("fetch.wait.max.ms", "10");
        let consumer: BaseConsumer = cfg.create().map_err(|e| LogError::Config(format!("reply reader: {e}")))?;
        let topic = config.topics.replies();
        // A topic created a moment ago may not have a leader yet: retry briefly.
        let mut attempt = 0;
        let high = loop {
            match consumer.fetch_watermarks(&topic, partition as i32, Duration::from_secs(5)) {
                Ok((_, high)) => break high,
                Err(e) if attempt < 50 => {
                    tracing::debug!(error = %e, "replies topic not ready yet");
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(LogError::Unavailable(format!("reading the end of {topic}: {e}")));
                }
            }
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, partition as i32, Offset::Offset(high))
            .map_err(|e| LogError::Config(e.to_string()))?;
        consumer.assign(&tpl).map_err(|e| LogError::Config(format!("assigning {topic}: {e}")))?;

        let waiters: Waiters = Arc::default();
        let notices = broadcast::channel(16 * 1024).0;
        let stop = Arc::new(AtomicBool::new(false));
        let (w, n, s, me) = (waiters.clone(), notices.clone(), stop.clone(), instance.to_string());
        std::thread::Builder::new()
            .name("angzarr-replies".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(msg)) => {
                            // The partition is shared with other gateways: only ours.
                            if msg.key() != Some(me.as_bytes()) {
                                continue;
                            }
                            if let Some(notice) = records::parse_notice(&msg) {
                                let _ = n.send(Arc::new(notice));
                            } else if let Some((request_id, outcome)) = records::parse_reply(&msg) {
                                match w.remove(&request_id) {
                                    Some((_, tx)) => {
                                        let _ = tx.send(outcome);
                                    }
                                    // A saga's command in one of our CASCADEs.
                                    None => {
                                        let _ = n.send(Arc::new(Notice::Decided { request_id, outcome }));
                                    }
                                }
                            }
                        }
                        Some(Err(e)) => tracing::warn!(error = %e, "reply reader"),
                        None => {}
                    }
                }
            })
            .map_err(|e| LogError::Config(format!("starting the reply reader: {e}")))?;
        Ok(Inbox { waiters, notices, stop })
    }

    /// Notices addressed to this gateway from now on.
    pub fn notices(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.notices.subscribe()
    }

    /// Registers a waiter; call before the command is appended.
    pub fn expect(&self, request_id: &str) -> oneshot::Receiver<CommandOutcome> {
        let (tx, rx) = oneshot::channel();
        self.waiters.insert(request_id.to_string(), tx);
        rx
    }

    /// Drops a waiter whose command never made it to the log.
    pub fn forget(&self, request_id: &str) {
        self.waiters.remove(request_id);
    }
}
