# The angzarr binary and the Rust example handlers, for docker-compose.yml and helm/.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p angzarr -p poker

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/angzarr /src/target/release/poker-player /usr/local/bin/
USER 65532
ENTRYPOINT ["angzarr"]
