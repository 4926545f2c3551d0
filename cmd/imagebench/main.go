// Command imagebench measures the image pipeline against libvips on the same
// machine in the same run and prints one table of ratios against the targets
// of issue 3: throughput of the four-output photo job, peak memory per job,
// output bytes at equal SSIM, and lossless PNG size.
//
// It generates its inputs deterministically (a 12 MP and a 24 MP synthetic
// photo, JPEG q90) into a temporary directory. The machine is assumed to be
// shared and noisy, so ours and libvips's batches are interleaved, the
// throughput ratio is the median of paired rounds, and only ratios from one
// run are meant to be compared.
//
//	go run ./cmd/imagebench [-rounds 8] [-jobs 2] [-dir DIR]
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
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebench:", err)
		os.Exit(1)
	}
}
