# Set-up and checks. `make demo` and `make test` work on a fresh clone with only
# the package registries reachable.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0
# TensorFlow, the third Keras backend, goes into the same .venv (pip check stays clean). The CPU
# build: `tensorflow-cpu` is the same `tensorflow` module without the GPU kernels. It is resolved
# together with the package so that pip keeps every dependency inside TensorFlow's ranges (it
# holds h5py below 3.15). Measured on 2 shared CPU cores: the install adds about 20 s (wheels
# from a package mirror) and 1.3 GB; the TensorFlow pass of `make test` (about 480 tests) about
# 50 s, plus about 20 s in the main run, which imports TensorFlow for docs/tensorflow.md.
TENSORFLOW := tensorflow-cpu==2.21.0

.PHONY: demo test install install-test bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) -e '.[experiments]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) $(TORCH)
	$(PIP) $(TENSORFLOW) -e '.[all,test,docs,hf]'
	$(PY) -m pip check --disable-pip-version-check
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(VENV)/bin/wce compare

# Keras suites also run once per extra backend, each in its own process
# (the backend is fixed at import time); KERAS_BACKEND=torch runs in the main suite.
KERAS_TESTS   := $(wildcard tests/test_keras*.py)
KERAS_EXTRA   := jax
# On TensorFlow the Keras suites run with the Keras examples and the TensorFlow recipes beside
# them; WCE_REQUIRE_TENSORFLOW=1 turns their "TensorFlow is not installed" skip into a failure.
TF_TESTS      := tests/test_examples_keras.py tests/test_tensorflow_recipes.py

test: $(VENV)/.installed-test
	$(PY) -m pytest -q -n 2 -p no:cacheprovider tests
	@set -e; for b in $(KERAS_EXTRA); do \
	  if [ -n "$(KERAS_TESTS)" ]; then echo "== Keras backend: $$b"; \
	    KERAS_BACKEND=$$b $(PY) -m pytest -q -p no:cacheprovider $(KERAS_TESTS); fi; done
	@echo "== Keras backend: tensorflow"
	KERAS_BACKEND=tensorflow WCE_REQUIRE_TENSORFLOW=1 \
	  $(PY) -m pytest -q -p no:cacheprovider $(KERAS_TESTS) $(TF_TESTS)
	@if [ -f mkdocs.yml ]; then $(MAKE) --no-print-directory docs; fi

# The documentation site, built with warnings as errors.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

bench: $(VENV)/.installed-test
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache wce-report wce-sweep wce-longtail site
