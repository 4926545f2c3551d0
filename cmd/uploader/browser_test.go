package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"uploader/internal/testenv"
)

// The browser tests drive Debian's chromium against `uploader dev` (DESIGN.md
// §9): the page, the JSON API and the S3 gateway on its own origin, as a
// person's browser sees them.

const chromiumPath = "/usr/bin/chromium"

// packageDir is the directory of this package, read before any test runs:
// versitygw's posix backend calls os.Chdir into its data directory, so after
// the first startApp the working directory is some test's temporary one.
var packageDir = func() string {
	d, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return d
}()

// browser is one headless chromium with one tab, and what that tab wrote to
// its console.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []consoleProblem
}

// consoleProblem is a console error, an uncaught exception or a browser log
// entry of level error (CSP violations and failed loads arrive there).
type consoleProblem struct {
	kind, text, url string
}

func (p consoleProblem) String() string {
	if p.url != "" {
		return fmt.Sprintf("%s: %s (%s)", p.kind, p.text, p.url)
	}
	return p.kind + ": " + p.text
}

// newBrowser starts chromium with the flags of DESIGN.md §9 and a fresh
// profile; it stops when the test ends. A missing chromium skips the test,
// or fails it with CI=true.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath(chromiumPath)
	testenv.Require(t, "chromium", err)
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	// The first Do starts the browser; it must not carry a timeout, or the
	// timeout would end the browser too.
	if err := chromedp.Do(ctx); err != nil {
		testenv.Require(t, "chromium", err)
	}
	b := &browser{ctx: ctx}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatal(err)
	}
	b.do(t, 10*time.Second, chromedp.EmulateViewport(1280, 900))
	return b
}

// record runs on the tab's event loop: it only appends.
func (b *browser) record(ev any) {
	var p consoleProblem
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range e.Args {
			if len(a.Value) > 0 {
				var s string
				if json.Unmarshal(a.Value, &s) == nil {
					parts = append(parts, s)
				} else {
					parts = append(parts, string(a.Value))
				}
			} else {
				parts = append(parts, a.Description)
			}
		}
		p = consoleProblem{kind: "console." + string(e.Type), text: strings.Join(parts, " ")}
		if e.StackTrace != nil && len(e.StackTrace.CallFrames) > 0 {
			p.url = e.StackTrace.CallFrames[0].URL
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		p = consoleProblem{kind: "exception", text: d.Text, url: d.URL}
		if d.Exception != nil && d.Exception.Description != "" {
			p.text += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		if e.Entry.Level != log.EntryLevelError {
			return
		}
		p = consoleProblem{kind: "log." + string(e.Entry.Source), text: e.Entry.Text, url: e.Entry.URL}
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// takeProblems returns what the console collected so far and forgets it.
func (b *browser) takeProblems() []consoleProblem {
	b.mu.Lock()
	defer b.mu.Unlock()
	ps := b.problems
	b.problems = nil
	return ps
}

// checkConsole fails the test for every console problem that allowed does
// not accept. The log arrives a moment after the page, so it waits a little
// for stragglers first.
func (b *browser) checkConsole(t *testing.T, where string, allowed func(consoleProblem) bool) {
	t.Helper()
	b.do(t, 5*time.Second, chromedp.Sleep(200*time.Millisecond))
	for _, p := range b.takeProblems() {
		if allowed != nil && allowed(p) {
			continue
		}
		t.Errorf("%s: %s", where, p)
	}
}

// do runs the steps with a time limit.
func (b *browser) do(t *testing.T, limit time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.80q: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate in the page until it is true.
func (b *browser) waitFor(t *testing.T, what, predicate string, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(limit)))
	if err != nil {
		t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, b.pageText(t))
	}
}

// pageText is the visible text of the page, for failure messages.
func (b *browser) pageText(t *testing.T) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// session returns an API client that carries the browser's session cookie,
// so it sees the uploads the browser owns.
func (b *browser) session(t *testing.T, a *app) *app {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{a.base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	for _, c := range res.Cookies {
		header = append(header, c.Name+"="+c.Value)
	}
	if len(header) == 0 {
		t.Fatalf("the browser holds no cookie for %s", a.base)
	}
	return &app{base: a.base, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: cookieTransport{cookie: strings.Join(header, "; ")},
	}}
}

type cookieTransport struct{ cookie string }

func (c cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Cookie", c.cookie)
	return http.DefaultTransport.RoundTrip(r)
}

// writeFile writes data to a file named name in a fresh temporary
// directory and returns its path, for the file input.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// progressRecorder runs before the page's own scripts: it remembers, per
// progress bar (by its label), the highest value shown while visible.
const progressRecorder = `(() => {
  const d = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, 'value');
  window.__progressShown = {};
  Object.defineProperty(HTMLProgressElement.prototype, 'value', {
    configurable: true, enumerable: d.enumerable,
    get() { return d.get.call(this); },
    set(v) {
      d.set.call(this, v);
      const k = this.getAttribute('aria-label') || '';
      if (!this.hidden && k) window.__progressShown[k] = Math.max(window.__progressShown[k] || 0, d.get.call(this));
    },
  });
})();`

// resultImages scrolls every image of the JS results into view (they load
// lazily), waits until each has loaded or failed and describes them.
const resultImages = `(async () => {
  const out = [];
  for (const li of document.querySelectorAll('#uploads li.upload-item')) {
    const details = li.querySelector('a.upload-details');
    const imgs = [];
    for (const img of li.querySelectorAll('img.variant-img')) {
      img.scrollIntoView({block: 'center'});
      if (!img.complete || img.naturalWidth === 0) {
        await new Promise((resolve) => {
          const t = setTimeout(resolve, 10000);
          img.addEventListener('load', () => { clearTimeout(t); resolve(); }, {once: true});
          img.addEventListener('error', () => { clearTimeout(t); resolve(); }, {once: true});
        });
      }
      imgs.push({src: img.src, current: img.currentSrc, natural: img.naturalWidth});
    }
    out.push({
      name: li.querySelector('.upload-name').textContent,
      state: li.dataset.state,
      status: li.querySelector('.upload-status').textContent,
      error: (li.querySelector('.upload-error') || {}).textContent || '',
      details: details ? details.getAttribute('href') : '',
      images: imgs,
    });
  }
  window.scrollTo(0, 0);
  return out;
})()`

type resultItem struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Status  string `json:"status"`
	Error   string `json:"error"`
	Details string `json:"details"`
	Images  []struct {
		Src     string `json:"src"`
		Current string `json:"current"`
		Natural int    `json:"natural"`
	} `json:"images"`
}

var uploadPath = regexp.MustCompile(`^/uploads/([0-9a-z]+)$`)

// checkResult asserts what a person sees once an item is done: it is ready,
// every image has loaded from the CDN path of this upload, and the JSON API
// agrees. It returns the upload's id.
func checkResult(t *testing.T, a, api *app, it resultItem, wantVariants int) string {
	t.Helper()
	if it.State != "ready" || it.Error != "" {
		t.Fatalf("%s: state %q status %q error %q, want ready", it.Name, it.State, it.Status, it.Error)
	}
	m := uploadPath.FindStringSubmatch(it.Details)
	if m == nil {
		t.Fatalf("%s: details link %q is not /uploads/{id}", it.Name, it.Details)
	}
	id := m[1]
	if len(it.Images) == 0 {
		t.Fatalf("%s: ready but shows no image", it.Name)
	}
	prefix := a.base + "/cdn/variants/" + id + "/"
	for _, img := range it.Images {
		if img.Natural == 0 {
			t.Errorf("%s: image %s did not load", it.Name, img.Current)
		}
		for _, u := range []string{img.Src, img.Current} {
			if !strings.HasPrefix(u, prefix) {
				t.Errorf("%s: image URL %s is not under %s", it.Name, u, prefix)
			}
		}
	}
	s := api.status(t, id)
	if s.Status != "ready" || len(s.Variants) != wantVariants || s.Filename != it.Name {
		t.Errorf("%s: API says %s, %d variants, filename %q; want ready, %d, %q", it.Name, s.Status, len(s.Variants), s.Filename, wantVariants, it.Name)
	}
	for _, v := range s.Variants {
		if !strings.HasPrefix(v.URL, prefix) {
			t.Errorf("%s: API variant URL %s is not under %s", it.Name, v.URL, prefix)
		}
	}
	return id
}

// allDone is true once the page lists n items and none is still on its way.
func allDone(n int) string {
	return fmt.Sprintf(`(() => {
  const items = [...document.querySelectorAll('#uploads li.upload-item')];
  return items.length === %d && items.every((li) => (li.dataset.state === 'ready' && li.querySelector('img.variant-img')) || li.dataset.state === 'failed');
})()`, n)
}

// TestBrowserUploadTwoFiles chooses two photos at once in the file input
// and follows them to their resized images.
func TestBrowserUploadTwoFiles(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)
	b.do(t, 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: progressRecorder})
		return err
	}))
	files := []string{
		writeFile(t, "harbour.jpg", photo(t, 1600, 1200)),
		writeFile(t, "meadow.jpg", photo(t, 900, 1200)),
	}
	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), files),
	)
	b.waitFor(t, "a local preview of each chosen file", `document.querySelectorAll('#uploads img.upload-thumb').length === 2 && [...document.querySelectorAll('#uploads img.upload-thumb')].every(i => i.complete && i.naturalWidth > 0)`, 10*time.Second)
	b.waitFor(t, "both uploads to finish", allDone(2), 45*time.Second)

	shown := eval[map[string]float64](t, b, `window.__progressShown`)
	for _, f := range files {
		name := filepath.Base(f)
		if v := shown["Upload progress of "+name]; v != 100 {
			t.Errorf("%s: the progress bar showed at most %v%%, want 100%%", name, v)
		}
	}
	items := eval[[]resultItem](t, b, resultImages)
	if len(items) != 2 {
		t.Fatalf("%d items on the page, want 2", len(items))
	}
	api := b.session(t, a)
	ids := map[string]bool{}
	for i, it := range items {
		if it.Name != filepath.Base(files[i]) {
			t.Errorf("item %d is %q, want %q (in the order chosen)", i, it.Name, filepath.Base(files[i]))
		}
		ids[checkResult(t, a, api, it, 8)] = true
	}
	if len(ids) != 2 {
		t.Errorf("two files gave %d uploads", len(ids))
	}
	b.checkConsole(t, "upload page", nil)
}

// dropJPEG builds a JPEG in the page (canvas.toBlob), then drags it over the
// drop zone and drops it, as a file dragged from the desktop would be.
const dropJPEG = `(async () => {
  const c = document.createElement('canvas');
  c.width = 640; c.height = 400;
  const g = c.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 640, 400);
  grad.addColorStop(0, '#2a6'); grad.addColorStop(1, '#24a');
  g.fillStyle = grad; g.fillRect(0, 0, 640, 400);
  g.fillStyle = '#fff'; g.font = '48px sans-serif'; g.fillText('dropped', 200, 220);
  const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.9));
  const dt = new DataTransfer();
  dt.items.add(new File([blob], 'dropped.jpg', {type: 'image/jpeg'}));
  const zone = document.getElementById('drop-zone');
  const fire = (type) => zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
  const seen = {};
  seen.enterAccepted = !fire('dragenter');
  seen.overAccepted = !fire('dragover');
  seen.highlighted = zone.classList.contains('is-dragover');
  seen.dropAccepted = !fire('drop');
  seen.highlightedAfter = zone.classList.contains('is-dragover');
  return seen;
})()`

// TestBrowserDragAndDrop drops a file on the drop zone.
func TestBrowserDragAndDrop(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)
	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
	)
	seen := eval[map[string]bool](t, b, dropJPEG)
	// Cancelled dragenter/dragover/drop tell the browser the zone takes
	// the file (and must not open it in place of the page).
	if !seen["enterAccepted"] || !seen["overAccepted"] || !seen["dropAccepted"] {
		t.Errorf("the drop zone did not accept the drag: %v", seen)
	}
	if !seen["highlighted"] || seen["highlightedAfter"] {
		t.Errorf("drop zone highlight: during drag %v, after drop %v; want on, then off", seen["highlighted"], seen["highlightedAfter"])
	}
	b.waitFor(t, "the dropped file to finish", allDone(1), 45*time.Second)
	items := eval[[]resultItem](t, b, resultImages)
	if len(items) != 1 || items[0].Name != "dropped.jpg" {
		t.Fatalf("items %+v, want one named dropped.jpg", items)
	}
	checkResult(t, a, b.session(t, a), items[0], 8)
	b.checkConsole(t, "upload page", nil)
}

// TestBrowserRefusesBeforeUpload chooses files the profile refuses: the
// page says why next to each, and nothing reaches the server.
func TestBrowserRefusesBeforeUpload(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)
	big := make([]byte, 6<<20)
	copy(big, photo(t, 64, 64)) // a JPEG start; the size is what matters
	files := []string{
		writeFile(t, "huge.jpg", big),
		writeFile(t, "notes.txt", []byte("not an image\n")),
		writeFile(t, "page.html", []byte("<!doctype html><title>x</title>")),
	}
	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
		// A person picks "avatar" in the list; the change event switches
		// the limits in place.
		chromedp.SetValue(chromedp.CSS("#profile"), "avatar"),
	)
	eval[bool](t, b, `document.getElementById('profile').dispatchEvent(new Event('change', {bubbles: true}))`)
	hint := eval[string](t, b, `document.getElementById('upload-limits').textContent`)
	if !strings.Contains(hint, "up to 5 MB each") {
		t.Errorf("after switching to avatar the hint reads %q, want the 5 MB limit", hint)
	}
	b.do(t, 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file"), files))
	b.waitFor(t, "three refusals", `document.querySelectorAll('#uploads li.upload-item .upload-error').length === 3`, 10*time.Second)
	items := eval[[]resultItem](t, b, resultImages)
	if len(items) != 3 {
		t.Fatalf("%d items, want 3", len(items))
	}
	want := map[string]*regexp.Regexp{
		"huge.jpg":  regexp.MustCompile(`^This file is 6 MB; the limit is 5 MB\.$`),
		"notes.txt": regexp.MustCompile(`^This file is a TXT file; only JPEG, PNG, GIF, WebP, HEIC, HEIF and AVIF images are accepted\.$`),
		"page.html": regexp.MustCompile(`^This file is an HTML file; only JPEG, PNG, GIF, WebP, HEIC, HEIF and AVIF images are accepted\.$`),
	}
	for _, it := range items {
		re := want[it.Name]
		if re == nil {
			t.Errorf("unexpected item %q", it.Name)
			continue
		}
		if it.State != "failed" || !re.MatchString(it.Error) {
			t.Errorf("%s: state %q, message %q; want failed with %s", it.Name, it.State, it.Error, re)
		}
		if it.Details != "" || len(it.Images) != 0 {
			t.Errorf("%s: refused, yet links %q and shows %d images", it.Name, it.Details, len(it.Images))
		}
	}
	// The refusals happen before any request: the caller has no upload.
	var list struct {
		Uploads []status `json:"uploads"`
	}
	got := eval[struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}](t, b, `fetch('/api/uploads', {headers: {Accept: 'application/json'}}).then(async (r) => ({status: r.status, body: await r.text()}))`)
	if err := json.Unmarshal([]byte(got.Body), &list); got.Status != http.StatusOK || err != nil {
		t.Fatalf("GET /api/uploads from the page: %d %v: %s", got.Status, err, got.Body)
	}
	if len(list.Uploads) != 0 {
		t.Errorf("after refusals the API lists %d uploads, want none", len(list.Uploads))
	}
	b.checkConsole(t, "upload page", nil)
}

// TestBrowserWithoutJavaScript posts the server-rendered form with
// JavaScript off: straight to S3, back through the app's redirects, then the
// self-refreshing page until the image shows.
func TestBrowserWithoutJavaScript(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)

	var mu sync.Mutex
	var redirects []string // "303 from -> to"
	lctx, lcancel := context.WithCancel(b.ctx)
	defer lcancel()
	if err := chromedp.Listen(lctx, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.RedirectResponse == nil || e.Type != network.ResourceTypeDocument {
			return
		}
		mu.Lock()
		redirects = append(redirects, fmt.Sprintf("%d %s -> %s", e.RedirectResponse.Status, e.RedirectResponse.URL, e.Request.URL))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}

	b.do(t, 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/"))
	if eval[bool](t, b, `document.getElementById('upload-form').classList.contains('is-enhanced') || document.getElementById('upload-submit').hidden`) {
		t.Fatal("upload.js ran although JavaScript is off")
	}
	b.do(t, 15*time.Second,
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{writeFile(t, "lake.jpg", photo(t, 800, 600))}),
		chromedp.Click(chromedp.CSS("#upload-submit")),
	)

	// Poll from Go: the page reloads itself every 2 s, which would end a
	// poll running inside it.
	var id string
	deadline := time.Now().Add(45 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		loc, lerr := chromedp.Run(ctx, chromedp.Location())
		natural, ierr := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const i = document.querySelector('img.variant-img'); return i && i.complete ? i.naturalWidth : 0; })()`))
		cancel()
		if lerr == nil {
			if u, err := url.Parse(loc); err == nil && strings.HasPrefix(loc, a.base) {
				if m := uploadPath.FindStringSubmatch(u.Path); m != nil {
					id = m[1]
				}
			}
		}
		if id != "" && ierr == nil && natural > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no image after 45s; at %s (%v), image %v\n%s", loc, lerr, ierr, b.pageText(t))
		}
		time.Sleep(250 * time.Millisecond)
	}

	mu.Lock()
	chain := strings.Join(redirects, "\n")
	mu.Unlock()
	wantChain := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^303 http://127\.0\.0\.1:\d+/[^ ]* -> ` + regexp.QuoteMeta(a.base+"/uploads/"+id+"/uploaded?")),
		regexp.MustCompile(`(?m)^303 ` + regexp.QuoteMeta(a.base+"/uploads/"+id+"/uploaded?") + `[^ ]* -> ` + regexp.QuoteMeta(a.base+"/uploads/"+id) + `$`),
	}
	for _, re := range wantChain {
		if !re.MatchString(chain) {
			t.Errorf("redirects do not include %s:\n%s", re, chain)
		}
	}
	if s := b.session(t, a).status(t, id); s.Status != "ready" {
		t.Errorf("API status %s, want ready", s.Status)
	}
	// With the upload done the page stops refreshing itself.
	if n := eval[int](t, b, `document.querySelectorAll('meta[http-equiv="refresh"]').length`); n != 0 {
		t.Errorf("the finished page still refreshes itself")
	}
	b.checkConsole(t, "no-JS flow", nil)
}

// TestBrowserConsoleClean visits every page and fails on console errors,
// uncaught exceptions and CSP violations.
func TestBrowserConsoleClean(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)

	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
	)
	b.checkConsole(t, "index", nil)

	// An upload the browser owns, left pending, so its page follows it
	// live (EventSource) until it is ready.
	api := b.session(t, a)
	img := photo(t, 1024, 768)
	p := api.presign(t, "tower.jpg", "image/jpeg", len(img), "photo")
	if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != http.StatusCreated {
		t.Fatalf("S3: %d %s", st, body)
	}
	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/uploads/"+p.ID),
		chromedp.WaitReady(chromedp.CSS("#upload-status")),
	)
	if st := api.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != http.StatusAccepted {
		t.Fatalf("complete: %d", st)
	}
	b.waitForReload(t, `(() => { const i = document.querySelector('img.variant-img'); return !!i && i.complete && i.naturalWidth > 0; })()`, 45*time.Second)
	b.checkConsole(t, "upload page", nil)

	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/uploads"),
		chromedp.WaitReady(chromedp.CSS("ul.gallery img.card-thumb")),
	)
	b.waitFor(t, "the gallery thumbnail", `[...document.querySelectorAll('img.card-thumb')].every((i) => i.complete && i.naturalWidth > 0)`, 10*time.Second)
	b.checkConsole(t, "gallery", nil)

	missing := a.base + "/uploads/06h1ntc0tc19szyypt4hqatym8"
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(missing))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusNotFound {
		t.Errorf("unknown upload: document status %d, want 404", resp.Status)
	}
	if h := eval[string](t, b, `document.querySelector('h1').textContent`); h != "Not Found" {
		t.Errorf("unknown upload: heading %q", h)
	}
	b.checkConsole(t, "error page", func(p consoleProblem) bool {
		return p.kind == "log.network" && p.url == missing && strings.HasPrefix(p.text, "Failed to load resource") && strings.Contains(p.text, "404")
	})

	// The check itself: an inline script is a CSP violation it must see.
	eval[bool](t, b, `(() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; document.body.append(s); return true; })()`)
	b.do(t, 5*time.Second, chromedp.Sleep(200*time.Millisecond))
	var sawCSP bool
	for _, p := range b.takeProblems() {
		if strings.Contains(p.text, "Content Security Policy") {
			sawCSP = true
		}
	}
	if !sawCSP || eval[bool](t, b, `window.inlineRan === true`) {
		t.Errorf("an inline script was not reported as a CSP violation (ran: %v)", !sawCSP)
	}
}

// waitForReload waits for a predicate on a page that may reload itself,
// retrying across navigations.
func (b *browser) waitForReload(t *testing.T, predicate string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](predicate))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s (last error %v)\n%s", limit, predicate, err, b.pageText(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBrowserResultPages checks what the finished pages offer: a crisp
// gallery thumbnail and an embed snippet whose <img> has the upload's
// proportions and offers only resized (not cropped) images.
func TestBrowserResultPages(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)
	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/"))
	s := b.session(t, a).uploadPhoto(t, photo(t, 1600, 1200), "photo")
	if s.Status != "ready" {
		t.Fatalf("upload %s: %+v", s.Status, s.Error)
	}

	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/uploads"))
	b.waitFor(t, "the gallery thumbnail", `(() => { const i = document.querySelector('img.card-thumb'); return !!i && i.complete && i.naturalWidth > 0; })()`, 10*time.Second)
	thumb := eval[map[string]float64](t, b, `(() => { const i = document.querySelector('img.card-thumb'); return {natural: i.naturalWidth, naturalH: i.naturalHeight, shown: i.clientWidth * devicePixelRatio}; })()`)
	if thumb["natural"] < thumb["shown"] {
		t.Errorf("the gallery thumbnail is a %vx%v image stretched to %v pixels wide", thumb["natural"], thumb["naturalH"], thumb["shown"])
	}

	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/uploads/"+s.ID))
	snippet := eval[string](t, b, `document.querySelector('pre.snippet').textContent`)
	m := regexp.MustCompile(`<img src="([^"]+)"[^>]*?srcset="([^"]+)"[^>]*?width="(\d+)" height="(\d+)"`).FindStringSubmatch(strings.Join(strings.Fields(snippet), " "))
	if m == nil {
		t.Fatalf("no <img> with src, srcset, width and height in the snippet:\n%s", snippet)
	}
	var w, h int
	fmt.Sscan(m[3], &w)
	fmt.Sscan(m[4], &h)
	if w*s.Height != h*s.Width {
		t.Errorf("the snippet's <img> is %dx%d, but the image is %dx%d", w, h, s.Width, s.Height)
	}
	if strings.Contains(m[1]+m[2], "thumb150") {
		t.Errorf("the snippet offers the square crop: src %s, srcset %s", m[1], m[2])
	}
	b.checkConsole(t, "result pages", nil)
}

// TestBrowserScreenshots writes the pictures in docs/screenshots when
// UPDATE_SCREENSHOTS=1; otherwise it is skipped, so runs leave the tree
// clean.
func TestBrowserScreenshots(t *testing.T) {
	if os.Getenv("UPDATE_SCREENSHOTS") != "1" {
		t.Skip("set UPDATE_SCREENSHOTS=1 to rewrite docs/screenshots/*.png")
	}
	// Not relative to the working directory: the embedded S3 gateway
	// changes it (see packageDir).
	dir := filepath.Join(packageDir, "..", "..", "docs", "screenshots")
	a := startApp(t, nil)
	b := newBrowser(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shoot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
	)
	shoot("upload.png")

	// Slow the upload to S3 down so the bar can be caught half way.
	s3 := "http://127.0.0.1:*/*"
	b.do(t, 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{URLPattern: s3, UploadThroughput: 256 << 10, DownloadThroughput: -1}},
		})
		return err
	}))
	files := []string{
		writeFile(t, "harbour.jpg", photo(t, 2400, 1600)),
		writeFile(t, "meadow.jpg", photo(t, 1200, 1600)),
	}
	b.do(t, 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file"), files))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('progress.upload-progress')].some((p) => !p.hidden && p.value >= 20 && p.value <= 80)`,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second)))
	cancel()
	if err != nil {
		t.Logf("did not catch an upload mid-way (%v); progress.png shows the page later", err)
	}
	shoot("progress.png")
	b.do(t, 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{}})
		return err
	}))
	b.waitFor(t, "both uploads to finish", allDone(2), 60*time.Second)
	items := eval[[]resultItem](t, b, resultImages)
	id := checkResult(t, a, b.session(t, a), items[0], 8)

	// A full-page picture shows what lies below the fold too, so the lazy
	// images must be loaded and decoded first.
	const allImages = `Promise.all([...document.querySelectorAll('img')].map((i) => {
  i.loading = 'eager';
  return i.decode().then(() => i.naturalWidth > 0, () => false);
})).then((r) => r.every(Boolean))`
	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/uploads/"+id))
	if !eval[bool](t, b, allImages) {
		t.Fatalf("the result page has images that do not load")
	}
	b.do(t, 5*time.Second, chromedp.Sleep(300*time.Millisecond))
	shoot("result.png")

	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/uploads"))
	if !eval[bool](t, b, allImages) {
		t.Fatalf("the gallery has images that do not load")
	}
	b.do(t, 5*time.Second, chromedp.Sleep(300*time.Millisecond))
	shoot("gallery.png")
}

// TestBrowserBlurhashPlaceholder: while an image cannot load (here the CDN
// is blocked), the page shows the upload's blurhash under it, in the
// image's colours.
func TestBrowserBlurhashPlaceholder(t *testing.T) {
	a := startApp(t, nil)
	b := newBrowser(t)
	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/"))
	s := b.session(t, a).uploadPhoto(t, solidJPEG(t, 400, 300, color.RGBA{200, 60, 30, 255}), "photo")
	if s.Status != "ready" || s.Blurhash == "" {
		t.Fatalf("upload %s, blurhash %q", s.Status, s.Blurhash)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: a.base + "/cdn/*", Block: true}}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/uploads/"+s.ID))
	b.waitFor(t, "a blurhash placeholder", `(() => { const i = document.querySelector('img.variant-img.blurhash'); return !!i && getComputedStyle(i).backgroundImage.startsWith('url("data:image/png'); })()`, 10*time.Second)
	avg := eval[[]float64](t, b, `(async () => {
		const i = document.querySelector('img.variant-img.blurhash');
		const src = getComputedStyle(i).backgroundImage.slice(5, -2);
		const im = new Image(); im.src = src; await im.decode();
		const c = document.createElement('canvas'); c.width = im.width; c.height = im.height;
		const g = c.getContext('2d'); g.drawImage(im, 0, 0);
		const d = g.getImageData(0, 0, c.width, c.height).data;
		let r = 0, gg = 0, bb = 0; const n = d.length / 4;
		for (let k = 0; k < d.length; k += 4) { r += d[k]; gg += d[k+1]; bb += d[k+2]; }
		return [r / n, gg / n, bb / n];
	})()`)
	want := []float64{200, 60, 30}
	for k := range want {
		if d := avg[k] - want[k]; d > 15 || d < -15 {
			t.Errorf("placeholder colour %v, want about %v", avg, want)
			break
		}
	}
}

func solidJPEG(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{c}, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
