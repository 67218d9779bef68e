# Builds the `zayavki` launcher (every service in one process) for compose.yaml.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p zayavki -p application-service

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/zayavki /usr/local/bin/zayavki
COPY --from=build /src/target/release/application-service /usr/local/bin/application-service
WORKDIR /var/lib/zayavki
ENTRYPOINT ["zayavki"]
CMD ["start"]
