# Images of the local stack (compose.yaml): `--target loadgen` and `--target mock-authority`.
# Multi-stage: one release build of the workspace, then small Debian images with one binary.
# MOCK_FEATURES: cargo features of mock-authority (e.g. "otlp" for its server spans).

FROM rust:1.95-bookworm AS build
ARG MOCK_FEATURES=""
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p loadgen \
 && cargo build --release --locked -p mock-authority --features "${MOCK_FEATURES}" \
 && cp target/release/loadgen target/release/mock-authority /usr/local/bin/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /work tokenscope \
 && mkdir /shared && chown tokenscope /shared
WORKDIR /work

FROM runtime AS mock-authority
COPY --from=build /usr/local/bin/mock-authority /usr/local/bin/mock-authority
COPY mock-authority/config/ /etc/mock-authority/
USER tokenscope
EXPOSE 8443
ENTRYPOINT ["mock-authority"]
CMD ["serve", "--listen", "0.0.0.0:8443"]

FROM runtime AS loadgen
COPY --from=build /usr/local/bin/loadgen /usr/local/bin/loadgen
COPY scenarios/ /work/scenarios/
USER tokenscope
EXPOSE 9464
ENTRYPOINT ["loadgen"]
CMD ["run", "scenarios/quickstart.yaml"]
