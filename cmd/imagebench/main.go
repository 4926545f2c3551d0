// Command imagebench measures the photo job against libvips at its best,
// on the same machine in the same run, and prints tables of ratios against
// the targets of issue 14: CPU per job (children included), throughput
// with 2 jobs on 2 cores, peak RSS, and bytes and SSIM of every output.
//
// The reference is vipsref (vipsref/vipsref.c), built here with cc against
// the system's libvips: vips_thumbnail_buffer with shrink-on-load for
// w2048, the three smaller sizes made from those pixels, JPEG Q82
// progressive with optimized Huffman tables, stripped, and WebP Q82 beside
// each. The four-process vipsthumbnail form is timed beside it (-cli).
//
// The inputs are real photographs from Debian wallpaper packages
// (scripts/ensure-bench-deps.sh installs them), or any JPEGs given with
// -photos. The machine is assumed to be shared and noisy, so the sides'
// batches are interleaved, the throughput ratio is the median of paired
// rounds, and only ratios from one run are meant to be compared.
//
// Last, the JPEG encoders alone are compared on every installed wallpaper
// (-encoders; encoders.go): the same pixels to both, so that an encoder
// setting is judged on many photos it was not tuned on.
//
//	go run ./cmd/imagebench [-rounds 5] [-jobs 2] [-photos a.jpg,b.jpg] [-encoders wallpapers] [-dir DIR]
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
