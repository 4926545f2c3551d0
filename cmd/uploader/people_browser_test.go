package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"uploader/internal/devstack"
	"uploader/internal/testenv"
)

// signedInUpload opens link in b, checks it lands on the upload page signed
// in as user, uploads file and waits until it is ready. It returns the
// upload's id.
func signedInUpload(t *testing.T, b *browser, a *app, link, user, file string) string {
	t.Helper()
	b.do(t, 20*time.Second,
		chromedp.Navigate(link),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
	)
	if loc := eval[string](t, b, `location.pathname`); loc != "/" {
		t.Fatalf("the link landed on %s, want the upload page", loc)
	}
	if who := eval[string](t, b, `(document.querySelector('.nav-user') || {}).textContent || ''`); who != "Signed in as "+user {
		t.Fatalf("the page says %q, want it signed in as %s", who, user)
	}
	b.do(t, 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}))
	b.waitFor(t, "the upload to finish", allDone(1), 60*time.Second)
	items := eval[[]resultItem](t, b, resultImages)
	if len(items) != 1 {
		t.Fatalf("%d items on the page, want 1", len(items))
	}
	return checkResult(t, a, a, items[0], 8)
}

// TestBrowserSignInLink: a link signs a browser in once and lands on the
// upload page; a second use is refused; two people's browsers are apart.
func TestBrowserSignInLink(t *testing.T) {
	a := startApp(t, map[string]string{"API_TOKENS": "host-token"})
	aliceLink := a.mint(t, "alice", []string{"photo"}, "15m")
	bobLink := a.mint(t, "bob", []string{"photo"}, "15m")
	file := writeFile(t, "harbour.jpg", photo(t, 1200, 900))

	alice := newBrowser(t)
	aliceID := signedInUpload(t, alice, a, aliceLink.URL, "alice", file)

	bob := newBrowser(t)
	// Alice's link again, in another browser: refused, and nobody signed in.
	bob.do(t, 15*time.Second, chromedp.Navigate(aliceLink.URL), chromedp.WaitReady(chromedp.CSS(".error-page")))
	if text := bob.pageText(t); !strings.Contains(text, "already used") {
		t.Errorf("a second use of the link shows:\n%s", text)
	}
	bob.do(t, 15*time.Second, chromedp.Navigate(a.base+"/"), chromedp.WaitReady(chromedp.CSS("body")))
	if text := bob.pageText(t); !strings.Contains(text, "You are not signed in") {
		t.Errorf("after the refused link the upload page shows:\n%s", text)
	}
	bobID := signedInUpload(t, bob, a, bobLink.URL, "bob", file)

	// Each browser sees its own upload and not the other's.
	for _, c := range []struct {
		who     string
		b       *browser
		own, it string
	}{{"alice", alice, aliceID, bobID}, {"bob", bob, bobID, aliceID}} {
		got := eval[[]int](t, c.b, fmt.Sprintf(`Promise.all(['%s', '%s'].map((id) => fetch('/api/uploads/' + id).then((r) => r.status)))`, c.own, c.it))
		if got[0] != 200 || got[1] != 404 {
			t.Errorf("%s's browser: own upload %d, the other's %d; want 200 and 404", c.who, got[0], got[1])
		}
		c.b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/uploads"), chromedp.WaitReady(chromedp.CSS("body")))
		html := eval[string](t, c.b, `document.body.innerHTML`)
		if !strings.Contains(html, c.own) || strings.Contains(html, c.it) {
			t.Errorf("%s's gallery: want %s and not %s", c.who, c.own, c.it)
		}
	}

	// Alice's first browser is still hers after bob used his link.
	if st := eval[int](t, alice, `fetch('/api/uploads/`+aliceID+`').then((r) => r.status)`); st != 200 {
		t.Errorf("alice's browser after bob signed in: %d", st)
	}
	// Bob signs out.
	bob.do(t, 15*time.Second, chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitReady(chromedp.CSS("#message")))
	bob.do(t, 15*time.Second, chromedp.Navigate(a.base+"/"), chromedp.WaitReady(chromedp.CSS("body")))
	if text := bob.pageText(t); !strings.Contains(text, "You are not signed in") {
		t.Errorf("after signing out the upload page shows:\n%s", text)
	}
	// The probes of the other's upload answered 404, as they should.
	alice.checkConsole(t, "alice's pages", func(p consoleProblem) bool {
		return strings.Contains(p.text, "404") && strings.Contains(p.url, "/api/uploads/"+bobID)
	})
}

// hostPage serves a host app's page on its own origin (a loopback port
// other than the app's). Like a real host, its server asks the app for a
// fresh token per page view, with its API token, and puts it in the page.
func hostPage(t *testing.T, ln net.Listener, a *app, user string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Host app</title></head>
<body><h1>Your profile</h1><div id="uploader"></div>
<script src="%s/embed.js"></script><script src="/mount.js"></script></body></html>`, a.base)
	})
	mux.HandleFunc("/mount.js", func(w http.ResponseWriter, r *http.Request) {
		var l signInLink
		if st := a.do(t, "POST", "/api/sessions", map[string]any{"user": user, "profiles": []string{"photo"}, "expires_in": "15m"}, &l); st != http.StatusCreated {
			http.Error(w, "no token", 500)
			return
		}
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, "Uploader.mount(document.getElementById('uploader'), {endpoint: %q, token: %q, profile: 'photo'});\n", a.base, l.Token)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

const embedItem = `(() => {
  const li = document.querySelector('#uploader li.upload-item');
  if (!li) return {state: ''};
  return {state: li.dataset.state || '', error: (li.querySelector('.upload-error') || {}).textContent || '',
    images: [...li.querySelectorAll('img.variant-img')].map((i) => ({src: i.src, natural: i.naturalWidth}))};
})()`

type embedState struct {
	State  string `json:"state"`
	Error  string `json:"error"`
	Images []struct {
		Src     string `json:"src"`
		Natural int    `json:"natural"`
	} `json:"images"`
}

// TestBrowserEmbed mounts embed.js on a page of another origin: from an
// origin in ALLOWED_ORIGINS the upload ends ready; from any other the
// browser refuses the API's answers (CORS) and nothing is uploaded.
func TestBrowserEmbed(t *testing.T) {
	allowedLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	otherLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	allowed := "http://" + allowedLn.Addr().String()
	a := startApp(t, map[string]string{"API_TOKENS": "host-token", "ALLOWED_ORIGINS": allowed})
	hostPage(t, allowedLn, a, "embedded")
	other := hostPage(t, otherLn, a, "elsewhere")
	file := writeFile(t, "harbour.jpg", photo(t, 1200, 900))

	b := newBrowser(t)
	b.do(t, 20*time.Second,
		chromedp.Navigate(allowed+"/"),
		chromedp.WaitReady(chromedp.CSS("#uploader .uploader-embed form.is-enhanced")),
		chromedp.SetUploadFiles(chromedp.CSS("#uploader input[type=file]"), []string{file}),
	)
	defer func() {
		if t.Failed() {
			for _, p := range b.takeProblems() {
				t.Logf("console: %s", p)
			}
		}
	}()
	b.waitFor(t, "the embedded upload to finish", `(() => { const li = document.querySelector('#uploader li.upload-item');
  return !!li && (li.dataset.state === 'failed' || (li.dataset.state === 'ready' && !!li.querySelector('img.variant-img'))); })()`, 60*time.Second)
	// The images load lazily: bring each into view and wait for it.
	eval[bool](t, b, `(async () => {
  for (const img of document.querySelectorAll('#uploader img.variant-img')) {
    img.scrollIntoView({block: 'center'});
    if (!img.complete || img.naturalWidth === 0) await new Promise((r) => { img.addEventListener('load', r, {once: true}); img.addEventListener('error', r, {once: true}); setTimeout(r, 10000); });
  }
  return true;
})()`)
	got := eval[embedState](t, b, embedItem)
	if got.State != "ready" || len(got.Images) == 0 {
		t.Fatalf("embedded upload: %+v, want ready with images", got)
	}
	for _, img := range got.Images {
		if img.Natural == 0 {
			t.Errorf("image %s did not load", img.Src)
		}
		if !strings.HasPrefix(img.Src, a.base+"/cdn/variants/") {
			t.Errorf("image %s is not from the app's CDN", img.Src)
		}
	}
	var list struct {
		Uploads []status `json:"uploads"`
	}
	a.do(t, "GET", "/api/uploads?user=embedded", nil, &list)
	if len(list.Uploads) != 1 || list.Uploads[0].Status != "ready" {
		t.Errorf("the host sees %+v for its user, want one ready upload", list.Uploads)
	}
	// The profile's limits arrived: the hint says them, and a file of
	// another type is refused before anything is sent.
	if hint := eval[string](t, b, `document.querySelector('#uploader .hint').textContent`); !strings.Contains(hint, "up to 20 MB each") {
		t.Errorf("the embed's hint says %q, want the photo profile's limit", hint)
	}
	b.do(t, 10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#uploader input[type=file]"), []string{writeFile(t, "notes.txt", []byte("not an image"))}))
	b.waitFor(t, "the text file to be refused", `document.querySelectorAll('#uploader li.upload-item').length === 2`, 10*time.Second)
	if msg := eval[string](t, b, `(document.querySelectorAll('#uploader li.upload-item')[1].querySelector('.upload-error') || {}).textContent || ''`); !strings.Contains(msg, "only JPEG, PNG, GIF, WebP") || !strings.Contains(msg, "images are accepted") {
		t.Errorf("a text file in the embed: %q, want it refused in words", msg)
	}
	b.checkConsole(t, "the allowed host page", nil)

	b.do(t, 20*time.Second,
		chromedp.Navigate(other+"/"),
		chromedp.WaitReady(chromedp.CSS("#uploader .uploader-embed form.is-enhanced")),
		chromedp.SetUploadFiles(chromedp.CSS("#uploader input[type=file]"), []string{file}),
	)
	b.waitFor(t, "the refused upload to fail", `(() => { const li = document.querySelector('#uploader li.upload-item'); return !!li && li.dataset.state === 'failed'; })()`, 30*time.Second)
	if got := eval[embedState](t, b, embedItem); !strings.Contains(got.Error, "interrupted") {
		t.Errorf("the refused page shows %q, want the interrupted message", got.Error)
	}
	cors := false
	for _, p := range b.takeProblems() {
		if strings.Contains(p.text, "CORS") {
			cors = true
		}
	}
	if !cors {
		t.Errorf("the browser reported no CORS refusal")
	}
	a.do(t, "GET", "/api/uploads?user=elsewhere", nil, &list)
	if len(list.Uploads) != 0 {
		t.Errorf("a page from a refused origin created %d uploads", len(list.Uploads))
	}
}

// startProduction runs the app as a deployment does, in-process: migrate,
// setup, then the worker and web roles, with APP_ENV=production on real
// services (Redis, SQLite, the S3 gateway).
func startProduction(t *testing.T, extra map[string]string) *app {
	t.Helper()
	redisAddr, redisDB := testenv.RedisAddr(t)
	dir := t.TempDir()
	s3addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := devstack.StartS3(filepath.Join(dir, "s3"), s3addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop)
	webAddr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	port := webAddr[strings.LastIndex(webAddr, ":")+1:]
	env := map[string]string{
		"APP_ENV": "production", "APP_URL": "http://localhost:" + port, "PORT": port,
		"DATABASE_URL": "sqlite:" + filepath.Join(dir, "app.db"),
		"REDIS_URL":    fmt.Sprintf("redis://%s/%d", redisAddr, redisDB),
		"S3_ENDPOINT":  gw.Endpoint, "S3_BUCKET": "prod-uploads", "S3_REGION": gw.Region,
		"AWS_ACCESS_KEY_ID": gw.AccessKey, "AWS_SECRET_ACCESS_KEY": gw.SecretKey,
		"SESSION_SECRET": strings.Repeat("0123456789abcdef", 4),
		"ENV_FILE":       "/nonexistent", "LOG_LEVEL": "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	var out syncBuffer
	for _, cmd := range []string{"migrate", "setup"} {
		if err := run(context.Background(), []string{cmd}, getenv, &out, &out); err != nil {
			t.Fatalf("uploader %s: %v\n%s", cmd, err, out.String())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for _, role := range []string{"worker", "web"} {
		go func() { done <- run(ctx, []string{role}, getenv, &out, &out) }()
	}
	t.Cleanup(func() {
		cancel()
		for range 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("role returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("a role did not stop within 30s")
			}
		}
		if t.Failed() {
			t.Logf("log:\n%s", out.String())
		}
	})
	a := &app{base: env["APP_URL"], token: strings.Split(env["API_TOKENS"], ",")[0], http: &http.Client{Timeout: 30 * time.Second}}
	waitFor(t, "the web role to answer", 30*time.Second, func() bool {
		resp, err := http.Get(a.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return a
}

// TestProductionSignedInUpload: in production (API_TOKENS set, anonymous
// use off), a stranger's browser gets nothing, and a person signed in by
// a link uploads from the browser.
func TestProductionSignedInUpload(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			env := map[string]string{"API_TOKENS": "prod-host-token"}
			if db == "postgres" {
				env["DATABASE_URL"] = testenv.PostgresURL(t)
			}
			productionSignedInUpload(t, startProduction(t, env))
		})
	}
}

func productionSignedInUpload(t *testing.T, a *app) {
	b := newBrowser(t)
	b.do(t, 15*time.Second, chromedp.Navigate(a.base+"/"), chromedp.WaitReady(chromedp.CSS("body")))
	if text := b.pageText(t); !strings.Contains(text, "You are not signed in") {
		t.Fatalf("a stranger's browser sees:\n%s", text)
	}
	if st := eval[int](t, b, `fetch('/api/uploads', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"filename":"a.jpg","content_type":"image/jpeg","size":10}'}).then((r) => r.status)`); st != 401 {
		t.Errorf("a stranger's presign: %d, want 401", st)
	}
	b.takeProblems() // the 401s just asked for
	link := a.mint(t, "dana", []string{"photo"}, "15m")
	resp, _, _ := a.visit(t, link.URL+"x") // a mangled copy: refused, and it does not use up the real one
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("mangled link: %d, want 404", resp.StatusCode)
	}
	if resp, _, _ := a.visit(t, a.mint(t, "erik", nil, "").URL); !strings.Contains(resp.Header.Get("Set-Cookie"), "; Secure") {
		t.Errorf("production session cookie %q is not Secure", resp.Header.Get("Set-Cookie"))
	}
	id := signedInUpload(t, b, a, link.URL, "dana", writeFile(t, "harbour.jpg", photo(t, 1200, 900)))
	cookies := eval[string](t, b, `document.cookie`)
	if cookies != "" {
		t.Errorf("the session cookie is readable by scripts: %q", cookies)
	}
	var s status
	if st := a.do(t, "GET", "/api/uploads/"+id, nil, &s); st != 200 || s.Status != "ready" {
		t.Errorf("the host sees dana's upload as %d %s, want ready", st, s.Status)
	}
	b.checkConsole(t, "production upload page", nil)
}
