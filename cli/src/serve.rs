//! `angzarr standalone` and `angzarr coordinator ROLE`: the runtime of a
//! configuration file, all roles in one process or one role per process.

use std::path::Path;

use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, LogConfig};
use angzarr_coordinators::runtime::{self, Roles};

/// Resolves on Ctrl-C or SIGTERM.
async fn terminated() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub async fn standalone(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    serve(&config).await
}

/// `angzarr coordinator ROLE --config FILE`: one role as its own process.
pub async fn coordinator(role: Roles, path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let log = runtime::open_log(&config).await?;
    let shutdown = Shutdown::new();
    let running = runtime::start(&config, log, role, shutdown.clone()).await?;
    if let Some(addr) = running.grpc_addr {
        eprintln!("gateway listening on grpc://{addr}");
    }
    terminated().await;
    eprintln!("stopping…");
    running.stop().await?;
    Ok(())
}

/// Waits until every partition task of `states` serves (at least one
/// assigned), up to `patience`; how many still do not.
async fn serving(states: &angzarr_coordinators::supervisor::TaskStates, patience: std::time::Duration) -> usize {
    use angzarr_coordinators::supervisor::TaskState;
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let tasks = states.list();
        let waiting = tasks.iter().filter(|(_, _, s)| s.state != TaskState::Serving).count();
        if (!tasks.is_empty() && waiting == 0) || tokio::time::Instant::now() >= deadline {
            return waiting;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn serve(config: &Config) -> anyhow::Result<()> {
    let log = runtime::open_log(config).await?;
    let shutdown = Shutdown::new();
    let running = runtime::start(config, log, Roles::ALL, shutdown.clone()).await?;
    let addr = running.grpc_addr.expect("the gateway runs");
    // The banner comes last: once every partition this process took serves
    // (or after a while, saying what does not).
    let waiting = serving(&running.states, std::time::Duration::from_secs(30)).await;
    let http = running.http_addr.map(|a| format!(", HTTP http://{a}")).unwrap_or_default();
    let where_ = match &config.log {
        LogConfig::Embedded { path, .. } => format!("embedded log at {}", path.display()),
        LogConfig::Kafka(k) => format!("kafka at {}", k.bootstrap_servers),
    };
    let handlers: Vec<String> = config
        .domains
        .iter()
        .map(|(d, c)| format!("{d} → {}", c.handler.as_deref().unwrap_or("(another process)")))
        .chain(config.projectors.iter().map(|(n, p)| format!("projector {n} → {}", p.handler)))
        .chain(config.sagas.iter().map(|(n, s)| format!("saga {n} → {}", s.handler)))
        .chain(config.process_managers.iter().map(|(n, p)| format!("process manager {n} → {}", p.handler)))
        .collect();
    let status = running.http_addr.map(|a| format!("\n  angzarr status --http http://{a}")).unwrap_or_default();
    eprintln!(
        "angzarr is up: gateway grpc://{addr}{http}, {where_}\n  domains: {}\n\nTry:\n  angzarr send player RegisterPlayer --root 5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11 --json '{{\"displayName\":\"Ada\",\"email\":\"ada@example.com\"}}' --gateway http://{addr}\n  angzarr send player DepositFunds --root 5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11 --json '{{\"amount\":{{\"amount\":\"100\",\"currencyCode\":\"USD\"}}}}' --gateway http://{addr}\n  angzarr book player --root 5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11 --gateway http://{addr}{status}\n\nCtrl-C stops.",
        handlers.join(", ")
    );
    if waiting > 0 {
        eprintln!("({waiting} partitions not serving yet: `angzarr status` says why)");
    }
    tokio::select! {
        _ = terminated() => eprintln!("stopping…"),
        _ = shutdown.wait() => {}
    }
    running.stop().await?;
    Ok(())
}
