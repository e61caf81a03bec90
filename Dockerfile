# prflow — container image for `prflow serve` (the GitHub App).
#   docker build -t prflow .
#   docker run -p 3000:3000 -e APP_ID=... -e PRIVATE_KEY_PATH=/keys/app.pem \
#     -e WEBHOOK_SECRET=... -v prflow-data:/data -v $PWD/app.pem:/keys/app.pem:ro prflow
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin prflow && strip target/release/prflow

FROM debian:bookworm-slim
# git: agents' work trees and pushes; ca-certificates: https to GitHub.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data prflow \
 && mkdir -p /data && chown prflow /data
COPY --from=build /src/target/release/prflow /usr/local/bin/prflow
USER prflow
ENV HOST=0.0.0.0 PORT=3000 PRFLOW_DATA_DIR=/data LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 3000
# tini forwards SIGTERM so prflow can finish or journal in-flight work.
ENTRYPOINT ["/usr/bin/tini", "--", "prflow"]
CMD ["serve"]
