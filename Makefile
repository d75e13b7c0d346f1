# glmserve: `make serve` runs the server on the embedded default model, `make test` runs
# the tests. Each creates the virtualenv (.venv) and installs what it needs on first use.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.glmserve-installed

.PHONY: install images serve test lint clean workers fuzz

install: $(STAMP)

# Image and video generation (docs/images.md): torch (a CPU build unless one is there),
# diffusers and transformers, which `make test` needs and `make serve` does not.
IMAGES_STAMP := $(VENV)/.glmserve-images
images: $(IMAGES_STAMP)

$(IMAGES_STAMP): $(STAMP) scripts/install-torch.sh
	scripts/install-torch.sh $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[images]'
	touch $@

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

# The real worker servers of the remote engine's tests (tests/support/workers.py), kept
# in the user's cache outside the repository: vLLM for CPU in a virtualenv of its own
# (scripts/install-vllm.sh, a few minutes the first time, mostly downloads, so it runs
# beside the compile) and llama.cpp's llama-server (benchmarks/build_llama_server.sh
# --cache, a compile of about 10 minutes on 2 cores the first time). Each takes about a
# second when already there. GLMSERVE_TEST_WORKERS=optional skips them, and the tests
# that need them then skip, unless GLMSERVE_TEST_SERVICES=required (as in CI).
workers:
	@if [ "$$GLMSERVE_TEST_WORKERS" = optional ] && [ "$$GLMSERVE_TEST_SERVICES" != required ]; then \
	  echo "workers: GLMSERVE_TEST_WORKERS=optional: not installing vLLM or llama-server"; \
	else \
	  scripts/install-vllm.sh >/dev/null & vllm=$$!; \
	  benchmarks/build_llama_server.sh --cache >/dev/null; built=$$?; \
	  wait $$vllm && exit $$built; \
	fi

test: lint workers images
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The schemathesis run of `make test` (tests/e2e/test_fuzz.py) with many more examples
# per operation: every operation of /openapi.json against a real server, no 5xx and
# every answer as documented. FUZZ_EXAMPLES per operation; the result: docs/testing.md.
FUZZ_EXAMPLES ?= 1000
fuzz: install images
	GLMSERVE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/e2e/test_fuzz.py -q -s

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
