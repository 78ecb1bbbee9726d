# Two commands on a fresh machine (see README):
#   make run    set up .venv on first use, then run the default design campaign
#   make test   set up .venv on first use, then run the test suite
#
# torch: the CPU build TORCH_SPEC (default torch==2.13.0) is installed first unless a torch
# is already present; an unpinned torch would pull several GB of CUDA packages.

PYTHON ?= python3
VENV   ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.evodesign-installed.stamp
PYTEST_ARGS ?=

.PHONY: run test setup bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test,dask,structures]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) runs/thermoelectric.py

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/evodesign bench featurizer --json docs/benchmarks/featurizer.json --overwrite
	$(VENV)/bin/evodesign bench surrogate --dataset transport --targets log10_PF_p,S_p --json docs/benchmarks/surrogate.json --overwrite
	$(VENV)/bin/evodesign bench operators --dataset transport --max-epochs 150 --json docs/benchmarks/operators.json --overwrite
	$(VENV)/bin/evodesign bench overhead --json docs/benchmarks/overhead.json --overwrite
	$(VENV)/bin/evodesign bench report

clean-venv:
	rm -rf $(VENV)
