package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"uploader/internal/imageproc"
	"uploader/internal/upload"
)

// outputs are the four renditions of the photo job, as file names in a job's
// output directory. Both sides write the same names, so everything after the
// job (sizes, SSIM) treats them alike.
var outputs = []struct {
	name   string
	size   int
	square bool
}{
	{"w2048.jpg", 2048, false},
	{"w1024.jpg", 1024, false},
	{"w320.jpg", 320, false},
	{"thumb150.jpg", 150, true},
}

// jpegPhotoProfile is the production photo profile with every variant
// restricted to JPEG, the one format both sides write.
func jpegPhotoProfile() upload.Profile { return photoProfileAs(upload.FormatJPEG) }

// photoProfileAs is the production photo profile with every variant written
// in one format only.
func photoProfileAs(format string) upload.Profile {
	p := upload.DefaultProfiles(imageproc.DefaultMaxPixels)["photo"]
	vs := make([]upload.VariantSpec, len(p.Variants))
	for i, v := range p.Variants {
		v.Formats = []string{format}
		vs[i] = v
	}
	p.Variants = vs
	return p
}

// losslessJob writes both sides' four renditions as PNG, so the resizers
// can be compared with the reference without JPEG's own loss in the way.
// Ours go through Process exactly as the JPEG job does, up to the encoder.
func losslessJob(ctx context.Context, in, oursDir, vipsDir string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	res, err := imageproc.Process(ctx, data, photoProfileAs(upload.FormatPNG), imageproc.Options{})
	if err != nil {
		return err
	}
	for _, o := range res.Outputs {
		if err := os.WriteFile(filepath.Join(oursDir, o.File), o.Data, 0o644); err != nil {
			return err
		}
	}
	for _, args := range vipsArgs(in, vipsDir) {
		args[len(args)-1] = strings.Replace(args[len(args)-1], ".jpg[Q=82,strip]", ".png[strip]", 1)
		if out, err := exec.CommandContext(ctx, "vipsthumbnail", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("vipsthumbnail %v: %w: %s", args, err, out)
		}
	}
	return nil
}

// runner does one photo job: read in, write the four outputs into dir.
type runner func(ctx context.Context, in, dir string) error

// ourJob runs Process as the worker does and writes its outputs.
func ourJob(opt imageproc.Options) runner {
	p := jpegPhotoProfile()
	return func(ctx context.Context, in, dir string) error {
		data, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		res, err := imageproc.Process(ctx, data, p, opt)
		if err != nil {
			return err
		}
		for _, o := range res.Outputs {
			if err := os.WriteFile(filepath.Join(dir, o.File), o.Data, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}

// vipsArgs are the vipsthumbnail command lines for the four outputs: fit
// inside a box for the widths, a centre crop for the square. strip drops
// metadata like Process does.
func vipsArgs(in, dir string) [][]string {
	var cmds [][]string
	for _, o := range outputs {
		args := []string{in, "--size", strconv.Itoa(o.size)}
		if o.square {
			args = []string{in, "--size", fmt.Sprintf("%dx%d", o.size, o.size), "--smartcrop", "centre"}
		}
		cmds = append(cmds, append(args, "-o", filepath.Join(dir, o.name)+"[Q=82,strip]"))
	}
	return cmds
}

// vipsJob runs vipsthumbnail once per output. With measure set, each runs
// under measureRSS and the largest peak RSS (KiB) of the four is returned.
func vipsJob(ctx context.Context, in, dir string, measure bool) (maxRSS int64, err error) {
	for _, args := range vipsArgs(in, dir) {
		if measure {
			rss, err := measureRSS(ctx, append([]string{"vipsthumbnail"}, args...))
			if err != nil {
				return 0, err
			}
			maxRSS = max(maxRSS, rss)
			continue
		}
		if out, err := exec.CommandContext(ctx, "vipsthumbnail", args...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("vipsthumbnail %v: %w: %s", args, err, out)
		}
	}
	return maxRSS, nil
}

func vipsRunner(ctx context.Context, in, dir string) error {
	_, err := vipsJob(ctx, in, dir, false)
	return err
}

// maxRSSOf is a finished process's peak resident set in KiB (Linux reports
// ru_maxrss in KiB).
func maxRSSOf(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}

// batch runs jobs photo jobs on in with two workers, each job into its own
// directory under dir, and returns the wall time.
func batch(ctx context.Context, run runner, in, dir string, jobs int) (time.Duration, error) {
	next := make(chan int, jobs)
	for i := range jobs {
		next <- i
	}
	close(next)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := time.Now()
	for range 2 {
		wg.Go(func() {
			for i := range next {
				d := filepath.Join(dir, strconv.Itoa(i))
				err := os.MkdirAll(d, 0o755)
				if err == nil {
					err = run(ctx, in, d)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// measureRSS runs argv under a fresh copy of this program (the hidden -rss
// flag) and returns the command's peak RSS in KiB. The detour matters: Go
// starts children with vfork, and Linux counts the parent's high-water RSS
// into a vforked child's ru_maxrss at exec, so measuring directly from this
// large process would report its own peak for everything.
func measureRSS(ctx context.Context, argv []string) (int64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	out, err := exec.CommandContext(ctx, self, append([]string{"-rss", "--"}, argv...)...).Output()
	if err != nil {
		return 0, fmt.Errorf("%v: %w", argv, err)
	}
	return strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
}

// rssChild is the -rss mode: run argv, print its peak RSS in KiB. This
// process is small, so what the child inherits at exec is below anything
// it will use itself.
func rssChild(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return errors.New("-rss: no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %w", argv, err)
	}
	_, err := fmt.Fprintln(stdout, maxRSSOf(cmd.ProcessState))
	return err
}

// ourRSS is the peak RSS (KiB) of one of our jobs in a process of its own.
func ourRSS(ctx context.Context, in, dir string, optimize bool) (int64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	return measureRSS(ctx, []string{self, "-job", "-in", in, "-out", dir, "-optimize=" + strconv.FormatBool(optimize)})
}
