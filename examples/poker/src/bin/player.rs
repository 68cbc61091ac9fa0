//! The player aggregate as a standalone gRPC service, for `--handler player=URL`
//! or a sidecar deployment. `PORT` (default 50051) on 127.0.0.1 unless `LISTEN` is set.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let addr = match std::env::var("LISTEN") {
        Ok(a) => a.parse()?,
        Err(_) => format!("127.0.0.1:{}", std::env::var("PORT").unwrap_or_else(|_| "50051".into())).parse()?,
    };
    poker::server().serve(addr).await?;
    Ok(())
}
