package main

import (
	"database/sql"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The people who sign in (issue 12): a host app's API token mints sign-in
// links and embed tokens for its users through POST /api/sessions.

type signInLink struct {
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      string    `json:"user"`
	Profiles  []string  `json:"profiles"`
}

// mint asks for a sign-in link as the app's API token and fails the test
// unless it gets one.
func (a *app) mint(t *testing.T, user string, profiles []string, expiresIn string) signInLink {
	t.Helper()
	var l signInLink
	body := map[string]any{"user": user, "profiles": profiles}
	if expiresIn != "" {
		body["expires_in"] = expiresIn
	}
	var e apiError
	if st := a.do(t, "POST", "/api/sessions", body, &l); st != http.StatusCreated {
		a.do(t, "POST", "/api/sessions", body, &e)
		t.Fatalf("POST /api/sessions: %d %+v", st, e)
	}
	if !strings.HasPrefix(l.URL, a.base+"/sign-in/") || l.Token == "" {
		t.Fatalf("POST /api/sessions gave %+v", l)
	}
	return l
}

// visit opens a sign-in link the way a browser does, with its own cookie
// jar, without following the redirect, and returns the answer, its body
// and a client that carries whatever cookie it set.
func (a *app) visit(t *testing.T, link string) (*http.Response, string, *app) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), &app{base: a.base, http: c}
}

// bearer is an API client using token.
func (a *app) bearer(token string) *app {
	return &app{base: a.base, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// TestSignInLinks drives POST /api/sessions and its links: scoping by user
// and profile, single use, expiry, revocation and sign-out.
func TestSignInLinks(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, map[string]string{"API_TOKENS": "host-token,other-host", "DATA_DIR": dir, "SESSION_TTL": "2h",
		"ALLOWED_ORIGINS": "https://shop.example"})
	img := photo(t, 640, 480)

	t.Run("minting", func(t *testing.T) {
		l := a.mint(t, "alice", []string{"photo"}, "15m")
		if d := time.Until(l.ExpiresAt); d < 14*time.Minute || d > 16*time.Minute {
			t.Errorf("expires_at %s is %s away, want 15m", l.ExpiresAt, d)
		}
		cases := []struct {
			name   string
			client *app
			body   map[string]any
			status int
			msg    string
		}{
			{"no user", a, map[string]any{"profiles": []string{"photo"}}, 400, `"user" is missing`},
			{"unknown profile", a, map[string]any{"user": "x", "profiles": []string{"huge"}}, 400, `Unknown profile "huge"`},
			{"too short", a, map[string]any{"user": "x", "expires_in": "1s"}, 400, "between 1m and 168h"},
			{"no token", a.bearer(""), map[string]any{"user": "x"}, 401, "API token"},
			{"an embed token", a.bearer(l.Token), map[string]any{"user": "x"}, 403, "Only an API token"},
		}
		for _, c := range cases {
			var e apiError
			if st := c.client.do(t, "POST", "/api/sessions", c.body, &e); st != c.status || !strings.Contains(e.Error.Message, c.msg) {
				t.Errorf("%s: %d %+v, want %d with %q", c.name, st, e.Error, c.status, c.msg)
			}
		}
	})

	// Alice signs in with her link; bob uses his embed token.
	aliceLink := a.mint(t, "alice", []string{"photo"}, "")
	resp, _, alice := a.visit(t, aliceLink.URL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("first use of the link: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Max-Age=7200"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("dev over http: the cookie %q is Secure, so the browser would drop it", cookie)
	}

	t.Run("a link works once", func(t *testing.T) {
		resp, body, again := a.visit(t, aliceLink.URL)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already used") {
			t.Errorf("second use: %d, want 409 saying it was already used:\n%s", resp.StatusCode, body)
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("second use set a cookie: %s", resp.Header.Get("Set-Cookie"))
		}
		if st := again.do(t, "GET", "/api/uploads", nil, nil); st != http.StatusUnauthorized {
			t.Errorf("after the refused link the API answers %d, want 401", st)
		}
		tampered := aliceLink.URL[:len(aliceLink.URL)-2] + "xx"
		if resp, body, _ := a.visit(t, tampered); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not valid") {
			t.Errorf("tampered link: %d, want 404 saying it is not valid:\n%s", resp.StatusCode, body)
		}
	})

	bobLink := a.mint(t, "bob", []string{"photo", "avatar"}, "")
	bob := a.bearer(bobLink.Token)
	aliceUp := alice.uploadPhoto(t, img, "photo")
	bobUp := bob.uploadPhoto(t, img, "avatar")
	if aliceUp.Status != "ready" || bobUp.Status != "ready" {
		t.Fatalf("uploads ended %s and %s, want ready", aliceUp.Status, bobUp.Status)
	}

	t.Run("profiles per user", func(t *testing.T) {
		var ps struct {
			Profiles []struct {
				Name     string `json:"name"`
				MaxBytes int64  `json:"max_bytes"`
			} `json:"profiles"`
		}
		if st := alice.do(t, "GET", "/api/profiles", nil, &ps); st != 200 || len(ps.Profiles) != 1 || ps.Profiles[0].Name != "photo" || ps.Profiles[0].MaxBytes != 20<<20 {
			t.Errorf("alice's profiles: %d %+v, want photo alone with its limit", st, ps.Profiles)
		}
		var e apiError
		st := alice.do(t, "POST", "/api/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 100, "profile": "avatar"}, &e)
		if st != http.StatusForbidden || !strings.Contains(e.Error.Message, "may not upload to the avatar profile") {
			t.Errorf("alice uploading an avatar: %d %+v, want 403 with a sentence", st, e.Error)
		}
		// Without a profile, the first her link allows.
		var p presigned
		if st := alice.do(t, "POST", "/api/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 100}, &p); st != http.StatusCreated {
			t.Errorf("alice without a profile: %d, want 201", st)
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		resp, err := alice.http.Get(a.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(page), `value="avatar"`) {
			t.Errorf("alice's profile picker offers avatar, which her link does not allow")
		}
		action := regexp.MustCompile(`<form[^>]*id="upload-form"[^>]*action="([^"]+)"`).FindSubmatch(page)
		if action == nil {
			t.Fatalf("no upload form on alice's page:\n%s", page)
		}
		fields := map[string]string{}
		for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`).FindAllSubmatch(page, -1) {
			fields[htmlUnescape(string(m[1]))] = htmlUnescape(string(m[2]))
		}
		body, ctype := multipartForm(fields, "image/jpeg", img)
		req, _ := http.NewRequest("POST", htmlUnescape(string(action[1])), body)
		req.Header.Set("Content-Type", ctype)
		resp, err = alice.http.Do(req) // S3 answers 303 to the app
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		next := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || next == "" {
			t.Fatalf("S3 answered %d to %q, want 303 to the app", resp.StatusCode, next)
		}
		if resp, err = alice.http.Get(next); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id, ok := strings.CutPrefix(resp.Header.Get("Location"), "/uploads/")
		if resp.StatusCode != http.StatusSeeOther || !ok {
			t.Fatalf("the app answered %d to %q, want 303 to the upload's page", resp.StatusCode, resp.Header.Get("Location"))
		}
		if s := alice.waitDone(t, id); s.Status != "ready" {
			t.Errorf("alice's no-JS upload ended %s", s.Status)
		}
		if st := bob.do(t, "GET", "/api/uploads/"+id, nil, nil); st != 404 {
			t.Errorf("bob sees alice's no-JS upload: %d", st)
		}
		if resp, err = bob.http.Get(next); err != nil { // bob replays alice's redirect
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("alice's redirect opened without her session: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("each sees their own", func(t *testing.T) {
		for _, c := range []struct {
			who  string
			as   *app
			id   string
			want int
		}{
			{"alice her own", alice, aliceUp.ID, 200},
			{"alice bob's", alice, bobUp.ID, 404},
			{"bob alice's", bob, aliceUp.ID, 404},
			{"the host alice's", a, aliceUp.ID, 200},
			{"the host bob's", a, bobUp.ID, 200},
			{"another host alice's", a.bearer("other-host"), aliceUp.ID, 404},
		} {
			if st := c.as.do(t, "GET", "/api/uploads/"+c.id, nil, nil); st != c.want {
				t.Errorf("%s: %d, want %d", c.who, st, c.want)
			}
		}
		if st := alice.do(t, "DELETE", "/api/uploads/"+bobUp.ID, nil, nil); st != 404 {
			t.Errorf("alice deleting bob's: %d, want 404", st)
		}
		ids := func(c *app, path string) []string {
			var l struct {
				Uploads []status `json:"uploads"`
			}
			if st := c.do(t, "GET", path, nil, &l); st != 200 {
				t.Fatalf("GET %s: %d", path, st)
			}
			var out []string
			for _, u := range l.Uploads {
				if u.Status == "ready" {
					out = append(out, u.ID)
				}
			}
			return out
		}
		if got := ids(alice, "/api/uploads?user=bob"); len(got) != 2 || got[1] != aliceUp.ID {
			t.Errorf("alice's list (asking for bob's) = %v, want only her two, %s the older", got, aliceUp.ID)
		}
		if got := ids(a, "/api/uploads"); len(got) != 3 {
			t.Errorf("the host's list = %v, want all three", got)
		}
		if got := ids(a, "/api/uploads?user=alice"); len(got) != 2 || got[1] != aliceUp.ID {
			t.Errorf("the host's list of alice = %v, want her two", got)
		}
		// The page lists hers only, and says who is signed in.
		resp, err := alice.http.Get(a.base + "/uploads")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "Signed in as <strong>alice</strong>") || !strings.Contains(string(page), aliceUp.ID) || strings.Contains(string(page), bobUp.ID) {
			t.Errorf("alice's gallery: want her upload only and her name")
		}
	})

	t.Run("expiry", func(t *testing.T) {
		link := a.mint(t, "frank", nil, "1m")
		_, _, frank := a.visit(t, a.mint(t, "frank", nil, "1m").URL)
		db, err := sql.Open("sqlite", filepath.Join(dir, "uploader.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// Time passes: every session of frank's lapses.
		if _, err := db.Exec(`UPDATE sessions SET expires_at = 1 WHERE user_id = 'frank'`); err != nil {
			t.Fatal(err)
		}
		if resp, body, _ := a.visit(t, link.URL); resp.StatusCode != http.StatusGone || !strings.Contains(body, "expired") {
			t.Errorf("expired link: %d, want 410 saying it expired:\n%s", resp.StatusCode, body)
		}
		var e apiError
		if st := a.bearer(link.Token).do(t, "GET", "/api/uploads", nil, &e); st != 401 || !strings.Contains(e.Error.Message, "expired") {
			t.Errorf("expired embed token: %d %+v, want 401 saying it expired", st, e.Error)
		}
		if st := frank.do(t, "GET", "/api/uploads", nil, nil); st != 401 {
			t.Errorf("expired browser session: %d, want 401", st)
		}
	})

	t.Run("revocation", func(t *testing.T) {
		unused := a.mint(t, "alice", nil, "")
		if st := alice.do(t, "GET", "/api/uploads", nil, nil); st != 200 {
			t.Fatalf("alice before revocation: %d", st)
		}
		if st := a.bearer("other-host").do(t, "DELETE", "/api/sessions/alice", nil, nil); st != 204 {
			t.Errorf("another host revoking: %d, want 204 (it has no alice)", st)
		}
		if st := alice.do(t, "GET", "/api/uploads", nil, nil); st != 200 {
			t.Errorf("another host's revocation ended this host's alice: %d", st)
		}
		if st := bob.do(t, "DELETE", "/api/sessions/alice", nil, nil); st != 403 {
			t.Errorf("bob's embed token revoking alice: %d, want 403", st)
		}
		if st := a.do(t, "DELETE", "/api/sessions/alice", nil, nil); st != 204 {
			t.Fatalf("DELETE /api/sessions/alice: %d, want 204", st)
		}
		var ended apiError
		if st := alice.do(t, "POST", "/api/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 1000, "profile": "photo"}, &ended); st != 401 {
			t.Errorf("alice's browser after revocation: %d, want 401", st)
		}
		// upload.js shows this message to alice: it must speak of her sign-in, not of API tokens.
		if m := ended.Error.Message; !strings.Contains(m, "sign-in link") || strings.Contains(m, "API token") {
			t.Errorf("alice's browser after revocation is told %q, want a sentence about signing in again", m)
		}
		if st := a.bearer(aliceLink.Token).do(t, "GET", "/api/uploads", nil, nil); st != 401 {
			t.Errorf("alice's embed token after revocation: %d, want 401", st)
		}
		if resp, _, _ := a.visit(t, unused.URL); resp.StatusCode != 404 {
			t.Errorf("alice's unused link after revocation: %d, want 404", resp.StatusCode)
		}
		if st := bob.do(t, "GET", "/api/uploads/"+bobUp.ID, nil, nil); st != 200 {
			t.Errorf("bob after alice's revocation: %d, want 200", st)
		}
	})

	t.Run("sign-out", func(t *testing.T) {
		_, _, carol := a.visit(t, a.mint(t, "carol", nil, "").URL)
		resp, err := carol.http.Post(a.base+"/sign-out", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "You are signed out") {
			t.Errorf("sign-out: %d\n%s", resp.StatusCode, body)
		}
		if st := carol.do(t, "GET", "/api/uploads", nil, nil); st != 401 {
			t.Errorf("after sign-out: %d, want 401", st)
		}
	})

	t.Run("CORS", func(t *testing.T) {
		for _, c := range []struct {
			origin string
			status int
			allow  string
		}{{"https://evil.example", 403, ""}, {"https://shop.example", 204, "https://shop.example"}} {
			req, _ := http.NewRequest("OPTIONS", a.base+"/api/uploads", nil)
			req.Header.Set("Origin", c.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status || resp.Header.Get("Access-Control-Allow-Origin") != c.allow {
				t.Errorf("preflight from %s: %d, allow-origin %q; want %d, %q", c.origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), c.status, c.allow)
			}
			if c.allow != "" && (!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") || resp.Header.Get("Access-Control-Allow-Credentials") != "") {
				t.Errorf("preflight from %s: allow-headers %q, allow-credentials %q; want Authorization and no credentials", c.origin,
					resp.Header.Get("Access-Control-Allow-Headers"), resp.Header.Get("Access-Control-Allow-Credentials"))
			}
		}
		// The request itself, as a browser on the host page sends it.
		req, _ := http.NewRequest("GET", a.base+"/api/uploads/"+bobUp.ID, nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Authorization", "Bearer "+bobLink.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Errorf("cross-origin GET with the embed token: %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		// The script keeps its URL and is served fresh within minutes.
		if resp, err = http.Get(a.base + "/embed.js"); err != nil {
			t.Fatal(err)
		}
		js, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
			resp.Header.Get("Cache-Control") != "public, max-age=300" || !strings.Contains(string(js), "function mount(") {
			t.Errorf("GET /embed.js: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	})
}

// TestAdminLinks: the admin page, behind ADMIN_USER/ADMIN_PASSWORD, mints
// the same links; a cross-site form post to it is refused.
func TestAdminLinks(t *testing.T) {
	a := startApp(t, map[string]string{"API_TOKENS": "host-token", "ADMIN_USER": "admin", "ADMIN_PASSWORD": "correct horse battery"})
	post := func(form url.Values, user, pass string, crossSite bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", a.base+"/admin/sign-in-links", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		if crossSite {
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		} else {
			req.Header.Set("Origin", a.base)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	req, _ := http.NewRequest("GET", a.base+"/admin", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /admin without credentials: %d, want 401", resp.StatusCode)
	}
	req.SetBasicAuth("admin", "correct horse battery")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `action="/admin/sign-in-links"`) {
		t.Errorf("GET /admin: %d, want the form", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("the admin page's CSP allows inline code: %q", csp)
	}

	form := url.Values{"user": {"gina"}, "profiles": {"avatar"}, "expires_in": {"1h"}}
	if st, _ := post(form, "admin", "wrong password!", false); st != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", st)
	}
	if st, _ := post(form, "admin", "correct horse battery", true); st != http.StatusForbidden {
		t.Errorf("cross-site form post: %d, want 403", st)
	}
	if st, body := post(url.Values{"user": {""}}, "admin", "correct horse battery", false); st != http.StatusBadRequest || !strings.Contains(body, "is missing") {
		t.Errorf("no user: %d, want 400 with the reason", st)
	}
	st, body := post(form, "admin", "correct horse battery", false)
	m := regexp.MustCompile(`value="(` + regexp.QuoteMeta(a.base) + `/sign-in/[^"]+)"`).FindStringSubmatch(body)
	if st != http.StatusCreated || m == nil {
		t.Fatalf("minting on the admin page: %d, no link in:\n%s", st, body)
	}
	resp, _, gina := a.visit(t, m[1])
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin's link: %d, want 303", resp.StatusCode)
	}
	if s := gina.uploadPhoto(t, photo(t, 400, 400), "avatar"); s.Status != "ready" {
		t.Errorf("gina's upload ended %s", s.Status)
	}
	var e apiError
	if st := gina.do(t, "POST", "/api/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 100, "profile": "photo"}, &e); st != http.StatusForbidden {
		t.Errorf("gina uploading a photo (her link allows avatar): %d, want 403", st)
	}
}

// TestUsersOwnBudgets: the presign limit counts each signed-in user of a
// host alone, so one busy person does not lock out the host's others.
func TestUsersOwnBudgets(t *testing.T) {
	a := startApp(t, map[string]string{"API_TOKENS": "host-token", "PRESIGN_PER_MINUTE": "4"}) // a burst of 1
	body := map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 100, "profile": "photo"}
	alice := a.bearer(a.mint(t, "alice", nil, "").Token)
	bob := a.bearer(a.mint(t, "bob", nil, "").Token)
	if st := alice.do(t, "POST", "/api/uploads", body, nil); st != http.StatusCreated {
		t.Fatalf("alice's first presign: %d", st)
	}
	var e apiError
	if st := alice.do(t, "POST", "/api/uploads", body, &e); st != http.StatusTooManyRequests {
		t.Errorf("alice's second presign within the burst: %d, want 429", st)
	}
	if st := bob.do(t, "POST", "/api/uploads", body, nil); st != http.StatusCreated {
		t.Errorf("bob after alice used her budget: %d, want 201", st)
	}
}
