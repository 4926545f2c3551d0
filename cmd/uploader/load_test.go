package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/devstack"
	"uploader/internal/s3store"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// Load tests of issue 5 (L1–L3 and the replay rows of "bad input"). The
// big versions run only with UPLOADER_FAULTS=1 (make test-faults); the
// normal run keeps a smaller version of each so that it cannot rot.

// faultsOn reports whether the slow load and fault tests should run.
func faultsOn() bool {
	on, _ := strconv.ParseBool(os.Getenv("UPLOADER_FAULTS"))
	return on
}

// needFaults skips a test that only runs with UPLOADER_FAULTS=1.
func needFaults(t *testing.T) {
	t.Helper()
	if !faultsOn() {
		t.Skip("slow: runs with UPLOADER_FAULTS=1 (make test-faults)")
	}
}

// loadRig is an app started in-process plus direct access to its bucket
// and its Redis, for checks a client cannot make.
type loadRig struct {
	*app
	s3      *s3store.Store
	redis   asynq.RedisClientOpt
	dataDir string
	env     map[string]string
}

// startLoadRig starts `uploader dev` on a real Redis database of the test's
// own, with a known S3 address and data directory, and bearer token "tok".
func startLoadRig(t *testing.T, env map[string]string) *loadRig {
	t.Helper()
	addr, db := testenv.RedisAddr(t)
	s3addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"API_TOKENS": "tok", "ALLOW_ANONYMOUS": "false",
		"REDIS_URL":   fmt.Sprintf("redis://%s/%d", addr, db),
		"DEV_S3_ADDR": s3addr, "DATA_DIR": t.TempDir(),
		"PRESIGN_PER_MINUTE": "100000", "PRESIGN_PER_MINUTE_IP": "100000",
	}
	for k, v := range env {
		vars[k] = v
	}
	a := startApp(t, vars)
	r := &loadRig{app: a, redis: asynq.RedisClientOpt{Addr: addr, DB: db}, dataDir: vars["DATA_DIR"], env: vars}
	if vars["S3_ENDPOINT"] == "" {
		r.s3 = devS3Store(t, "http://"+s3addr, "uploads")
	}
	return r
}

// devS3Store opens the bucket of a gateway started with devstack's keys.
func devS3Store(t *testing.T, endpoint, bucket string) *s3store.Store {
	t.Helper()
	st, err := s3store.New(context.Background(), s3store.Config{
		Bucket: bucket, Region: "us-east-1", Endpoint: endpoint,
		AccessKey: devstack.DevAccessKey, SecretKey: devstack.DevSecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// keys lists the bucket's keys under prefix.
func (r *loadRig) keys(t *testing.T, prefix string) []string {
	t.Helper()
	objs, err := r.s3.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("list %s: %v", prefix, err)
	}
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Key)
	}
	return ks
}

// tryJSON is app.do for use from many goroutines: it reports errors
// instead of failing the test, and returns the answer's headers.
func tryJSON(a *app, method, path string, body, out any) (int, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, resp.Header, fmt.Errorf("%s %s: %d %s: %w", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

// tryPostS3 is postToS3 without failing the test.
func tryPostS3(client *http.Client, url string, fields map[string]string, ct string, data []byte) (int, error) {
	body, formType := multipartForm(fields, ct, data)
	resp, err := client.Post(url, formType, body)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// flow is what one simulated browser saw: the status of each step.
type flow struct {
	id                     string
	presign, s3, complete  int
	completeRetryAfter     string
	err                    error
	presignAt, completedAt time.Time
}

// s3Client posts to S3 for the simulated browsers, with a bound on time.
var s3Client = &http.Client{Timeout: 60 * time.Second}

// uploadOnly presigns and posts the file, without calling complete.
func uploadOnly(a *app, img []byte, profile string) flow {
	f := flow{presignAt: time.Now()}
	var p presigned
	f.presign, _, f.err = tryJSON(a, "POST", "/api/uploads", map[string]any{
		"filename": "load.jpg", "content_type": "image/jpeg", "size": len(img), "profile": profile,
	}, &p)
	if f.err != nil || f.presign != http.StatusCreated {
		return f
	}
	f.id = p.ID
	f.s3, f.err = tryPostS3(s3Client, p.Upload.URL, p.Upload.Fields, "image/jpeg", img)
	return f
}

// completeFlow calls complete for f's upload.
func completeFlow(a *app, f *flow) {
	st, h, err := tryJSON(a, "POST", "/api/uploads/"+f.id+"/complete", nil, nil)
	f.complete, f.err, f.completedAt = st, err, time.Now()
	if h != nil {
		f.completeRetryAfter = h.Get("Retry-After")
	}
}

// parallel runs fn(i) for i < n with at most width at a time.
func parallel(n, width int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, width)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// waitAll polls the listing until every id is ready or failed, or limit
// passes; it returns the last status of each id.
func waitAll(t *testing.T, a *app, ids []string, limit time.Duration) map[string]status {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(limit)
	for {
		got := map[string]status{}
		cursor := ""
		for page := 0; page < 30; page++ { // the API pages by at most 100
			var list struct {
				Uploads    []status `json:"uploads"`
				NextCursor string   `json:"next_cursor"`
			}
			st, _, err := tryJSON(a, "GET", "/api/uploads?limit=100&cursor="+cursor, nil, &list)
			if err != nil || st != http.StatusOK {
				t.Fatalf("list: %d %v", st, err)
			}
			for _, u := range list.Uploads {
				if want[u.ID] {
					got[u.ID] = u
				}
			}
			if list.NextCursor == "" || len(list.Uploads) == 0 {
				break
			}
			cursor = list.NextCursor
		}
		done := 0
		for _, id := range ids {
			if s, ok := got[id]; ok && (s.Status == "ready" || s.Status == "failed") {
				done++
			}
		}
		if done == len(ids) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// tally counts statuses, for messages.
func tally(m map[string]status, ids []string) string {
	c := map[string]int{}
	for _, id := range ids {
		s, ok := m[id]
		if !ok {
			c["missing"]++
			continue
		}
		c[s.Status]++
	}
	var parts []string
	for k, v := range c {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// L1: many browsers at once, each presigning, posting to S3 and
// completing: every upload ends ready and no request answers 5xx.
func TestLoadConcurrentUploads(t *testing.T) {
	n := 50
	if faultsOn() {
		n = 200
	}
	r := startLoadRig(t, nil)
	img := photo(t, 160, 120) // small: the test is about the service, not the codec
	flows := make([]flow, n)
	start := time.Now()
	parallel(n, n, func(i int) {
		flows[i] = uploadOnly(r.app, img, "avatar")
		if flows[i].err == nil && flows[i].s3 == http.StatusCreated {
			completeFlow(r.app, &flows[i])
		}
	})
	accepted := time.Since(start)
	var ids []string
	var fiveXX, errs int
	for _, f := range flows {
		switch {
		case f.err != nil:
			errs++
			t.Errorf("upload %s: %v", f.id, f.err)
		case f.presign >= 500 || f.s3 >= 500 || f.complete >= 500:
			fiveXX++
			t.Errorf("upload %s: presign %d, S3 %d, complete %d", f.id, f.presign, f.s3, f.complete)
		case f.presign != 201 || f.s3 != 201 || f.complete != 202:
			t.Errorf("upload %s: presign %d, S3 %d, complete %d; want 201, 201, 202", f.id, f.presign, f.s3, f.complete)
		default:
			ids = append(ids, f.id)
		}
	}
	got := waitAll(t, r.app, ids, 3*time.Minute)
	elapsed := time.Since(start)
	ready := 0
	for _, id := range ids {
		if s := got[id]; s.Status == "ready" && len(s.Variants) == 6 {
			ready++
		}
	}
	t.Logf("L1: %d concurrent uploads: all accepted in %s, %d ready in %s; %d 5xx, %d transport errors",
		n, accepted.Round(time.Millisecond), ready, elapsed.Round(time.Millisecond), fiveXX, errs)
	if ready != n {
		t.Errorf("%d of %d uploads ready with 6 variants (%s)", ready, n, tally(got, ids))
	}
}

// L2: a burst of completes queues far more jobs than the worker runs at
// once; memory stays bounded while the queue drains.
func TestLoadBurstBoundedMemory(t *testing.T) {
	n := 100
	if faultsOn() {
		n = 1000
	}
	// What this process (app, gateway and test clients together) may keep
	// in use: queued jobs wait in Redis, not in memory, so the peak must
	// not grow with the burst (about 25 MB for 100 or 1,000 jobs here).
	const heapBound = 128 << 20
	r := startLoadRig(t, nil)
	img := photo(t, 64, 48)
	flows := make([]flow, n)
	parallel(n, 32, func(i int) { flows[i] = uploadOnly(r.app, img, "avatar") })
	for _, f := range flows {
		if f.err != nil || f.presign != 201 || f.s3 != 201 {
			t.Fatalf("preparing the burst: presign %d, S3 %d, %v", f.presign, f.s3, f.err)
		}
	}

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for i := 0; i < 20*600; i++ { // at most 10 minutes of samples
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	parallel(n, 64, func(i int) { completeFlow(r.app, &flows[i]) })
	queued := time.Since(start)
	var ids []string
	for _, f := range flows {
		if f.err != nil || f.complete != 202 {
			t.Errorf("complete %s: %d %v", f.id, f.complete, f.err)
			continue
		}
		ids = append(ids, f.id)
	}
	got := waitAll(t, r.app, ids, 8*time.Minute)
	close(stop)
	<-sampled
	ready := 0
	for _, id := range ids {
		if got[id].Status == "ready" {
			ready++
		}
	}
	t.Logf("L2: %d jobs queued in %s, %d ready after %s; peak HeapInuse %d MB (bound %d MB)",
		n, queued.Round(time.Millisecond), ready, time.Since(start).Round(time.Second), peak.Load()>>20, heapBound>>20)
	if ready != n {
		t.Errorf("%d of %d ready (%s)", ready, n, tally(got, ids))
	}
	if peak.Load() > heapBound {
		t.Errorf("peak HeapInuse %d MB, over the bound of %d MB", peak.Load()>>20, heapBound>>20)
	}
}

// L3 and "100 replays of complete": however often and however
// concurrently complete is called, one task runs and one set of variants
// is published.
func TestLoadCompleteStorm(t *testing.T) {
	r := startLoadRig(t, nil)
	img := photo(t, 320, 240)
	f := uploadOnly(r.app, img, "avatar")
	if f.err != nil || f.s3 != 201 {
		t.Fatalf("upload: %d %d %v", f.presign, f.s3, f.err)
	}
	codes := make([]int, 50)
	parallel(50, 50, func(i int) {
		codes[i], _, _ = tryJSON(r.app, "POST", "/api/uploads/"+f.id+"/complete", nil, nil)
	})
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("parallel complete %d: %d, want 202", i, c)
		}
	}
	s := r.waitDone(t, f.id)
	if s.Status != "ready" || len(s.Variants) != 6 {
		t.Fatalf("status %s with %d variants, want ready with 6", s.Status, len(s.Variants))
	}
	// 100 replays after the job ran: each answers 202 and none runs it again.
	for i := 0; i < 100; i++ {
		var c completeResponse
		if st, _, err := tryJSON(r.app, "POST", "/api/uploads/"+f.id+"/complete", nil, &c); err != nil || st != 202 || c.Status != "ready" {
			t.Fatalf("replay %d: %d %+v %v, want 202 ready", i, st, c, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // room for a wrongly queued second run to start
	after := r.status(t, f.id)
	want := map[string]bool{}
	for _, v := range after.Variants {
		want[upload.VariantDir(f.id)+"1/"+v.Name] = true
		if !strings.Contains(v.URL, "/"+f.id+"/1/") {
			t.Errorf("variant %s is not of the first run: %s", v.Name, v.URL)
		}
	}
	keys := r.keys(t, upload.VariantDir(f.id))
	if len(keys) != len(after.Variants) {
		t.Errorf("objects under %s: %v; want exactly the %d recorded variants", upload.VariantDir(f.id), keys, len(after.Variants))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected object %s", k)
		}
	}
	in := asynq.NewInspector(r.redis)
	defer in.Close()
	qi, err := in.GetQueueInfo("avatars")
	if err != nil {
		t.Fatal(err)
	}
	if qi.ProcessedTotal != 1 || qi.Size != 0 {
		t.Errorf("queue avatars: %d tasks processed, %d left; want exactly 1 and 0", qi.ProcessedTotal, qi.Size)
	}
}

type completeResponse struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Bad input: a signed form posted twice only ever writes its own key
// (incoming/{id}); the upload completes once, from the last file sent.
func TestLoadReplayedPolicy(t *testing.T) {
	r := startLoadRig(t, nil)
	first, second := photo(t, 300, 200), photo(t, 200, 300)
	size := max(len(first), len(second))
	p := r.presign(t, "twice.jpg", "image/jpeg", size, "avatar")
	before := r.keys(t, "")
	for i, img := range [][]byte{first, second} {
		if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != 201 {
			t.Fatalf("post %d: %d %s", i+1, st, body)
		}
	}
	after := r.keys(t, "")
	if added := diffKeys(after, before); len(added) != 1 || added[0] != upload.IncomingKey(p.ID) {
		t.Fatalf("the replayed form wrote %v; want only %s", added, upload.IncomingKey(p.ID))
	}
	if st := r.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != 202 {
		t.Fatalf("complete: %d", st)
	}
	s := r.waitDone(t, p.ID)
	if s.Status != "ready" || s.Width != 200 || s.Height != 300 {
		t.Fatalf("status %s %dx%d, want ready from the second file (200x300)", s.Status, s.Width, s.Height)
	}
	// Replaying the form once more after the job ran (the policy still
	// holds) must not change what is published.
	if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", first); st != 201 {
		t.Fatalf("third post: %d %s", st, body)
	}
	if st := r.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != 202 {
		t.Fatalf("complete after replay: %d", st)
	}
	again := r.status(t, p.ID)
	if again.Status != "ready" || again.Width != 200 || len(again.Variants) != len(s.Variants) || again.Variants[0].URL != s.Variants[0].URL {
		t.Errorf("after a replay: %s %dx%d %d variants, want the first result unchanged", again.Status, again.Width, again.Height, len(again.Variants))
	}
	var list struct {
		Uploads []status `json:"uploads"`
	}
	r.do(t, "GET", "/api/uploads", nil, &list)
	if len(list.Uploads) != 1 {
		t.Errorf("%d uploads listed, want 1", len(list.Uploads))
	}
	for _, k := range diffKeys(r.keys(t, ""), before) {
		if !strings.HasSuffix(k, p.ID) && !strings.Contains(k, "/"+p.ID+"/") {
			t.Errorf("object %s belongs to no upload of this form", k)
		}
	}
}

// Bad input: a form posted after its policy expired is refused by S3, and
// complete then answers 410 Gone. UPLOAD_EXPIRES is at least 30 s, so
// this waits 31 s.
func TestLoadExpiredPolicy(t *testing.T) {
	needFaults(t)
	r := startLoadRig(t, map[string]string{"UPLOAD_EXPIRES": "30s"})
	img := photo(t, 300, 200)
	p := r.presign(t, "late.jpg", "image/jpeg", len(img), "avatar")
	time.Sleep(time.Until(p.ExpiresAt) + time.Second)
	if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != http.StatusForbidden {
		t.Errorf("post after expiry: %d %s, want 403", st, body)
	}
	if keys := r.keys(t, upload.IncomingKey(p.ID)); len(keys) != 0 {
		t.Errorf("S3 stored %v after the policy expired", keys)
	}
	var e apiError
	if st := r.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, &e); st != http.StatusGone || e.Error.Code == "" {
		t.Errorf("complete after expiry: %d %+v, want 410 with a code", st, e)
	}
}

// diffKeys returns the keys of after that are not in before.
func diffKeys(after, before []string) []string {
	seen := map[string]bool{}
	for _, k := range before {
		seen[k] = true
	}
	var out []string
	for _, k := range after {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}
