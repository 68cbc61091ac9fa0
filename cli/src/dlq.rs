//! `angzarr dlq list|replay|drop`: the dead letters of a configuration's
//! consumers (projectors, sagas, process-manager routers whose poison
//! policy is `dead_letter`).
//!
//! - `list [GROUP]` prints each live letter: its group, id
//!   (`<domain>/<partition>/<offset>` of the events record), root and
//!   sequence, when, and the error; all groups of the config by default.
//! - `replay GROUP ID|--all` calls the group's handler again with the
//!   event (as its coordinator would) and, if it answers, removes the letter
//!   and appends the commands it produced in one transaction — a saga's
//!   reaction is written once. A letter that still fails stays, with the
//!   error printed; the exit code says some did.
//! - `drop GROUP ID|--all` removes letters without replaying them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use angzarr_connectors::{DeadLetter, Log};
use angzarr_coordinators::config::Config;
use angzarr_coordinators::event_consumer::Reactor;
use angzarr_coordinators::hub::Hub;
use angzarr_coordinators::runtime;
use anyhow::{Context, bail};

/// The `dlq` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum DlqCommand {
    /// Print the dead letters of GROUP (every consumer of the config by default).
    List {
        /// A consumer group: `projector.NAME`, `saga.NAME` or `pm.NAME`.
        group: Option<String>,
        /// The YAML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Call the group's handler again for dead letters; settle those it answers.
    Replay(Select),
    /// Remove dead letters without replaying them.
    Drop(Select),
}

/// Which letters of which group.
#[derive(clap::Args, Debug)]
pub struct Select {
    /// The consumer group: `projector.NAME`, `saga.NAME` or `pm.NAME`.
    group: String,
    /// A letter's id (`DOMAIN/PARTITION/OFFSET`, as `list` prints it).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    id: Option<String>,
    /// Every letter of the group.
    #[arg(long)]
    all: bool,
    /// The YAML configuration.
    #[arg(long)]
    config: PathBuf,
}

pub async fn run(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List { group, config } => list(group, &config).await,
        DlqCommand::Replay(select) => settle(select, true).await,
        DlqCommand::Drop(select) => settle(select, false).await,
    }
}

/// The config's consumers, by group.
fn consumers(config: &Config) -> anyhow::Result<Vec<(String, Arc<dyn Reactor>)>> {
    Ok(runtime::reactors(config, &Hub::default())?.into_iter().map(|(r, _)| (r.group(), r)).collect())
}

fn consumer(config: &Config, path: &Path, group: &str) -> anyhow::Result<Arc<dyn Reactor>> {
    let all = consumers(config)?;
    let names: Vec<&String> = all.iter().map(|(g, _)| g).collect();
    let names = format!("{names:?}");
    all.into_iter()
        .find(|(g, _)| g == group)
        .map(|(_, r)| r)
        .with_context(|| format!("no consumer group `{group}` in {} (it has: {names})", path.display()))
}

fn line(group: &str, d: &DeadLetter) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(d.at_ms.max(0) as u64);
    let what = match (d.root, d.sequence) {
        (Some(root), Some(seq)) => format!("root {root} seq {seq}"),
        _ => "undecodable record".to_string(),
    };
    format!("{group}  {}  {what}  {}  {}", d.id(), humantime::format_rfc3339_seconds(at), d.error)
}

async fn list(group: Option<String>, path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let groups = match group {
        Some(g) => {
            consumer(&config, path, &g)?;
            vec![g]
        }
        None => consumers(&config)?.into_iter().map(|(g, _)| g).collect(),
    };
    let log = runtime::open_log(&config).await?;
    let mut n = 0;
    for g in &groups {
        for d in log.dead_letters(g).await? {
            println!("{}", line(g, &d));
            n += 1;
        }
    }
    println!("{n} dead letter{}", if n == 1 { "" } else { "s" });
    Ok(())
}

async fn settle(select: Select, replay: bool) -> anyhow::Result<()> {
    let config = Config::load(&select.config)?;
    let reactor = consumer(&config, &select.config, &select.group)?;
    let log: Arc<dyn Log> = runtime::open_log(&config).await?;
    let letters: Vec<DeadLetter> = log
        .dead_letters(&select.group)
        .await?
        .into_iter()
        .filter(|d| select.all || select.id.as_deref() == Some(d.id().as_str()))
        .collect();
    if let (Some(id), true) = (&select.id, letters.is_empty()) {
        bail!("no dead letter `{id}` in {} (see `angzarr dlq list {}`)", select.group, select.group);
    }
    let (mut settled, mut failed) = (0, 0);
    for d in &letters {
        let replayed = if replay {
            match replay_one(reactor.as_ref(), d).await {
                Ok(commands) => Some(commands),
                Err(e) => {
                    println!("still failing: {}: {e}", d.id());
                    failed += 1;
                    continue;
                }
            }
        } else {
            None
        };
        let verb = if replay { "replayed" } else { "dropped" };
        if log.settle_dead_letter(&select.group, d, replayed).await? {
            println!("{verb}: {}", d.id());
            settled += 1;
        } else {
            println!("already settled: {}", d.id());
        }
    }
    println!("{settled} {}, {failed} still failing", if replay { "replayed" } else { "dropped" });
    if failed > 0 {
        bail!("{failed} dead letter{} still failing", if failed == 1 { "" } else { "s" });
    }
    Ok(())
}

/// The handler's reaction to the letter's event, as its coordinator would ask.
async fn replay_one(reactor: &dyn Reactor, d: &DeadLetter) -> anyhow::Result<Vec<angzarr_connectors::CommandEnvelope>> {
    let event = d.event().context("the record still does not decode (drop it, or fix the producer)")?;
    let reaction = reactor
        .react(&event.book, std::slice::from_ref(&event))
        .await
        .map_err(|s| anyhow::anyhow!("{:?}: {}", s.code(), s.message()))?;
    Ok(reaction.commands)
}
