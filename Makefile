# custom-misp: see README.md. `make demo` and `make test` need only Go.
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS    := -s -w -X github.com/custom-misp/custom-misp/internal/cli.version=$(VERSION)
BIN        := bin/custom-misp
NETBIN     := bin/custom-misp-net
WAZUH_HOME ?= /var/ossec
FUZZTIME   ?= 30s

.PHONY: all build test check demo bench fuzz install upgrade uninstall dist clean

all: check test build

# Two static programs: custom-misp (what integratord runs; no HTTP/TLS code)
# and custom-misp-net (the MISP client, started only on cache misses, and
# the operator commands). They are installed side by side.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/custom-misp
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(NETBIN) ./cmd/custom-misp-net

# The race detector needs cgo; without a C compiler the tests still run.
test:
	@if CGO_ENABLED=1 $(GO) env CC >/dev/null 2>&1 && command -v "$$($(GO) env CC)" >/dev/null 2>&1; then \
		$(GO) test -race -count=1 ./...; \
	else \
		echo "no C compiler: running tests without -race"; $(GO) test -count=1 ./...; \
	fi

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/custom-misp-go.mod.bak; cp go.sum /tmp/custom-misp-go.sum.bak; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/custom-misp-go.mod.bak || ! cmp -s go.sum /tmp/custom-misp-go.sum.bak; then \
		echo "go mod tidy changed go.mod/go.sum: commit the tidy result"; exit 1; fi

demo: build
	$(GO) run ./internal/demo -bin $(BIN) -alerts testdata/alerts

# BENCHFLAGS scales the mirror cases for a quick look, e.g.
# BENCHFLAGS='-mirror-attributes 100000 -mirror-events 2000 -sync-rounds 1';
# the committed BENCHMARKS.md comes from the defaults (issue #12's sizes).
bench: build
	$(GO) run ./internal/bench -bin $(BIN) -out BENCHMARKS.md $(BENCHFLAGS)
	@{ echo; echo '## go test -bench: the store, extraction, normalisation'; echo; \
	   echo '`go test -run '"'"'^$$'"'"' -bench . -benchmem ./internal/cache ./internal/alert ./internal/ioc`'; echo; echo '```'; \
	   $(GO) test -run '^$$' -bench . -benchmem ./internal/cache ./internal/alert ./internal/ioc; echo '```'; } >> BENCHMARKS.md
	@tail -n +1 BENCHMARKS.md | sed -n '/## go test/,$$p'

fuzz:
	$(GO) test ./internal/ioc -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ioc -run '^$$' -fuzz '^FuzzClassify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/alert -run '^$$' -fuzz '^FuzzExtract$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz '^FuzzParseOptions$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/event -run '^$$' -fuzz '^FuzzAppendJSON$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/misp -run '^$$' -fuzz '^FuzzFilterKey$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/cache -run '^$$' -fuzz '^FuzzDecodeAttrs$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/misp -run '^$$' -fuzz '^FuzzFlexString$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/mispclient -run '^$$' -fuzz '^FuzzDecodeSearch$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/mirror -run '^$$' -fuzz '^FuzzOpenLookup$$' -fuzztime $(FUZZTIME)

# install, upgrade and uninstall run install.sh, the same script the
# release tarballs ship: it follows the table of internal/layout (owners,
# modes, what is kept), never overwrites the key, never restarts Wazuh.
# WAZUH_USER/WAZUH_GROUP name the daemons' user and group if not wazuh.
INSTALLFLAGS = --wazuh-home $(WAZUH_HOME) $(if $(filter 1,$(SYSMON_LEVELS)),--sysmon-levels) $(if $(filter 1,$(CDB)),--cdb) $(if $(WAZUH_USER),--wazuh-user $(WAZUH_USER)) $(if $(WAZUH_GROUP),--wazuh-group $(WAZUH_GROUP))

install:
	@if [ ! -x $(BIN) ] || [ ! -x $(NETBIN) ]; then echo "no $(BIN) or $(NETBIN): run make build first (on any machine with Go), then copy this tree to the manager"; exit 1; fi
	sh ./install.sh $(INSTALLFLAGS)

upgrade:
	@if [ ! -x $(BIN) ] || [ ! -x $(NETBIN) ]; then echo "no $(BIN) or $(NETBIN): run make build first"; exit 1; fi
	sh ./install.sh --upgrade $(INSTALLFLAGS)

# uninstall keeps the key, the cache and the mirror (install.sh --purge
# removes them too).
uninstall:
	sh ./install.sh --uninstall --wazuh-home $(WAZUH_HOME)

# dist writes to dist/ the release: per architecture (linux/amd64,
# linux/arm64) a tarball with install.sh, a .deb and an .rpm, and
# SHA256SUMS; byte-identical for the same commit (docs/packaging.md).
# DIST_ARCH=amd64 builds one architecture.
DIST_ARCH ?= amd64,arm64
dist:
	$(GO) run ./internal/dist -version '$(VERSION)' -arch '$(DIST_ARCH)' -out dist

clean:
	rm -rf bin dist
