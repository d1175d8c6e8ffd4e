# Two set-up commands: `make demo` and `make test`. Everything else is below them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help demo demo-pipeline dashboard test test-rgw lint typecheck unit integration browser \
        test-long bench bench-quick screenshots k8s-render k8s-renders lock clean-lake clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.base:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	touch $@

$(VENV)/.dashboard: $(VENV)/.base pyproject.toml
	$(PIP) install --quiet -e '.[dashboard]'
	touch $@

$(VENV)/.dev: $(VENV)/.base pyproject.toml
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.dashboard

demo-pipeline: $(VENV)/.dashboard ## run the whole pipeline on the embedded default (./lake, no Redis)
	$(BIN)/bucketpipe ingest demo
	$(BIN)/bucketpipe clean
	$(BIN)/bucketpipe status

demo: demo-pipeline ## the pipeline, then the dashboard on http://localhost:8501
	$(BIN)/bucketpipe dashboard

dashboard: $(VENV)/.dashboard ## start the dashboard on the current lake
	$(BIN)/bucketpipe dashboard

lint: $(VENV)/.dev ## ruff lint and format check, import contracts (layers, no cycles)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev ## mypy --strict on bucketpipe/, jobs/ and benchmarks/
	$(BIN)/mypy

# Two workers by default (CI has two cores); each test file runs whole in one worker, so its
# servers start once. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2

test: lint typecheck ## lint, type checks and the whole test suite
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

# The S3 tests (marked s3 by tests/conftest.py) against a throwaway Ceph RGW, the server under CSC
# Allas, started by local/rgw/rgw.sh (one per test worker): over HTTP, then over HTTPS.
test-rgw: $(VENV)/.dev ## the S3 tests against a real Ceph RGW, over HTTP and HTTPS
	BUCKETPIPE_TEST_S3=rgw $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -m s3
	BUCKETPIPE_TEST_S3=rgw-https $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -m s3

unit: $(VENV)/.dev ## unit tests only (no servers)
	$(BIN)/python -m pytest tests/unit

integration: $(VENV)/.dev ## integration tests (moto S3, redis-server, fake Finnhub)
	$(BIN)/python -m pytest tests/integration

test-long: $(VENV)/.dev ## the suite with the long reliability modes
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --long

bench: $(VENV)/.dev ## the full benchmark against the volume-and-CSV design (tens of minutes)
	$(BIN)/python -m benchmarks --json bench-results/bench.json

bench-quick: $(VENV)/.dev ## every benchmark at small sizes, in under two minutes (a smoke run)
	$(BIN)/python -m benchmarks --quick --json bench-results/bench-quick.json

screenshots: $(VENV)/.dev ## retake docs/screenshots/ with the browser tests
	$(BIN)/python -m pytest tests/app/test_browser.py --update-screenshots

k8s-render: $(VENV)/.dev ## render the Kubernetes manifests (kubectl kustomize k8s)
	$(BIN)/kubectl kustomize k8s

k8s-renders: $(VENV)/.dev ## rewrite the checked-in renders in tests/deploy/renders/ (review the diff)
	$(BIN)/kubectl kustomize k8s > tests/deploy/renders/k8s.yaml
	$(BIN)/kubectl kustomize k8s/overlays/example > tests/deploy/renders/example.yaml

# The image installs exactly these lock files with --require-hashes (see the Dockerfile). uv keeps
# the versions already in a lock file unless pyproject.toml asks for others; to move every
# transitive dependency to its newest release, delete the lock files first. Needs PyPI.
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes --only-binary :all: --python-version 3.11 \
        --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock"

lock: $(VENV)/.dev ## pin every runtime and build dependency of the image, with hashes (requirements/)
	$(LOCK) pyproject.toml --extra dashboard -o requirements/runtime.lock
	$(LOCK) requirements/build.in -o requirements/build.lock

clean-lake: ## delete the embedded demo lake (./lake)
	rm -rf lake

clean: ## delete the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
