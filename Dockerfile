# syntax=docker/dockerfile:1
#
# The feed aggregator daemon (`aggregator run`: scheduled polling + the HTTP server) in a container.
#
#   docker compose up -d --build           # see docker-compose.yml: config, volume, healthcheck
#   docker build -t feed-aggregator .      # or by hand, then:
#   docker run -d -p 8080:8080 -v aggregator-data:/data feed-aggregator
#
# State (the SQLite database and the published files) lives in /data, meant to be a named volume.
# The image carries deploy/docker.yaml as /config/aggregator.yaml, so it runs as it is; mount your
# own config over that path (read-only) to change sources or topics. The config must keep
# server.host 0.0.0.0 (127.0.0.1 is unreachable from outside the container) and port 8080, or the
# HEALTHCHECK below and the published port have to change with it.

# ---- build: turn the checkout into a wheel, so the runtime image holds no source tree ----------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY aggregator/ aggregator/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AGGREGATOR_CONFIG=/config/aggregator.yaml

# A fixed, unprivileged user. /data is created here and owned by it: Docker copies that ownership
# into a named volume the first time the volume is mounted, so the daemon can write to it.
RUN groupadd --system --gid 10001 aggregator \
    && useradd --system --uid 10001 --gid aggregator --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin aggregator \
    && mkdir -p /data \
    && chown aggregator:aggregator /data

# The dependencies come from PyPI as the pyproject's ranges allow (the wheels of lxml, nh3 and
# aiohttp need no compiler on the slim image).
# The wheel is bind-mounted from the build stage (BuildKit), so no layer keeps a copy of it.
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    pip install --no-cache-dir /tmp/wheels/*.whl

COPY deploy/docker.yaml /config/aggregator.yaml

# Relative paths in a config would land in the volume rather than in a read-only directory.
WORKDIR /data
VOLUME ["/data"]
# Numeric, so runtimes that check runAsNonRoot can tell it is not root without /etc/passwd.
USER 10001:10001
EXPOSE 8080

# No curl on the slim image: Python asks /healthz (200 healthy, 503 scheduler stalled; any error
# or non-2xx answer exits 1 = unhealthy). ProxyHandler({}) ignores any *_proxy environment.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:8080/healthz', timeout=5)"]

# SIGTERM (Docker's default stop signal) ends the daemon cleanly with exit 0 within 10 s.
STOPSIGNAL SIGTERM
CMD ["aggregator", "-c", "/config/aggregator.yaml", "run", "--log-format", "json"]
