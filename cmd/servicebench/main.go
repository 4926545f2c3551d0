// Command servicebench measures the whole service against the targets of
// issue 7 and prints one table of ratios, each next to a reference figure
// taken on the same machine in the same run:
//
//   - P4: POST /api/uploads requests per second of `uploader web` (SQLite,
//     then Postgres) against a hello-world net/http server, both loaded by
//     wrk with 50 connections, runs interleaved; the web process's memory
//     at rest and at its peak under that load.
//   - P5: job pickup latency (the enqueue call returning to the handler
//     starting) on real Redis, with our poll interval and asynq's default,
//     and the Redis commands per second each costs while idle.
//   - P6: image jobs per second of two `uploader worker` processes (each
//     GOMAXPROCS=1, WORKER_CONCURRENCY=1) against one, on one Redis and one
//     Postgres, and a check that no upload was processed twice.
//
// It builds ./cmd/uploader into a temporary directory and runs it as
// separate processes, so the figures are those of the real binary. It needs
// Redis on 127.0.0.1:6379 and Postgres on 127.0.0.1:5432 (database test,
// user postgres), as the tests do, and talks to nothing but 127.0.0.1.
//
//	go run ./cmd/servicebench [-rounds 2] [-duration 5s] [-p5-tasks 200] [-p6-jobs 30]
//
// It exits 0 when targets are missed (it is a report) and non-zero only when
// something fails to run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The table alone goes to standard output. The embedded S3 gateway
	// prints a start-up notice on os.Stdout: send that to stderr instead.
	table := os.Stdout
	os.Stdout = os.Stderr
	err := run(ctx, os.Args[1:], os.Getenv, table, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "servicebench:", err)
		os.Exit(1)
	}
}
