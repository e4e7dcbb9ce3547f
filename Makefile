.PHONY: run test lint bench
run:   ## set up and run web + worker + Redis with the demo district
	scripts/run
test:  ## set up and run the tests on the embedded PostgreSQL (and an external one in CI)
	scripts/test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench: ## benchmarks (not part of the test run)
	scripts/bench
