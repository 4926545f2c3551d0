package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"uploader/internal/testenv"
)

// procKB reads a field (VmRSS, VmHWM) of a process's /proc status in kB.
func procKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestWorkerMemoryBudget sends the files that used to take a worker down
// to a worker process with WORKER_MEMORY_MB=512 and two job slots: a
// 7000×7000 progressive 4:4:4 JPEG (cjpeg, under 1 MB), a 5000×5000 16-bit
// PNG that compresses to almost nothing, and a 7071×7071 one (50 MP, the
// limit) that can never fit. The worker's peak RSS must stay under the
// budget plus its resting size, every upload must end ready or failed
// with a reason, and none may be retried.
func TestWorkerMemoryBudget(t *testing.T) {
	for _, tool := range []string{"convert", "cjpeg"} {
		_, err := exec.LookPath(tool)
		testenv.Require(t, tool, err)
	}
	dir := t.TempDir()
	sh := func(script string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	sh("convert -size 7000x7000 gradient:red-blue -depth 8 ppm:- | cjpeg -progressive -sample 1x1 -quality 85 > big.jpg")
	// Gradients: more than 256 levels, so the PNGs really are 16-bit.
	sh("convert -size 5000x5000 gradient:black-white -alpha on -depth 16 -define png:color-type=6 fits.png")
	sh("convert -size 7071x7071 gradient:black-white -alpha on -depth 16 -define png:color-type=6 never.png")

	c := startCluster(t)
	env := map[string]string{}
	for k, v := range c.env {
		env[k] = v
	}
	env["WORKER_MEMORY_MB"] = "512"
	env["WORKER_CONCURRENCY"] = "2"
	w := startProc(t, "worker", c.bin, env, "worker")
	time.Sleep(3 * time.Second) // let it start and settle
	rest := procKB(t, w.cmd.Process.Pid, "VmRSS")

	files := []struct{ name, ct string }{{"big.jpg", "image/jpeg"}, {"fits.png", "image/png"}, {"never.png", "image/png"}}
	ids := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", f.name, len(data))
		p := c.web.presign(t, f.name, f.ct, len(data), "photo")
		if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, f.ct, data); st != 201 {
			t.Fatalf("S3: %d %s", st, body)
		}
		if st := c.web.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != 202 {
			t.Fatalf("complete %s: %d", f.name, st)
		}
		ids[f.name] = p.ID
	}
	final := map[string]status{}
	waitFor(t, "every upload ready or failed", 4*time.Minute, func() bool {
		if !w.running() {
			t.Fatalf("the worker exited:\n%s", lastLines(w.stderr.String(), 30))
		}
		for name, id := range ids {
			if s := c.web.status(t, id); s.Status == "ready" || s.Status == "failed" {
				final[name] = s
			}
		}
		return len(final) == len(ids)
	})
	peak := procKB(t, w.cmd.Process.Pid, "VmHWM")
	t.Logf("worker: resting %d MB, peak %d MB (budget 512 MB)", rest>>10, peak>>10)
	for name, s := range final {
		msg := ""
		if s.Error != nil {
			msg = s.Error.Message
		}
		t.Logf("%s: %s %s", name, s.Status, msg)
		if s.Status == "failed" && msg == "" {
			t.Errorf("%s failed without a reason", name)
		}
	}
	if s := final["never.png"]; s.Status != "failed" || s.Error == nil || !strings.Contains(s.Error.Message, "memory") {
		t.Errorf("never.png (needs more than the whole budget): %+v, want failed saying it needs too much memory", s)
	}
	if s := final["big.jpg"]; s.Status != "ready" {
		t.Errorf("big.jpg (a progressive JPEG that fits once its coefficients are 16-bit) ended %s", s.Status)
	}
	if peak > 512<<10+rest {
		t.Errorf("the worker peaked at %d MB, over the 512 MB budget plus its %d MB resting size", peak>>10, rest>>10)
	}
	if n := strings.Count(w.stderr.String(), "processing failed"); n > 0 {
		t.Errorf("%d retried failures in the worker log; refusals must be final:\n%s", n, lastLines(w.stderr.String(), 20))
	}
}
