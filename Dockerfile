# Switchboard in a container: `switchboard serve` as a non-root user, data in /data.
# Configuration through SWITCHBOARD_* variables (every `serve` option has one); see
# docs/container.md for running it with PostgreSQL.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/switchboard/bin:$PATH

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY src ./src
# Behind a TLS-intercepting proxy, give pip the proxy's CA bundle as the build secret
# `ca-certificates` (docs/container.md); without it pip trusts its own bundle.
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
    && python3 -m venv /opt/switchboard \
    && /opt/switchboard/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c constraints.txt . \
    && rm -rf /src

RUN groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid switchboard --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin switchboard \
    && mkdir -p /data && chown switchboard:switchboard /data

ENV SWITCHBOARD_HOST=0.0.0.0 \
    SWITCHBOARD_PORT=8080 \
    SWITCHBOARD_DATA_DIR=/data \
    SWITCHBOARD_LOG_FORMAT=json

VOLUME ["/data"]
EXPOSE 8080 9464
USER switchboard
WORKDIR /data

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SWITCHBOARD_PORT', '8080'), timeout=2).status != 200)"]

ENTRYPOINT ["switchboard", "serve"]
