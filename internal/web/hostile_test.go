package web

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"uploader/internal/cdn"
	"uploader/internal/devstack"
	"uploader/internal/s3store"
	"uploader/internal/sqlstore"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// clock is a settable time source for the server under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var (
	gwOnce sync.Once
	gw     *devstack.S3
	gwErr  error
)

// gateway is the package's embedded S3 gateway, started on first use and
// left running until the test binary exits (versitygw allows one per
// process).
func gateway(t *testing.T) *devstack.S3 {
	t.Helper()
	gwOnce.Do(func() {
		var addr string
		if addr, gwErr = devstack.FreeAddr(); gwErr == nil {
			dir, _ := os.MkdirTemp("", "uploader-web-s3-*")
			gw, gwErr = devstack.StartS3(dir, addr)
		}
	})
	if gwErr != nil {
		t.Fatalf("embedded S3 gateway: %v", gwErr)
	}
	return gw
}

// testServer is the web role on a real SQLite store and the embedded S3
// gateway, behind a real HTTP server, with a clock the test sets.
func testServer(t *testing.T, cfg Config) (*httptest.Server, *Server, *sqlstore.DB, *clock) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite:"+testenv.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	g := gateway(t)
	objs, err := s3store.New(ctx, s3store.Config{Bucket: "web-test", Region: g.Region, Endpoint: g.Endpoint, AccessKey: g.AccessKey, SecretKey: g.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := objs.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if cfg.SessionSecret == nil {
		cfg.SessionSecret = []byte("0123456789abcdef0123456789abcdef")
	}
	if cfg.UploadExpires == 0 {
		cfg.UploadExpires = 10 * time.Minute
	}
	if cfg.PresignPerMinute == 0 {
		cfg.PresignPerMinute, cfg.PresignPerMinuteIP = 1<<20, 1<<20
	}
	s, err := New(Deps{
		Config: cfg, Store: db, Objects: objs, Jobs: noJobs{}, Profiles: upload.DefaultProfiles(50_000_000),
		CDN: cdn.New("http://cdn.example"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	s.now = c.now
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, s, db, c
}

func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
var formAction = regexp.MustCompile(`id="upload-form" class="upload-form" method="post" action="([^"]+)"`)

// noJSUpload loads the upload page as a browser without JavaScript does,
// posts a small JPEG with the page's form straight to S3, and returns the
// link S3 redirects to (not followed) and the upload's id.
func noJSUpload(t *testing.T, c *http.Client, base string) (link *url.URL, id string) {
	t.Helper()
	st, page := get(t, c, base+"/")
	if st != http.StatusOK {
		t.Fatalf("GET /: %d", st)
	}
	action := formAction.FindStringSubmatch(page)
	if action == nil {
		t.Fatal("the page has no upload form")
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range hiddenField.FindAllStringSubmatch(page, -1) {
		mw.WriteField(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="a.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	fw, _ := mw.CreatePart(h)
	fw.Write([]byte("\xff\xd8\xff\xe0 not much of a JPEG, but S3 does not look"))
	mw.Close()
	resp, err := c.Post(html.UnescapeString(action[1]), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("S3 answered the form with %d, want 303", resp.StatusCode)
	}
	link, err = url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return link, strings.Split(link.Path, "/")[2]
}

// TestUploadedLinkExpires: the no-JS form's redirect link carries an
// expiry. A visitor who comes back with it long after the policy lapsed
// gets a page saying so, and no row is written, although the file is in
// the bucket.
func TestUploadedLinkExpires(t *testing.T) {
	ts, _, db, clk := testServer(t, Config{AllowAnonymous: true, AppURL: "http://app.example"})
	c := browser(t)
	start := time.Now()
	ctx := context.Background()

	// Within the policy's lifetime the link completes the upload.
	link, id := noJSUpload(t, c, ts.URL)
	clk.set(start.Add(5 * time.Minute))
	resp, err := c.Get(ts.URL + link.Path + "?" + link.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/uploads/"+id {
		t.Fatalf("fresh link: %d to %q, want 303 to the upload's page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := db.Upload(ctx, id); err != nil {
		t.Fatalf("the fresh link wrote no row: %v", err)
	}

	// A link from a form used just as well, but followed two days later.
	clk.set(start)
	link, id = noJSUpload(t, c, ts.URL)
	clk.set(start.Add(48 * time.Hour))
	st, body := get(t, c, ts.URL+link.Path+"?"+link.RawQuery)
	if st != http.StatusGone {
		t.Errorf("expired link: %d, want 410", st)
	}
	if !strings.Contains(body, "This upload link expired") || !strings.Contains(body, "upload the file again") {
		t.Errorf("the expired page does not say what happened:\n%s", body)
	}
	if _, err := db.Upload(ctx, id); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("an expired link wrote a row: %v", err)
	}
}

// TestLimiterMemoryIsBounded: a flood from ever new addresses (IPv6 gives
// a client plenty) keeps at most maxKeys buckets, forgetting the one seen
// longest ago; a caller still active keeps its bucket, and so its limit.
func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(60) // a burst of 15
	l.maxKeys = 1000
	now := time.Now()
	for range 15 {
		l.allow("busy", now)
	}
	if ok, wait := l.allow("busy", now); ok || wait <= 0 {
		t.Fatalf("the 16th call in a burst of 15 was allowed (wait %s)", wait)
	}
	for i := range 100_000 {
		l.allow(fmt.Sprintf("ip:2001:db8:%x::", i), now)
		if i%500 == 0 {
			l.allow("busy", now) // still active: stays near the front
		}
	}
	if n := l.len(); n > 1000 {
		t.Errorf("%d buckets kept, want at most 1000", n)
	}
	if ok, _ := l.allow("busy", now); ok {
		t.Error("the busy caller's bucket was evicted: its limit reset")
	}
	if _, kept := l.buckets["ip:2001:db8:0::"]; kept {
		t.Error("the oldest key was kept")
	}
	// Idle callers' buckets go once they would be full again.
	l.allow("later", now.Add(3*time.Minute))
	if n := l.len(); n != 1 {
		t.Errorf("%d buckets after everyone else was quiet for 3 minutes, want 1", n)
	}
}

func TestClientIP(t *testing.T) {
	for _, c := range []struct {
		trusted, peer string
		xff           []string
		want          string
	}{
		{"", "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"", "[2001:db8::1]:5000", nil, "2001:db8::1"},
		// Heroku: the router is the peer; its hop is the last entry.
		{"heroku", "10.1.2.3:40000", []string{"6.6.6.6, 203.0.113.9"}, "203.0.113.9"},
		{"heroku", "10.1.2.3:40000", []string{"6.6.6.6", "203.0.113.9"}, "203.0.113.9"}, // two header lines
		{"heroku", "10.1.2.3:40000", nil, "10.1.2.3"},
		{"heroku", "10.1.2.3:40000", []string{"6.6.6.6, not-an-ip"}, "10.1.2.3"},
		// CIDRs: only a trusted peer's header is read, and trusted hops are skipped.
		{"10.0.0.0/8", "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"10.0.0.0/8, 172.16.0.1", "10.0.0.2:5000", []string{"6.6.6.6, 203.0.113.9, 172.16.0.1"}, "203.0.113.9"},
		{"10.0.0.0/8", "10.0.0.2:5000", []string{"10.0.0.9, 10.0.0.8"}, "10.0.0.9"},
		{"::1/128", "[::1]:5000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"127.0.0.1", "[::ffff:127.0.0.1]:5000", []string{"203.0.113.9"}, "203.0.113.9"},
	} {
		p, err := parseProxies(c.trusted)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := p.clientIP(r).String(); got != c.want {
			t.Errorf("TRUSTED_PROXIES=%q, peer %s, X-Forwarded-For %q: client %s, want %s", c.trusted, c.peer, c.xff, got, c.want)
		}
	}
	if _, err := parseProxies("10.0.0.0/33"); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
		t.Errorf("bad CIDR: %v", err)
	}
	// One IPv6 subscriber (a /64) is one client.
	a, b := ipKey(netip.MustParseAddr("2001:db8:1:2::1")), ipKey(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	if a != b || a == ipKey(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Errorf("IPv6 keys: %s %s", a, b)
	}
}
