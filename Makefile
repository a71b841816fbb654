# One command to run the bot, one to run the tests; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck install clean chromium postgresql

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) chromium postgresql

# With a Slack token (in the environment or .env) the bot; without one, the local sandbox.
ENV_FILE ?= .env
SANDBOX_ARGS ?=
run: $(STAMP)
	@if [ -n "$$SLACK_BOT_TOKEN" ] || grep -qs '^SLACK_BOT_TOKEN=..*' $(ENV_FILE); then \
		$(BIN)/support-bot start; \
	else \
		echo "No Slack token configured (SLACK_BOT_TOKEN): starting the sandbox, a local Slack in your browser."; \
		echo "See README.md, 'Try it without Slack'; 'Set up in Slack' connects a real workspace."; \
		$(BIN)/support-bot sandbox $(SANDBOX_ARGS); \
	fi

# Debian's packages some tests need, installed here when we may: $(call debian,CHECK,PACKAGE,FOR)
define debian
	@{ $(1); } >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's $(2) for $(3)"; \
			apt-get install -y -qq $(2) >/dev/null 2>&1 || \
			{ apt-get update -qq && apt-get install -y -qq $(2) >/dev/null; }; \
		else \
			echo "$(3) needs Debian's $(2): apt-get install $(2) (as root)"; \
		fi; }
endef

# The browser test drives Chromium.
chromium:
	$(call debian,command -v chromium,chromium,the browser test)

# The suite also runs on PostgreSQL: a throwaway server from its binaries (initdb, pg_ctl).
postgresql:
	$(call debian,ls /usr/lib/postgresql/*/bin/pg_ctl || command -v pg_ctl,postgresql,the tests on PostgreSQL)

# Style, and the layers: handlers -> bot -> persistence, bot's subpackages in their order, no
# import cycles ([tool.importlinter] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy bot handlers persistence tests bench

# The whole suite on SQLite and on PostgreSQL, side by side (tests/run_backends.py).
test: lint typecheck chromium postgresql
	$(BIN)/python -m tests.run_backends -q

clean:
	rm -rf $(VENV) build *.egg-info
