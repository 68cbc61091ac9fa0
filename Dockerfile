# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build -t angzarr .                      the coordinators (default target `runtime`):
#                                                  the angzarr binary alone, no example code
#   docker build -t angzarr-poker --target poker .  the poker example's aggregates (player,
#                                                  hand, table) as a gRPC service, for
#                                                  docker-compose.yml and the chart's default values
# Both run distroless (no shell, no package manager) as the non-root user 65532.

# --- build: the toolchain and the sources --------------------------------------
FROM rust:1.95-bookworm AS toolchain
# cmake builds librdkafka (linked statically); perl and make build the
# vendored OpenSSL it uses for TLS/SASL to the brokers (rdkafka `ssl-vendored`).
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake perl make \
 && rm -rf /var/lib/apt/lists/*
# zlib (librdkafka's compression) linked statically too: the runtime image
# then needs nothing beyond glibc and the C++ runtime.
ENV LIBZ_SYS_STATIC=1 CARGO_TERM_COLOR=never
# The only libraries a binary may load from the distroless `cc` image. The
# build fails here, not at start-up in a cluster, when a dependency starts to
# link another one (e.g. the `gssapi` feature's libsasl2, which that image
# lacks). cc-debian12 also has libssl3/libcrypto3, should TLS ever link the
# system OpenSSL instead of the vendored one.
RUN printf '%s\n' linux-vdso ld-linux libc.so libm.so libdl.so libpthread.so librt.so libgcc_s.so \
      'libstdc++.so' libssl.so libcrypto.so >/allowed-libs

WORKDIR /src
COPY . .

FROM toolchain AS build
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=angzarr-target \
    cargo build --release --locked -p angzarr --no-default-features \
 && mkdir -p /out && cp target/release/angzarr /out/ \
 && ldd /out/angzarr && ! ldd /out/angzarr | grep -vF -f /allowed-libs

FROM toolchain AS build-poker
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=angzarr-target \
    cargo build --release --locked -p poker --bin poker-player \
 && mkdir -p /out && cp target/release/poker-player /out/ \
 && ldd /out/poker-player && ! ldd /out/poker-player | grep -vF -f /allowed-libs

# --- the example's handlers (not part of the runtime image) --------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS poker
COPY --from=build-poker /out/poker-player /usr/local/bin/poker-player
USER 65532:65532
# 127.0.0.1:50051 unless LISTEN is set (the chart and docker-compose.yml set it).
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/poker-player"]

# --- the coordinators: the default target --------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/angzarr /usr/local/bin/angzarr
USER 65532:65532
# gRPC gateway, its HTTP listener, the admin listener (/healthz /readyz /metrics).
EXPOSE 1313 1311 9464
ENTRYPOINT ["/usr/local/bin/angzarr"]
