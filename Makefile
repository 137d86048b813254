STATICCHECK_VERSION        := v0.8.2
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
BIN := $(CURDIR)/bin

.PHONY: build test fuzz proto lint bench

build:
	go build -o $(BIN)/flovyn .

test:
	go test ./...

# Runs each fuzz target briefly (CI runs this after the tests; the seed
# corpora already run as part of `make test`). FUZZTIME=1m for longer.
FUZZTIME ?= 10s
fuzz:
	go test ./server/grpcapi -run '^$$' -fuzz '^FuzzToCommand$$' -fuzztime $(FUZZTIME)
	go test ./server/httpapi -run '^$$' -fuzz '^FuzzStartBody$$' -fuzztime $(FUZZTIME)
	go test ./server/httpapi -run '^$$' -fuzz '^FuzzSignalBody$$' -fuzztime $(FUZZTIME)

# Measures throughput, latency, wake-ups, timers, RSS and PostgreSQL
# transactions per workflow against DESIGN §7 (embedded PostgreSQL, ~90 s).
bench:
	go run ./bench

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "not gofmt-ed: $$unformatted"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Regenerates proto/flovyn/v1/*.pb.go. Needs protoc (Debian: protobuf-compiler);
# the Go plugins are pinned above and installed into ./bin.
proto:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	protoc -I proto \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go --go_out=proto --go_opt=paths=source_relative \
		--plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/flovyn/v1/flovyn.proto proto/flovyn/v1/agent.proto
