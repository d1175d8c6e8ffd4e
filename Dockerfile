# syntax=docker/dockerfile:1
# Bucketpipe: one image for every job (`bucketpipe ingest ...`, `clean`, `compact`, `status`)
# and the dashboard (`bucketpipe dashboard`). The `dashboard` extra (Streamlit, Plotly) is
# installed by default so one image serves both; build a smaller jobs-only image with
#   docker build --build-arg EXTRAS= -t bucketpipe-jobs:0.1.0 .
#
# Base image: pinned by tag here. Production builds pin the digest as well, so a rebuilt tag
# upstream can never change what ships:
#   docker buildx imagetools inspect docker.io/library/python:3.11.14-slim-bookworm
#   docker build --build-arg PYTHON_IMAGE=docker.io/library/python:3.11.14-slim-bookworm@sha256:<digest> .
# (`<digest>` is the "Digest:" line printed by the first command.)
ARG PYTHON_IMAGE=docker.io/library/python:3.11.14-slim-bookworm

# ---------------------------------------------------------------------------------------------
# builder: compilers, wheels for every pinned dependency, the project installed into a venv.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers only for dependencies that ship no wheel for this platform; they stay in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the package build needs (.dockerignore keeps the rest of the tree out).
COPY pyproject.toml README.md LICENSE ./
COPY bucketpipe ./bucketpipe
COPY jobs ./jobs
COPY app ./app

ARG EXTRAS=dashboard
# Versions come from pyproject.toml's exact pins (duckdb == duckdb-extension-httpfs).
RUN pip wheel --wheel-dir /wheels ".${EXTRAS:+[$EXTRAS]}"

# A non-editable install (`pip install .`) into its own venv, from the wheels just built. The
# venv gets no pip of its own: nothing installs packages at runtime.
RUN python -m venv --without-pip /opt/bucketpipe \
 && pip --python /opt/bucketpipe/bin/python install --no-index --find-links /wheels \
        "bucketpipe${EXTRAS:+[$EXTRAS]}" \
 && /opt/bucketpipe/bin/bucketpipe --version

# httpfs must load from the pinned wheel's file with autoinstall off: fail the build otherwise.
RUN /opt/bucketpipe/bin/python -c "import duckdb; from bucketpipe.lake.duck import load_httpfs; con = duckdb.connect(config={'autoinstall_known_extensions': False, 'autoload_known_extensions': False}); load_httpfs(con); print(con.execute(\"SELECT extension_name, loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'\").fetchall())"

# ---------------------------------------------------------------------------------------------
# runtime: no compilers, no pip in the venv, non-root, works under OpenShift's random UID.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="bucketpipe" \
      org.opencontainers.image.description="Data pipelines as Kubernetes CronJobs on object storage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/bucketpipe/bucketpipe"

# OpenShift runs the container as a random UID that belongs to group 0, so everything the
# process writes is owned by group 0 and group-writable (g=u). In Kubernetes the root filesystem
# is read-only and /tmp and $HOME are emptyDir volumes; these directories exist for `docker run`.
RUN useradd --uid 1001 --gid 0 --no-log-init --create-home --home-dir /home/bucketpipe \
        --shell /usr/sbin/nologin bucketpipe \
 && mkdir -p /home/bucketpipe/.cache /home/bucketpipe/.streamlit /tmp/bucketpipe \
 && chgrp -R 0 /home/bucketpipe /tmp/bucketpipe \
 && chmod -R g=u /home/bucketpipe /tmp/bucketpipe

COPY --from=builder /opt/bucketpipe /opt/bucketpipe

# HOME holds Streamlit's ~/.streamlit (its config and caches) and XDG caches; BUCKETPIPE_TEMP_DIR
# is DuckDB's spill space. Streamlit settings: the installed code never changes, so no file
# watcher; no usage statistics; headless (no browser).
ENV PATH=/opt/bucketpipe/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/bucketpipe \
    XDG_CACHE_HOME=/home/bucketpipe/.cache \
    XDG_CONFIG_HOME=/home/bucketpipe/.config \
    BUCKETPIPE_TEMP_DIR=/tmp/bucketpipe \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true

WORKDIR /home/bucketpipe
USER 1001:0
EXPOSE 8501

# For the dashboard (`bucketpipe dashboard --address 0.0.0.0 --port 8501`). Kubernetes ignores
# HEALTHCHECK and uses the Deployment's probes; compose disables it for the job containers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["bucketpipe"]
CMD ["--help"]
