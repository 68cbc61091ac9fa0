//! The tail of every events topic, for event streams: a reader with no
//! group, starting at the end, `read_committed`, feeding a broadcast channel.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::broadcast;

use angzarr_topology::names::TopicKind;

use super::{KafkaConfig, client, events};
use crate::record::StoredEvent;
use crate::{LogError, Result};

/// Starts the tail reader of `domains` (with their partition counts).
pub fn start(config: &KafkaConfig, domains: &[(String, u32)]) -> Result<broadcast::Sender<Arc<StoredEvent>>> {
    let mut cfg = client::committed_reader(config);
    cfg.set("enable.partition.eof", "false");
    let consumer: BaseConsumer = cfg.create().map_err(|e| LogError::Config(format!("tail reader: {e}")))?;
    let mut tpl = TopicPartitionList::new();
    let mut topics = std::collections::HashMap::new();
    for (domain, n) in domains {
        let topic = config.topics.name(domain, TopicKind::Events);
        for p in 0..*n as i32 {
            let (_, high) = consumer
                .fetch_watermarks(&topic, p, Duration::from_secs(10))
                .map_err(|e| LogError::Unavailable(format!("end of {topic}[{p}]: {e}")))?;
            tpl.add_partition_offset(&topic, p, Offset::Offset(high)).map_err(|e| LogError::Config(e.to_string()))?;
        }
        topics.insert(topic, domain.clone());
    }
    consumer.assign(&tpl).map_err(|e| LogError::Config(format!("tail reader: {e}")))?;
    let (tx, _) = broadcast::channel(4096);
    let sender = tx.clone();
    std::thread::Builder::new()
        .name("angzarr-tail".into())
        .spawn(move || {
            // Lives as long as the process: one tail per log.
            loop {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(msg)) => {
                        let domain = topics.get(rdkafka::Message::topic(&msg)).cloned().unwrap_or_default();
                        // Streams show what can be read; the consumers' policies handle the rest.
                        let e = events::parse_event(&msg, &domain);
                        if e.undecodable.is_none() {
                            let _ = sender.send(Arc::new(e));
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "tail reader"),
                    None => {}
                }
            }
        })
        .map_err(|e| LogError::Config(format!("starting the tail reader: {e}")))?;
    Ok(tx)
}
