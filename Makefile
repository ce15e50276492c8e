# impagos: collections of returned invoices on Temporal.
#
# A fresh machine needs only `make run` (local stack, worker and sample
# invoices) and `make test`. The local stack is managed by .ci/stack; its
# state lives in .data/ and the tools it builds in bin/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
STACK := .ci/stack
# Exports DATABASE_URL, TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE for the stack
# (values the user already set win).
STACK_ENV := eval "$$($(STACK) env)"

STATICCHECK_VERSION := v0.8.2
WORKFLOWCHECK_VERSION := v0.6.0
STATICCHECK := $(BIN)/staticcheck
WORKFLOWCHECK := $(BIN)/workflowcheck

TEST_TIMEOUT ?= 30m
UI_URL := http://localhost:$${TEMPORAL_UI_PORT:-8233}

.PHONY: help up down status run test test-long test-unit test-faults lint build clean worker-start worker-stop tools
.PHONY: cluster-up cluster-down test-cluster bench-cluster

# A multi-process Temporal cluster on the stack's Postgres (.ci/cluster/cluster).
CLUSTER := .ci/cluster/cluster
CLUSTER_ENV := eval "$$($(CLUSTER) env)"

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## Start Postgres, the Temporal dev server and the worker.
	$(STACK) up
	$(STACK) worker-start

down: ## Stop the worker, Temporal and Postgres (data in .data/ is kept).
	$(STACK) down

status: ## Show what of the local stack runs.
	@$(STACK) status

worker-start: ## (Re)build and (re)start the worker in the background.
	$(STACK) worker-start

worker-stop: ## Stop the background worker.
	$(STACK) worker-stop

run: up ## Start everything, migrate, start the sample invoices, say where to look.
	$(STACK_ENV) && go run ./starter migrate
	.ci/sample
	@echo
	@echo "Temporal Web UI:   $(UI_URL)/namespaces/$${TEMPORAL_NAMESPACE:-default}/workflows"
	@echo "Filter example:    Stage = \"cut_review\""
	@echo "                   Segment = \"empresa\" AND CutDate < \"2030-01-01T00:00:00Z\""
	@echo "Try (after: eval \"\$$($(STACK) env)\"):"
	@echo "  go run ./starter status F2026-0001"
	@echo "  go run ./starter paid --amount 84,37 F2026-0001"
	@echo "  go run ./starter cuts"
	@echo "  go run ./starter approve-cut F2026-0003"
	@$(STACK_ENV) && addr=$${IMPAGOS_METRICS_ADDR:-} && if [[ -n "$$addr" ]]; then \
		[[ $$addr != :* ]] || addr=127.0.0.1$$addr; \
		echo "Metrics:           http://$$addr/metrics   (alerts: docs/alerts.yml)"; fi
	@echo "Worker log: .data/log/worker.log (JSON lines; IMPAGOS_LOG_FORMAT=text for plain text)   Stop: make down"

# make test also runs the fault suite (ten to thirteen minutes on two cores; see
# docs/faults.md); make test TEST_FAULTS=0 leaves it out. It starts Temporal and
# Postgres if they are not running but leaves the user's worker alone, and runs
# in a Temporal namespace and a Postgres schema of its own, removed at the end
# (.ci/test): make run's cases, imports and report never see test data.
TEST_FAULTS ?= 1

test: ## Unit, workflow, integration and fault tests, in a namespace and schema of their own (TEST_FAULTS=0: without the fault suite).
	TEST_TIMEOUT=$(TEST_TIMEOUT) TEST_FAULTS=$(TEST_FAULTS) .ci/test

test-long: up ## TestInvariants with 20,000 random scenarios (make test plays 500).
	$(STACK_ENV) && IMPAGOS_INTEGRATION=1 IMPAGOS_INVARIANT_SCENARIOS=20000 go test -count=1 -timeout 3h -run 'TestInvariants$$' ./internal/invariants/

test-cluster: cluster-up ## Integration and fault tests against the cluster.
	$(CLUSTER_ENV) && IMPAGOS_INTEGRATION=1 go test -count=1 -timeout $(TEST_TIMEOUT) ./internal/engine/
	$(CLUSTER_ENV) && IMPAGOS_CLUSTER_FAULTS=1 go test -count=1 -timeout $(TEST_TIMEOUT) -v -run Fault ./internal/clusterfaults/

test-unit: ## Unit tests only; needs no stack.
	go test ./...

test-faults: ## Fault suite on a stack of its own: worker killed, server restarted, Postgres down, e-mail 500s.
	.ci/faults

lint: tools ## gofmt, go vet, staticcheck, workflowcheck on ./workflows/..., and promtool on the alert rules when installed
	@unformatted=$$(find . -path ./.data -prune -o -path ./bin -prune -o -name '*.go' -print | xargs -r gofmt -l); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...
	$(WORKFLOWCHECK) -config .ci/workflowcheck.yaml ./workflows/...
	@# Debian's prometheus package has promtool; without it the rules are
	@# still checked against a real scrape by internal/metrics' test.
	@# .ci/run unpacks it into bin/ when it is not installed.
	@promtool=$$(command -v promtool || { [[ -x $(BIN)/promtool ]] && echo $(BIN)/promtool; } || true); \
	if [[ -n "$$promtool" ]]; then \
		echo "promtool check rules docs/alerts.yml"; "$$promtool" check rules docs/alerts.yml; \
		echo "promtool test rules docs/alerts_test.yml"; "$$promtool" test rules docs/alerts_test.yml; fi

tools: ## Install the pinned lint tools into bin/.
	@$(call go_tool,staticcheck,honnef.co/go/tools/cmd/staticcheck,$(STATICCHECK_VERSION))
	@$(call go_tool,workflowcheck,go.temporal.io/sdk/contrib/tools/workflowcheck,$(WORKFLOWCHECK_VERSION))

# go_tool NAME PACKAGE VERSION: install PACKAGE@VERSION as bin/NAME unless the
# binary there was already built from that version (go version -m tells).
go_tool = have=$$(go version -m $(BIN)/$(1) 2>/dev/null | awk '$$1 == "mod" {print $$3}' || true); \
	if [[ "$$have" != "$(3)" ]]; then \
		echo "GOBIN=bin go install $(2)@$(3)"; \
		GOBIN=$(BIN) go install $(2)@$(3); \
	fi

build: ## Compile every package.
	go build ./...

cluster-up: ## Start a Temporal cluster on Postgres (5 processes), its Web UI and 2 workers.
	$(CLUSTER) up

cluster-down: ## Stop the cluster; its databases are kept.
	$(CLUSTER) down

clean: ## Stop the stack, delete .data/ and the worker binary (bin/ tools are kept).
	$(STACK) wipe
	rm -f $(BIN)/impagos-worker

.PHONY: bench
BENCH_SCALE ?= full
BENCH_FLAGS ?=

bench: ## Measure speed and cost on this machine (BENCH_SCALE=small|full); after make up.
	go build -o $(BIN)/impagos-bench ./internal/bench
	$(STACK_ENV) && $(BIN)/impagos-bench -scale $(BENCH_SCALE) -doc docs/benchmarks.md $(BENCH_FLAGS)

bench-cluster: cluster-up ## Figure 7, the bad month, on the cluster: its five server processes measured.
	go build -o $(BIN)/impagos-bench ./internal/bench
	$(CLUSTER_ENV) && $(BIN)/impagos-bench -scale $(BENCH_SCALE) -only 7 -temporal stack \
		-server-pids "$$($(CLUSTER) server-pids)" $(BENCH_FLAGS)
