//! The gateway's side: find the owner of a command's partition and hand it
//! the command, or say why the commands topic must take it.

use std::sync::Arc;

use angzarr_connectors::{CommandEnvelope, CommandOutcome, Log, PartitionId};
use angzarr_proto::angzarr_kafka::partition_owner_service_client::PartitionOwnerServiceClient;
use dashmap::DashMap;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use super::server::{answer_from_wire, to_wire};
use super::{Answer, Owners};

/// How a command handed to the owner ended.
pub enum Routed {
    /// The owner decided it and its transaction committed.
    Answered(CommandOutcome),
    /// The direct path could not answer (the reason says why): the command
    /// goes on the commands topic with the same request id.
    ViaLog(CommandEnvelope, String),
    /// The deadline passed while the owner had it: the outcome is unknown.
    TimedOut,
}

/// Hands commands to partition owners, in process or over gRPC.
pub struct Router {
    log: Arc<dyn Log>,
    owners: Owners,
    /// This process's own `PartitionOwnerService`, never called over the network.
    own_endpoint: Option<String>,
    clients: DashMap<String, PartitionOwnerServiceClient<Channel>>,
}

impl Router {
    /// A router over `log`'s owner directory and this process's `owners`.
    pub fn new(log: Arc<dyn Log>, owners: Owners, own_endpoint: Option<String>) -> Self {
        Router { log, owners, own_endpoint, clients: DashMap::new() }
    }

    /// Hands `cmd` to its partition's owner and waits for the answer until
    /// `deadline`. An owner that stops answering (paused, partitioned away)
    /// loses its partition to another worker, which announces itself once it
    /// has fenced the old one and restored: the command then goes to the new
    /// owner, with the same request id.
    pub async fn decide(&self, cmd: CommandEnvelope, deadline: Instant) -> Routed {
        let Some(partition) = self.log.partition_of(&cmd.domain, &cmd.root) else {
            return Routed::ViaLog(cmd, "this log has no partition map".into());
        };
        let id = PartitionId::new(&cmd.domain, partition);
        loop {
            if self.owners.serves(&id) {
                return self.in_process(&id, cmd, deadline).await;
            }
            let Some(endpoint) = self.log.owner_endpoint(&id.domain, partition) else {
                return Routed::ViaLog(cmd, format!("no owner of {id} announced"));
            };
            if self.own_endpoint.as_deref() == Some(endpoint.as_str()) {
                return Routed::ViaLog(cmd, format!("{id} was announced by this process, which does not serve it now"));
            }
            let mut client = match self.client(&endpoint) {
                Ok(c) => c,
                Err(why) => return Routed::ViaLog(cmd, why),
            };
            metrics::counter!("angzarr.commands.routed", "path" => "remote").increment(1);
            let call = client.decide(to_wire(&cmd, partition));
            tokio::select! {
                answered = call => return match answered {
                    Err(status) => Routed::ViaLog(cmd, format!("owner of {id} at {endpoint}: {status}")),
                    Ok(answer) => match answer_from_wire(answer.into_inner()) {
                        Answer::Decided(outcome) => Routed::Answered(outcome),
                        Answer::NotOwner(why) | Answer::Unknown(why) => Routed::ViaLog(cmd, why),
                    },
                },
                _ = self.moved(&id, &endpoint) => {
                    tracing::debug!(partition = %id, from = endpoint, request_id = cmd.request_id, "the partition's owner changed while it had the command; handing it to the new one");
                }
                _ = tokio::time::sleep_until(deadline) => return Routed::TimedOut,
            }
        }
    }

    /// The in-process hand-off; the copy is what goes on the commands log if
    /// the task cannot answer.
    async fn in_process(&self, id: &PartitionId, cmd: CommandEnvelope, deadline: Instant) -> Routed {
        let copy = cmd.clone();
        let rx = match self.owners.send(id, cmd).await {
            Ok(rx) => rx,
            Err(cmd) => return Routed::ViaLog(cmd, format!("the task of {id} stopped")),
        };
        metrics::counter!("angzarr.commands.routed", "path" => "in_process").increment(1);
        match tokio::time::timeout_at(deadline, rx).await {
            Err(_) => Routed::TimedOut,
            Ok(Ok(Answer::Decided(outcome))) => Routed::Answered(outcome),
            Ok(Ok(Answer::NotOwner(why) | Answer::Unknown(why))) => Routed::ViaLog(copy, why),
            Ok(Err(_)) => Routed::ViaLog(copy, format!("the task of {id} stopped before answering")),
        }
    }

    /// Resolves once `id` is no longer announced at `endpoint` (or is served
    /// in this process). Checked every 50 ms: a lookup in memory.
    async fn moved(&self, id: &PartitionId, endpoint: &str) {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            if self.owners.serves(id) || self.log.owner_endpoint(&id.domain, id.partition).as_deref() != Some(endpoint)
            {
                return;
            }
        }
    }

    fn client(&self, endpoint: &str) -> Result<PartitionOwnerServiceClient<Channel>, String> {
        if let Some(c) = self.clients.get(endpoint) {
            return Ok(c.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{endpoint}"))
            .map_err(|e| format!("owner endpoint `{endpoint}`: {e}"))?
            .connect_timeout(std::time::Duration::from_secs(1))
            .tcp_nodelay(true)
            .connect_lazy();
        let client = PartitionOwnerServiceClient::new(channel).max_decoding_message_size(64 << 20);
        self.clients.insert(endpoint.to_string(), client.clone());
        Ok(client)
    }
}
