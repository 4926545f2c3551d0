# The two commands a newcomer needs: `make dev` and `make test`.
GO ?= go
TESTFLAGS ?= -count=1 -timeout 20m
# The race detector is on for `make test`; RACE= turns it off.
RACE ?= -race
FUZZTIME ?= 15s

.PHONY: dev test test-go test-wasm test-fuzz test-faults deps bench-deps services build bench vet lint staticcheck tidy

## dev: run web + worker on embedded S3, Redis and SQLite; prints the URL to open
dev:
	$(GO) run ./cmd/uploader dev

## build: the one binary, in ./bin/uploader
build:
	$(GO) build -o bin/uploader ./cmd/uploader

## deps: install missing Debian packages (optimizers, foreman, chromium, vips)
deps:
	@bash scripts/ensure-deps.sh

## services: make sure Redis and PostgreSQL answer
services:
	@bash scripts/ensure-services.sh

## test: lint, then the whole suite (race detector on) on real Redis,
## Postgres, SQLite and the S3 gateway, then a short fuzz
test: deps services lint test-go test-wasm test-fuzz

## lint: go vet, staticcheck (the version pinned by go.mod's tool directive)
## and a go.mod that `go mod tidy` would leave as it is
lint: vet staticcheck tidy

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

tidy:
	$(GO) mod tidy -diff

test-go:
	$(GO) test $(RACE) $(TESTFLAGS) ./...

## test-wasm: the HEIC/AVIF decoders as production runs them (WebAssembly). Where a system
## libheif.so exists, as with libvips installed, they would load it instead; -tags nodynamic
## keeps them off it, so the decoders and memory figures tested are the dyno's.
test-wasm:
	$(GO) test $(TESTFLAGS) -tags nodynamic -run 'HEIF|HEIC|AVIF|MemoryEstimate' ./internal/imageproc/

## test-faults: the slow load and fault matrix (Redis killed, SIGTERM/SIGKILL, S3 and DB outages)
test-faults: deps services
	UPLOADER_FAULTS=1 $(GO) test $(TESTFLAGS) -run 'Load|Fault' ./cmd/uploader/

## test-fuzz: a short run of the image fuzzer, of the JPEG encoder's two scripts and of the forked JPEG
## decoder's (set FUZZTIME for longer)
test-fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzProcess$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./internal/imageproc/
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./internal/imageproc/internal/jpegscale/
	$(GO) test -run='^$$' -fuzz='^FuzzScripts$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./internal/imageproc/internal/jpegenc/

## bench-deps: what make bench adds: cc and libvips-dev (the photos come with deps)
bench-deps:
	@bash scripts/ensure-bench-deps.sh

## bench: the image job next to libvips in-process on real photos, the
## service next to hello-world net/http (ratios from one run), then the Go
## benchmarks of each stage (BENCHTIME each, default 1s)
BENCHTIME ?= 1s
bench: deps bench-deps services
	$(GO) run ./cmd/imagebench
	$(GO) run ./cmd/servicebench
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./internal/...
