package main

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"uploader/internal/devstack"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// TestUppySignRefusals: the signRequest endpoint signs only what an upload
// the server issued may do.
func TestUppySignRefusals(t *testing.T) {
	a := startApp(t, map[string]string{"API_TOKENS": "token-a,token-b", "ALLOW_ANONYMOUS": "false"})
	other := &app{base: a.base, token: "token-b", http: &http.Client{}}
	var big, small uppyIssued
	if st := a.do(t, "POST", "/api/uppy/uploads", map[string]any{"filename": "a.png", "content_type": "image/png", "size": 17 << 20}, &big); st != http.StatusCreated || !big.Multipart || big.Key != "incoming/"+big.ID {
		t.Fatalf("issue a large upload: %d %+v", st, big)
	}
	if st := a.do(t, "POST", "/api/uppy/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 1000}, &small); st != http.StatusCreated || small.Multipart {
		t.Fatalf("issue a small upload: %d %+v", st, small)
	}
	// A HEIC that the browser labels octet-stream (Chrome on Windows) is
	// taken as POST /api/uploads takes it: by its extension.
	var heic uppyIssued
	if st := a.do(t, "POST", "/api/uppy/uploads", map[string]any{"filename": "IMG_0001.HEIC", "content_type": "application/octet-stream", "size": 17 << 20}, &heic); st != http.StatusCreated {
		t.Fatalf("issue an octet-stream HEIC: %d, want 201", st)
	}
	var heicSigned struct {
		Headers map[string]string `json:"headers"`
	}
	if st := a.do(t, "POST", "/api/uppy/sign", map[string]any{"method": "POST", "key": heic.Key}, &heicSigned); st != 200 || heicSigned.Headers["Content-Type"] != "image/heic" {
		t.Errorf("sign the HEIC's CreateMultipartUpload: %d %+v, want Content-Type image/heic", st, heicSigned)
	}
	var created struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	if st := a.do(t, "POST", "/api/uppy/sign", map[string]any{"method": "POST", "key": big.Key}, &created); st != 200 || created.Headers["Content-Type"] != "image/png" {
		t.Fatalf("sign CreateMultipartUpload: %d %+v", st, created)
	}
	req, _ := http.NewRequest("POST", created.URL, nil)
	req.Header.Set("Content-Type", "image/png")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CreateMultipartUpload: %v %v", resp, err)
	}
	var initiated struct {
		UploadID string `xml:"UploadId"`
	}
	decodeXML(t, resp, &initiated)
	var part struct {
		URL string `json:"url"`
	}
	if st := a.do(t, "POST", "/api/uppy/sign", map[string]any{"method": "PUT", "key": big.Key, "uploadId": initiated.UploadID, "partNumber": 3}, &part); st != 200 {
		t.Fatalf("sign part 3: %d", st)
	}
	if u, _ := url.Parse(part.URL); !strings.Contains(u.Query().Get("X-Amz-SignedHeaders"), "content-length") {
		t.Errorf("part URL does not sign Content-Length: %s", part.URL)
	}

	cases := []struct {
		name   string
		who    *app
		body   map[string]any
		status int
	}{
		{"a key the server never issued", a, map[string]any{"method": "PUT", "key": upload.IncomingKey(upload.NewID(time.Now()))}, 404},
		{"a key outside incoming/", a, map[string]any{"method": "PUT", "key": "variants/x/1/w320.jpg"}, 403},
		{"another owner's key", other, map[string]any{"method": "PUT", "key": small.Key}, 404},
		{"a part beyond the declared size", a, map[string]any{"method": "PUT", "key": big.Key, "uploadId": initiated.UploadID, "partNumber": 4}, 400},
		{"another multipart upload", a, map[string]any{"method": "PUT", "key": big.Key, "uploadId": "not-the-one", "partNumber": 1}, 403},
		{"a second multipart upload", a, map[string]any{"method": "POST", "key": big.Key}, 409},
		{"complete before the parts", a, map[string]any{"method": "POST", "key": big.Key, "uploadId": initiated.UploadID}, 409},
		{"a single PUT of a large file", a, map[string]any{"method": "PUT", "key": big.Key}, 409},
		{"parts for a small file", a, map[string]any{"method": "POST", "key": small.Key}, 409},
		{"another content type", a, map[string]any{"method": "PUT", "key": small.Key, "contentType": "text/html"}, 409},
		{"DeleteObject", a, map[string]any{"method": "DELETE", "key": small.Key}, 403},
	}
	for _, c := range cases {
		var e apiError
		if st := c.who.do(t, "POST", "/api/uppy/sign", c.body, &e); st != c.status || e.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d with a message", c.name, st, e.Error, c.status)
		}
	}
	var post struct {
		Fields map[string]string `json:"fields"`
	}
	if st := a.do(t, "POST", "/api/uppy/sign", map[string]any{"method": "PUT", "key": small.Key, "contentType": "image/jpeg"}, &post); st != 200 || post.Fields["key"] != small.Key || post.Fields["Content-Type"] != "image/jpeg" {
		t.Errorf("sign PutObject: %d %+v, want a POST policy for the issued key", st, post)
	}
}

type uppyIssued struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	Multipart bool   `json:"multipart"`
	PartSize  int64  `json:"part_size"`
}

// TestUppyBrowser runs the example page (docs/uppy) in Chromium with the
// real @uppy/core and @uppy/aws-s3 v6 from npm, bundled with esbuild now:
// one file below the multipart threshold, one above it.
func TestUppyBrowser(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Require(t, "npm", err)
	}
	build := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "docs", "uppy", "main.js"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(build, "main.js"), src, 0o644)
	os.WriteFile(filepath.Join(build, "package.json"), []byte(`{"private":true}`), 0o644)
	install := exec.Command("npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "@uppy/core@6", "@uppy/aws-s3@6", "esbuild@0.25")
	install.Dir = build
	if out, err := install.CombinedOutput(); err != nil {
		testenv.Require(t, "npm registry (npm install @uppy/aws-s3@6)", err)
		t.Fatalf("npm install: %s", out)
	}
	// Debian's esbuild (0.17) predates the import attributes Uppy 6 uses:
	// the one from npm bundles it.
	bundle := exec.Command(filepath.Join(build, "node_modules", ".bin", "esbuild"), "main.js", "--bundle", "--format=iife", "--outfile=bundle.js", "--log-level=warning")
	bundle.Dir = build
	if out, err := bundle.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "uppy", "index.html"))
	if err != nil {
		t.Fatal(err)
	}

	// The page and the API on one origin: a proxy serves the page and
	// forwards the rest to the app, as a host app would.
	s3addr, _ := devstack.FreeAddr()
	var target *url.URL
	proxy := httptest.NewUnstartedServer(nil)
	a := startApp(t, map[string]string{"DEV_S3_ADDR": s3addr})
	target, _ = url.Parse(a.base)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	proxy.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(page)
		case "/bundle.js":
			http.ServeFile(w, r, filepath.Join(build, "bundle.js"))
		default:
			rp.ServeHTTP(w, r)
		}
	})
	proxy.Start()
	t.Cleanup(proxy.Close)
	if err := devS3Store(t, "http://"+s3addr, "uploads").PutCORS(context.Background(), []string{proxy.URL, a.base}); err != nil {
		t.Fatal(err)
	}

	large := noisePNGOf(t, 2500)
	if len(large) <= 16<<20 || len(large) > 20<<20 {
		t.Fatalf("the noise PNG is %d bytes; want between the 16 MiB threshold and the 20 MB photo limit", len(large))
	}
	files := []string{writeFile(t, "small.jpg", photo(t, 1200, 800)), writeFile(t, "large.png", large)}

	b := newBrowser(t)
	b.do(t, 20*time.Second,
		chromedp.Navigate(proxy.URL+"/"),
		chromedp.WaitReady(chromedp.CSS("#picker")),
		chromedp.SetUploadFiles(chromedp.CSS("#picker"), files),
	)
	b.waitFor(t, "both files ready", `(() => { const li = [...document.querySelectorAll('#files li')];
		return li.length === 2 && li.every((l) => l.dataset.state === 'ready' || l.dataset.state === 'failed'); })()`, 90*time.Second)
	items := eval[[]map[string]string](t, b, `[...document.querySelectorAll('#files li')].map((l) => ({text: l.textContent, state: l.dataset.state, multipart: l.dataset.multipart}))`)
	t.Logf("page: %v", items)
	byName := map[string]map[string]string{}
	for _, it := range items {
		byName[strings.SplitN(it["text"], ":", 2)[0]] = it
	}
	for name, wantMP := range map[string]string{"small.jpg": "false", "large.png": "true"} {
		it := byName[name]
		if it["state"] != "ready" || it["multipart"] != wantMP {
			t.Errorf("%s: %v; want ready, multipart=%s", name, it, wantMP)
		}
	}
	list := eval[map[string][]map[string]any](t, b, `fetch('/api/uploads', {credentials: 'include'}).then((r) => r.json())`)
	sizes := map[string]float64{}
	for _, u := range list["uploads"] {
		sizes[u["filename"].(string)] = u["bytes"].(float64)
	}
	if sizes["large.png"] != float64(len(large)) || len(list["uploads"]) != 2 {
		t.Errorf("uploads %v; want two, large.png of %d bytes", sizes, len(large))
	}
	b.checkConsole(t, "uppy page", nil)
}

func decodeXML(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := xml.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("S3 XML: %v", err)
	}
}
