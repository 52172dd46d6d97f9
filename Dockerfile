# syntax=docker/dockerfile:1
#
# Keeper's container image: the `keeper` binary on Debian slim, run as an
# unprivileged user, its data in the /data volume.
#
#   docker build -t keeper .
#   docker run -d --env-file .env -v keeper-data:/data keeper
#
# With no DATABASE_URL it keeps everything in /data/keeper.db (SQLite). Every
# setting is an environment variable (`docker run --rm keeper --help`), and the
# arguments after the image name replace `run`: `docker run --rm -v
# keeper-data:/data keeper check`, `... keeper backup --out /data/backups`.
# docker-compose.yml runs several processes of it on PostgreSQL.
# tests/deploy.rs checks this file (and runs what docker-compose.yml runs).

# --- builder ----------------------------------------------------------------
# The same Debian release as the runtime stage below: the binary links glibc
# dynamically and needs one at least as new as the one it was built against.
FROM rust:1-bookworm AS builder
WORKDIR /build

# sqlx checks every query at compile time; there is no database in a build, so
# the macros read the committed .sqlx/ folders of the store crates instead.
ENV SQLX_OFFLINE=true

# Only what the build reads, so editing the docs or the tests does not rebuild.
# benches/ too: Cargo.toml declares `[[bench]] load`, and cargo refuses a
# workspace whose declared targets are missing. migrations/ is embedded into
# the binary by `sqlx::migrate!()` (each store crate's sqlx.toml points there).
COPY Cargo.toml Cargo.lock ./
COPY benches benches
COPY crates crates
COPY migrations migrations
COPY src src

# --locked: exactly the dependency versions of the committed Cargo.lock. The
# cache mounts keep downloaded crates between builds (BuildKit, the default
# builder). The release profile keeps line tables for readable backtraces;
# compressing the debug sections shrinks the binary about 2.5 times and Rust's
# backtraces still read them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked --bin keeper \
    && objcopy --compress-debug-sections=zlib target/release/keeper

# --- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# `keeper backup` of a PostgreSQL database runs pg_dump (and `keeper restore`
# pg_restore), and pg_dump refuses a server of a newer major version than
# itself. Debian bookworm ships 15, so the client comes from the PostgreSQL
# project's own apt repository, at the major version of the server in
# docker-compose.yml (postgres:16); raise it with `--build-arg PG_MAJOR=17`
# when the server moves. ca-certificates: that repository is https, and
# pg_dump verifies servers with `sslrootcert=system` against it (Keeper itself
# carries the roots it trusts for Discord). curl: the HEALTHCHECK below.
ARG PG_MAJOR=16
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    rm -rf /var/lib/apt/lists/*; \
    pg_dump --version

# An unprivileged user with a fixed uid, so files in a volume or a bind mount
# keep one owner across rebuilds and hosts. /data is created (owned by it)
# before the VOLUME line: changes to a volume's path after it are discarded.
RUN set -eux; \
    groupadd --system --gid 10001 keeper; \
    useradd --system --uid 10001 --gid keeper --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin keeper; \
    install -d -o keeper -g keeper -m 0750 /data

COPY --from=builder /build/target/release/keeper /usr/local/bin/keeper

# The SQLite file (when DATABASE_URL is not set to PostgreSQL) and scheduled
# backups (KEEPER_BACKUP_DIR, `backups` in the working directory) live in the
# volume, so they outlive the container. Keeper also reads a `.env` from its
# working directory: one can be mounted at /data/.env.
ENV DATABASE_URL=sqlite:///data/keeper.db
# /healthz, /readyz and /metrics for the HEALTHCHECK, an orchestrator and
# Prometheus. Listening on every interface of the container's own network;
# nothing is published on the host unless asked (`-p 8080:8080`).
ENV KEEPER_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
WORKDIR /data
VOLUME ["/data"]

# Numeric, so an orchestrator can verify it is not root (runAsNonRoot) without
# reading /etc/passwd.
USER 10001:10001

# Liveness: the process answers /healthz. The port is taken from
# KEEPER_HTTP_ADDR (whatever follows its last colon), so overriding the address
# keeps the check right; unsetting it turns the server, and so this check, off.
# start-period: migrations and the first shards' IDENTIFYs (one per 5 s on
# Discord) come before anything is expected.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${KEEPER_HTTP_ADDR##*:}/healthz" || exit 1

# Keeper writes buffered XP and closes its sessions resumably on SIGTERM
# (`docker stop`) and exits 0 within 10 s; give `docker stop -t 15` or
# compose's stop_grace_period some margin over that.
STOPSIGNAL SIGTERM
# Exec form: keeper is PID 1 and receives the signal itself (it handles
# SIGTERM; a shell in between would not pass it on).
ENTRYPOINT ["/usr/local/bin/keeper"]
CMD ["run"]
