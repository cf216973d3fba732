# syntax=docker/dockerfile:1
#
# Debrief service image: `docker build -t debrief .`, run as `debrief run --config FILE`.
# Stage 1 builds the release binary (librdkafka is compiled from source by rdkafka-sys, which
# takes a few minutes); stage 2 is a slim Debian with only the binary and its shared libraries.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# rdkafka-sys builds librdkafka with its own configure script; openssl and zlib come from the
# system (the rust image ships libssl-dev, zlib1g-dev, pkg-config, make and gcc).
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin debrief \
    && install -D -m 0755 target/release/debrief /out/debrief \
    && strip --strip-debug /out/debrief

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin debrief
COPY --from=builder /out/debrief /usr/local/bin/debrief
COPY deploy/debrief.toml /etc/debrief/debrief.toml
USER 10001:10001
# /metrics, /healthz, /readyz
EXPOSE 9464
ENV DEBRIEF__HTTP__LISTEN=0.0.0.0:9464
ENTRYPOINT ["/usr/local/bin/debrief"]
CMD ["run", "--config", "/etc/debrief/debrief.toml"]
