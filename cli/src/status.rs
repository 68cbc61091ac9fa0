//! `angzarr status`: who owns what and who is behind, in the terminal —
//! from the gateway's HTTP API, the same data the console shows
//! (`GET /v1/status`: this process's partition tasks; `GET /v1/lag`: every
//! configured group's lag per partition).

use std::process::ExitCode;

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::output::Output;

/// Options of `angzarr status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The gateway's HTTP listener (`gateway.http_listen`).
    #[arg(long, env = "ANGZARR_HTTP", default_value = "http://127.0.0.1:1311")]
    http: String,
    /// `human` (tables; the default on a terminal) or `json` (both answers
    /// as they came; the default when piped).
    #[arg(long, value_enum)]
    output: Option<Output>,
}

async fn get(http: &str, path: &str) -> anyhow::Result<Value> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri: hyper::Uri = format!("{}{path}", http.trim_end_matches('/')).parse()?;
    let answer = client.get(uri).await.map_err(|e| anyhow::anyhow!("cannot reach {http}: {e}"))?;
    let status = answer.status();
    let body = answer.into_body().collect().await?.to_bytes();
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| anyhow::anyhow!("{http}{path} answered {status} with something that is not JSON: {e}"))?;
    if !status.is_success() {
        anyhow::bail!("{http}{path} answered {status}: {}", value["message"].as_str().unwrap_or(""));
    }
    Ok(value)
}

pub async fn run(args: StatusArgs) -> ExitCode {
    let (tasks, lag) = match tokio::try_join!(get(&args.http, "/v1/status"), get(&args.http, "/v1/lag")) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    match Output::or_default(args.output) {
        Output::Human => print!("{}", human(&tasks, &lag)),
        _ => println!("{}", serde_json::to_string_pretty(&serde_json::json!({"status": tasks, "lag": lag})).unwrap()),
    }
    ExitCode::SUCCESS
}

/// The two answers as tables.
fn human(tasks: &Value, lag: &Value) -> String {
    let mut out = String::new();
    let tasks = tasks["tasks"].as_array().cloned().unwrap_or_default();
    let owner = tasks.first().and_then(|t| t["owner"].as_str()).unwrap_or("this process");
    let count = |state: &str| tasks.iter().filter(|t| t["state"] == state).count();
    out.push_str(&format!(
        "partitions owned by {owner}: {} serving, {} restoring, {} failed\n",
        count("serving"),
        count("restoring"),
        count("failed")
    ));
    for t in tasks.iter().filter(|t| t["state"] != "serving") {
        out.push_str(&format!(
            "  {} {}[{}] {} (restarts {}){}\n",
            t["group"].as_str().unwrap_or(""),
            t["domain"].as_str().unwrap_or(""),
            t["partition"],
            t["state"].as_str().unwrap_or(""),
            t["restarts"],
            t["lastError"].as_str().map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    let at = lag["sampledAt"].as_str().unwrap_or("not sampled yet");
    out.push_str(&format!("\nlag (sampled {at}):\n"));
    let groups = lag["groups"].as_array().cloned().unwrap_or_default();
    let width = groups.iter().filter_map(|g| g["group"].as_str()).map(str::len).max().unwrap_or(5).max(5);
    out.push_str(&format!("  {:<width$}  {:>8}  {:>10}  WORST\n", "GROUP", "BEHIND", "PARTITIONS"));
    for g in &groups {
        let rows = g["partitions"].as_array().cloned().unwrap_or_default();
        let total: i64 = rows.iter().filter_map(|r| r["lag"].as_i64()).sum();
        let worst = rows
            .iter()
            .max_by_key(|r| r["lag"].as_i64().unwrap_or(0))
            .filter(|r| r["lag"].as_i64().unwrap_or(0) > 0)
            .map(|r| format!("{}[{}] {}", r["domain"].as_str().unwrap_or(""), r["partition"], r["lag"]))
            .unwrap_or_else(|| "-".into());
        let error = g["error"].as_str().map(|e| format!("  (sample failed: {e})")).unwrap_or_default();
        out.push_str(&format!(
            "  {:<width$}  {total:>8}  {:>10}  {worst}{error}\n",
            g["group"].as_str().unwrap_or(""),
            rows.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_say_who_serves_and_who_is_behind() {
        let tasks = serde_json::json!({"tasks": [
            {"group": "angzarr-command-handler", "domain": "player", "partition": 0, "state": "serving", "restarts": 0, "owner": "vm:7"},
            {"group": "projector.bankroll", "domain": "player", "partition": 1, "state": "failed", "restarts": 3,
             "lastError": "undecodable event, held", "owner": "vm:7"}]});
        let lag = serde_json::json!({"sampledAt": "2026-12-02T01:00:00.000Z", "groups": [
            {"group": "projector.bankroll", "stream": "events", "partitions": [
                {"domain": "player", "partition": 0, "committed": 4, "end": 4, "lag": 0},
                {"domain": "player", "partition": 1, "committed": 2, "end": 9, "lag": 7}], "error": null}]});
        let text = human(&tasks, &lag);
        assert!(text.starts_with("partitions owned by vm:7: 1 serving, 0 restoring, 1 failed\n"), "{text}");
        assert!(text.contains("projector.bankroll player[1] failed (restarts 3): undecodable event, held"), "{text}");
        assert!(text.contains("projector.bankroll         7           2  player[1] 7"), "{text}");
    }
}
