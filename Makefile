# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-isa venv clean

# torch first (scripts/install-torch.sh: the CPU build on a Linux machine without an NVIDIA GPU), then the
# pinned rest, which finds torch already satisfied.
$(STAMP): requirements.txt pyproject.toml scripts/install-torch.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	sh scripts/install-torch.sh $(PY) requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/plait quickstart

# The house rules as checks: the layering (import-linter contracts in pyproject.toml, a fraction of a second),
# ruff, then the suite with every docstring example (--doctest-modules). --no-cache keeps the linters' caches
# out of the working tree. pytest exits 5 when it collects no test; that must fail CI, and it does because make
# propagates it.
test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check --no-cache plait tests
	$(PY) -m pytest -n 2 -q

# The suite again with other float kernels than this CPU's best: MKL and ATen in their portable mode, and
# (on a CPU with AVX2) forced to AVX2, as on an AMD EPYC. A bit-exact test that only holds on one
# instruction set fails here.
test-isa: $(STAMP)
	MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default $(PY) -m pytest -n 2 -q -p no:warnings
	if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then \
		MKL_CBWR=AVX2 ATEN_CPU_CAPABILITY=avx2 $(PY) -m pytest -n 2 -q -p no:warnings; fi

clean:
	rm -rf $(VENV) build *.egg-info
