package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/devstack"
	"uploader/internal/jobs"
	"uploader/internal/sqlstore"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// Fault tests of issue 5 (F1–F7): outages of Redis, Postgres and S3,
// workers stopped and killed mid-job, uploads abandoned. Each asserts what
// a user would notice: every upload ends ready (or failed with a reason),
// errors are retryable 503s rather than 500s, nothing stray is published.

// ---------------------------------------------------------------- F1

// redisServer is a redis-server process of the test's own, on a fixed
// port so that it can be killed and started again empty.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
	once sync.Once
}

func startRedisServer(t *testing.T, port int) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	testenv.Require(t, "redis-server", err)
	if port == 0 {
		addr, err := devstack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		port, _ = strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	}
	r := &redisServer{t: t, port: port}
	r.cmd = exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.kill)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", r.addr(), time.Second); err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			io.WriteString(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not answer within 10s", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// kill ends the server at once (SIGKILL): nothing is saved.
func (r *redisServer) kill() {
	r.once.Do(func() {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	})
}

// TestFaultRedisRestart (F1): Redis dies in the middle of a burst of
// completes and comes back empty. Completes that hit the outage answer
// 503 with Retry-After, leave the upload processing, and succeed when
// retried; jobs lost with Redis's memory are queued again by the
// reconciler. In the normal run the reconciler is the start-up pass of a
// restarted app; with UPLOADER_FAULTS=1 the app keeps running and the
// scheduled pass (every minute) must find them.
func TestFaultRedisRestart(t *testing.T) {
	n := 24
	if faultsOn() {
		n = 60
	}
	rs := startRedisServer(t, 0)
	env := map[string]string{
		"API_TOKENS": "tok", "ALLOW_ANONYMOUS": "false", "DATA_DIR": t.TempDir(),
		"REDIS_URL":          "redis://" + rs.addr() + "/0",
		"PRESIGN_PER_MINUTE": "100000", "PRESIGN_PER_MINUTE_IP": "100000",
		"WORKER_CONCURRENCY": "1",
		// The outage is met by the clients' complete calls; the gateway's
		// bucket events would take some uploads in first (TestS3Events
		// covers that path).
		"DEV_S3_EVENTS": "false",
	}
	a := startApp(t, env)
	// The first third is large enough that the one worker is still busy
	// with them when Redis dies: their queued jobs are lost with it.
	big, small := photo(t, 2000, 1500), photo(t, 160, 120)
	third := n / 3
	flows := make([]flow, n)
	parallel(n, 16, func(i int) {
		img := small
		if i < third {
			img = big
		}
		flows[i] = uploadOnly(a, img, "avatar")
	})
	for _, f := range flows {
		if f.err != nil || f.s3 != 201 {
			t.Fatalf("upload: presign %d S3 %d %v", f.presign, f.s3, f.err)
		}
	}
	// Before the outage: accepted.
	parallel(third, 8, func(i int) { completeFlow(a, &flows[i]) })
	// During: Redis is killed while these are in flight.
	go func() { time.Sleep(20 * time.Millisecond); rs.kill() }()
	parallel(third, 8, func(i int) { completeFlow(a, &flows[third+i]) })
	rs.kill()
	// After: every complete meets the outage.
	parallel(n-2*third, 8, func(i int) { completeFlow(a, &flows[2*third+i]) })

	var refused []int
	for i, f := range flows {
		switch {
		case f.err != nil:
			t.Errorf("complete %d: %v", i, f.err)
		case f.complete == http.StatusAccepted && i < 2*third:
		case f.complete == http.StatusServiceUnavailable:
			refused = append(refused, i)
			if f.completeRetryAfter == "" {
				t.Errorf("complete %d: 503 without Retry-After", i)
			}
		default:
			t.Errorf("complete %d (%s the outage): %d, want 202 before or 503 during", i,
				map[bool]string{true: "before", false: "during"}[i < third], f.complete)
		}
	}
	if len(refused) < n-2*third {
		t.Errorf("only %d completes refused; the %d after the kill must all be", len(refused), n-2*third)
	}
	for _, i := range refused {
		if s := a.status(t, flows[i].id); s.Status != "processing" {
			t.Errorf("upload %d after a refused complete: %s, want processing (for the reconciler)", i, s.Status)
		}
	}
	var health struct {
		Checks map[string]string `json:"checks"`
	}
	if st := a.do(t, "GET", "/healthz", nil, &health); st != http.StatusServiceUnavailable || health.Checks["redis"] != "down" {
		t.Errorf("healthz during the outage: %d %v, want 503 naming redis", st, health.Checks)
	}

	rs = startRedisServer(t, rs.port) // back, and empty
	// The clients retry as told. The app's first calls may still meet
	// pooled connections to the dead server, so a second 503 is allowed.
	maxTries := 0
	for _, i := range refused {
		tries, st := retryComplete(t, a, flows[i].id, 5)
		maxTries = max(maxTries, tries)
		if st != http.StatusAccepted {
			t.Errorf("retried complete %d: %d after %d tries, want 202", i, st, tries)
		}
	}
	ids := make([]string, n)
	for i, f := range flows {
		ids[i] = f.id
	}
	// Accepted before the outage, still processing now: their jobs went
	// down with Redis, and only the reconciler can bring them back.
	lost := 0
	for i := 0; i < third; i++ {
		if a.status(t, flows[i].id).Status == "processing" {
			lost++
		}
	}
	if lost == 0 {
		t.Errorf("no job was lost with Redis: the test did not exercise the reconciler")
	}
	// A deadline, not a timing: 24 jobs take about 3 s on a quiet machine,
	// and CI runs them under -race beside the rest of the suite.
	limit := 90 * time.Second
	if faultsOn() {
		limit = 150 * time.Second // two scheduler ticks and the work
	} else {
		a.stop()
		a = startApp(t, env) // the start-up reconcile re-queues what Redis lost
	}
	start := time.Now()
	got := waitAll(t, a, ids, limit)
	ready := 0
	for _, id := range ids {
		if got[id].Status == "ready" {
			ready++
		}
	}
	t.Logf("F1: %d uploads, %d jobs lost with Redis, %d completes refused with 503 and retried (at most %d tries each); %d ready %s after the reconcile started",
		n, lost, len(refused), maxTries, ready, time.Since(start).Round(time.Second))
	if ready != n {
		t.Errorf("%d of %d ready (%s)", ready, n, tally(got, ids))
	}
}

// retryComplete calls complete as a client that honours 503 + Retry-After
// would, at most tries times, and returns the number of calls and the last
// status.
func retryComplete(t *testing.T, a *app, id string, tries int) (int, int) {
	t.Helper()
	var st int
	for n := 1; ; n++ {
		var h http.Header
		var err error
		st, h, err = tryJSON(a, "POST", "/api/uploads/"+id+"/complete", nil, nil)
		if err != nil {
			t.Errorf("complete %s: %v", id, err)
		}
		if st != http.StatusServiceUnavailable || n == tries {
			return n, st
		}
		wait, _ := strconv.Atoi(h.Get("Retry-After"))
		time.Sleep(time.Duration(min(max(wait, 1), 5)) * time.Second)
	}
}

// ---------------------------------------------------------------- F5

// TestFaultDatabaseOutage (F5): the database becomes unreachable (the
// fault proxy between the app and Postgres resets every connection, as a
// restart does) and comes back. During the outage the API answers 503
// with Retry-After, never 500; afterwards everything completes and no
// upload is left half done.
func TestFaultDatabaseOutage(t *testing.T) {
	pgURL := testenv.PostgresURL(t)
	u, _ := url.Parse(pgURL)
	proxy := startFaultProxy(t, u.Host, nil)
	u.Host = proxy.Addr()
	r := startLoadRig(t, map[string]string{"DATABASE_URL": u.String()})
	img := photo(t, 320, 240)
	done := r.uploadPhoto(t, img, "avatar")
	if done.Status != "ready" {
		t.Fatalf("before the outage: %s", done.Status)
	}
	waiting := uploadOnly(r.app, img, "avatar") // uploaded, complete not yet called
	running := uploadOnly(r.app, img, "avatar") // its job meets the outage
	if waiting.err != nil || waiting.s3 != 201 || running.err != nil || running.s3 != 201 {
		t.Fatalf("uploads: %+v %+v", waiting, running)
	}
	completeFlow(r.app, &running)
	if running.complete != 202 {
		t.Fatalf("complete: %d", running.complete)
	}

	proxy.setMode(faultReset)
	calls := []struct {
		name, method, path string
		body               any
	}{
		{"status", "GET", "/api/uploads/" + done.ID, nil},
		{"list", "GET", "/api/uploads", nil},
		{"presign", "POST", "/api/uploads", map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": len(img), "profile": "avatar"}},
		{"complete", "POST", "/api/uploads/" + waiting.id + "/complete", nil},
		{"delete", "DELETE", "/api/uploads/" + done.ID, nil},
	}
	var got500 []string
	for _, c := range calls {
		st, h, err := tryJSON(r.app, c.method, c.path, c.body, nil)
		t.Logf("F5: %s during the outage: %d, Retry-After %q", c.name, st, h.Get("Retry-After"))
		switch {
		case err != nil:
			t.Errorf("%s during the outage: %v", c.name, err)
		case c.name == "presign":
			// A single-POST presign touches no database (its row is made
			// when the file arrives), so uploads can start during the
			// outage; complete is what waits for the database.
			if st != http.StatusCreated {
				t.Errorf("presign during the outage: %d, want 201", st)
			}
		case st == http.StatusServiceUnavailable:
			if h.Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", c.name)
			}
		case st == http.StatusInternalServerError:
			got500 = append(got500, c.name)
		default:
			t.Errorf("%s during the outage: %d, want 503", c.name, st)
		}
	}
	var health struct {
		Checks map[string]string `json:"checks"`
	}
	if st := r.do(t, "GET", "/healthz", nil, &health); st != 503 || health.Checks["database"] != "down" {
		t.Errorf("healthz during the outage: %d %v, want 503 naming the database", st, health.Checks)
	}
	time.Sleep(3 * time.Second) // the worker's job meets the outage and goes back for a retry
	proxy.setMode(faultPass)

	// A client retries what was refused; the first tries may still meet a
	// dead pooled connection and get another 503.
	if tries, st := retryComplete(t, r.app, waiting.id, 5); st != 202 {
		t.Fatalf("complete after the outage: %d after %d tries", st, tries)
	}
	ids := []string{done.ID, waiting.id, running.id}
	final := waitAll(t, r.app, ids, 60*time.Second)
	for _, id := range ids {
		if s := final[id]; s.Status != "ready" || len(s.Variants) != 6 {
			t.Errorf("upload %s after the outage: %s with %d variants, want ready with 6", id, s.Status, len(s.Variants))
		}
	}
	// No half-done rows: every row of this owner is one of the three, each
	// ready with its variants (the refused presign left no row).
	var list struct {
		Uploads []status `json:"uploads"`
	}
	r.do(t, "GET", "/api/uploads?limit=100", nil, &list)
	if len(list.Uploads) != 3 {
		t.Errorf("%d uploads listed after the outage, want 3", len(list.Uploads))
	}
	for _, id := range ids {
		keys := r.keys(t, upload.VariantDir(id))
		if len(keys) != len(final[id].Variants) {
			t.Errorf("upload %s: %d objects under variants/, %d recorded", id, len(keys), len(final[id].Variants))
		}
	}
	if len(got500) > 0 {
		// Remove this skip once the web layer maps connection errors to 503.
		t.Fatalf("regression: with the database unreachable these API calls answer 500 instead of 503 + Retry-After: %v "+
			"(sqlstore returns plain wrapped driver errors, which upload.ErrorCode maps to EINTERNAL)", got500)
	}
}

// TestFaultDatabaseStall (F5, partition): the database stops answering
// without closing connections (a network partition rather than a
// restart). The API must still answer, with 503, instead of holding the
// client until it gives up; afterwards the app recovers by itself.
func TestFaultDatabaseStall(t *testing.T) {
	needFaults(t)
	pgURL := testenv.PostgresURL(t)
	u, _ := url.Parse(pgURL)
	proxy := startFaultProxy(t, u.Host, nil)
	u.Host = proxy.Addr()
	r := startLoadRig(t, map[string]string{"DATABASE_URL": u.String()})
	done := r.uploadPhoto(t, photo(t, 320, 240), "avatar")

	proxy.setMode(faultStall)
	patient := &app{base: r.base, token: r.token, http: &http.Client{Timeout: 20 * time.Second}}
	start := time.Now()
	st, h, err := tryJSON(patient, "GET", "/api/uploads/"+done.ID, nil, nil)
	took := time.Since(start)
	var health int
	hstart := time.Now()
	if resp, herr := patient.http.Get(r.base + "/healthz"); herr == nil {
		health = resp.StatusCode
		resp.Body.Close()
	}
	htook := time.Since(hstart)
	proxy.setMode(faultPass)
	t.Logf("F5 (stall): GET status answered %d after %s (err %v); /healthz %d after %s",
		st, took.Round(10*time.Millisecond), err, health, htook.Round(10*time.Millisecond))
	if health != http.StatusServiceUnavailable {
		t.Errorf("healthz with the database silent: %d, want 503", health)
	}
	waitFor(t, "the API to recover", 30*time.Second, func() bool {
		st, _, _ := tryJSON(r.app, "GET", "/api/uploads/"+done.ID, nil, nil)
		return st == http.StatusOK
	})
	if err != nil {
		t.Fatalf("regression: with the database silent (partition), an API request got no answer within 20 s (%v): "+
			"nothing bounds an API request or a query: the handlers pass the request context, which has no "+
			"deadline, to sqlstore, and a frozen pooled pgx connection waits forever. Suggested fix: a deadline "+
			"on API requests (e.g. 10 s, in internal/web/middleware.go), which pgx honours and classify() maps to 503", err)
	}
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("GET status with the database silent: %d, want 503 with Retry-After", st)
	}
}

// ---------------------------------------------------------------- F7

// TestFaultAbandonedUploads (F7): files uploaded but never completed are
// completed, and stray incoming/ objects cleaned up, by the reconciler; a
// permission never used left no row behind to clean. Its real schedule (every minute, after the policy lifetime
// plus 5 minutes' grace, orphans after an hour) is too slow for a test,
// so this runs the same jobs.Reconciler the worker runs, on the app's own
// database, bucket and queue, with its clock two hours ahead.
func TestFaultAbandonedUploads(t *testing.T) {
	r := startLoadRig(t, nil)
	ctx := context.Background()
	img := photo(t, 320, 240)

	unused := r.presign(t, "never.jpg", "image/jpeg", len(img), "avatar")
	forgotten := uploadOnly(r.app, img, "avatar") // complete never called
	if forgotten.err != nil || forgotten.s3 != 201 {
		t.Fatalf("upload: %+v", forgotten)
	}
	finished := r.uploadPhoto(t, img, "avatar")
	stray := upload.IncomingKey(upload.NewID(time.Now()))
	if err := r.s3.Put(ctx, stray, img, "image/jpeg", ""); err != nil {
		t.Fatal(err)
	}

	db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(r.dataDir, "uploader.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	enq := jobs.NewEnqueuer(r.redis)
	defer enq.Close()
	later := time.Now().Add(2 * time.Hour)
	rec := &jobs.Reconciler{Store: db, Objects: r.s3, Enqueuer: enq, Profiles: upload.DefaultProfiles(50_000_000),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return later }}
	rep, err := rec.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("F7: reconcile report %+v", rep)

	// An unused single-POST permission never had a row: nothing to
	// remove, and GET says it awaits its file (the app's clock was not
	// moved, so the permission still runs there).
	var u status
	if st := r.do(t, "GET", "/api/uploads/"+unused.ID, nil, &u); st != http.StatusOK || u.Status != "awaiting_upload" {
		t.Errorf("unused permission: GET %d %q, want 200 awaiting_upload", st, u.Status)
	}
	if s := r.waitDone(t, forgotten.id); s.Status != "ready" || len(s.Variants) != 6 {
		t.Errorf("uploaded but never completed: %s, want ready (completed by the reconciler)", s.Status)
	}
	if keys := r.keys(t, stray); len(keys) != 0 {
		t.Errorf("stray %s still there", stray)
	}
	// The worker removes the completed upload's incoming/ copy just after
	// it marks it ready.
	var left []string
	for try := 0; try < 30; try++ {
		if left = r.keys(t, upload.IncomingPrefix); len(left) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) != 0 {
		t.Errorf("incoming/ still holds %v", left)
	}
	if s := r.status(t, finished.ID); s.Status != "ready" || len(s.Variants) != 6 {
		t.Errorf("a finished upload was touched: %s", s.Status)
	}
	resp, err := http.Get(finished.Variants[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a finished upload's variant: %d", resp.StatusCode)
	}
	// The forgotten upload is usually completed by the bucket's S3 event
	// before the reconciler looks (issue 13); then it counts 0 completed.
	// Besides the stray, the reconciler (its clock two hours on) may find
	// the incoming/ copy of an upload that just turned ready, which the
	// worker deletes a moment after; deleting it first is as right, so
	// up to two of those count too.
	if rep.Expired != 0 || rep.Completed > 1 || rep.OrphansDeleted < 1 || rep.OrphansDeleted > 3 {
		t.Errorf("report %+v, want nothing expired (no pending row), at most 1 completed, the stray and at most 2 finished copies deleted", rep)
	}
}

// ---------------------------------------------------------------- F4

// TestFaultS3Errors (F4): the fault proxy sits between the app and its S3
// gateway and answers 500s, resets connections and stalls requests of one
// upload's job. Transient faults are retried and the upload ends ready;
// faults that outlast every retry end it failed with a reason. Either way
// nothing stray stays under variants/{id}/.
func TestFaultS3Errors(t *testing.T) {
	gwAddr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := devstack.StartS3(t.TempDir(), gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop) // after the app has stopped (cleanups run in reverse)
	var rule atomic.Pointer[func(*http.Request) fault]
	none := func(*http.Request) fault { return faultPass }
	rule.Store(&none)
	proxy := startFaultProxy(t, gwAddr, func(r *http.Request) fault { return (*rule.Load())(r) })
	r := startLoadRig(t, map[string]string{
		"S3_ENDPOINT": "http://" + proxy.Addr(), "S3_BUCKET": "uploads",
		"AWS_ACCESS_KEY_ID": gw.AccessKey, "AWS_SECRET_ACCESS_KEY": gw.SecretKey,
	})
	r.s3 = devS3Store(t, gw.Endpoint, "uploads") // the test's own view, not through the proxy
	img := photo(t, 320, 240)

	// prepare uploads a file and returns its id, with no fault yet.
	prepare := func(t *testing.T) string {
		t.Helper()
		f := uploadOnly(r.app, img, "avatar")
		if f.err != nil || f.s3 != 201 {
			t.Fatalf("upload: %+v", f)
		}
		return f.id
	}
	// inject applies f to the requests of upload id's job that match
	// method and key part, from the from-th to the to-th.
	inject := func(id, method, part string, f fault, from, to int64) *atomic.Int64 {
		rl, n := proxyCountingRule(func(r *http.Request) bool {
			m, key := proxyS3Op(r)
			return m == method && strings.Contains(key, id) && strings.Contains(key, part)
		}, f, from, to)
		rule.Store(&rl)
		return n
	}
	checkClean := func(t *testing.T, id string, s status) {
		t.Helper()
		recorded := map[string]bool{}
		for _, v := range s.Variants {
			recorded[v.URL[strings.Index(v.URL, "variants/"):]] = true
		}
		// Stale objects go just after the row turns ready: allow a moment.
		var keys []string
		for try := 0; try < 30; try++ {
			if keys = r.keys(t, upload.VariantDir(id)); len(keys) == len(s.Variants) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, k := range keys {
			if !recorded[k] {
				t.Errorf("stray object %s (recorded: %d variants)", k, len(s.Variants))
			}
		}
		if len(keys) != len(s.Variants) {
			t.Errorf("%d objects under variants/%s/, %d variants recorded", len(keys), id, len(s.Variants))
		}
	}
	complete := func(t *testing.T, id string) status {
		t.Helper()
		if st := r.do(t, "POST", "/api/uploads/"+id+"/complete", nil, nil); st != 202 {
			t.Fatalf("complete: %d", st)
		}
		return r.waitDone(t, id)
	}

	t.Run("500s while publishing", func(t *testing.T) {
		id := prepare(t)
		// Three 500s in a row outlast the SDK's own three attempts, so one
		// Put fails and the job runs again.
		n := inject(id, "PUT", "variants/", fault500, 2, 4)
		s := complete(t, id)
		rule.Store(&none)
		if n.Load() < 4 {
			t.Fatalf("only %d variant PUTs seen: the fault was never injected", n.Load())
		}
		if s.Status != "ready" || len(s.Variants) != 6 {
			t.Fatalf("%s %+v, want ready", s.Status, s.Error)
		}
		if !strings.Contains(s.Variants[0].URL, "/"+id+"/2/") {
			t.Errorf("variant %s: not from a second run, so the failure went unnoticed", s.Variants[0].URL)
		}
		checkClean(t, id, s)
	})

	t.Run("resets while downloading", func(t *testing.T) {
		id := prepare(t)
		n := inject(id, "GET", "incoming/", faultReset, 1, 3)
		s := complete(t, id)
		rule.Store(&none)
		if n.Load() < 4 {
			t.Errorf("only %d downloads seen: the resets were not retried", n.Load())
		}
		if s.Status != "ready" {
			t.Fatalf("%s %+v, want ready", s.Status, s.Error)
		}
		checkClean(t, id, s)
	})

	t.Run("connection dropped after a stall", func(t *testing.T) {
		id := prepare(t)
		n := inject(id, "PUT", "variants/", faultStall, 3, 3)
		if st := r.do(t, "POST", "/api/uploads/"+id+"/complete", nil, nil); st != 202 {
			t.Fatalf("complete: %d", st)
		}
		waitFor(t, "the stalled PUT", 30*time.Second, func() bool { return n.Load() >= 3 })
		time.Sleep(2 * time.Second)
		proxy.releaseStalls() // a middlebox gives up on the silent connection
		s := r.waitDone(t, id)
		rule.Store(&none)
		if s.Status != "ready" {
			t.Fatalf("%s %+v, want ready", s.Status, s.Error)
		}
		checkClean(t, id, s)
	})

	t.Run("S3 that never answers", func(t *testing.T) {
		needFaults(t)
		id := prepare(t)
		n := inject(id, "PUT", "variants/", faultStall, 3, 3)
		if st := r.do(t, "POST", "/api/uploads/"+id+"/complete", nil, nil); st != 202 {
			t.Fatalf("complete: %d", st)
		}
		waitFor(t, "the stalled PUT", 30*time.Second, func() bool { return n.Load() >= 3 })
		// A healthy run takes well under a second; 40 s is far beyond it.
		deadline := time.Now().Add(40 * time.Second)
		var s status
		for time.Now().Before(deadline) {
			if s = r.status(t, id); s.Status == "ready" {
				break
			}
			time.Sleep(time.Second)
		}
		proxy.releaseStalls()
		rule.Store(&none)
		if s.Status != "ready" {
			r.waitDone(t, id)
			t.Fatalf("regression: one S3 request that never answers held the job for over 40 s, and holds it until asynq's 5-minute task timeout: " +
				"the S3 client has no request timeout (internal/s3store/s3store.go New: config.LoadDefaultConfig " +
				"with the SDK's default HTTP client, Timeout 0)")
		}
		checkClean(t, id, s)
	})

	t.Run("500s outlasting every retry", func(t *testing.T) {
		id := prepare(t)
		// Every attempt publishes s512 and s128, then s64 always fails.
		inject(id, "PUT", "/s64.", fault500, 1, 1<<40)
		defer rule.Store(&none)
		if st := r.do(t, "POST", "/api/uploads/"+id+"/complete", nil, nil); st != 202 {
			t.Fatalf("complete: %d", st)
		}
		// MaxRetry is 8 with backoff up to 5 minutes (about 9 minutes in
		// all) and no setting lowers it; the test skips the waits by
		// running each retry as soon as it is scheduled.
		in := asynq.NewInspector(r.redis)
		defer in.Close()
		deadline := time.Now().Add(3 * time.Minute)
		var s status
		runs := 0
		for time.Now().Before(deadline) {
			if s = r.status(t, id); s.Status == "failed" || s.Status == "ready" {
				break
			}
			info, err := in.GetTaskInfo("avatars", id)
			if err == nil && info.State == asynq.TaskStateRetry {
				// Between attempts nothing of the failed ones may be left.
				if keys := r.keys(t, upload.VariantDir(id)); len(keys) != 0 {
					t.Errorf("after attempt %d: %v left under variants/", info.Retried, keys)
				}
				if err := in.RunTask("avatars", id); err == nil {
					runs++
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if s.Status != "failed" || s.Error == nil || !strings.Contains(s.Error.Message, "attempts") {
			t.Fatalf("status %s, error %+v; want failed with a reason after the last retry", s.Status, s.Error)
		}
		t.Logf("F4: failed after the last retry (%d retries run early by the test): %q", runs, s.Error.Message)
		if keys := r.keys(t, upload.VariantDir(id)); len(keys) != 0 {
			t.Errorf("a failed upload left %v under variants/", keys)
		}
	})
}

// waitFor polls cond every 50 ms until it holds or limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- F2, F3

// proc is an `uploader` process of the test's own.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr syncBuffer
	exited chan struct{}
}

// startProc runs bin with args and env (nothing inherited but PATH and
// HOME), and kills it when the test ends if it still runs.
func startProc(t *testing.T, name, bin string, env map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout = &p.stderr
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// faultsPkgDir is this package's directory, read before any test runs:
// the embedded gateway (versitygw's posix backend) changes the process's
// working directory to its data directory, which a finished test removes.
var faultsPkgDir = func() string {
	d, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return d
}()

// cluster is the production shape on one machine: separate web and worker
// processes of the real binary, a SQLite file they share, a Redis database
// of the test's own, and an S3 gateway in the test process.
type cluster struct {
	t       *testing.T
	bin     string
	env     map[string]string
	gw      *devstack.S3
	web     *app
	webProc *proc
	s3      *loadRig // for keys()
	redis   asynq.RedisClientOpt
	rule    atomic.Pointer[func(*http.Request) fault]
	faulty  *faultProxy // S3 as the first worker sees it
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	addr, db := testenv.RedisAddr(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "uploader")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = faultsPkgDir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	gwAddr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := devstack.StartS3(filepath.Join(dir, "s3"), gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop)
	c := &cluster{t: t, bin: bin, gw: gw, redis: asynq.RedisClientOpt{Addr: addr, DB: db}}
	none := func(*http.Request) fault { return faultPass }
	c.rule.Store(&none)
	c.faulty = startFaultProxy(t, gwAddr, func(r *http.Request) fault { return (*c.rule.Load())(r) })
	webAddr, _ := devstack.FreeAddr()
	port := webAddr[strings.LastIndex(webAddr, ":")+1:]
	c.env = map[string]string{
		"APP_ENV": "production", "ENV_FILE": "/nonexistent", "LOG_LEVEL": "info",
		"PORT": port, "APP_URL": "http://127.0.0.1:" + port,
		"DATABASE_URL": "sqlite:" + filepath.Join(dir, "app.db"),
		"REDIS_URL":    fmt.Sprintf("redis://%s/%d", addr, db),
		"S3_ENDPOINT":  gw.Endpoint, "S3_BUCKET": "uploads", "S3_REGION": gw.Region,
		"AWS_ACCESS_KEY_ID": gw.AccessKey, "AWS_SECRET_ACCESS_KEY": gw.SecretKey,
		"API_TOKENS": "tok", "ALLOW_ANONYMOUS": "false",
		"SESSION_SECRET":     strings.Repeat("s", 40),
		"WORKER_CONCURRENCY": "1",
	}
	st := devS3Store(t, gw.Endpoint, "uploads")
	if err := st.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.s3 = &loadRig{s3: st}
	migrate := exec.Command(bin, "migrate")
	for k, v := range c.env {
		migrate.Env = append(migrate.Env, k+"="+v)
	}
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	web := startProc(t, "web", bin, c.env, "web")
	c.webProc = web
	c.web = &app{base: c.env["APP_URL"], token: "tok", http: &http.Client{Timeout: 30 * time.Second}}
	waitFor(t, "web /healthz", 30*time.Second, func() bool {
		if !web.running() {
			t.Fatalf("web exited:\n%s", web.stderr.String())
		}
		resp, err := http.Get(c.web.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return c
}

// worker starts a worker whose S3 traffic goes through the fault proxy
// (faulty) or straight to the gateway.
func (c *cluster) worker(name string, faulty bool) *proc {
	env := map[string]string{}
	for k, v := range c.env {
		env[k] = v
	}
	if faulty {
		env["S3_ENDPOINT"] = "http://" + c.faulty.Addr()
	}
	return startProc(c.t, name, c.bin, env, "worker")
}

// stalledUpload uploads a photo through the web process and completes it
// while only worker a runs; a's third variant PUT stalls, so the job is
// caught in the middle, two variants already published.
func (c *cluster) stalledUpload(t *testing.T, a *proc) string {
	t.Helper()
	img := photo(t, 320, 240)
	p := c.web.presign(t, "mid.jpg", "image/jpeg", len(img), "avatar")
	if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != 201 {
		t.Fatalf("S3: %d %s", st, body)
	}
	rl, n := proxyCountingRule(func(r *http.Request) bool {
		m, key := proxyS3Op(r)
		return m == "PUT" && strings.HasPrefix(key, upload.VariantDir(p.ID))
	}, faultStall, 3, 1<<40)
	c.rule.Store(&rl)
	if st := c.web.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != 202 {
		t.Fatalf("complete: %d", st)
	}
	waitFor(t, "worker a mid-job", 60*time.Second, func() bool {
		if !a.running() {
			t.Fatalf("worker a exited:\n%s", a.stderr.String())
		}
		return n.Load() >= 3
	})
	return p.ID
}

// checkPublished checks that the upload is ready and that variants/{id}/
// holds exactly its recorded variants.
func (c *cluster) checkPublished(t *testing.T, id string, s status) {
	t.Helper()
	if s.Status != "ready" || len(s.Variants) != 6 {
		t.Fatalf("status %s with %d variants %+v, want ready with 6", s.Status, len(s.Variants), s.Error)
	}
	recorded := map[string]bool{}
	for _, v := range s.Variants {
		recorded[v.URL[strings.Index(v.URL, "variants/"):]] = true
	}
	// The worker removes what earlier runs left just after it marks the
	// upload ready: give it a moment.
	var stray []string
	for try := 0; try < 50; try++ {
		stray = stray[:0]
		for _, k := range c.s3.keys(t, upload.VariantDir(id)) {
			if !recorded[k] {
				stray = append(stray, k)
			}
		}
		if len(stray) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, k := range stray {
		t.Errorf("orphan %s: written by the interrupted run, never removed", k)
	}
}

// TestFaultWorkerSIGTERM (F2): a worker told to stop (Heroku's SIGTERM)
// in the middle of a job exits within 25 s, handing the job back; another
// worker finishes it.
func TestFaultWorkerSIGTERM(t *testing.T) {
	needFaults(t)
	c := startCluster(t)
	a := c.worker("worker a", true)
	id := c.stalledUpload(t, a)
	b := c.worker("worker b", false) // idle: the job is a's
	time.Sleep(time.Second)
	start := time.Now()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(40 * time.Second):
		t.Fatalf("worker a still running 40 s after SIGTERM")
	}
	exit := time.Since(start)
	t.Logf("F2: worker exited %s after SIGTERM (exit status %v)", exit.Round(10*time.Millisecond), a.cmd.ProcessState)
	if exit > 25*time.Second {
		t.Errorf("worker took %s to exit after SIGTERM; the limit is 25 s", exit)
	}
	if !a.cmd.ProcessState.Success() {
		t.Errorf("worker a exited with %v after SIGTERM, want 0", a.cmd.ProcessState)
	}
	s := c.web.waitDone(t, id)
	c.checkPublished(t, id, s)
	if !strings.Contains(b.stderr.String(), id) {
		t.Errorf("worker b never touched %s: the job was not handed over", id)
	}
}

// TestFaultWorkerSIGKILL (F3): a worker killed outright in the middle of a
// job cannot hand it back; asynq recovers it once its 30 s lease lapses
// (the recoverer runs every minute) and another worker finishes it.
func TestFaultWorkerSIGKILL(t *testing.T) {
	needFaults(t)
	c := startCluster(t)
	a := c.worker("worker a", true)
	id := c.stalledUpload(t, a)
	b := c.worker("worker b", false)
	a.cmd.Process.Kill()
	<-a.exited
	start := time.Now()
	deadline := time.Now().Add(150 * time.Second)
	var s status
	for time.Now().Before(deadline) {
		if s = c.web.status(t, id); s.Status == "ready" || s.Status == "failed" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("F3: after SIGKILL the upload was %s %s later", s.Status, time.Since(start).Round(time.Second))
	c.checkPublished(t, id, s)
	if !strings.Contains(b.stderr.String(), id) {
		t.Errorf("worker b never touched %s", id)
	}
}

// TestFaultWebSIGTERM: the web process told to stop (Heroku's SIGTERM)
// stops accepting connections and exits within 25 s, even with a client
// holding a Server-Sent Events stream open on an upload still pending.
func TestFaultWebSIGTERM(t *testing.T) {
	needFaults(t)
	c := startCluster(t)
	web := c.webProc
	img := photo(t, 320, 240)
	p := c.web.presign(t, "wait.jpg", "image/jpeg", len(img), "avatar")
	req, _ := http.NewRequest("GET", c.web.base+"/uploads/"+p.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "event: status") {
		t.Fatalf("events: %q %v", line, err)
	}
	streamEnded := make(chan time.Time, 1)
	go func() { io.Copy(io.Discard, br); streamEnded <- time.Now() }()

	start := time.Now()
	web.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the listener to close", 5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(c.web.base, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	refused := time.Since(start)
	select {
	case <-web.exited:
	case <-time.After(40 * time.Second):
		t.Fatalf("web still running 40 s after SIGTERM")
	}
	exit := time.Since(start)
	var ended time.Duration
	select {
	case at := <-streamEnded:
		ended = at.Sub(start)
	case <-time.After(5 * time.Second):
		t.Errorf("the event stream stayed open after the process exited")
	}
	t.Logf("F2 (web): new connections refused %s after SIGTERM; open event stream ended after %s; process exited after %s with %v",
		refused.Round(10*time.Millisecond), ended.Round(10*time.Millisecond), exit.Round(10*time.Millisecond), web.cmd.ProcessState)
	if exit > 25*time.Second {
		t.Errorf("web took %s to exit after SIGTERM; the limit is 25 s", exit)
	}
	if !web.cmd.ProcessState.Success() {
		// Remove this skip once open event streams end when shutdown starts.
		t.Fatalf("regression: web exited with %v after SIGTERM (want 0) because the drain ran out its 20 s: an open "+
			"/uploads/{id}/events stream does not end on shutdown (internal/web/events.go waits on the request "+
			"context, which http.Server.Shutdown does not cancel; cmd/uploader/roles.go serveHTTP returns the "+
			"drain's context.DeadlineExceeded as the process's error). Last lines:\n%s",
			web.cmd.ProcessState, lastLines(web.stderr.String(), 3))
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
