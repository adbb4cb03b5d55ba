# StackHub — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
LISTEN ?= 127.0.0.1:9000
DATA_DIR ?= $(CURDIR)/.data
BUNDLES ?= bundles
GOFLAGS_STATIC := CGO_ENABLED=0
LDFLAGS := -s -w

.PHONY: help build run run-demo test test-unit test-images check-deps docker-up lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build stackhub, websoft9, websoft9-runtime, bundle-runtime into bin/ (static)
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/stackhub ./cmd/stackhub
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/websoft9 ./cmd/websoft9
	cp $(BIN)/websoft9 $(BIN)/websoft9-runtime
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/bundle-runtime ./cmd/bundle-runtime

docker-up: ## install Debian's docker.io and start dockerd when no engine answers
	bash .ci/docker-up

test-images: docker-up ## build the test images FROM scratch (no pull)
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/stackhub-testapp ./cmd/stackhub-testapp
	bash .ci/test-images $(BIN)/stackhub-testapp

check-deps: ## check the one-way imports (never cached)
	$(GO) test -count=1 -run '^TestDeps$$' ./...

# Integration tests of packages that run cnab-go's Docker driver go without
# -race: cnab-go v0.26.4 races in driver/docker (the attach goroutine of
# exec writes the function's err variable, docker.go:267 vs :277), which
# the detector reports as a failure of our test. Everything else runs
# under the race detector, the mixin's integration tests included.
RACE_FREE_INTEGRATION := ./orchestrator/... ./cmd/...

test: build test-images check-deps ## build, then run unit and integration tests against the real engine
	$(GO) test -race -count=1 ./...
	$(GO) test -race -tags integration -count=1 -timeout 20m ./porter-mixin/...
	$(GO) test -tags integration -count=1 -timeout 30m $(RACE_FREE_INTEGRATION)

test-unit: ## quick loop: unit tests only, no engine needed
	$(GO) test ./...

run: build docker-up ## build and serve StackHub on 127.0.0.1:9000 with the catalog in bundles/ (BUNDLES=dir to change)
	@mkdir -p $(DATA_DIR)
	@echo "StackHub on http://$(LISTEN), state in $(DATA_DIR), catalog $(BUNDLES)"
	@echo "Get an API token (printed last) with:"
	@echo "  $(BIN)/stackhub token create --data-dir $(DATA_DIR)"
	$(BIN)/stackhub serve --listen $(LISTEN) --data-dir $(DATA_DIR) --bundles $(BUNDLES)

run-demo: test-images ## make run with the test catalog (bundles/testdata: the demo app on local test images)
	$(MAKE) run BUNDLES=bundles/testdata

lint: ## gofmt and go vet (with and without the integration tag)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

clean: ## remove build outputs
	rm -rf $(BIN)
