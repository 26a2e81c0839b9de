# custom-misp: see README.md. `make demo` and `make test` need only Go.
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS    := -s -w -X github.com/custom-misp/custom-misp/internal/cli.version=$(VERSION)
BIN        := bin/custom-misp
NETBIN     := bin/custom-misp-net
WAZUH_HOME ?= /var/ossec
FUZZTIME   ?= 30s

.PHONY: all build test check demo bench fuzz install uninstall clean

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

# install puts the binary, rules and decoder into a Wazuh manager. The binary
# must be root:wazuh 0750: integratord refuses a file the wazuh user can
# write. The decoder and rules are wazuh:wazuh 0660, as a stock manager's own
# etc/rules/local_rules.xml. Every owner and mode here is the table
# InstallModes in internal/doctor (a test holds this recipe to it). An
# existing options or key file is never overwritten.
install:
	@if [ ! -x $(BIN) ] || [ ! -x $(NETBIN) ]; then echo "no $(BIN) or $(NETBIN): run make build first (on any machine with Go), then copy this tree to the manager"; exit 1; fi
	install -d -m 0750 -o root -g wazuh $(WAZUH_HOME)/integrations
	install -m 0750 -o root -g wazuh $(BIN) $(WAZUH_HOME)/integrations/custom-misp
	install -m 0750 -o root -g wazuh $(NETBIN) $(WAZUH_HOME)/integrations/custom-misp-net
	install -m 0660 -o wazuh -g wazuh decoders/0005-misp_decoders.xml $(WAZUH_HOME)/etc/decoders/
	install -m 0660 -o wazuh -g wazuh rules/0990-misp_rules.xml $(WAZUH_HOME)/etc/rules/
	@if [ "$(SYSMON_LEVELS)" = 1 ]; then \
		install -m 0660 -o wazuh -g wazuh rules/0991-misp_sysmon_levels.xml $(WAZUH_HOME)/etc/rules/; \
		echo "installed the Sysmon level overrides (more alerts: see rules/README.md)"; fi
	@if [ "$(CDB)" = 1 ]; then \
		install -m 0660 -o wazuh -g wazuh rules/0992-misp_cdb_rules.xml $(WAZUH_HOME)/etc/rules/; \
		install -d -m 0770 -o root -g wazuh $(WAZUH_HOME)/etc/lists/misp; \
		echo "installed the CDB list rules: run custom-misp export cdb, then add ossec-snippets/ruleset-lists.xml (docs/cdb.md)"; fi
	install -d -m 0770 -o root -g wazuh $(WAZUH_HOME)/var/custom-misp
	@key=$(WAZUH_HOME)/etc/custom-misp.key; \
	if [ -e "$$key" ]; then echo "kept existing $$key"; \
	else install -m 0640 -o root -g wazuh /dev/null "$$key"; echo "created empty $$key: write the MISP auth key into it"; fi
	@echo "next: add ossec-snippets/integration-4.8plus.xml to ossec.conf, then: systemctl restart wazuh-manager"

# uninstall removes what install put there but the key, the options and
# the cache, which are configuration and state (remove them by hand).
uninstall:
	rm -f $(WAZUH_HOME)/integrations/custom-misp $(WAZUH_HOME)/integrations/custom-misp-net
	rm -f $(WAZUH_HOME)/etc/decoders/0005-misp_decoders.xml $(WAZUH_HOME)/etc/rules/0990-misp_rules.xml $(WAZUH_HOME)/etc/rules/0991-misp_sysmon_levels.xml $(WAZUH_HOME)/etc/rules/0992-misp_cdb_rules.xml
	rm -rf $(WAZUH_HOME)/etc/lists/misp
	@echo "remove the etc/lists/misp <list> lines from <ruleset> in ossec.conf if you added them (ossec-snippets/ruleset-lists.xml)"
	@echo "kept $(WAZUH_HOME)/etc/custom-misp.key and $(WAZUH_HOME)/var/custom-misp; remove the custom-misp <integration> block from ossec.conf, then: systemctl restart wazuh-manager"

clean:
	rm -rf bin
