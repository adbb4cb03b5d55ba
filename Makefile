# StackHub — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
LISTEN ?= 127.0.0.1:9000
DATA_DIR ?= $(CURDIR)/.data
BUNDLES ?=
GOFLAGS_STATIC := CGO_ENABLED=0
# stackhub version prints these; make release stamps the same.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: help build run run-demo test test-tools test-unit test-images check-deps docker-up lint clean e2e-images e2e-real test-reliability bench load release test-package bench-swarm bench-catalog volume-image

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build stackhub, websoft9, websoft9-runtime, bundle-runtime into bin/ (static)
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/stackhub ./cmd/stackhub
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/websoft9 ./cmd/websoft9
	cp $(BIN)/websoft9 $(BIN)/websoft9-runtime
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/bundle-runtime ./cmd/bundle-runtime

docker-up: ## install Debian's docker.io and start dockerd when no engine answers
	bash .ci/docker-up

test-images: docker-up volume-image ## build the test images FROM scratch (no pull)
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/stackhub-testapp ./cmd/stackhub-testapp
	bash .ci/test-images $(BIN)/stackhub-testapp

volume-image: docker-up ## build StackHub's node volume helper image stackhub/volumes:1 FROM scratch (cmd/stackhub-volumes; load it on every Swarm node)
	$(GOFLAGS_STATIC) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/stackhub-volumes ./cmd/stackhub-volumes
	bash .ci/volume-image $(BIN)/stackhub-volumes

check-deps: ## check the one-way imports (never cached)
	$(GO) test -count=1 -run '^TestDeps$$' ./...

# The integration tests of the engine's packages and the mixin run under the
# race detector (cnabrun's own Docker driver replaced cnab-go's, whose attach
# goroutine raced). cmd/... drives whole servers, browsers and fail-point
# binaries for ~12 minutes; it runs without -race to keep CI under its budget.
RACE_INTEGRATION := ./porter-mixin/... ./orchestrator/...

test-tools: ## install Debian's docker-registry (registry tests), zstd (the backup benchmark's baseline) and nginx-light (the gateway benchmark's anchor) when missing
	command -v docker-registry >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry; }
	command -v zstd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd; }
	command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; if [ -d /run/systemd/system ]; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi; }

test: build test-images test-tools check-deps ## build, then run unit and integration tests against the real engine
	$(GO) test -race -count=1 ./...
	$(GO) test -race -tags integration -count=1 -timeout 30m $(RACE_INTEGRATION)
	@mkdir -p $(BIN)/test-output # artifacts (the console tests' screenshots) under _artifacts/
	$(GO) test -tags integration -count=1 -timeout 60m -artifacts -outputdir $(CURDIR)/$(BIN)/test-output ./cmd/...
	$(MAKE) fuzz FUZZTIME=5s

e2e-images: docker-up ## build the local Redmine 5 and MariaDB 10.11 images from Debian 12 packages (reused when present)
	bash e2e/real/build-images

e2e-real: build e2e-images ## install the catalog's Redmine on the local images through the API, end to end
	@echo "e2e-real: full log in $(BIN)/e2e-real.log"
	$(GO) test -tags 'integration e2ereal' -count=1 -timeout 30m -run '^TestRealRedmine$$' -v ./cmd/stackhub/ 2>&1 | \
		tee $(BIN)/e2e-real.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|realapp_e2e_test.go|Error|expected|actual'; \
		exit $${PIPESTATUS[0]}

bench: build test-images ## benchmarks into bench/RESULTS.md and bench/results.json (installs docker-compose and wrk when missing; BENCH_FLAGS="-rounds 7 -apps 50" changes the settings)
	command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; }
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	command -v zstd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd; }
	command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; if [ -d /run/systemd/system ]; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi; }
	timeout -s INT 90m $(GO) run ./cmd/stackhub-bench -out bench $(BENCH_FLAGS)

load: build test-images ## loopback load (reliability.md §3.10): 100 seeded apps, serve with GOMAXPROCS=1, wrk -t1 -c32 30 s per scenario, bars enforced; bench/LOAD.md and bench/load.json (LOAD_FLAGS="-write-baseline" recalibrates)
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	timeout -s INT 30m $(GO) run ./cmd/stackhub-bench load -out bench $(LOAD_FLAGS)

bench-swarm: build test-images ## apps on a Swarm of four private engines (issue 23): install on a remote node vs a single host, 20 apps placed at once; bench/SWARM.md and bench/swarm.json (not part of make bench; SWARM_FLAGS="-rounds 7" changes the settings)
	timeout -s INT 30m $(GO) run ./cmd/stackhub-bench swarm -out bench $(SWARM_FLAGS)

bench-catalog: build ## the catalog list at 1,000 entries against 12 (issue 22): two servers side by side, rounds alternating; bench/CATALOG.md and bench/catalog.json (not part of make bench; CATALOG_FLAGS="-rounds 7" changes the settings)
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	timeout -s INT 30m $(GO) run ./cmd/stackhub-bench catalog-scale -out bench $(CATALOG_FLAGS)

CHAOS_LOOP ?= 5m
test-reliability: build test-images ## the reliability suite: 60 concurrent installs, fail-point kills, CHAOS_LOOP of random SIGKILLs (CHAOS_SEED replays), port exhaustion, disk full, Docker faults through a proxy, a private dockerd restarted
	CHAOS_LOOP=$(CHAOS_LOOP) $(GO) test -tags 'integration chaos' -count=1 -timeout 60m -v \
		-run '^(TestChaosRandomKill|TestChaosConcurrentInstalls|TestCrashFailpoints|TestPortExhaustion|TestSameNameInstall|TestServiceNameCollision|TestDiskFull|TestDockerFault.*|TestDockerdRestart)$$' ./cmd/stackhub/ 2>&1 | tee $(BIN)/test-reliability.log | \
		grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok|panic)|(chaos|crash)_integration_test.go|Error|expected|actual'; \
		exit $${PIPESTATUS[0]}

# A release: static binaries for linux/amd64 and linux/arm64 stamped with
# VERSION (default git describe --tags --always --dirty), the commit and the
# commit's time (-X main.version/commit/date, and the mixin's Version), a
# .deb per architecture (packaging/deb, nfpm's Go API), install.sh and
# SHA256SUMS, all in dist/. Reproducible: one commit builds the same bytes.
release: ## build dist/: stackhub, websoft9, websoft9-runtime, bundle-runtime for linux amd64+arm64, the .debs, install.sh, SHA256SUMS (VERSION=v1.2.3 overrides git describe)
	$(GO) run ./cmd/stackhub-release -out dist $(if $(VERSION),-version $(VERSION))

test-package: test-images ## the .deb in a fresh Debian 12 container: dpkg -i, the unit's command line serving and installing the demo app, an upgrade under it, install.sh (builds stackhub-e2e/pkgtest on first use)
	$(GO) test -tags integration -count=1 -timeout 20m -run '^TestDebPackage$$' -v ./cmd/stackhub-release/

test-unit: ## quick loop: unit tests only, no engine needed
	$(GO) test ./...

# Go fuzz targets, one after another, FUZZTIME each (make test runs them for
# 5s). A crasher is written to the package's testdata/fuzz/<target>/, which
# plain go test replays. Go minimizes every input that finds new coverage,
# for up to 60s by default: FUZZMINIMIZETIME bounds that by a count of runs
# so that the time goes to fuzzing. .ci/fuzz runs a target again, once, when
# Go ends it with "context deadline exceeded" and no finding (a toolchain flake).
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 100x

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 60s), one after another
	GO=$(GO) bash .ci/fuzz FuzzParseManifest ./porter-mixin/manifest $(FUZZTIME) $(FUZZMINIMIZETIME)
	GO=$(GO) bash .ci/fuzz FuzzRenderTemplate ./porter-mixin/manifest $(FUZZTIME) $(FUZZMINIMIZETIME)
	GO=$(GO) bash .ci/fuzz FuzzRenderGeneratedTemplate ./porter-mixin/manifest $(FUZZTIME) $(FUZZMINIMIZETIME)
	GO=$(GO) bash .ci/fuzz FuzzAppName ./porter-mixin/naming $(FUZZTIME) $(FUZZMINIMIZETIME)
	GO=$(GO) bash .ci/fuzz FuzzContainerNames ./orchestrator $(FUZZTIME) $(FUZZMINIMIZETIME)
	GO=$(GO) bash .ci/fuzz FuzzRequests ./web $(FUZZTIME) $(FUZZMINIMIZETIME)
	GO=$(GO) bash .ci/fuzz FuzzRequestHead ./gateway $(FUZZTIME) $(FUZZMINIMIZETIME)
	GO=$(GO) bash .ci/fuzz FuzzResponseHead ./gateway $(FUZZTIME) $(FUZZMINIMIZETIME)

run: build docker-up ## build and serve StackHub on 127.0.0.1:9000 with the built-in catalog (BUNDLES=dir serves a directory)
	@mkdir -p $(DATA_DIR)
	@echo "StackHub on http://$(LISTEN), state in $(DATA_DIR), catalog $(or $(BUNDLES),built in)"
	@echo "Get an API token (printed last) with:"
	@echo "  $(BIN)/stackhub token create --data-dir $(DATA_DIR)"
	$(BIN)/stackhub serve --listen $(LISTEN) --data-dir $(DATA_DIR) $(if $(BUNDLES),--bundles $(BUNDLES)) $(if $(RELOCATION),--relocation-mapping $(RELOCATION))

run-demo: test-images ## make run with the test catalog (bundles/testdata: the demo app on local test images)
	$(MAKE) run BUNDLES=bundles/testdata

lint: ## gofmt and go vet (with and without the integration tag)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

clean: ## remove build outputs
	rm -rf $(BIN)

# The websoft9 mixin as Porter installs it. dist/mixins/ is both the
# ~/.porter/mixins layout (websoft9/websoft9, websoft9/runtimes/websoft9-runtime;
# copy dist/mixins/websoft9 there) and a download site for
#   porter mixins install websoft9 --url $(MIXIN_BASE_URL) --version $(MIXIN_VERSION)
#   porter mixins install websoft9 --feed-url $(MIXIN_BASE_URL)/atom.xml --version $(MIXIN_VERSION)
# once dist/mixins is served at MIXIN_BASE_URL. MIXIN_PLATFORMS adds clients
# (e.g. "linux/amd64 darwin/arm64 windows/amd64"); linux/amd64 is always built,
# as it is also the runtime.
MIXIN_VERSION ?= v0.1.0
MIXIN_BASE_URL ?= http://127.0.0.1:8080/mixins
MIXIN_PLATFORMS ?= linux/amd64
MIXIN_PKG := github.com/websoft9/stackhub/porter-mixin
MIXIN_LDFLAGS = $(LDFLAGS) -X $(MIXIN_PKG).Version=$(MIXIN_VERSION) -X $(MIXIN_PKG).Commit=$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)

.PHONY: mixin-dist
mixin-dist: ## build the websoft9 mixin for Porter into dist/mixins (layout, downloads, atom.xml)
	rm -rf dist/mixins
	mkdir -p dist/mixins/$(MIXIN_VERSION) dist/mixins/websoft9/runtimes
	set -e; for p in linux/amd64 $(filter-out linux/amd64,$(MIXIN_PLATFORMS)); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
		echo "websoft9 $(MIXIN_VERSION) $$os/$$arch"; \
		$(GOFLAGS_STATIC) GOOS=$$os GOARCH=$$arch $(GO) build -ldflags '$(MIXIN_LDFLAGS)' \
			-o dist/mixins/$(MIXIN_VERSION)/websoft9-$$os-$$arch$$ext ./cmd/websoft9; \
	done
	# porter mixins install websoft9 --url BASE without --version fetches
	# BASE/latest/websoft9-<goos>-<goarch>: a stable version is also latest.
	if [[ "$(MIXIN_VERSION)" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+$$ ]]; then cp -r dist/mixins/$(MIXIN_VERSION) dist/mixins/latest; fi
	install -m 0755 dist/mixins/$(MIXIN_VERSION)/websoft9-linux-amd64 dist/mixins/websoft9/websoft9
	install -m 0755 dist/mixins/$(MIXIN_VERSION)/websoft9-linux-amd64 dist/mixins/websoft9/runtimes/websoft9-runtime
	$(GO) run ./cmd/websoft9 feed --dir dist/mixins --url $(MIXIN_BASE_URL) --out dist/mixins/atom.xml
	@echo "dist/mixins: serve it at $(MIXIN_BASE_URL), or copy dist/mixins/websoft9 to ~/.porter/mixins/"
