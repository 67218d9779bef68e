# syntax=docker/dockerfile:1
# Every zayavki binary in one image, for compose.yaml: each compose service runs one of them
# with `command`. `zayavki` is there too, to mint tokens (`zayavki token --sub alice`).

# The web app, built from its lockfile (and the protos and OpenAPI document it is generated
# from).
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY proto /src/proto
COPY openapi /src/openapi
COPY web/ ./
RUN npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches outlive the build, so a rebuild compiles only what changed;
# the binaries are copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        -p application-service -p business-process -p report-service -p zayavki \
    && mkdir /out \
    && cp target/release/application-service target/release/business-process \
        target/release/report-service target/release/zayavki /out/

FROM debian:bookworm-slim AS runtime
# curl answers the compose health checks (`/readyz`); ca-certificates serve TLS to S3; HAProxy
# is the gateway (`zayavki gateway`).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl haproxy \
    && rm -rf /var/lib/apt/lists/*
# The data directories exist and belong to the service user, so named volumes mounted on them
# start with that owner.
RUN groupadd --system --gid 10001 zayavki \
    && useradd --system --uid 10001 --gid zayavki --home-dir /var/lib/zayavki \
        --shell /usr/sbin/nologin zayavki \
    && mkdir -p /var/lib/zayavki/search-index /var/lib/zayavki/reports /var/lib/zayavki/gateway \
    && chown -R zayavki:zayavki /var/lib/zayavki
COPY --from=build /out/ /usr/local/bin/
COPY --from=web /src/web/dist/ /usr/share/zayavki/web/
USER zayavki:zayavki
WORKDIR /var/lib/zayavki
CMD ["zayavki", "--help"]
