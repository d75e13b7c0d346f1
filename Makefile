# glmserve: `make serve` runs the server on the embedded default model, `make test` runs
# the tests. Each creates the virtualenv (.venv) and installs what it needs on first use.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.glmserve-installed

.PHONY: install serve test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install-llama.sh scripts/llama-cmake-args.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	scripts/install-llama.sh $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

serve: install
	$(BIN)/glmserve serve $(ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
