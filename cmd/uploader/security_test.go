package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPageSecurity checks the headers every page carries, that a
// cross-site form POST is refused, and that a hostile filename is shown
// as text.
func TestPageSecurity(t *testing.T) {
	a := startApp(t, nil)
	resp, err := a.http.Get(a.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
		t.Errorf("headers: %v", resp.Header)
	}

	// A cross-site POST with the visitor's cookie (a CSRF attempt).
	req, _ := http.NewRequest("POST", a.base+"/api/uploads", strings.NewReader(`{"filename":"a.jpg","content_type":"image/jpeg","size":10}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = a.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var refusal struct {
		Error struct{ Code, Message string }
	}
	derr := json.NewDecoder(resp.Body).Decode(&refusal)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
	}
	// The API's documented error shape, with a sentence, not net/http's plain text.
	if derr != nil || refusal.Error.Code != "forbidden" || !strings.Contains(refusal.Error.Message, "another site") {
		t.Errorf("cross-site POST answered %+v (decode error %v), want the JSON error with code forbidden", refusal, derr)
	}

	// A hostile filename is stored without controls and shown escaped.
	img := photo(t, 300, 200)
	name := "<img src=x onerror=alert(1)>\u202egpj.exe"
	p := a.presign(t, name, "image/jpeg", len(img), "avatar")
	postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img)
	a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil)
	s := a.waitDone(t, p.ID)
	if strings.ContainsRune(s.Filename, '\u202e') {
		t.Errorf("filename keeps a right-to-left override: %q", s.Filename)
	}
	resp, err = a.http.Get(a.base + "/uploads/" + p.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), "<img src=x") || !strings.Contains(string(page), "&lt;img src=x") {
		t.Errorf("the upload page does not escape the filename")
	}
}

// TestRateLimitAndAdmin: presigns beyond the per-owner limit answer 429
// with Retry-After; the queue dashboard needs the admin credentials.
func TestRateLimitAndAdmin(t *testing.T) {
	a := startApp(t, map[string]string{
		"API_TOKENS": "tok", "ALLOW_ANONYMOUS": "false", "PRESIGN_PER_MINUTE": "8",
		"ADMIN_USER": "admin", "ADMIN_PASSWORD": "correct-horse-battery",
	})
	var limited bool
	for i := 0; i < 4 && !limited; i++ { // the burst is a quarter minute's worth: 2
		req, _ := http.NewRequest("POST", a.base+"/api/uploads", strings.NewReader(`{"filename":"a.jpg","content_type":"image/jpeg","size":1000}`))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = true
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		} else if resp.StatusCode != http.StatusCreated {
			t.Fatalf("presign %d: %d", i, resp.StatusCode)
		}
	}
	if !limited {
		t.Error("no 429 after 4 presigns with a limit of 8 a minute")
	}

	for _, c := range []struct {
		user, pass string
		want       int
	}{{"", "", 401}, {"admin", "wrong", 401}, {"admin", "correct-horse-battery", 200}} {
		req, _ := http.NewRequest("GET", a.base+"/admin/queues", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("admin with %q/%q: %d, want %d", c.user, c.pass, resp.StatusCode, c.want)
		}
	}
}
