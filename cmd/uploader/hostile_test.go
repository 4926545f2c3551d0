package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"uploader/internal/devstack"
	"uploader/internal/sqlstore"
	"uploader/internal/upload"
)

// Tests of issue 11: what an anonymous or hostile client can do to a
// running `uploader dev`, sent from outside as such a client would.

// TestAdminRefusesCrossSiteForms: a page on another site posts a form to
// the queue dashboard; the browser attaches the admin's cached basic-auth
// credentials. The queue must not be paused. The same request from the
// dashboard's own page works, so the refusal is the origin check's.
func TestAdminRefusesCrossSiteForms(t *testing.T) {
	a := startApp(t, map[string]string{"ADMIN_USER": "admin", "ADMIN_PASSWORD": "correct-horse-battery"})
	pause := func(site, origin string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", a.base+"/admin/queues/api/queues/photos:pause", strings.NewReader("x=1"))
		req.SetBasicAuth("admin", "correct-horse-battery")
		// What a browser sends with a form another site submits.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", site)
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := pause("cross-site", "https://evil.example"); st != http.StatusForbidden {
		t.Errorf("cross-site form POST with admin credentials: %d, want 403", st)
	}
	// An older browser without Fetch Metadata: the Origin alone decides.
	if st := pause("", "https://evil.example"); st != http.StatusForbidden {
		t.Errorf("cross-origin POST (Origin only) with admin credentials: %d, want 403", st)
	}
	// asynq refuses to pause a paused queue: the dashboard's own pause
	// succeeding shows that the cross-site ones did nothing.
	if st := pause("same-origin", a.base); st != http.StatusNoContent {
		t.Errorf("same-origin pause: %d, want 204 (a cross-site form already paused the queue?)", st)
	}
	if st := pause("same-origin", a.base); st != http.StatusInternalServerError {
		t.Errorf("second pause: %d, want asynq's 500 'already paused'", st)
	}
}

// TestPresignFloodWithRotatingForwardedFor replays the flood the review
// measured: 700 presigns from one client that keeps no cookie (a new
// anonymous owner every time) and writes a different X-Forwarded-For on
// each. With no trusted proxy configured the header counts for nothing:
// most presigns are refused with 429 and Retry-After, the policies issued
// stay within one budget (and write nothing to the database: a presign's
// row is made only when its file arrives), and the upload page from the
// same address is refused as well.
func TestPresignFloodWithRotatingForwardedFor(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, map[string]string{"DATA_DIR": dir})
	start := time.Now()
	codes := map[int]int{}
	issued := map[string]bool{}
	for i := range 700 {
		req, _ := http.NewRequest("POST", a.base+"/api/uploads", strings.NewReader(`{"filename":"a.jpg","content_type":"image/jpeg","size":1000,"profile":"photo"}`))
		req.Header.Set("Content-Type", "application/json")
		ip := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("X-Real-IP", ip)
		req.Header.Set("True-Client-IP", ip)
		resp, err := http.DefaultClient.Do(req) // no cookie jar
		if err != nil {
			t.Fatal(err)
		}
		var created struct {
			ID     string `json:"id"`
			Upload struct {
				Fields map[string]string `json:"fields"`
			} `json:"upload"`
		}
		json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusCreated {
			if created.ID == "" || created.Upload.Fields["policy"] == "" {
				t.Fatalf("a 201 without an id and a policy: %+v", created)
			}
			issued[created.ID] = true
		}
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	elapsed := time.Since(start)
	t.Logf("700 presigns in %s: %v", elapsed.Round(time.Millisecond), codes)
	if codes[http.StatusCreated]+codes[http.StatusTooManyRequests] != 700 {
		t.Fatalf("answers other than 201 and 429: %v", codes)
	}
	// Anonymous sessions from one address share one owner budget: a burst
	// of PRESIGN_PER_MINUTE/4 (30), refilled at 2 a second.
	bound := 30 + int(elapsed.Seconds()*2) + 1
	if codes[http.StatusCreated] > bound {
		t.Errorf("%d presigns accepted in %s; the budget allows %d", codes[http.StatusCreated], elapsed, bound)
	}
	if codes[http.StatusTooManyRequests] < 500 {
		t.Errorf("only %d of 700 refused", codes[http.StatusTooManyRequests])
	}
	db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "uploader.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Only the accepted presigns can lead to an upload: one policy, for
	// one key, each; and none of them cost a database write.
	if len(issued) != codes[http.StatusCreated] {
		t.Errorf("%d distinct upload ids for %d accepted presigns", len(issued), codes[http.StatusCreated])
	}
	rows, err := db.UploadsByStatus(context.Background(), upload.StatusPending, time.Now().Add(time.Hour), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Errorf("%d rows written by %d presigns, want none", len(rows), codes[http.StatusCreated])
	}

	// Every view of the page signs a policy: it shares the address's budget,
	// which the flood spent.
	resp, err := http.Get(a.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(page), "try again in") {
		t.Errorf("GET / after the flood: %d, Retry-After %q; want 429 with a page saying when to retry", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// So does the no-JS completion, which creates rows.
	resp, err = http.Get(a.base + "/uploads/" + upload.NewID(time.Now()) + "/uploaded?profile=photo&exp=1&sig=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("no-JS completion after the flood: %d, want 429 with Retry-After", resp.StatusCode)
	}
}

// TestAnonymousOwnersShareTheirAddressBudget: keeping cookies does not
// help either. 100 visitors from one address each get a session (from a
// page that does not sign anything) and presign once with it: the
// sessions share the address's anonymous budget.
func TestAnonymousOwnersShareTheirAddressBudget(t *testing.T) {
	a := startApp(t, nil)
	start := time.Now()
	accepted := 0
	for range 100 {
		jar, _ := cookiejar.New(nil)
		v := &app{base: a.base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
		if st, _ := getStatus(t, v.http, a.base+"/uploads"); st != http.StatusOK {
			t.Fatalf("gallery: %d", st)
		}
		var e apiError
		switch st := v.do(t, "POST", "/api/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": 1000}, &e); st {
		case http.StatusCreated:
			accepted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("presign: %d %+v", st, e)
		}
	}
	if bound := 30 + int(time.Since(start).Seconds()*2) + 1; accepted > bound {
		t.Errorf("%d of 100 anonymous owners from one address presigned; the budget allows %d", accepted, bound)
	}
	t.Logf("%d of 100 accepted", accepted)
}

func getStatus(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTrustedProxies: which X-Forwarded-For hop names the client. Two
// requests count as one client when they share it, and as two otherwise;
// PRESIGN_PER_MINUTE_IP=4 allows one at once, so the second presign of the
// same client is refused.
func TestTrustedProxies(t *testing.T) {
	for _, c := range []struct {
		name, trusted string
		first, second string // X-Forwarded-For of two presigns
		sameClient    bool
	}{
		// Heroku's router is the peer and appends the address it was
		// reached from; what the client wrote stays on the left.
		{"heroku: the router's hop is the client", "heroku", "203.0.113.1, 198.51.100.7", "203.0.113.2, 198.51.100.7", true},
		{"heroku: spoofed left entries change nothing", "heroku", "198.51.100.7", "10.9.9.9, 198.51.100.8", false},
		// A proxy on loopback (the test's own address) in front of the app.
		{"CIDR: a trusted proxy's hop is read", "127.0.0.0/8", "192.0.2.1, 198.51.100.7", "192.0.2.2, 198.51.100.7", true},
		{"CIDR: trusted hops are skipped", "127.0.0.0/8,10.0.0.0/8", "198.51.100.7, 10.0.0.3", "198.51.100.7, 10.0.0.4", true},
		// The default: the header is the client's own word.
		{"none: the header is ignored", "", "198.51.100.7", "198.51.100.8", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := startApp(t, map[string]string{
				"API_TOKENS": "tok", "ALLOW_ANONYMOUS": "false", "PRESIGN_PER_MINUTE": "100000",
				"PRESIGN_PER_MINUTE_IP": "4", "TRUSTED_PROXIES": c.trusted,
			})
			presign := func(xff string) int {
				req, _ := http.NewRequest("POST", a.base+"/api/uploads", strings.NewReader(`{"filename":"a.jpg","content_type":"image/jpeg","size":1000}`))
				req.Header.Set("Authorization", "Bearer tok")
				req.Header.Set("X-Forwarded-For", xff)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if st := presign(c.first); st != http.StatusCreated {
				t.Fatalf("first presign: %d", st)
			}
			want := http.StatusCreated
			if c.sameClient {
				want = http.StatusTooManyRequests
			}
			if st := presign(c.second); st != want {
				t.Errorf("second presign (X-Forwarded-For %q after %q): %d, want %d", c.second, c.first, st, want)
			}
		})
	}
}

// TestSlowBodyIsCutOff: a client that sends its headers promptly, then the
// body one byte at a time, would hold its connection (and a goroutine)
// for as long as it likes. With HTTP_BODY_TIMEOUT=1s the server answers
// and hangs up while most of the body is still unsent; a request on the
// same connection before that, sent at once, is served normally.
func TestSlowBodyIsCutOff(t *testing.T) {
	a := startApp(t, map[string]string{"HTTP_BODY_TIMEOUT": "1s"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"filename":"a.jpg","content_type":"image/jpeg","size":1000,"profile":"photo"}`
	body += strings.Repeat(" ", 120-len(body))
	head := "POST /api/uploads HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	br := bufio.NewReader(conn)

	// A prompt request first: the deadline must not outlive its request.
	if _, err := io.WriteString(conn, head+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("prompt presign: %d", resp.StatusCode)
	}
	time.Sleep(1500 * time.Millisecond) // idle past the body timeout, keeping the connection

	// Then the trickle: one byte every 50 ms would take 6 s.
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatalf("the connection did not survive an idle moment: %v", err)
	}
	answered := make(chan *http.Response, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // the test's own bound, not an assertion
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Errorf("no answer to the slow body: %v", err)
			close(answered)
			return
		}
		answered <- resp
	}()
	sent := 0
	resp = nil
	ok := true
trickle:
	for sent < len(body) {
		select {
		case resp, ok = <-answered:
			break trickle
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := conn.Write([]byte{body[sent]}); err != nil {
			break // the server hung up
		}
		sent++
	}
	if resp == nil && ok {
		resp = <-answered
	}
	if resp == nil {
		return
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("cut off after %d of %d bytes: %d %s", sent, len(body), resp.StatusCode, msg)
	if sent >= len(body) {
		t.Fatalf("the whole trickled body was read (answer %d)", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "too slowly") {
		t.Errorf("slow body: %d %s; want 400 saying it arrived too slowly", resp.StatusCode, msg)
	}
	// The connection is closed after the answer.
	if _, err := br.ReadByte(); err == nil {
		t.Error("the connection stayed open after the slow body")
	}
}

// startDev runs `uploader dev` with env and the test's free ports, and
// returns its port, its log and a stop function once /healthz answers on
// loopback. It stops when the test ends, if not before.
func startDev(t *testing.T, env map[string]string) (port string, logs *syncBuffer, stop func()) {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s3addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ = net.SplitHostPort(addr)
	vars := map[string]string{"PORT": port, "DEV_S3_ADDR": s3addr, "DATA_DIR": t.TempDir(), "ENV_FILE": "/nonexistent", "LOG_LEVEL": "debug"}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	var stdout syncBuffer
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = run(ctx, []string{"dev"}, func(k string) string { return vars[k] }, &stdout, logs)
		close(done)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("uploader dev did not stop within 30 s")
		}
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("uploader dev exited: %v\n%s", runErr, logs)
		default:
		}
		if resp, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return port, logs, stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("uploader dev not healthy within 30 s\n%s", logs)
		}
	}
}

// outsideAddr is an address of this machine that is not loopback, as
// another host on the network would reach it.
func outsideAddr(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to test from")
	return ""
}

// TestDevStaysOnLoopback: `uploader dev` (an open app with no tokens)
// cannot be reached from the network unless BIND_ADDR says so, and its
// log does not carry the S3 gateway's secret key.
func TestDevStaysOnLoopback(t *testing.T) {
	outside := outsideAddr(t)
	reach := func(port string) error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(outside, port), 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}

	port, logs, stop := startDev(t, nil)
	if err := reach(port); err == nil {
		t.Errorf("uploader dev answers on %s:%s, a non-loopback address", outside, port)
	}
	log := logs.String()
	if strings.Contains(log, devstack.DevSecretKey) {
		t.Errorf("the log carries the S3 secret key:\n%s", log)
	}
	if !strings.Contains(log, devstack.DevAccessKey) {
		t.Errorf("the log does not name the S3 access key:\n%s", log)
	}

	stop() // one embedded S3 gateway per process

	t.Run("BIND_ADDR=0.0.0.0", func(t *testing.T) {
		port, _, _ := startDev(t, map[string]string{"BIND_ADDR": "0.0.0.0"})
		if err := reach(port); err != nil {
			t.Errorf("BIND_ADDR=0.0.0.0, yet %s:%s is unreachable: %v", outside, port, err)
		}
	})
}

// stream is one open GET /uploads/{id}/events, as EventSource reads it.
type stream struct {
	resp   *http.Response
	events chan status // closed when the server ends the stream
}

func openStream(t *testing.T, c *http.Client, url string) (*stream, int, apiError) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return nil, resp.StatusCode, e
	}
	s := &stream{resp: resp, events: make(chan status, 16)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "status":
				var st status
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &st) == nil {
					s.events <- st
				}
			}
		}
	}()
	return s, resp.StatusCode, apiError{}
}

// TestEventStreamsAreCapped: one visitor cannot open event streams without
// bound. Beyond EVENT_STREAMS_PER_OWNER (or, across owners, _PER_IP) a
// stream is refused with 429 and a JSON error saying to poll (upload.js
// falls back to polling on it). An admitted stream outlives
// HTTP_BODY_TIMEOUT, sees its upload through to ready, ends, and frees
// its place.
func TestEventStreamsAreCapped(t *testing.T) {
	a := startApp(t, map[string]string{
		"EVENT_STREAMS_PER_OWNER": "2", "EVENT_STREAMS_PER_IP": "3", "HTTP_BODY_TIMEOUT": "1s",
	})
	img := photo(t, 300, 200)
	var ps []presigned
	for range 3 {
		ps = append(ps, a.presign(t, "a.jpg", "image/jpeg", len(img), "avatar"))
	}
	var open []*stream
	for i, p := range ps[:2] {
		s, st, _ := openStream(t, a.http, a.base+"/uploads/"+p.ID+"/events")
		if st != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, st)
		}
		if ev := <-s.events; ev.Status != "awaiting_upload" {
			t.Fatalf("stream %d starts with %q, want awaiting_upload", i+1, ev.Status)
		}
		open = append(open, s)
	}
	_, st, e := openStream(t, a.http, a.base+"/uploads/"+ps[2].ID+"/events")
	if st != http.StatusTooManyRequests || e.Error.Code != "rate_limited" || !strings.Contains(e.Error.Message, "at most 2") {
		t.Errorf("third stream of one owner: %d %+v; want 429 rate_limited saying at most 2", st, e)
	}

	// A second visitor from the same address: one more stream fits the
	// address's 3, the next does not.
	jar, _ := cookiejar.New(nil)
	b := &app{base: a.base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var bps []presigned
	for range 2 {
		bps = append(bps, b.presign(t, "b.jpg", "image/jpeg", len(img), "avatar"))
	}
	if _, st, _ := openStream(t, b.http, b.base+"/uploads/"+bps[0].ID+"/events"); st != http.StatusOK {
		t.Fatalf("the second visitor's first stream: %d", st)
	}
	if _, st, e := openStream(t, b.http, b.base+"/uploads/"+bps[1].ID+"/events"); st != http.StatusTooManyRequests || !strings.Contains(e.Error.Message, "address") {
		t.Errorf("fourth stream from one address: %d %+v; want 429 naming the address", st, e)
	}

	// Longer than HTTP_BODY_TIMEOUT: the streams must still be open.
	time.Sleep(1500 * time.Millisecond)
	if st, body := postToS3(t, ps[0].Upload.URL, ps[0].Upload.Fields, "image/jpeg", img); st != http.StatusCreated {
		t.Fatalf("S3 POST: %d %s", st, body)
	}
	completed := time.Now()
	a.do(t, "POST", "/api/uploads/"+ps[0].ID+"/complete", nil, nil)
	var last status
	timeout := time.After(60 * time.Second) // the test's own bound
	for done := false; !done; {
		select {
		case ev, ok := <-open[0].events:
			if !ok {
				done = true
				break
			}
			last = ev
		case <-timeout:
			t.Fatalf("the stream did not end within 60 s; last status %q", last.Status)
		}
	}
	if last.Status != "ready" || len(last.Variants) == 0 {
		t.Fatalf("the stream ended on %q with %d variants, want ready with its variants", last.Status, len(last.Variants))
	}
	t.Logf("ready arrived %s after complete (the database fallback reads every 3 s)", time.Since(completed).Round(time.Millisecond))
	// The ended stream's place is free again.
	if _, st, _ := openStream(t, a.http, a.base+"/uploads/"+ps[2].ID+"/events"); st != http.StatusOK {
		t.Errorf("a stream after one ended: %d, want 200", st)
	}
}

// TestBrowserOverStreamCapStillFinishes: a person who drops more files than
// EVENT_STREAMS_PER_OWNER allows still sees every one through to its
// images: the page's EventSource gets 429 and upload.js polls instead.
func TestBrowserOverStreamCapStillFinishes(t *testing.T) {
	a := startApp(t, map[string]string{"EVENT_STREAMS_PER_OWNER": "1"})
	b := newBrowser(t)
	files := []string{
		writeFile(t, "one.jpg", photo(t, 800, 600)),
		writeFile(t, "two.jpg", photo(t, 600, 800)),
		writeFile(t, "three.jpg", photo(t, 700, 700)),
	}
	b.do(t, 15*time.Second,
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitReady(chromedp.CSS("#upload-form.is-enhanced")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), files),
	)
	b.waitFor(t, "all three uploads to finish", allDone(3), 60*time.Second)
	items := eval[[]resultItem](t, b, resultImages)
	if len(items) != 3 {
		t.Fatalf("%d items on the page, want 3", len(items))
	}
	api := b.session(t, a)
	for _, it := range items {
		checkResult(t, a, api, it, 8)
	}
	// The refused streams show as failed loads in the console; nothing else may.
	refused := 0
	b.checkConsole(t, "upload page over the stream cap", func(p consoleProblem) bool {
		if strings.Contains(p.url, "/events") || strings.Contains(p.text, "429") {
			refused++
			return true
		}
		return false
	})
	if refused == 0 {
		t.Error("no event stream was refused: the test did not reach the cap it is about")
	}
	t.Logf("%d event streams refused", refused)
}
