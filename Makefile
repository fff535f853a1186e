# Set-up and checks. `make demo` and `make test` work on a fresh clone with only
# the package registries reachable.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test install install-test bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) -e '.[experiments]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) $(TORCH)
	$(PIP) -e '.[all,test,docs,hf]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(VENV)/bin/wce compare

# Keras suites also run once per extra backend, each in its own process
# (the backend is fixed at import time); KERAS_BACKEND=torch runs in the main suite.
KERAS_TESTS   := $(wildcard tests/test_keras*.py)
KERAS_EXTRA   := jax

test: $(VENV)/.installed-test
	$(PY) -m pytest -q -n 2 -p no:cacheprovider tests
	@set -e; for b in $(KERAS_EXTRA); do \
	  if [ -n "$(KERAS_TESTS)" ]; then echo "== Keras backend: $$b"; \
	    KERAS_BACKEND=$$b $(PY) -m pytest -q -p no:cacheprovider $(KERAS_TESTS); fi; done
	@if [ -f mkdocs.yml ]; then $(MAKE) --no-print-directory docs; fi

# The documentation site, built with warnings as errors.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

bench: $(VENV)/.installed-test
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache wce-report wce-sweep wce-longtail site
