# Two entry points: `make demo` (the main job on its built-in default) and `make test`.
# Both create/use the local virtualenv .venv. The CPU build of torch is pinned first
# (constraints.txt) so that no dependency pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2

demo: $(STAMP)
	$(PY) -m streaming.run --out runs/demo --video

clean:
	rm -rf $(VENV) runs
