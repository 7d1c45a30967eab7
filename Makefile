# Durable Python with DBOS: every command a reader or CI needs.
#   make book   build the HTML book into _build/html from the notebooks' stored outputs
#   make test   build the book, then at once: every notebook under strict nbval, the learner
#               edition, the tests in tests/, the browser tests; prints each stream's time
#   make test-postgres   the notebooks against a throwaway PostgreSQL server, Run All twice
#   make lab    open the notebooks in JupyterLab

# Python 3.11 first: it runs the book with any SQLite (notebooks/booktools/preflight.py says why
# 3.12+ needs SQLite 3.42+). Another one: make PYTHON=/path/to/python3.x
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Offline copies of the JavaScript that renders widgets (no CDN at view time).
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.15
REQUIREJS    := requirejs@2.3.7
# The browser for the browser tests; another Chromium-based one works too
# (`make test CHROMIUM=/usr/bin/google-chrome`, as on GitHub's runners).
CHROMIUM     ?= /usr/bin/chromium

# Each stage of a target says how long it took; make test lists them all at its end.
STAGE := scripts/stage.sh

.PHONY: book book-fresh test test-postgres soak lab lab-learner learner bench clean execute text stage-times-reset

# The pre-flight check names the Python and SQLite and stops on a combination that cannot run
# the book, before anything is installed.
$(VENV)/installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "No python3.11 or python3 found: install Python 3.11." >&2; exit 1; }
	$(PYTHON) notebooks/booktools/preflight.py
	$(STAGE) "set-up: .venv and pinned packages" sh -c '$(PYTHON) -m venv $(VENV) \
		&& $(BIN)/python -m pip install --quiet --upgrade pip \
		&& $(BIN)/python -m pip install --quiet -r requirements.txt'
	touch $@

web_vendor/require.js:
	rm -rf web_vendor && mkdir -p web_vendor/npm web_vendor/@jupyter-widgets/html-manager/dist
	$(STAGE) "set-up: widget JavaScript from npm" \
		sh -c 'cd web_vendor/npm && npm pack --silent $(HTML_MANAGER) $(REQUIREJS) >/dev/null'
	tar -xzf web_vendor/npm/jupyter-widgets-html-manager-*.tgz -C web_vendor --strip-components=2 \
		'package/dist/embed-amd.js' 'package/dist/embed.js.LICENSE.txt'
	# The widgets' icon fonts, where embed-amd.js looks for them (its "CDN" is ../_static/).
	tar -xzf web_vendor/npm/jupyter-widgets-html-manager-*.tgz \
		-C web_vendor/@jupyter-widgets/html-manager/dist --strip-components=2 \
		--wildcards 'package/dist/*.woff*' 'package/dist/*.ttf' 'package/dist/*.eot' 'package/dist/*.svg'
	cp web_vendor/@jupyter-widgets/html-manager/dist/* web_vendor/@jupyter-widgets/
	tar -xzf web_vendor/npm/requirejs-*.tgz -C web_vendor --strip-components=1 package/require.js
	rm -rf web_vendor/npm

# The book shows the notebooks' stored outputs (_config.yml: execute_notebooks "off"): the
# outputs strict nbval compares in make test, so the published book is what CI proved current.
book: $(VENV)/installed web_vendor/require.js
	rm -rf _build/html _build/.doctrees
	$(STAGE) "book from stored outputs" $(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

# The book with every notebook executed afresh during the build (into the build only: the
# notebooks on disk keep their outputs). `make execute` is the way to store new outputs. The
# build's config sits beside _config.yml, whose relative paths (local_extensions) it keeps.
book-fresh: $(VENV)/installed web_vendor/require.js
	rm -rf _build/html _build/.doctrees _build/.jupyter_cache
	sed 's/^\(  execute_notebooks:\) .*/\1 force/' _config.yml > _config.fresh.yml
	$(STAGE) "book, every notebook executed" $(BIN)/jupyter-book build . \
		--config _config.fresh.yml -W -n --keep-going; status=$$?; rm -f _config.fresh.yml; \
		exit $$status
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

# Strict nbval: every cell re-run, every stored output compared (after the sanitizer).
NBVAL := $(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=120

# Everything, each chapter executed twice: once under strict nbval (every stored output compared:
# what the book shows) and once as the learner edition (no solutions; every check says "Not done
# yet"). Run All twice in one kernel is test-postgres's run. After the book is built, five
# independent streams run at the same time (scripts/parallel.py; they mostly wait, so two cores
# carry them): each has its own pytest, log (_build/logs/) and time. The browser tests run apart
# from DBOS's: Playwright keeps an event loop running, where DBOS refuses its blocking calls.
test: stage-times-reset $(VENV)/installed $(CHROMIUM) book
	$(BIN)/python scripts/parallel.py \
		"notebooks, strict nbval (SQLite)::$(NBVAL) notebooks" \
		"learner edition, every chapter run::$(BIN)/python -m pytest tests/test_learner_edition.py" \
		"tests/: checkers, capstone, booktools, ...::$(BIN)/python -m pytest tests \
			--ignore=tests/browser --ignore=tests/test_learner_edition.py" \
		"browser: chapters in JupyterLab::env CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest \
			tests/browser/test_jupyterlab.py" \
		"browser: the built book, axe-core::env CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest \
			tests/browser --ignore=tests/browser/test_jupyterlab.py"
	@$(STAGE) --summary

# Strict nbval against throwaway PostgreSQL servers (removed afterwards, pass or fail), each
# notebook run twice in one kernel: run 1 compared with the stored outputs, run 2 must not fail.
# Two streams at once, each with a server of its own, the chapters split in about equal halves.
test-postgres: stage-times-reset $(VENV)/installed
	$(BIN)/python scripts/parallel.py \
		"Postgres: chapters 00-06, strict nbval + Run All twice::scripts/with_postgres.sh \
			$(NBVAL) --run-all-twice notebooks/0[0-6]_*.ipynb" \
		"Postgres: chapters 07-14, strict nbval + Run All twice::scripts/with_postgres.sh \
			$(NBVAL) --run-all-twice notebooks/0[7-9]_*.ipynb notebooks/1[0-9]_*.ipynb"
	@$(STAGE) --summary

# Flakes counted: strict nbval N times on SQLite, then N times on Postgres, with two busy loops
# taking the machine's cores; prints how often each cell failed.
#   make soak N=10 [BACKENDS=sqlite] [NB="notebooks/02_workflows.ipynb ..."]
N ?= 10
soak: $(VENV)/installed
	$(BIN)/python scripts/soak.py --runs $(N) $(if $(BACKENDS),--backends $(BACKENDS)) $(NB)

stage-times-reset:
	@rm -f _build/stage-times.txt

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
$(CHROMIUM):
	apt-get install -y --no-install-recommends chromium \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium)

# JupyterLab on the repository, opening chapter 0 (book/ is reachable: chapters link to it).
lab: $(VENV)/installed
	$(BIN)/jupyter lab notebooks/00_why_durable_execution.ipynb

# JupyterLab on the workshop hand-out (built first if it is not there).
lab-learner: $(VENV)/installed learner-edition/README.md
	cd learner-edition && ../$(BIN)/jupyter lab notebooks/00_why_durable_execution.ipynb

learner-edition/README.md:
	$(MAKE) learner

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

# Each chapter as text (text/NN_topic.md), so a change reads as a diff; make execute does it too.
text: $(VENV)/installed
	$(BIN)/python scripts/text_form.py

clean:
	rm -rf _build web_vendor notebooks/scratch learner-edition
