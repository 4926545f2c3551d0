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

// outputs are the four renditions of the photo job, by spec name. Both
// sides write <name>.jpg and <name>.webp (and <name>.png in the lossless
// run) into a job's directory, so everything after the job treats them
// alike.
var outputs = []struct {
	name   string
	size   int
	square bool
}{
	{"w2048", 2048, false},
	{"w1024", 1024, false},
	{"w320", 320, false},
	{"thumb150", 150, true},
}

// photoProfile is the production photo profile: each size as JPEG with a
// WebP beside it.
func photoProfile() upload.Profile {
	return upload.DefaultProfiles(imageproc.DefaultMaxPixels)["photo"]
}

// photoProfileAs is the production photo profile with every variant
// written in one format only.
func photoProfileAs(format string) upload.Profile {
	p := photoProfile()
	vs := make([]upload.VariantSpec, len(p.Variants))
	for i, v := range p.Variants {
		v.Formats = []string{format}
		vs[i] = v
	}
	p.Variants = vs
	return p
}

// jpegPhotoProfile is the photo profile restricted to JPEG.
func jpegPhotoProfile() upload.Profile { return photoProfileAs(upload.FormatJPEG) }

// losslessJob writes both sides' four renditions as PNG, so the resizers
// can be compared with the reference without the encoders' loss in the
// way. Ours go through Process exactly as the real job does, up to the
// encoder; libvips's through vipsref -png, the same pipeline as its real
// job.
func losslessJob(ctx context.Context, vipsref, in, oursDir, vipsDir string) error {
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
	_, _, err = vipsrefBatch(ctx, vipsref, in, vipsDir, 1, true)
	return err
}

// runner does one photo job: read in, write the outputs into dir.
type runner func(ctx context.Context, in, dir string) error

// ourJob runs Process as the worker does and writes its outputs.
func ourJob(opt imageproc.Options) runner {
	p := photoProfile()
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

// vipsArgs are the vipsthumbnail command lines of the command-line form:
// one process per output, each decoding the source again, with the same
// JPEG settings as vipsref (it writes no WebP), exporting to sRGB only
// when the source carries a profile, as vipsref does.
func vipsArgs(in *input, dir string) [][]string {
	var cmds [][]string
	for _, o := range outputs {
		args := []string{in.path, "--size", fmt.Sprintf("%dx%d>", o.size, o.size)}
		if o.square {
			args = []string{in.path, "--size", fmt.Sprintf("%dx%d", o.size, o.size), "--smartcrop", "centre"}
		}
		if in.tagged {
			args = append(args, "--export-profile", "srgb")
		}
		cmds = append(cmds, append(args, "-o", filepath.Join(dir, o.name)+".jpg[Q=82,interlace,optimize_coding,strip]"))
	}
	return cmds
}

// cliJob runs vipsthumbnail once per output.
func cliJob(in *input) runner {
	return func(ctx context.Context, _, dir string) error {
		return cliRun(ctx, in, dir)
	}
}

func cliRun(ctx context.Context, in *input, dir string) error {
	for _, args := range vipsArgs(in, dir) {
		if out, err := exec.CommandContext(ctx, "vipsthumbnail", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("vipsthumbnail %v: %w: %s", args, err, out)
		}
	}
	return nil
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
