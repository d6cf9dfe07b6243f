# Two commands for a fresh machine with Python 3.11:  make book  |  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
EXECUTED := $(patsubst notebooks/%.ipynb,book/executed/%.ipynb,$(NOTEBOOKS))
TOOLKIT_SRC := $(shell find toolkit -name '*.py' 2>/dev/null)

.PHONY: book test browser lint clean venv
.DELETE_ON_ERROR:

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ray]'
	touch $@

# Each notebook runs at its default scale (its parameters cell); compute results are cached in
# data/cache, so re-running after a toolkit change only redoes what changed.
book/executed/%.ipynb: notebooks/%.ipynb $(TOOLKIT_SRC) | $(STAMP)
	$(PY) -m toolkit.book execute $< $@

# table (book/figures.yml + results/), jupyter-book (warnings are errors), then the page checks
book: $(STAMP) $(EXECUTED)
	$(PY) -m toolkit.book build

# The browser test (tests/test_browser.py) runs when Chromium is installed, else it is skipped.
test: $(STAMP)
	$(PY) -m pytest -q

# Only the smoke book opened in Chromium; screenshots in book/_build/screenshots/
browser: $(STAMP)
	$(PY) -m pytest -q tests/test_browser.py

lint: $(STAMP)
	$(VENV)/bin/ruff check toolkit tests benchmarks

clean:
	rm -rf data/cache results book/_build book/executed book/_generated
