# The two commands of the README: `make run` and `make test`. Both set everything up first.
VENV ?= .venv
PYTHON ?= python3

.PHONY: install fonts run test bench bench-national lock

# Exactly the versions CI tested (requirements.lock), then the project itself without resolving anything.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.lock
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

# After changing a dependency range in pyproject.toml: resolve again, then `make test` and commit both.
lock:
	bash scripts/lock

install: $(VENV)/.installed fonts

# Liberation Serif (metric-compatible with Times New Roman, every Vietnamese glyph) for the PDF dossier,
# from Debian when we may install it; without it the PDF falls back to matplotlib's DejaVu Serif.
LIBERATION_SERIF = /usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf
fonts:
	@test -f $(LIBERATION_SERIF) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get install -y -qq fonts-liberation2 >/dev/null 2>&1 \
	      || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-liberation2 >/dev/null 2>&1)) \
	  || echo "fonts-liberation2 not installed: the PDF export uses DejaVu Serif"; }

run: install
	$(VENV)/bin/nguoitot run

test: install
	VENV=$(VENV) bash scripts/test

bench: install
	$(VENV)/bin/python bench/flow_throughput.py
	$(VENV)/bin/python bench/fanout.py
	$(VENV)/bin/python bench/export.py

# Not part of `make bench`: seeds the national data set (SQLite cached under .bench-cache/) and runs ~15 min.
# Options as NATIONAL_ARGS, e.g. make bench-national NATIONAL_ARGS="--db sqlite --scale 0.1"
bench-national: install
	$(VENV)/bin/python bench/national.py $(NATIONAL_ARGS)
