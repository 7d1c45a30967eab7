# Durable Python with DBOS: every command a reader or CI needs.
#   make book   build the executed HTML book into _build/html
#   make test   build the book, then run every notebook under nbval (strict), the tests in
#               tests/ and the browser tests of the built book
#   make test-postgres   the notebooks again, against a throwaway PostgreSQL server
#   make lab    open the notebooks in JupyterLab

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Offline copies of the JavaScript that renders widgets (no CDN at view time).
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.15
REQUIREJS    := requirejs@2.3.7
# The browser for the browser tests; another Chromium-based one works too
# (`make test CHROMIUM=/usr/bin/google-chrome`, as on GitHub's runners).
CHROMIUM     ?= /usr/bin/chromium

.PHONY: book test test-postgres lab learner bench clean execute

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

web_vendor/require.js:
	rm -rf web_vendor && mkdir -p web_vendor/npm web_vendor/@jupyter-widgets/html-manager/dist
	cd web_vendor/npm && npm pack --silent $(HTML_MANAGER) $(REQUIREJS) >/dev/null
	tar -xzf web_vendor/npm/jupyter-widgets-html-manager-*.tgz -C web_vendor --strip-components=2 \
		'package/dist/embed-amd.js' 'package/dist/embed.js.LICENSE.txt'
	# The widgets' icon fonts, where embed-amd.js looks for them (its "CDN" is ../_static/).
	tar -xzf web_vendor/npm/jupyter-widgets-html-manager-*.tgz \
		-C web_vendor/@jupyter-widgets/html-manager/dist --strip-components=2 \
		--wildcards 'package/dist/*.woff*' 'package/dist/*.ttf' 'package/dist/*.eot' 'package/dist/*.svg'
	cp web_vendor/@jupyter-widgets/html-manager/dist/* web_vendor/@jupyter-widgets/
	tar -xzf web_vendor/npm/requirejs-*.tgz -C web_vendor --strip-components=1 package/require.js
	rm -rf web_vendor/npm

book: $(VENV)/installed web_vendor/require.js
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

# Strict nbval: every cell re-run, every stored output compared (after the sanitizer).
NBVAL := $(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=120

# Everything: the notebooks, the tests in tests/, and the built book in a real browser (on its
# own: Playwright keeps an event loop running, where DBOS refuses its blocking calls).
test: $(VENV)/installed $(CHROMIUM) book
	$(NBVAL) notebooks tests --ignore=tests/browser
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/browser

# The notebooks again, against a throwaway PostgreSQL server (removed afterwards, pass or fail).
test-postgres: $(VENV)/installed
	scripts/with_postgres.sh $(NBVAL) notebooks

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
$(CHROMIUM):
	apt-get install -y --no-install-recommends chromium \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium)

lab: $(VENV)/installed
	$(BIN)/jupyter lab notebooks/

# Workshop hand-out: the chapters without their solutions, in learner-edition/.
learner: $(VENV)/installed
	$(BIN)/python scripts/learner_edition.py learner-edition

# Chapter 11's measurements as a table: SQLite and Postgres (the server in
# DBOS_SYSTEM_DATABASE_URL, else a throwaway one from the machine's PostgreSQL binaries).
bench: $(VENV)/installed
	cd notebooks && ../$(BIN)/python -m booktools.bench

# Re-execute chapters and store their outputs (all of them, or NB="notebooks/02_workflows.ipynb ...").
execute: $(VENV)/installed
	$(BIN)/python scripts/execute_notebooks.py $(NB)

clean:
	rm -rf _build web_vendor notebooks/scratch learner-edition
