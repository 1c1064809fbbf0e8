# make demo: the main job end to end, nothing else running.
# make test: everything the tests need (Debian packages too), then the whole suite.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test check bench clean image dist

# Two stamps, so `make demo` installs only what the tool runs on and `make test` adds its tools.
RUNTIME = $(VENV)/.runtime-installed
TESTING = $(VENV)/.test-installed

check: $(TESTING)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

$(RUNTIME): pyproject.toml
	@echo "installing startpoints and its runtime dependencies into $(VENV) (once; then '. $(VENV)/bin/activate' puts startpoints on PATH)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(TESTING): $(RUNTIME)
	@echo "installing the test tools into $(VENV)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(RUNTIME)
	$(BIN)/python examples/demo.py

test: check
	scripts/debian-packages.sh
	$(BIN)/pytest

# The service image from the Dockerfile, by buildah on a Debian base made by mmdebstrap (set
# BASE=python:3.11-slim-bookworm where Docker Hub is reachable); DEST=docker://HOST/REPO:TAG
# or DEST=oci:PATH:NAME pushes it there.
image: $(RUNTIME)
	scripts/debian-packages.sh
	PYTHON=$(BIN)/python scripts/service-image.sh $(DEST)

# A wheel of startpoints in dist/, for `pip install dist/startpoints-*.whl`.
dist: $(RUNTIME)
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .

bench: $(TESTING)
	scripts/debian-packages.sh
	$(BIN)/python bench/publish.py
	$(BIN)/python bench/assemble.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/prepull.py
	$(BIN)/python bench/prepull_mix.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/demo.py

clean:
	rm -rf $(VENV) demo build dist *.egg-info src/*.egg-info
