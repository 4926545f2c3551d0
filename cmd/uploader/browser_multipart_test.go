package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"uploader/internal/testenv"
)

// noisePNGOf makes a w×w PNG of noise with vips (deflate cannot shrink it).
// noisePNGProcessing is how long these tests wait for a noise PNG big
// enough for parts to be processed: a deadline, not a timing. Noise is the
// worst case of the pure-Go JPEG encoder, which the race detector (on in
// make test) slows several times: about 10 s without it, near 90 s with
// it on a busy machine.
const noisePNGProcessing = 240 * time.Second

func noisePNGOf(t *testing.T, w int) []byte {
	t.Helper()
	if _, err := exec.LookPath("vips"); err != nil {
		testenv.Require(t, "vips", err)
	}
	dir := t.TempDir()
	var bands []string
	for i := range 3 {
		n, c := filepath.Join(dir, fmt.Sprintf("n%d.v", i)), filepath.Join(dir, fmt.Sprintf("c%d.v", i))
		for _, args := range [][]string{{"gaussnoise", n, fmt.Sprint(w), fmt.Sprint(w), "--mean", "128", "--sigma", "80"}, {"cast", n, c, "uchar"}} {
			if out, err := exec.Command("vips", args...).CombinedOutput(); err != nil {
				t.Fatalf("vips %v: %v\n%s", args, err, out)
			}
		}
		bands = append(bands, c)
	}
	out := filepath.Join(dir, "noise.png")
	if b, err := exec.Command("vips", "bandjoin", strings.Join(bands, " "), out).CombinedOutput(); err != nil {
		t.Fatalf("vips bandjoin: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func throttleS3(t *testing.T, b *browser, bytesPerSecond float64) {
	t.Helper()
	var rules []*network.Conditions
	if bytesPerSecond > 0 {
		rules = []*network.Conditions{{URLPattern: "http://127.0.0.1:*/*", UploadThroughput: bytesPerSecond, DownloadThroughput: -1}}
	}
	b.do(t, 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules})
		return err
	}))
}

// TestBrowserMultipartResume: a 19 MB photo goes up in parts from the
// upload page; the page is reloaded in the middle, the same file chosen
// again, and the upload resumes (same upload, stored parts not sent
// again) and ends ready.
func TestBrowserMultipartResume(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)
	data := noisePNGOf(t, 2500)
	if len(data) <= 16<<20 || len(data) > 20<<20 {
		t.Fatalf("the noise PNG is %d bytes; want between the 16 MiB threshold and the 20 MB photo limit", len(data))
	}
	file := writeFile(t, "panorama.png", data)

	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
	)
	// Slow enough that the reload lands after the small last part is
	// stored and before the two 8 MiB parts are.
	throttleS3(t, b, 1<<20)
	b.do(t, 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}))
	b.waitFor(t, "the upload half way", `(() => { const p = document.querySelector('progress.upload-progress'); return !!p && !p.hidden && p.value >= 50 && p.value < 90; })()`, 60*time.Second)
	saved := eval[int](t, b, `Object.keys(localStorage).filter((k) => k.startsWith('uploader:multipart:')).length`)
	if saved != 1 {
		t.Errorf("%d multipart uploads remembered in localStorage, want 1", saved)
	}

	b.do(t, 15*time.Second,
		chromedp.Reload(),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
	)
	throttleS3(t, b, 0)
	b.do(t, 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}))
	b.waitFor(t, "the upload to resume", `(() => { const s = document.querySelector('.upload-status'); const p = document.querySelector('progress.upload-progress');
		return !!s && s.textContent.includes('Resuming') || (!!p && p.value >= 100) || document.querySelector('li.upload-item[data-state=ready]') !== null; })()`, 20*time.Second)
	b.waitFor(t, "the upload to finish", allDone(1), noisePNGProcessing)

	api := b.session(t, a)
	var list struct {
		Uploads []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Bytes  int64  `json:"bytes"`
		} `json:"uploads"`
	}
	api.do(t, "GET", "/api/uploads", nil, &list)
	if len(list.Uploads) == 1 && list.Uploads[0].Status == "failed" {
		var st status
		api.do(t, "GET", "/api/uploads/"+list.Uploads[0].ID, nil, &st)
		t.Logf("failed: %+v", st.Error)
	}
	if len(list.Uploads) != 1 || list.Uploads[0].Status != "ready" || list.Uploads[0].Bytes != int64(len(data)) {
		t.Errorf("uploads after the reload: %+v; want one ready upload of %d bytes (resumed, not started again)", list.Uploads, len(data))
	}
	if n := eval[int](t, b, `Object.keys(localStorage).filter((k) => k.startsWith('uploader:multipart:')).length`); n != 0 {
		t.Errorf("%d multipart uploads still remembered after completion, want 0", n)
	}
	b.checkConsole(t, "upload page", func(p consoleProblem) bool {
		return strings.Contains(p.String(), "ERR_ABORTED") || strings.Contains(p.String(), "net::")
	})
}

// TestBrowserMultipartRetry: part 2 fails twice (a reset connection, then
// S3's 503 SlowDown); upload.js retries it with backoff and the upload
// ends ready. The failures are injected by Chromium's request
// interception, standing in for a flaky network.
func TestBrowserMultipartRetry(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)
	data := noisePNGOf(t, 2500)
	file := writeFile(t, "panorama.png", data)

	var mu sync.Mutex
	attempts := 0
	if err := chromedp.Listen(b.ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		n := 0 // a CORS preflight goes through untouched
		if e.Request.Method == "PUT" {
			mu.Lock()
			attempts++
			n = attempts
			mu.Unlock()
		}
		go func() {
			var err error
			switch n {
			case 0:
				_, err = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
			case 1:
				_, err = chromedp.Call(b.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
			case 2:
				_, err = chromedp.Call(b.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 503,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Access-Control-Allow-Origin", Value: "*"}, {Name: "Content-Type", Value: "application/xml"}},
					Body:            []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)})
			default:
				_, err = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
			}
			if err != nil && b.ctx.Err() == nil {
				t.Errorf("interception: %v", err)
			}
		}()
	}); err != nil {
		t.Fatal(err)
	}
	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
				{URLPattern: "*partNumber=2&*", RequestStage: fetch.RequestStageRequest},
			}})
			return err
		}),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
	)
	b.waitFor(t, "the upload to finish", allDone(1), noisePNGProcessing)
	if state := eval[string](t, b, `document.querySelector('li.upload-item').dataset.state`); state != "ready" {
		t.Errorf("after two failures of part 2: %s (%s), want ready", state, b.pageText(t))
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 3 {
		t.Errorf("part 2 was sent %d times, want 3 (two failures, then the retry that worked)", attempts)
	}
	if n := eval[int](t, b, `document.querySelectorAll('li.upload-item progress').length`); n != 1 {
		t.Errorf("%d progress bars for one file, want 1", n)
	}
}
