# Every target creates its own environment in .venv from python3 alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup serve test lint clean bench system chromium graphviz virtuoso docs vendor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The SPARQL editor's YASGUI build, from the npm registry, served from /static (no CDN).
# `npm pack` fetches just the published tarball (its build/ is self-contained), so no
# node_modules tree is needed; the copy is gitignored.
YASGUI_VERSION := 4.6.2
YASGUI := service/pages/static/vendor/yasgui
$(YASGUI)/yasgui.min.js:
	@command -v npm >/dev/null || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends npm; }
	rm -rf build/npm && mkdir -p build/npm $(YASGUI)
	cd build/npm && npm pack --silent @zazuko/yasgui@$(YASGUI_VERSION) >/dev/null
	tar -xzf build/npm/zazuko-yasgui-$(YASGUI_VERSION).tgz -C build/npm
	cp build/npm/package/build/yasgui.min.css build/npm/package/package.json $(YASGUI)/
	cp build/npm/package/build/yasgui.min.js $(YASGUI)/yasgui.min.js.tmp
	mv $(YASGUI)/yasgui.min.js.tmp $@

# Designsystemet, the public sector's design system by Digdir: its CSS package from the npm
# registry (components and the default theme), served from /static like YASGUI (no CDN).
DESIGNSYSTEMET_VERSION := 1.22.0
DESIGNSYSTEMET := service/pages/static/vendor/designsystemet
$(DESIGNSYSTEMET)/designsystemet.css:
	@command -v npm >/dev/null || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends npm; }
	rm -rf build/npm-designsystemet && mkdir -p build/npm-designsystemet $(DESIGNSYSTEMET)
	cd build/npm-designsystemet && \
		npm pack --silent @digdir/designsystemet-css@$(DESIGNSYSTEMET_VERSION) >/dev/null
	tar -xzf build/npm-designsystemet/digdir-designsystemet-css-$(DESIGNSYSTEMET_VERSION).tgz \
		-C build/npm-designsystemet
	cp build/npm-designsystemet/package/dist/theme/designsystemet.css $(DESIGNSYSTEMET)/theme.css
	cp build/npm-designsystemet/package/package.json build/npm-designsystemet/package/LICENSE \
		$(DESIGNSYSTEMET)/
	cp build/npm-designsystemet/package/dist/src/index.css $@.tmp
	mv $@.tmp $@

# Front-end packages the pages load (both from the npm registry at set-up).
vendor: $(YASGUI)/yasgui.min.js $(DESIGNSYSTEMET)/designsystemet.css

# Browser tests drive Debian's chromium (never a downloaded browser).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# Every Debian package the set-up needs (command:package), the missing ones installed by one
# apt-get run: a fresh machine (CI) lacks them all, and one index update and one install
# cost far less than four of each. The targets below still install their own when run alone.
SYSTEM_PACKAGES := npm:npm chromium:chromium dot:graphviz virtuoso-t:virtuoso-opensource-7-bin
system:
	@missing="$$(for pair in $(SYSTEM_PACKAGES); do \
		command -v $${pair%%:*} >/dev/null || echo $${pair#*:}; done)"; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends $$missing; fi

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends chromium; }

# Dependency pictures on the pages are laid out by Graphviz `dot` on the server.
graphviz:
	@command -v dot >/dev/null || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends graphviz; }

# The remote-store tests start a real Virtuoso 7 (tests/service/test_third_party_stores.py).
virtuoso:
	@command -v virtuoso-t >/dev/null || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends virtuoso-opensource-7-bin; }

setup: $(STAMP) system vendor chromium graphviz virtuoso

serve: $(STAMP)
	@{ command -v npm >/dev/null && $(MAKE) --no-print-directory vendor; } || \
		echo "YASGUI/Designsystemet ikke hentet (npm mangler?): /editor viser det enkle skjemaet, sidene enkel stil / YASGUI/Designsystemet not fetched (no npm?): /editor shows the plain form, pages a plain style"
	$(BIN)/kommunegraf serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) system vendor chromium graphviz virtuoso lint
	$(BIN)/pytest -n 2 --dist loadfile

# The generated documents in docs/ (class diagram, column table); tests/docs fails when
# they are stale. The diagram needs Graphviz (make graphviz).
docs: $(STAMP) graphviz
	$(BIN)/python -m service.pages.ontology_diagram
	$(BIN)/python -m service.pages.ontology_docs

# Endpoint benchmark (needs wrk: apt-get install -y wrk); BENCH_ARGS=--small for a quick run.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data/store
