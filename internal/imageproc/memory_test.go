package imageproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"

	"uploader/internal/upload"
)

// procStatusKB reads a field of /proc/self/status in kB.
func procStatusKB(field string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// TestMemoryChild is the measuring half of TestMemoryEstimateHolds: run
// in a fresh process, it processes one file and prints how far its peak
// RSS rose above the resting process.
func TestMemoryChild(t *testing.T) {
	path := os.Getenv("IMAGEPROC_MEMORY_CHILD")
	if path == "" {
		t.Skip("run by TestMemoryEstimateHolds")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := upload.DefaultProfiles(DefaultMaxPixels)["photo"]
	// Warm up the WebAssembly modules (the WebP encoder; the HEIC or AVIF
	// decoder) on tiny files, as a worker that has run one job has them:
	// compiling a module is a one-time cost of the process (the budget's
	// headroom covers the first job), not of each job.
	for _, small := range strings.Split(os.Getenv("IMAGEPROC_MEMORY_WARM"), ",") {
		if b, err := os.ReadFile(small); err == nil {
			Process(context.Background(), b, p, Options{})
		}
	}
	est, err := Estimate(data, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The worker's position: Go's soft limit leaves the job what its
	// estimate claims, so the collector keeps garbage out of the peak and
	// the peak shows what the job holds live. An estimate that falls short
	// pushes the process past the limit, and the parent sees it.
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(sample)
	debug.SetMemoryLimit(int64(sample[0].Value.Uint64()-sample[1].Value.Uint64()) + est.Bytes)
	rest := procStatusKB("VmRSS")
	if _, err := Process(context.Background(), data, p, Options{}); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("MEMORY rest_kb=%d peak_kb=%d\n", rest, procStatusKB("VmHWM"))
}

// TestMemoryEstimateHolds makes files with cjpeg, cwebp, ImageMagick and vips,
// processes each in a child process whose soft memory limit is its resting
// size plus the estimate (as the worker's is, through MemoryBudget), and
// checks that the peak RSS above the resting process stays within
// Estimate. The estimate is what admits jobs under WORKER_MEMORY_MB; if a
// decoder needs more than its table entry in memory.go says, this fails.
func TestMemoryEstimateHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: several full-size decodes")
	}
	if raceEnabled {
		// make test-wasm runs this test again without the race detector.
		t.Skip("the race detector inflates memory use; measured in make test-wasm instead")
	}
	dir := t.TempDir()
	realTool(t, dir, "convert", "-size", "3000x2000", "-seed", "3", "plasma:fractal", "src.ppm")
	realTool(t, dir, "convert", "-size", "64x48", "plasma:fractal", "tiny.jpg")
	// HEIC and AVIF smaller: libaom and x265 take most of a minute on 6 MP.
	realTool(t, dir, "convert", "src.ppm", "-resize", "1600x1200", "-quality", "90", "mid.jpg")
	cases := []struct {
		name, file string
		make       func()
	}{
		{"baseline JPEG 4:2:0", "base.jpg", func() { realTool(t, dir, "cjpeg", "-quality", "90", "-outfile", "base.jpg", "src.ppm") }},
		{"progressive JPEG 4:4:4", "prog.jpg", func() {
			realTool(t, dir, "cjpeg", "-quality", "90", "-progressive", "-sample", "1x1", "-outfile", "prog.jpg", "src.ppm")
		}},
		{"16-bit RGBA PNG", "deep.png", func() {
			realTool(t, dir, "convert", "src.ppm", "-alpha", "on", "-depth", "16", "-define", "png:color-type=6", "-quality", "10", "deep.png")
		}},
		{"interlaced RGB PNG", "inter.png", func() { realTool(t, dir, "convert", "src.ppm", "-interlace", "PNG", "-quality", "10", "inter.png") }},
		{"lossy WebP", "lossy.webp", func() { realTool(t, dir, "cwebp", "-quiet", "-q", "80", "base.jpg", "-o", "lossy.webp") }},
		{"lossless WebP", "lossless.webp", func() {
			realTool(t, dir, "cwebp", "-quiet", "-lossless", "-z", "0", "base.jpg", "-o", "lossless.webp")
		}},
		{"HEIC", "photo.heic", func() { realTool(t, dir, "vips", "copy", "mid.jpg", "photo.heic") }},
		{"10-bit HEIC", "deep.heic", func() {
			realTool(t, dir, "convert", "mid.jpg", "-depth", "16", "mid16.png")
			realTool(t, dir, "heif-enc", "-b", "10", "-q", "90", "-o", "deep.heic", "mid16.png")
		}},
		{"AVIF", "photo.avif", func() { realTool(t, dir, "vips", "copy", "mid.jpg", "photo.avif") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.make()
			path := filepath.Join(dir, tc.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			est, err := Estimate(data, upload.DefaultProfiles(DefaultMaxPixels)["photo"], Options{})
			if err != nil {
				t.Fatal(err)
			}
			warm := filepath.Join(dir, "tiny.jpg")
			if ext := filepath.Ext(tc.file); ext == ".heic" || ext == ".avif" {
				if !fileExists(filepath.Join(dir, "tiny"+ext)) {
					realTool(t, dir, "vips", "copy", "tiny.jpg", "tiny"+ext)
				}
				warm += "," + filepath.Join(dir, "tiny"+ext)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "IMAGEPROC_MEMORY_CHILD="+path, "IMAGEPROC_MEMORY_WARM="+warm)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var rest, peak int64
			i := strings.Index(string(out), "MEMORY ")
			if i < 0 {
				t.Fatalf("child printed no measurement:\n%s", out)
			}
			fmt.Sscanf(string(out[i:]), "MEMORY rest_kb=%d peak_kb=%d", &rest, &peak)
			used := (peak - rest) << 10
			t.Logf("%s: %s, estimate %d MB, measured %d MB above a %d MB resting process (%.0f%% of the estimate)",
				tc.name, est.What, est.Bytes>>20, used>>20, rest>>10, 100*float64(used)/float64(est.Bytes))
			if used > est.Bytes {
				t.Errorf("%s needed %d MB, more than its estimate of %d MB: the memory budget would not hold", est.What, used>>20, est.Bytes>>20)
			}
		})
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
