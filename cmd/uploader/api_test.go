package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestAPI drives the JSON API of DESIGN.md §6 as another program would,
// with bearer tokens, and checks what such a client notices.
func TestAPI(t *testing.T) {
	a := startApp(t, map[string]string{"API_TOKENS": "token-a,token-b", "ALLOW_ANONYMOUS": "false"})
	other := &app{base: a.base, token: "token-b", http: &http.Client{}}
	img := photo(t, 800, 600)

	t.Run("auth", func(t *testing.T) {
		for _, tok := range []string{"", "wrong"} {
			anon := &app{base: a.base, token: tok, http: &http.Client{}}
			var e apiError
			if st := anon.do(t, "POST", "/api/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}, &e); st != http.StatusUnauthorized || e.Error.Code != "unauthorized" || e.Error.Message == "" {
				t.Errorf("token %q: status %d, error %+v; want 401 with a message", tok, st, e)
			}
		}
	})

	t.Run("presign takes a HEIC's type from its name when the browser declares none", func(t *testing.T) {
		for _, declared := range []string{"", "application/octet-stream"} {
			p := a.presign(t, "IMG_0001.HEIC", declared, 1000, "photo")
			if got := p.Upload.Fields["Content-Type"]; got != "image/heic" {
				t.Errorf("declared %q: policy signed for Content-Type %q, want image/heic", declared, got)
			}
		}
		var e apiError
		if st := a.do(t, "POST", "/api/uploads", map[string]any{"filename": "notes.bin", "content_type": "application/octet-stream", "size": 10}, &e); st != 415 {
			t.Errorf("octet-stream without an image extension: %d, want 415", st)
		}
	})

	t.Run("presign refusals", func(t *testing.T) {
		cases := []struct {
			name   string
			body   map[string]any
			status int
			msg    string
		}{
			{"too large", map[string]any{"filename": "big.jpg", "content_type": "image/jpeg", "size": 31 << 20}, 413, "This file is 31 MB; the limit is 20 MB."},
			{"html", map[string]any{"filename": "x.html", "content_type": "text/html", "size": 100}, 415, "This file is an HTML page; only JPEG, PNG, GIF, WebP, HEIC/HEIF and AVIF images are accepted."},
			{"svg", map[string]any{"filename": "x.svg", "content_type": "image/svg+xml", "size": 100}, 415, "SVG"},
			{"zero size", map[string]any{"filename": "x.jpg", "content_type": "image/jpeg", "size": 0}, 400, "size"},
			{"unknown profile", map[string]any{"filename": "x.jpg", "content_type": "image/jpeg", "size": 10, "profile": "huge"}, 400, "avatar, photo"},
		}
		for _, c := range cases {
			var e apiError
			st := a.do(t, "POST", "/api/uploads", c.body, &e)
			if st != c.status || !strings.Contains(e.Error.Message, c.msg) {
				t.Errorf("%s: %d %+v, want %d with %q", c.name, st, e.Error, c.status, c.msg)
			}
		}
		req, _ := http.NewRequest("POST", a.base+"/api/uploads", strings.NewReader("{not json"))
		req.Header.Set("Authorization", "Bearer token-a")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("bad JSON: %d, want 400", resp.StatusCode)
		}
	})

	t.Run("unknown and foreign ids", func(t *testing.T) {
		s := a.uploadPhoto(t, img, "photo")
		for _, path := range []string{"/api/uploads/06h1ntc0tc19szyypt4hqatym8", "/api/uploads/../../etc", "/api/uploads/x"} {
			var e apiError
			if st := a.do(t, "GET", path, nil, &e); st != 404 {
				t.Errorf("GET %s = %d, want 404", path, st)
			} else if path != "/api/uploads/x" && e.Error.Code != "not_found" && e.Error.Code != "" {
				t.Errorf("GET %s: error %+v", path, e)
			}
		}
		var e apiError
		if st := other.do(t, "GET", "/api/uploads/"+s.ID, nil, &e); st != 404 || e.Error.Code != "not_found" {
			t.Errorf("another owner's upload: %d %+v, want 404 not_found", st, e)
		}
		if st := other.do(t, "DELETE", "/api/uploads/"+s.ID, nil, nil); st != 404 {
			t.Errorf("another owner's delete: %d, want 404", st)
		}
		if st := other.do(t, "POST", "/api/uploads/"+s.ID+"/complete", nil, nil); st != 404 {
			t.Errorf("another owner's complete: %d, want 404", st)
		}
	})

	t.Run("complete before upload", func(t *testing.T) {
		p := a.presign(t, "a.jpg", "image/jpeg", len(img), "photo")
		var e apiError
		if st := a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, &e); st != http.StatusConflict || e.Error.Code != "conflict" {
			t.Errorf("complete before upload: %d %+v, want 409 conflict", st, e)
		}
		if s := a.status(t, p.ID); s.Status != "awaiting_upload" {
			t.Errorf("status %s after refused complete, want awaiting_upload", s.Status)
		}
	})

	// S3 enforces the policy; the upload stays awaiting its file and
	// complete says 409.
	t.Run("policy refusals", func(t *testing.T) {
		cases := []struct {
			name   string
			edit   func(f map[string]string)
			ct     string
			data   []byte
			status int
		}{
			{"oversize", nil, "image/jpeg", bytes.Repeat([]byte{0xff}, 5<<20+1), 400},
			{"edited key", func(f map[string]string) { f["key"] = "variants/evil.jpg" }, "image/jpeg", img, 403},
			{"other content type", func(f map[string]string) { f["Content-Type"] = "text/html" }, "text/html", img, 403},
			{"extra unsigned field", func(f map[string]string) { f["x-amz-meta-evil"] = "1" }, "image/jpeg", img, 403},
			{"empty file", nil, "image/jpeg", nil, 400},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				size := len(c.data)
				if size == 0 {
					size = 1
				}
				if size > 5<<20 {
					size = 5 << 20 // the client lies about the size
				}
				p := a.presign(t, "a.jpg", "image/jpeg", size, "avatar")
				if c.edit != nil {
					c.edit(p.Upload.Fields)
				}
				st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, c.ct, c.data)
				if st != c.status {
					t.Errorf("S3 answered %d (%s), want %d", st, body, c.status)
				}
				if st := a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != http.StatusConflict {
					t.Errorf("complete after refused upload: %d, want 409", st)
				}
				if s := a.status(t, p.ID); s.Status != "awaiting_upload" {
					t.Errorf("status %s, want awaiting_upload", s.Status)
				}
			})
		}
	})

	t.Run("complete is idempotent", func(t *testing.T) {
		p := a.presign(t, "a.jpg", "image/jpeg", len(img), "avatar")
		if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != 201 {
			t.Fatalf("S3: %d %s", st, body)
		}
		var wg sync.WaitGroup
		codes := make(chan int, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil)
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != http.StatusAccepted {
				t.Errorf("parallel complete: %d, want 202", c)
			}
		}
		s := a.waitDone(t, p.ID)
		if s.Status != "ready" || len(s.Variants) != 6 {
			t.Fatalf("status %s with %d variants, want ready with 6", s.Status, len(s.Variants))
		}
		// One run only: every key is of version 1.
		for _, v := range s.Variants {
			if !strings.Contains(v.URL, "/"+p.ID+"/1/") {
				t.Errorf("variant %s from a second run: %s", v.Name, v.URL)
			}
		}
		if st := a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != http.StatusAccepted {
			t.Errorf("complete after ready: %d", st)
		}
	})

	t.Run("not an image", func(t *testing.T) {
		html := []byte("<!doctype html><html><script>alert(1)</script></html>")
		p := a.presign(t, "cat.jpg", "image/jpeg", len(html), "photo")
		if st, _ := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", html); st != 201 {
			t.Fatalf("S3 refused: %d", st)
		}
		a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil)
		s := a.waitDone(t, p.ID)
		if s.Status != "failed" || s.Error == nil || !strings.Contains(s.Error.Message, "HTML") || len(s.Variants) != 0 {
			t.Errorf("status %s error %+v variants %d; want failed naming HTML, no variants", s.Status, s.Error, len(s.Variants))
		}
		a.refusesRetry(t, s)
	})

	t.Run("truncated image", func(t *testing.T) {
		bad := img[:len(img)/3]
		p := a.presign(t, "cut.jpg", "image/jpeg", len(bad), "photo")
		postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", bad)
		a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil)
		s := a.waitDone(t, p.ID)
		if s.Status != "failed" || s.Error == nil || s.Error.Message == "" {
			t.Errorf("status %s error %+v; want failed with a reason", s.Status, s.Error)
		}
		a.refusesRetry(t, s)
	})

	t.Run("list and delete", func(t *testing.T) {
		s := a.uploadPhoto(t, img, "avatar")
		var list struct {
			Uploads []status `json:"uploads"`
		}
		if st := a.do(t, "GET", "/api/uploads?limit=100", nil, &list); st != 200 || len(list.Uploads) == 0 || list.Uploads[0].ID != s.ID {
			t.Fatalf("list: %d, %d uploads, want the newest (%s) first", st, len(list.Uploads), s.ID)
		}
		var others struct {
			Uploads []status `json:"uploads"`
		}
		other.do(t, "GET", "/api/uploads", nil, &others)
		if len(others.Uploads) != 0 {
			t.Errorf("another owner lists %d uploads, want 0", len(others.Uploads))
		}
		if st := a.do(t, "DELETE", "/api/uploads/"+s.ID, nil, nil); st != http.StatusNoContent {
			t.Fatalf("delete: %d", st)
		}
		// The row and every object are gone. The ID's permission still
		// runs, and GET says only that: a file sent with it now would be
		// a new upload.
		var after status
		if st := a.do(t, "GET", "/api/uploads/"+s.ID, nil, &after); st != 200 || after.Status != "awaiting_upload" || len(after.Variants) != 0 {
			t.Errorf("after delete: %d %+v, want 200 awaiting_upload without variants", st, after)
		}
		list.Uploads = nil
		if a.do(t, "GET", "/api/uploads?limit=100", nil, &list); len(list.Uploads) > 0 && list.Uploads[0].ID == s.ID {
			t.Errorf("the deleted upload is still listed")
		}
		resp, err := http.Get(s.Variants[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("variant after delete: %d, want 404", resp.StatusCode)
		}
	})
}

func (a *app) status(t *testing.T, id string) status {
	t.Helper()
	var s status
	if st := a.do(t, "GET", "/api/uploads/"+id, nil, &s); st != 200 {
		t.Fatalf("GET status: %d", st)
	}
	return s
}

// TestNoJavaScript posts the server-rendered form straight to S3, as a
// browser without JavaScript does, and follows the redirects to the
// status page.
func TestNoJavaScript(t *testing.T) {
	a := startApp(t, nil)
	resp, err := a.http.Get(a.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	action := regexp.MustCompile(`<form[^>]*id="upload-form"[^>]*action="([^"]+)"`).FindSubmatch(page)
	if action == nil {
		action = regexp.MustCompile(`<form[^>]*action="([^"]+)"[^>]*id="upload-form"`).FindSubmatch(page)
	}
	if action == nil {
		t.Fatalf("no upload form on the page:\n%s", page)
	}
	fields := map[string]string{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`).FindAllSubmatch(page, -1) {
		fields[htmlUnescape(string(m[1]))] = htmlUnescape(string(m[2]))
	}
	if fields["policy"] == "" || fields["success_action_redirect"] == "" {
		t.Fatalf("form lacks policy or redirect fields: %v", fields)
	}
	// S3 answers 303 to the app, which completes the upload and sends the
	// browser on to the upload's page.
	mwBody, ctype := multipartForm(fields, "image/jpeg", photo(t, 640, 480))
	req, _ := http.NewRequestWithContext(context.Background(), "POST", htmlUnescape(string(action[1])), mwBody)
	req.Header.Set("Content-Type", ctype)
	resp, err = a.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	final, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, "/uploads/") {
		t.Fatalf("after the form: %d at %s\n%s", resp.StatusCode, resp.Request.URL, final)
	}
	id := strings.TrimPrefix(resp.Request.URL.Path, "/uploads/")
	s := a.waitDone(t, id)
	if s.Status != "ready" {
		t.Fatalf("status %s %+v", s.Status, s.Error)
	}
	resp, err = a.http.Get(a.base + "/uploads/" + id)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(html), s.Variants[0].URL) {
		t.Errorf("the status page does not show the variant URL %s", s.Variants[0].URL)
	}
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }

// TestConfigErrors checks that a wrong setting stops start-up with a
// message naming the variable.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cmd  string
		env  map[string]string
		want string
	}{
		{"web", map[string]string{"API_TOKENS": "x"}, "DATABASE_URL is not set"},
		{"worker", map[string]string{"API_TOKENS": "x"}, "S3_BUCKET is not set"},
		{"dev", map[string]string{"PORT": "http"}, "PORT"},
		{"dev", map[string]string{"MAX_PIXELS": "-1"}, "MAX_PIXELS"},
		{"frobnicate", nil, "unknown command"},
	}
	for _, c := range cases {
		env := map[string]string{"ENV_FILE": "/nonexistent"}
		for k, v := range c.env {
			env[k] = v
		}
		var out, errw bytes.Buffer
		err := run(context.Background(), []string{c.cmd}, func(k string) string { return env[k] }, &out, &errw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want one naming %q", c.cmd, c.env, err, c.want)
		}
	}
}

// refusesRetry checks that complete does not re-open a final failure: it
// answers 409 with the reason, and the upload stays failed as it was
// instead of going back to processing.
func (a *app) refusesRetry(t *testing.T, failed status) {
	t.Helper()
	if failed.Status != "failed" || failed.Error == nil {
		return // already reported
	}
	for range 2 {
		var e apiError
		st := a.do(t, "POST", "/api/uploads/"+failed.ID+"/complete", nil, &e)
		if st != http.StatusConflict || e.Error.Code != "conflict" || !strings.Contains(e.Error.Message, failed.Error.Message) {
			t.Errorf("complete after a final failure: %d %+v; want 409 conflict repeating %q", st, e, failed.Error.Message)
		}
		if now := a.status(t, failed.ID); now.Status != "failed" || now.Error == nil || now.Error.Message != failed.Error.Message {
			t.Errorf("after complete the upload is %s (%+v); want still failed with %q", now.Status, now.Error, failed.Error.Message)
		}
	}
}
