# Wirewatch: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_FLAGS := --quiet --disable-pip-version-check --prefer-binary
# Every wheel the project needs is kept here, outside the repo, so later installs work offline.
WHEELS ?= $(HOME)/.cache/wirewatch/wheels
ES_LOCAL := $(PYTHON) deploy/elasticsearch/local_es.py

# Install $(1) from the wheel cache alone when it holds everything; otherwise fill it, then install.
define pip_install
	$(PIP) install $(PIP_FLAGS) --no-index --find-links $(WHEELS) -c requirements.lock $(1) 2>/dev/null \
	|| { $(PIP) download $(PIP_FLAGS) --dest $(WHEELS) -r requirements.lock "setuptools>=77" wheel "pip>=25.1" \
	     && $(PIP) install $(PIP_FLAGS) --find-links $(WHEELS) -c requirements.lock $(1); }
endef

.PHONY: help run install native dev lint test unit chromium bench eval-dedup eval-extract eval-tagging clean lock es-start es-stop prism \
	flink flink-cluster-start flink-cluster-stop test-flink bench-runners bench-e2e bench-fts bench-pages

help:
	@echo "make run    create .venv, install, run the pipeline over seeds/ and search the result"
	@echo "make test   install dev tools, lint, type-check and run the whole test suite"
	@echo "make lint   ruff (format + rules) and mypy --strict only"
	@echo "make bench  benchmarks against a local Elasticsearch; figures in benchmarks/results/"
	@echo "make eval-dedup  near-duplicate precision/recall on real articles (benchmarks/results/dedup_eval.md)"
	@echo "make eval-tagging  actor tagging on GUM Wikinews, topics on 603 labelled feed items (benchmarks/results/)"
	@echo "make bench-e2e  the pipeline end to end vs a plain loop and a parse+write floor, both stores (e2e_bench.md)"
	@echo "make es-start / es-stop   a local Elasticsearch on 127.0.0.1 (prints its URL)"
	@echo "make flink  build Beam's Flink 1.19 job server once (for --runner=FlinkRunner)"
	@echo "make flink-cluster-start / flink-cluster-stop   a local Flink cluster (prints FLINK_MASTER=HOST:PORT)"
	@echo "make test-flink  only the Flink tests"
	@echo "make clean  remove .venv, the local store and tool caches"
	@echo "make lock   re-pin requirements.lock from the current .venv"

# One line per step on the terminal; the commands themselves stay quiet (`make V=1` shows them).
Q := $(if $(V),,@)

$(BIN)/python:
	@echo "make: creating $(VENV) with $(PYTHON)"
	$(Q)$(PYTHON) -m venv $(VENV)
	@# Dependency groups (the dev tools) need pip >= 25.1.
	$(Q)$(call pip_install,--upgrade "pip>=25.1")

$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	@echo "make: installing Wirewatch and its dependencies (wheels cached in $(WHEELS))"
	$(Q)$(call pip_install,-e .)
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	@echo "make: installing the dev tools (pytest, ruff, mypy, …)"
	$(Q)$(call pip_install,--group dev)
	@touch $@

# The compiled per-article path of the tagger (native/tagcore, Rust + pyo3), rebuilt when its sources
# change. Cargo keeps crates in ~/.cargo and its build tree under ~/.cache, so a re-run takes seconds;
# a failed build fails the install (the Python path is the reference, not a fallback here).
CARGO_TARGET ?= $(HOME)/.cache/wirewatch/cargo-target
NATIVE_SOURCES := $(wildcard native/tagcore/src/*.rs) \
	$(addprefix native/tagcore/,Cargo.toml Cargo.lock pyproject.toml tagcore.pyi)

$(VENV)/.native-installed: $(NATIVE_SOURCES) $(VENV)/.installed
	@echo "make: compiling the native tagger (Rust; the first build takes 3-6 minutes, later ones seconds)"
	$(Q)$(call pip_install,maturin)
	$(Q)rm -rf $(VENV)/native-wheel
	$(Q)PATH="$(HOME)/.cargo/bin:$$PATH" CARGO_TARGET_DIR=$(CARGO_TARGET) $(BIN)/maturin build --release --locked \
		--quiet -m native/tagcore/Cargo.toml -i $(BIN)/python --out $(VENV)/native-wheel
	$(Q)$(PIP) install $(PIP_FLAGS) --no-index --no-deps --force-reinstall $(VENV)/native-wheel/tagcore-*.whl
	@touch $@

# `make run` needs only Python: without the compiled tagger, tagging takes its (slower, identical)
# Python path. `make native` compiles it (opt-in: it needs cargo and minutes); `make test` and
# `make bench` need it and build it.
install: $(VENV)/.installed

native: $(VENV)/.native-installed

dev: $(VENV)/.dev-installed $(VENV)/.native-installed

run: install
	@test -e $(VENV)/.native-installed || echo "make: tagging takes the Python path; \`make native\` compiles the faster one (needs cargo, 3-6 minutes)"
	@echo "make: wirewatch run --seeds seeds"
	@$(BIN)/wirewatch run --seeds seeds
	@echo
	@echo '$$ wirewatch search "Putin satellites"'
	@$(BIN)/wirewatch search "Putin satellites" --limit 3
	@echo
	@echo 'Browse the store: .venv/bin/wirewatch serve   (then open http://127.0.0.1:8080/)'

lint: dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: dev
	$(BIN)/pytest -m "not integration"

# The suite runs against a real Elasticsearch on 127.0.0.1, provisioned from Maven Central and cached
# under ~/.cache/wirewatch; it is stopped on every exit path unless it was already running before.
define with_es
	@set -u; started=; \
	if ! $(ES_LOCAL) status >/dev/null 2>&1; then $(ES_LOCAL) start >/dev/null || exit 1; started=1; fi; \
	trap 'if [ -n "$$started" ]; then $(ES_LOCAL) stop >/dev/null; fi' EXIT; \
	ELASTICSEARCH_URL=$$($(ES_LOCAL) url) $(1)
endef

# The Flink tests build the job server (make flink) and start their own local cluster, or use the one
# `make flink-cluster-start` left running.
test: lint prism flink chromium
	$(call with_es,$(BIN)/pytest)

# The browser tests of `wirewatch serve` drive Debian's chromium (Playwright, pointed at it): installed
# from the system's package manager when absent.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "make: installing chromium (Debian package) for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }; }

test-flink: dev prism flink
	$(call with_es,$(BIN)/pytest -k flink)

# Beam's streaming runner, built once with Go and cached (so no test waits for a build).
prism: install
	@$(BIN)/python -c "from pipelines.prism import prism_binary; print('prism:', prism_binary())"

# Beam's Flink 1.19 job server, built once from deploy/flink/pom.xml with mvn (~200 MB of jars, about
# two minutes) and cached under ~/.cache/wirewatch/flink/ by the pom's hash.
flink: install
	@$(BIN)/python -m pipelines.flink_cluster jar

# A local Flink session cluster (1 JobManager + 2 TaskManagers, separate JVMs on 127.0.0.1) for
# `wirewatch run|stream --runner=FlinkRunner --flink_master=HOST:PORT`; stop stops only what start started.
flink-cluster-start: flink
	@$(BIN)/python -m pipelines.flink_cluster start

flink-cluster-stop:
	@$(BIN)/python -m pipelines.flink_cluster stop

# Benchmarks write their figures under benchmarks/results/.
eval-dedup: install
	$(BIN)/python benchmarks/eval_dedup.py

eval-extract: install
	$(BIN)/python benchmarks/eval_extract.py

eval-tagging: install
	$(BIN)/python benchmarks/eval_tagging.py
	$(BIN)/python benchmarks/eval_topics.py

bench: install native
	$(BIN)/python benchmarks/bench_parse.py
	$(BIN)/python benchmarks/bench_dedup.py
	$(BIN)/python benchmarks/bench_tagging.py
	$(call with_es,$(BIN)/python benchmarks/bench_es.py && $(BIN)/python benchmarks/bench_stream.py)

# The same 20,000 articles of real news text (built from ../shared/data) on the DirectRunner (1 and 2
# workers), a local Flink cluster (parallelism 1 and 2) and the embedded Flink, with where the time goes
# on Flink. Waits up to 15 minutes for a quiet machine, then about 12 minutes; not part of `make bench`.
bench-runners: install native prism flink
	$(call with_es,$(BIN)/python benchmarks/bench_runners.py)

# The whole batch pipeline end to end (`wirewatch run`, 1 and 2 DirectRunner workers) against the same
# functions in a plain loop and a parse-and-bulk-write floor, 20,000 real-news articles + 7 % copies, on
# the embedded store and on an Elasticsearch node of its own (local_es.py --name bench-e2e, stopped after
# if it started it), rounds alternating; about 20 minutes. E2E_ARGS="--stored 10000 --backfill" etc.
bench-e2e: install native
	$(BIN)/python benchmarks/bench_e2e.py $(E2E_ARGS)

# The embedded store's full-text index: write and search cost by FTS5 automerge, on stores of 10,000 and
# 200,000 articles of bench-e2e's corpus (filled once, ~8 minutes, cached); then a few minutes.
bench-fts: install native
	$(BIN)/python benchmarks/bench_fts.py

# `wirewatch serve`'s search page (search + facets) on 100,000 articles made from the news captures,
# in an embedded store (built once, ~1 minute, cached) and in the local Elasticsearch: p50/p95 per query.
.PHONY: bench-serve
bench-serve: install native
	$(call with_es,$(BIN)/python benchmarks/bench_serve_queries.py)

# What fetching linked pages costs a feed-only run: 119 real pages on eight local hosts.
bench-pages: install
	$(BIN)/python benchmarks/bench_pages.py

es-start:
	$(ES_LOCAL) start

es-stop:
	$(ES_LOCAL) stop

lock: install dev
	{ head -2 requirements.lock; $(PIP) freeze --exclude-editable | grep -v -e '^wirewatch' -e '^tagcore'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) .wirewatch .mypy_cache .pytest_cache .ruff_cache *.egg-info build
