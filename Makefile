# The two set-up commands: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PG_URL ?= postgres://postgres@127.0.0.1:5432/onboarding
REDIS_TEST_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint js-lint js-test bundle install install-dev check-services chromium gettext messages messages-update migrate demo serve test-postgres test-smoke truth-table bench vendor clean stack

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## make run: virtualenv, install, migrate, demo data, serve on SQLite with Celery in-process.
## DEBUG=true: the development defaults (a development SECRET_KEY, no HTTPS redirect, static files from the source tree).
## Another port or address: make run PORT=8080 (HOST=0.0.0.0 to be reached from other machines).
RUN_ENV := env -u DATABASE_URL -u REDIS_URL DEBUG=true
run: install
	@$(RUN_ENV) $(PY) manage.py migrate --noinput -v 0
	@$(RUN_ENV) $(PY) manage.py load_demo_data
	@echo ""
	@echo "  Serving on http://$(HOST):$(PORT)/  (log in at http://$(HOST):$(PORT)/accounts/login/, staff at /admin/)"
	@echo "  Another port: make run PORT=8080. Pages follow the browser's language; switch at the foot of any page."
	@echo ""
	$(RUN_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

## make stack: the Procfile (gunicorn, a Celery worker, beat) with DEBUG off against PostgreSQL and Redis,
## over plain HTTP on this machine. Ctrl-C stops all three. See docs/operations.md.
## COLLECTSTATIC_ARGS: extra collectstatic options (the load benchmark's smoke run skips files it never links).
STACK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/onboarding_stack
STACK_REDIS_URL ?= redis://127.0.0.1:6379/1
STACK_ENV = PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DEBUG=false DATABASE_URL=$(STACK_DATABASE_URL) REDIS_URL=$(STACK_REDIS_URL) \
	SECRET_KEY="$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}" \
	ALLOWED_HOSTS=$(HOST),localhost CSRF_TRUSTED_ORIGINS=http://$(HOST):$(PORT) HOST=$(HOST) PORT=$(PORT) \
	SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false SECURE_HSTS_SECONDS=0
stack: install-dev
	DATABASE_URL=$(STACK_DATABASE_URL) REDIS_URL=$(STACK_REDIS_URL) $(PY) .ci/check_services.py --create-database
	$(STACK_ENV) $(PY) manage.py migrate --noinput
	$(STACK_ENV) $(PY) manage.py collectstatic --noinput -v 0 $(COLLECTSTATIC_ARGS)
	@echo ""
	@echo "  Serving on http://$(HOST):$(PORT)/ with DEBUG off (gunicorn, worker, beat). Ctrl-C stops them all."
	@echo ""
	$(STACK_ENV) exec $(VENV)/bin/honcho start --procfile Procfile

## make test: dev install, lint (Python and JavaScript), the JavaScript unit tests, check PostgreSQL/Redis/Chromium,
## full suite on PostgreSQL, smoke on SQLite.
test: install-dev lint js-lint js-test check-services chromium test-postgres test-smoke

## make lint: ruff's lint rules and its format check (configured in pyproject.toml); both must be clean.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## The npm packages as package-lock.json pins them (ESLint, the unit tests' IndexedDB, the vendored idb);
## `npm ci` runs again whenever package.json or the lock file changes.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

## make js-lint: ESLint (eslint.config.js: the recommended rules) over the browser code and its tests; zero findings.
js-lint: node_modules/.installed
	node_modules/.bin/eslint static/onboarding tests/js eslint.config.js bundle.js

## make js-test: the browser code's DOM-less logic (retries, the device queue, replay rules) under node --test,
## and the check that the committed client bundle is what `make bundle` builds from the modules as they are.
js-test: node_modules/.installed
	node --test tests/js/

## make bundle: the page client in one file, static/onboarding/build/client.js (and its source map), built by
## esbuild as package-lock.json pins it from static/onboarding/init.js and everything it imports (bundle.js).
## Run it after editing anything the client imports (or `node bundle.js --watch` while editing), and commit
## the result: `make run` and a deploy serve the committed file and need no Node; `make test` fails while it
## is stale. See docs/browser-client.md.
bundle: node_modules/.installed
	node bundle.js

check-services: install-dev
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) .ci/check_services.py

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Chromium is missing: installing Debian's chromium package for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

test-postgres:
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest $(PYTEST_ARGS)

test-smoke:
	env -u REDIS_URL DATABASE_URL=sqlite:///$(CURDIR)/smoke.sqlite3 $(PY) -m pytest -m smoke -p no:cacheprovider -q

## make truth-table: the browser's truth table (every failure a user can meet, tests/test_browser_truth_table.py)
## ten times in a row, stopping at the first failure: a row that holds only sometimes does not hold.
## Not part of `make test`, which runs the file once with the rest of the suite.
truth-table: install-dev check-services chromium
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest tests/test_browser_truth_table.py --count=10 -x -p no:cacheprovider -q $(PYTEST_ARGS)

## make vendor: refresh static/vendor/ from the npm registry, exactly as package-lock.json pins it.
## Each library gets its release file, its licence and a VERSION file; the client bundle, which holds idb,
## is built again. Commit the result.
## axe-core (a devDependency) is injected by the accessibility tests only; no page loads it.
vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	rm -rf static/vendor/idb && mkdir -p static/vendor/idb
	cp node_modules/idb/build/index.js static/vendor/idb/idb.js
	cp node_modules/idb/LICENSE static/vendor/idb/LICENSE
	node -p "require('./node_modules/idb/package.json').version" > static/vendor/idb/VERSION
	rm -rf static/vendor/axe-core && mkdir -p static/vendor/axe-core
	cp node_modules/axe-core/axe.min.js static/vendor/axe-core/axe.min.js
	cp node_modules/axe-core/LICENSE static/vendor/axe-core/LICENSE
	node -p "require('./node_modules/axe-core/package.json').version" > static/vendor/axe-core/VERSION
	node bundle.js

## make messages-update: collect every translatable string of the code and templates into the catalogs
## (locale/<ll>/LC_MESSAGES/django.po); new strings arrive untranslated. Then translate them and run `make messages`.
## make messages: compile the catalogs into the .mo files Django reads (committed, so `make run` and a deploy
## need no gettext tools). The test suite fails while any message lacks a translation or a .mo is stale.
## See docs/languages.md.
LOCALES := de fr es ja pt_BR
MAKEMESSAGES_IGNORE := --ignore='.venv/*' --ignore='node_modules/*' --ignore='benchmarks/*' --ignore='tests/*' \
	--ignore='static/*' --ignore='staticfiles/*' --ignore='exports/*' --ignore='var/*'
messages-update: install gettext
	$(RUN_ENV) $(PY) manage.py makemessages --no-obsolete $(MAKEMESSAGES_IGNORE) $(addprefix -l ,$(LOCALES))

messages: install gettext
	$(RUN_ENV) $(PY) manage.py compilemessages --ignore='.venv/*' --ignore='node_modules/*'
	@for locale in $(LOCALES); do printf '%s: ' $$locale; msgfmt --statistics -o /dev/null locale/$$locale/LC_MESSAGES/django.po; done

gettext:
	@command -v msgfmt >/dev/null 2>&1 || { \
	  echo "GNU gettext is missing: installing Debian's gettext package for the translation catalogs"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gettext; }

bench: install-dev
	@echo "See benchmarks/README.md for each benchmark's command."

clean:
	rm -rf $(VENV) db.sqlite3 smoke.sqlite3 exports
