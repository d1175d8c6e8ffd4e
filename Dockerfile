# syntax=docker/dockerfile:1
# Bucketpipe: one image for every job (`bucketpipe ingest ...`, `clean`, `compact`, `status`)
# and the dashboard (`bucketpipe dashboard`).
#
# Reproducible: every dependency is installed from a lock file with exact versions and hashes
# (--require-hashes: pip refuses anything unlisted or altered) and only as a published wheel
# (--only-binary :all:, so no compiler runs): requirements/runtime.lock for what runs,
# requirements/build.lock for the backend that builds bucketpipe's own wheel. `make lock`
# updates them from pyproject.toml. A jobs-only image without the dashboard's dependencies would
# be 28% smaller in its venv and about 23% as a whole (docs/deploy-rahti.md, "The image"): not
# enough to keep two images in step, so there is one.
#
# Base image: Python 3.11 on Debian 13 "trixie" slim, pinned by the digest of its multi-platform
# index, so a tag rebuilt upstream can never change what ships. To move to a newer one:
#   docker buildx imagetools inspect docker.io/library/python:3.11-slim-trixie
# then put its version tag and the "Digest:" line it prints below (tests/deploy check the form).
# On Rahti, build from the project's imported copy of the same digest (docs/deploy-rahti.md,
# step 6) with --build-arg PYTHON_IMAGE=...
ARG PYTHON_IMAGE=docker.io/library/python:3.11.14-slim-trixie@sha256:193fdd0bbcb3d2ae612bd6cc3548d2f7c78d65b549fcaa8af75624c47474444d

# ---------------------------------------------------------------------------------------------
# builder: the locked dependencies and bucketpipe's wheel installed into a venv, then trimmed.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY requirements/build.lock requirements/runtime.lock ./requirements/

# The build backend (setuptools, wheel) in a venv of its own, at the locked versions.
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --no-deps --only-binary :all: \
        -r requirements/build.lock

# What runs, exactly as locked, into a venv that gets no pip of its own: nothing installs
# packages at runtime. `--no-deps`: the lock is the whole list; `pip check` below proves it.
RUN python -m venv --without-pip /opt/bucketpipe \
 && /opt/build/bin/pip --python /opt/bucketpipe/bin/python install \
        --require-hashes --no-deps --only-binary :all: -r requirements/runtime.lock

# Only what the package build needs (.dockerignore keeps the rest of the tree out: no tests, no
# benchmarks, no docs). The wheel is built offline with the locked backend (no build isolation),
# then installed non-editable without dependencies: they are all in place already.
COPY pyproject.toml README.md LICENSE ./
COPY bucketpipe ./bucketpipe
COPY jobs ./jobs
COPY app ./app
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/build/bin/pip --python /opt/bucketpipe/bin/python install --no-deps --no-index \
        /wheels/bucketpipe-*.whl \
 && /opt/build/bin/pip --python /opt/bucketpipe/bin/python check \
 && /opt/bucketpipe/bin/bucketpipe --version

# Nothing the image never runs: third-party packages' test suites, Jupyter assets (plotly's
# JupyterLab extension and widget bundle, pydeck's notebook extension), pyarrow's C++ headers
# and Cython sources, and plotly's standalone plotly.js (Streamlit's frontend brings its own).
RUN cd /opt/bucketpipe \
 && site=lib/python3.11/site-packages \
 && rm -rf share/jupyter etc/jupyter "$site/pydeck/nbextension/static" \
        "$site/pyarrow/include" "$site/pyarrow/src" \
        "$site/plotly/package_data/plotly.min.js" "$site/plotly/package_data/widgetbundle.js" \
 && find "$site" -depth -type d \( -name tests -o -name test \) -exec rm -rf {} + \
 && find "$site/pyarrow" \( -name '*.pxd' -o -name '*.pyx' -o -name '*.pxi' \) -delete

# The trimmed venv still works, holds no test or benchmark code, and httpfs loads from the
# pinned wheel's file with autoinstall off: fail the build otherwise.
RUN /opt/bucketpipe/bin/python -I -c "import importlib.util as u, sys; stray = [m for m in ('tests', 'benchmarks', 'bucketpipe.bench', 'pip', 'setuptools') if u.find_spec(m)]; sys.exit(f'not for the image: {stray}' if stray else 0)" \
 && /opt/bucketpipe/bin/python -I -c "import streamlit, plotly.io; plotly.io.templates.default" \
 && /opt/bucketpipe/bin/python -I -c "import duckdb; from bucketpipe.lake.duck import load_httpfs; con = duckdb.connect(config={'autoinstall_known_extensions': False, 'autoload_known_extensions': False}); load_httpfs(con); print(con.execute(\"SELECT extension_name, loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'\").fetchall())"

# ---------------------------------------------------------------------------------------------
# runtime: no compilers, no pip, setuptools or wheel anywhere, non-root, works under
# OpenShift's random UID.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="bucketpipe" \
      org.opencontainers.image.description="Data pipelines as Kubernetes CronJobs on object storage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/bucketpipe/bucketpipe"

# The base image's own installer (pip, setuptools, wheel in the system site-packages, and the
# wheels ensurepip would put into a new venv) goes: nothing installs packages at runtime, and
# what is not there has no vulnerabilities to patch.
#
# OpenShift runs the container as a random UID that belongs to group 0, so everything the
# process writes is owned by group 0 and group-writable (g=u). In Kubernetes the root filesystem
# is read-only and /tmp and $HOME are emptyDir volumes; these directories exist for `docker run`.
RUN rm -rf /usr/local/lib/python3.11/site-packages/* /usr/local/lib/python3.11/ensurepip \
        /usr/local/bin/pip /usr/local/bin/pip3 /usr/local/bin/pip3.11 /usr/local/bin/wheel \
 && python -I -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('pip', 'setuptools', 'wheel', 'ensurepip')))" \
 && useradd --uid 1001 --gid 0 --no-log-init --create-home --home-dir /home/bucketpipe \
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
