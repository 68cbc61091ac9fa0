//! The owner directory: which worker owns each commands partition now, and
//! the address of its `PartitionOwnerService`.
//!
//! A partition owner announces itself on the compacted `<prefix>._owners`
//! topic (key `<domain>/<partition>`) once it has restored and serves; every
//! gateway reads the topic whole and keeps the latest entry per key. The
//! directory is a hint, never a permission: the worker it names checks that
//! it owns the partition before deciding (and its transactional producer is
//! what fences a stale one), and a gateway that finds no usable entry puts
//! the command on the commands topic as before. A new owner announces after
//! its predecessor was revoked, so the compacted order is the ownership order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::{KafkaConfig, client};
use crate::{LogError, Result};

/// One announcement: who owns the partition and where it listens.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    endpoint: String,
    /// The announcing process's instance, for people reading the topic.
    instance: String,
}

fn key(domain: &str, partition: u32) -> String {
    format!("{domain}/{partition}")
}

/// The latest owner of every commands partition, fed by a reader thread.
pub struct Directory {
    topic: String,
    entries: Arc<DashMap<String, String>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Directory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Directory {
    /// Starts reading the owners topic from its beginning.
    pub fn start(config: &KafkaConfig) -> Result<Self> {
        let topic = config.topics.owners();
        let mut cfg = client::committed_reader(config);
        cfg.set("enable.partition.eof", "false").set("fetch.wait.max.ms", "50");
        let consumer: BaseConsumer = cfg.create().map_err(|e| LogError::Config(format!("owner directory: {e}")))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning).map_err(|e| LogError::Config(e.to_string()))?;
        consumer.assign(&tpl).map_err(|e| LogError::Config(format!("assigning {topic}: {e}")))?;
        let entries: Arc<DashMap<String, String>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (e, s) = (entries.clone(), stop.clone());
        std::thread::Builder::new()
            .name("angzarr-owners".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(msg)) => {
                            let Some(k) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else { continue };
                            match msg.payload().map(serde_json::from_slice::<Entry>) {
                                None => {
                                    e.remove(k);
                                }
                                Some(Ok(entry)) => {
                                    e.insert(k.to_string(), entry.endpoint);
                                }
                                Some(Err(err)) => {
                                    tracing::warn!(key = k, error = %err, "unreadable owner entry; ignored")
                                }
                            }
                        }
                        Some(Err(err)) => tracing::debug!(error = %err, "owner directory reader"),
                        None => {}
                    }
                }
            })
            .map_err(|e| LogError::Config(format!("starting the owner directory reader: {e}")))?;
        Ok(Directory { topic, entries, stop })
    }

    /// Where the owner of `domain`'s partition `partition` listens, as last announced.
    pub fn endpoint(&self, domain: &str, partition: u32) -> Option<String> {
        self.entries.get(&key(domain, partition)).map(|e| e.value().clone())
    }

    /// Announces that `instance`, listening at `endpoint`, owns the partition.
    pub async fn announce(
        &self,
        producer: &FutureProducer,
        domain: &str,
        partition: u32,
        endpoint: &str,
        instance: &str,
    ) -> Result<()> {
        let k = key(domain, partition);
        let value = serde_json::to_vec(&Entry { endpoint: endpoint.to_string(), instance: instance.to_string() })
            .map_err(|e| LogError::Config(e.to_string()))?;
        producer
            .send(FutureRecord::to(&self.topic).key(&k).payload(&value).partition(0), Duration::from_secs(10))
            .await
            .map(|_| ())
            .map_err(|(e, _)| LogError::Unavailable(format!("announcing the owner of {k}: {e}")))
    }
}
