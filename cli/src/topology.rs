//! `angzarr topology plan|apply --config FILE`.

use std::path::Path;
use std::time::Duration;

use angzarr_coordinators::config::{Config, LogConfig};
use angzarr_topology::kafka::{self as topo, Step};

use crate::TopologyAction;

pub async fn run(action: TopologyAction, path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let LogConfig::Kafka(k) = &config.log else {
        anyhow::bail!("{}: the log is not kafka; the embedded log has no topics to plan", path.display());
    };
    let connector = k.connector();
    let mut client = rdkafka::ClientConfig::new();
    client.set("bootstrap.servers", &k.bootstrap_servers);
    for (key, v) in &k.settings {
        client.set(key, v);
    }
    let admin = topo::admin(&client)?;
    let domains: Vec<String> = config.log_domains();
    let mut desired = topo::desired(&connector.topics, &domains, connector.placement());
    // The dead-letter topics of the consumers that dead-letter.
    for group in dead_letter_groups(&config) {
        desired.push(topo::dead_letter_topic(&connector.topics, &group, connector.placement()));
    }
    let steps = topo::plan(&admin, &desired, Duration::from_secs(10)).await?;
    for s in &steps {
        println!("{s}");
    }
    let refused = steps.iter().any(|s| matches!(s, Step::Refuse(..)));
    match action {
        TopologyAction::Plan if refused => {
            anyhow::bail!("existing topics cannot be used (see `!` lines)")
        }
        TopologyAction::Plan => Ok(()),
        TopologyAction::Apply => {
            let created = topo::apply(&admin, &steps, Duration::from_secs(30)).await?;
            println!("created {created} topic(s)");
            Ok(())
        }
    }
}

/// The consumer groups of `config` whose poison records go to a dead-letter
/// topic (`on_poison: {policy: dead_letter}`).
fn dead_letter_groups(config: &Config) -> Vec<String> {
    use angzarr_coordinators::event_consumer::PoisonPolicy::DeadLetter;
    let projectors = config.projectors.iter().filter(|(_, p)| p.on_poison.policy == DeadLetter);
    let sagas = config.sagas.iter().filter(|(_, s)| s.on_poison.policy == DeadLetter);
    let pms = config.process_managers.iter().filter(|(_, p)| p.on_poison.policy == DeadLetter);
    projectors
        .map(|(n, _)| format!("projector.{n}"))
        .chain(sagas.map(|(n, _)| format!("saga.{n}")))
        .chain(pms.map(|(n, _)| format!("pm.{n}")))
        .collect()
}
