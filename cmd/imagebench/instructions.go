package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// instructions is the -instructions mode: one job of each side per photo
// under valgrind's cachegrind, counting the instructions executed by the
// process and every child (cwebp for ours), which no neighbour on a shared
// machine can disturb. It is a cross-check of the CPU figures, not a
// replacement: libjpeg-turbo and libwebp use SIMD, so an instruction of
// theirs does more work than most of ours.
func instructions(ctx context.Context, inputs []*input, dir, vipsref string, stdout io.Writer) error {
	if _, err := exec.LookPath("valgrind"); err != nil {
		return fmt.Errorf("-instructions needs valgrind (apt-get install valgrind): %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "photo\tours (instructions, children included)\tlibvips\tlibvips ÷ ours")
	for _, in := range inputs {
		var counts [2]int64
		note := ""
		for i, argv := range [2][]string{
			{self, "-job", "-in", in.path, "-out", filepath.Join(dir, "ir-ours")},
			{vipsref, "-n", "1", "-p", "1", filepath.Join(dir, "ir-vips"), in.path},
		} {
			out := filepath.Join(dir, fmt.Sprintf("cachegrind-%d", i))
			if err := os.RemoveAll(out); err != nil {
				return err
			}
			for _, d := range []string{out, filepath.Join(dir, "ir-ours"), filepath.Join(dir, "ir-vips")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			run := func(env ...string) error {
				cmd := exec.CommandContext(ctx, "valgrind", append([]string{"--tool=cachegrind", "--cache-sim=no",
					"--trace-children=yes", "--cachegrind-out-file=" + filepath.Join(out, "%p")}, argv...)...)
				// Go's asynchronous preemption signals confuse valgrind.
				cmd.Env = append(os.Environ(), append(env, "GODEBUG=asyncpreemptoff=1")...)
				if b, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("valgrind %v: %w: %s", argv, err, b)
				}
				return nil
			}
			if err := run(); err != nil {
				if i == 0 {
					return err
				}
				// libvips' vector code is compiled at run time by orc,
				// which valgrind cannot always follow; without it libvips
				// runs its plain C loops, more instructions than it would.
				if err := os.RemoveAll(out); err != nil {
					return err
				}
				if err := os.MkdirAll(out, 0o755); err != nil {
					return err
				}
				if err := run("VIPS_NOVECTOR=1"); err != nil {
					return err
				}
				note = " (libvips with orc off: valgrind cannot run orc's generated code here)"
			}
			n, err := sumCachegrind(out)
			if err != nil {
				return err
			}
			counts[i] = n
		}
		fmt.Fprintf(tw, "%s\t%.2f G\t%.2f G\t%.2f×%s\n", in.name, float64(counts[0])/1e9, float64(counts[1])/1e9, float64(counts[1])/float64(counts[0]), note)
	}
	return tw.Flush()
}

// sumCachegrind adds up the "summary:" lines of every cachegrind output
// file in dir (one per process).
func sumCachegrind(dir string) (int64, error) {
	files, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, f := range files {
		fh, err := os.Open(filepath.Join(dir, f.Name()))
		if err != nil {
			return 0, err
		}
		s := bufio.NewScanner(fh)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "summary: "); ok {
				n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				if err != nil {
					fh.Close()
					return 0, err
				}
				total += n
			}
		}
		fh.Close()
	}
	return total, nil
}
