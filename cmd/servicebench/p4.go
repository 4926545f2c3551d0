package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"uploader/internal/devstack"
)

const (
	benchToken = "bench-token"
	createBody = `{"filename":"photo.jpg","content_type":"image/jpeg","size":123456,"profile":"photo"}`
)

// target is one HTTP server under P4's load.
type target struct {
	name   string
	db     string // SQLite or Postgres, for ours
	p      *proc
	addr   string
	ours   bool
	restKB int64 // VmRSS before any load
	anonKB int64 // RssAnon then: the heap and stacks, without the binary's mapped pages
	runs   []load
}

// load is one load-generator run against a target.
type load struct {
	rps      float64
	requests int64
	bad      int64 // responses that were not 2xx, and socket errors
}

// p4 measures POST /api/uploads on SQLite and on Postgres against the
// hello-world server, runs interleaved so that the machine's noise falls on
// both alike.
func (b *bench) p4(ctx context.Context) ([]row, error) {
	hello, err := b.startHello(ctx)
	if err != nil {
		return nil, err
	}
	defer hello.p.stop()
	sqlite, err := b.startWeb(ctx, "SQLite", "sqlite:"+filepath.Join(b.dir, "web.db"))
	if err != nil {
		return nil, err
	}
	defer sqlite.p.stop()
	schema, err := b.schema(ctx, "bench_web_")
	if err != nil {
		return nil, err
	}
	pg, err := b.startWeb(ctx, "Postgres", schema.url())
	if err != nil {
		return nil, err
	}
	defer pg.p.stop()

	for _, t := range []*target{hello, sqlite, pg} {
		if err := sample(ctx, t); err != nil {
			return nil, err
		}
		if t.restKB, err = memKB(t.p.pid(), "VmRSS"); err != nil {
			return nil, err
		}
		t.anonKB, _ = memKB(t.p.pid(), "RssAnon")
		file, _ := memKB(t.p.pid(), "RssFile")
		b.logf("P4: %s at rest: RSS %s (anonymous %s, file-backed %s)", t.name, mib(t.restKB), mib(t.anonKB), mib(file))
	}
	script := filepath.Join(b.dir, "create.lua")
	if err := os.WriteFile(script, []byte(wrkScript()), 0o644); err != nil {
		return nil, err
	}
	b.logf("P4: load generator: %s", b.loadGen())
	for _, t := range []*target{hello, sqlite, pg} { // warm-up, not counted
		if _, err := b.hit(ctx, t, script, time.Second); err != nil {
			return nil, err
		}
	}
	order := []*target{}
	for range b.rounds {
		order = append(order, hello, sqlite, hello, pg)
	}
	order = append(order, hello)
	for _, t := range order {
		l, err := b.hit(ctx, t, script, b.duration)
		if err != nil {
			return nil, err
		}
		if l.bad > 0 {
			return nil, fmt.Errorf("%s answered %d of %d requests with an error status or a socket error: the figures would be wrong", t.name, l.bad, l.requests)
		}
		t.runs = append(t.runs, l)
		b.logf("P4: %-24s %8.0f req/s", t.name, l.rps)
	}
	for _, t := range []*target{sqlite, pg} {
		if t.p.exited() {
			return nil, t.p.failure("stopped during the load")
		}
	}

	ref := meanRPS(hello.runs)
	var rows []row
	for _, t := range []*target{sqlite, pg} {
		ours := meanRPS(t.runs)
		rows = append(rows, row{
			name:   "P4 POST /api/uploads, " + t.db,
			target: "≥ 0.50 × hello-world req/s", ours: fmt.Sprintf("%.0f req/s", ours), ref: fmt.Sprintf("%.0f req/s", ref),
			ratio: ours / ref, pass: ours/ref >= 0.50, judged: true,
		})
	}
	for _, t := range []*target{sqlite, pg} {
		peak, err := memKB(t.p.pid(), "VmHWM")
		if err != nil {
			return nil, err
		}
		// No reference: the hello-world process is this program, which
		// links the S3 gateway and more, so its memory says little.
		rows = append(rows,
			row{name: "web RSS at rest, " + t.db, target: "report", ours: mib(t.restKB) + " (" + mib(t.anonKB) + " anon)", ref: "—"},
			row{name: "web RSS peak (VmHWM) under P4 load, " + t.db, target: "report", ours: mib(peak), ref: "—"},
		)
	}
	return rows, nil
}

func meanRPS(ls []load) float64 {
	var s float64
	for _, l := range ls {
		s += l.rps
	}
	return s / float64(len(ls))
}

func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

func (b *bench) startHello(ctx context.Context) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := devstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProc("hello-world server", b.dir, self, []string{"hello", addr}, nil)
	if err != nil {
		return nil, err
	}
	t := &target{name: "hello-world net/http", p: p, addr: addr}
	if err := waitFor(ctx, p, 10*time.Second, "listen on "+addr, func() error { return listening(addr) }); err != nil {
		p.stop()
		return nil, err
	}
	return t, nil
}

// startWeb migrates the database and starts `uploader web` on it: the web
// dyno as production runs it, signing only (the worker is elsewhere).
func (b *bench) startWeb(ctx context.Context, db, dbURL string) (*target, error) {
	name := "uploader web (" + db + ")"
	addr, err := devstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	env := map[string]string{
		"APP_ENV": "production", "PORT": port, "APP_URL": "http://" + addr,
		"DATABASE_URL": dbURL, "REDIS_URL": b.redis.url(),
		"S3_ENDPOINT": b.s3.Endpoint, "S3_BUCKET": bucket, "S3_REGION": b.s3.Region,
		"AWS_ACCESS_KEY_ID": b.s3.AccessKey, "AWS_SECRET_ACCESS_KEY": b.s3.SecretKey,
		"API_TOKENS": benchToken, "ALLOW_ANONYMOUS": "false", "SESSION_SECRET": randomHex(32),
		"PRESIGN_PER_MINUTE": "1000000000", "PRESIGN_PER_MINUTE_IP": "1000000000",
		"LOG_LEVEL": "warn", "ENV_FILE": filepath.Join(b.dir, "no.env"),
	}
	if err := runProc(ctx, "uploader migrate", b.dir, b.bin, []string{"migrate"}, env); err != nil {
		return nil, err
	}
	p, err := startProc(name, b.dir, b.bin, []string{"web"}, env)
	if err != nil {
		return nil, err
	}
	t := &target{name: name, db: db, p: p, addr: addr, ours: true}
	if err := waitFor(ctx, p, 20*time.Second, "listen on "+addr, func() error { return listening(addr) }); err != nil {
		p.stop()
		return nil, err
	}
	return t, nil
}

// sample sends a few requests the way the load does and checks the
// answers: 201 with a signed form for ours, 200 for hello-world.
func sample(ctx context.Context, t *target) error {
	for range 5 {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+t.addr+"/api/uploads", strings.NewReader(createBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+benchToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !t.ours {
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %d", t.name, resp.StatusCode)
			}
			continue
		}
		var got struct {
			ID     string `json:"id"`
			Upload struct {
				URL    string            `json:"url"`
				Fields map[string]string `json:"fields"`
			} `json:"upload"`
		}
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &got) != nil || got.ID == "" ||
			got.Upload.URL == "" || got.Upload.Fields["policy"] == "" {
			return fmt.Errorf("%s: POST /api/uploads answered %d %s, want 201 with a signed form", t.name, resp.StatusCode, body)
		}
	}
	return nil
}

func wrkScript() string {
	return fmt.Sprintf(`-- POST /api/uploads, as a client asking for an upload permission.
wrk.method = "POST"
wrk.body = %q
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
`, createBody, benchToken)
}

func (b *bench) loadGen() string {
	if b.wrk != "" {
		return fmt.Sprintf("wrk (%s), %d connections, 2 threads", b.wrk, b.conns)
	}
	return fmt.Sprintf("the in-Go load generator (wrk not found, or -no-wrk), %d connections", b.conns)
}

// hit loads t for d with wrk, or with the in-Go generator when wrk is
// missing.
func (b *bench) hit(ctx context.Context, t *target, script string, d time.Duration) (load, error) {
	if b.wrk == "" {
		return goLoad(ctx, "http://"+t.addr+"/api/uploads", b.conns, d)
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	out, err := exec.CommandContext(ctx, b.wrk, "-t2", "-c"+strconv.Itoa(b.conns), "-d"+strconv.Itoa(secs)+"s",
		"-s", script, "http://"+t.addr+"/api/uploads").CombinedOutput()
	if ctx.Err() != nil {
		return load{}, ctx.Err()
	} else if err != nil {
		return load{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func parseWrk(out string) (load, error) {
	m := wrkRPS.FindStringSubmatch(out)
	n := wrkRequests.FindStringSubmatch(out)
	if m == nil || n == nil {
		return load{}, fmt.Errorf("wrk: cannot read its output:\n%s", out)
	}
	var l load
	l.rps, _ = strconv.ParseFloat(m[1], 64)
	l.requests, _ = strconv.ParseInt(n[1], 10, 64)
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		l.bad += v
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			v, _ := strconv.ParseInt(s, 10, 64)
			l.bad += v
		}
	}
	return l, nil
}

// goLoad is the fallback load generator: conns clients, each sending the
// create request over its own keep-alive connection as fast as answered.
func goLoad(ctx context.Context, url string, conns int, d time.Duration) (load, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(createBody))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+benchToken)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						bad.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 300 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	n := ok.Load() + bad.Load()
	return load{rps: float64(n) / time.Since(start).Seconds(), requests: n, bad: bad.Load()}, nil
}
