//! `downstream.feature` through a real coordinator on a real Kafka broker
//! (`KAFKA_BOOTSTRAP`, started by `scripts/kafka start`). The same binary as
//! `downstream.rs`, with the Kafka log selected and the bankroll read model
//! in PostgreSQL (`DATABASE_URL`, started by `scripts/postgres start`).

fn main() {
    let Ok(bootstrap) = std::env::var("KAFKA_BOOTSTRAP") else {
        eprintln!(
            "KAFKA_BOOTSTRAP is not set: run `export KAFKA_BOOTSTRAP=$(scripts/kafka start)` (scripts/test does)"
        );
        std::process::exit(1);
    };
    if std::env::var("DATABASE_URL").is_err() {
        eprintln!("DATABASE_URL is not set: run `export DATABASE_URL=$(scripts/postgres start)` (scripts/test does)");
        std::process::exit(1);
    }
    let exe = std::env::current_exe().unwrap();
    let coordinator = exe
        .parent()
        .unwrap()
        .read_dir()
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with("downstream-") && !name.starts_with("downstream_kafka") && p.extension().is_none()
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    let Some(coordinator) = coordinator else {
        eprintln!("the `downstream` test binary was not built next to this one");
        std::process::exit(1);
    };
    let status = std::process::Command::new(coordinator)
        .env("ANGZARR_LOG", "kafka")
        .env("KAFKA_BOOTSTRAP", bootstrap)
        .status()
        .expect("running the downstream features");
    std::process::exit(status.code().unwrap_or(1));
}
