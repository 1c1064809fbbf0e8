# make demo: the main job end to end, nothing else running.
# make test: everything the tests need (Debian packages too), then the whole suite.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test check bench clean

check: $(BIN)/startpoints
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy


$(BIN)/startpoints: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/startpoints
	$(BIN)/python examples/demo.py

test: check
	scripts/debian-packages.sh
	$(BIN)/pytest


bench: $(BIN)/startpoints
	scripts/debian-packages.sh
	$(BIN)/python bench/publish.py
	$(BIN)/python bench/assemble.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/prepull.py
	$(BIN)/python bench/hostile.py

clean:
	rm -rf $(VENV) demo build *.egg-info src/*.egg-info
