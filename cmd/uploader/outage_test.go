package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"uploader/internal/devstack"
	"uploader/internal/testenv"
)

// answer is what a client sees of one API call.
type answer struct {
	status     int
	retryAfter string
	code, msg  string
	body       string
}

// call sends one API request carrying the request id rid, as a client
// that reports it would, and reads the answer whatever its status.
func call(t *testing.T, a *app, rid, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", rid)
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e apiError
	json.Unmarshal(data, &e)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), e.Error.Code, e.Error.Message, string(data)}
}

// wantOutage checks that an outage answers 503 with Retry-After and a
// plain message, and that the log has the cause on a line with the
// request id.
func wantOutage(t *testing.T, a *app, what string, got answer, rid string, cause ...string) {
	t.Helper()
	if got.status != http.StatusServiceUnavailable || got.retryAfter == "" || got.code != "unavailable" {
		t.Errorf("%s: %d (Retry-After %q) %s; want 503 unavailable with Retry-After", what, got.status, got.retryAfter, got.body)
	}
	if strings.Contains(got.body, "SQLSTATE") || strings.Contains(got.body, "sqlstore") {
		t.Errorf("%s: the answer leaks the driver's error: %s", what, got.body)
	}
	wantLogged(t, a, what, rid, cause...)
}

// wantLogged checks that the app logged the cause of request rid: one of
// causes, on a line that carries the request id.
func wantLogged(t *testing.T, a *app, what, rid string, causes ...string) {
	t.Helper()
	for _, line := range strings.Split(a.log.String(), "\n") {
		if !strings.Contains(line, "request_id="+rid) || !strings.Contains(line, "request failed") {
			continue
		}
		for _, c := range causes {
			if strings.Contains(line, c) {
				return
			}
		}
	}
	t.Errorf("%s: no log line with request_id=%s giving the cause (one of %q); log:\n%s", what, rid, causes, a.log.String())
}

// healthDown checks that /healthz says, in public, which part is down
// and nothing more.
func healthDown(t *testing.T, a *app, part string) {
	t.Helper()
	resp, err := http.Get(a.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var h struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.Unmarshal(data, &h)
	if resp.StatusCode != http.StatusServiceUnavailable || h.Checks[part] != "down" {
		t.Errorf("healthz: %d %s; want 503 with %q: \"down\"", resp.StatusCode, data, part)
	}
	for name, v := range h.Checks {
		if v != "ok" && v != "down" {
			t.Errorf("healthz tells the public %s = %q; want only ok or down", name, v)
		}
	}
}

// TestOutagesAnswer503 plays the outages of issue 11 against the app:
// Postgres shutting our connections down (57P01) and refusing new ones
// (53300), SQLite's write lock held by another process, and S3 refusing
// our credentials. Outages answer 503 with Retry-After; S3 refusing us is
// not one that retrying fixes. The cause of each is in the log.
func TestOutagesAnswer503(t *testing.T) {
	img := photo(t, 64, 48)
	presignBody := map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "size": len(img), "profile": "avatar"}

	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		base := testenv.PostgresURL(t)
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		u, _ := url.Parse(base)
		schema := u.Query().Get("search_path")
		role := "r_" + schema
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := admin.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec("CREATE ROLE " + role + " LOGIN CONNECTION LIMIT 30")
		exec("ALTER SCHEMA " + schema + " OWNER TO " + role)
		t.Cleanup(func() { // after the app stopped, before the schema goes
			admin, _ := sql.Open("pgx", base)
			defer admin.Close()
			admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
			admin.Exec("REASSIGN OWNED BY " + role + " TO CURRENT_USER")
			admin.Exec("DROP ROLE " + role)
		})
		u.User = url.User(role)
		a := startApp(t, map[string]string{"DATABASE_URL": u.String()})
		var p presigned
		if st := a.do(t, "POST", "/api/uploads", presignBody, &p); st != http.StatusCreated {
			t.Fatalf("presign before the outage: %d", st)
		}

		// The administrator shuts every connection of ours down and lets
		// no new one in: pooled connections meet 57P01, new ones 53300.
		exec("ALTER ROLE " + role + " CONNECTION LIMIT 0")
		exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		time.Sleep(200 * time.Millisecond)
		for i, c := range []struct{ method, path string }{
			{"GET", "/api/uploads/" + p.ID}, {"GET", "/api/uploads/" + p.ID}, {"GET", "/api/uploads"},
		} {
			rid := fmt.Sprintf("pg-outage-%d", i)
			wantOutage(t, a, c.method+" "+c.path, call(t, a, rid, c.method, c.path, nil), rid, "57P01", "53300")
		}
		healthDown(t, a, "database")

		exec("ALTER ROLE " + role + " CONNECTION LIMIT 30")
		if got := call(t, a, "pg-back", "GET", "/api/uploads/"+p.ID, nil); got.status != http.StatusOK {
			t.Errorf("after the outage: %d %s", got.status, got.body)
		}
	})

	t.Run("sqlite locked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "uploader.db")
		a := startApp(t, map[string]string{"DATABASE_URL": "sqlite:" + path + "?_busy_timeout=300"})
		other, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		lock, err := other.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		if _, err := lock.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
		// A presign needs no database (its row is made when the file
		// arrives); complete, which makes it, meets the lock.
		img := photo(t, 64, 48)
		p := a.presign(t, "a.jpg", "image/jpeg", len(img), "avatar")
		if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != http.StatusCreated {
			t.Fatalf("S3: %d %s", st, body)
		}
		wantOutage(t, a, "complete with the database locked", call(t, a, "sqlite-locked", "POST", "/api/uploads/"+p.ID+"/complete", nil),
			"sqlite-locked", "database is locked", "SQLITE_BUSY")
		lock.ExecContext(context.Background(), "ROLLBACK")
		if got := call(t, a, "sqlite-back", "POST", "/api/uploads/"+p.ID+"/complete", nil); got.status != http.StatusAccepted {
			t.Errorf("after the lock is released: %d %s", got.status, got.body)
		}
	})

	t.Run("s3 access denied", func(t *testing.T) {
		gwAddr, err := devstack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		gw, err := devstack.StartS3(t.TempDir(), gwAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(gw.Stop)
		// The fault proxy plays an IAM policy that lacks s3:GetObject:
		// S3 answers HeadObject with 403.
		var deny atomic.Bool
		proxy := startFaultProxy(t, gwAddr, func(r *http.Request) fault {
			if m, key := proxyS3Op(r); deny.Load() && m == http.MethodHead && strings.Contains(key, "incoming/") {
				return faultDenied
			}
			return faultPass
		})
		a := startApp(t, map[string]string{
			"S3_ENDPOINT": "http://" + proxy.Addr(), "S3_BUCKET": "uploads",
			"AWS_ACCESS_KEY_ID": gw.AccessKey, "AWS_SECRET_ACCESS_KEY": gw.SecretKey,
		})
		p := a.presign(t, "a.jpg", "image/jpeg", len(img), "avatar")
		if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != http.StatusCreated {
			t.Fatalf("S3 POST: %d %s", st, body)
		}
		deny.Store(true)
		for i := range 2 {
			rid := fmt.Sprintf("s3-denied-%d", i)
			got := call(t, a, rid, "POST", "/api/uploads/"+p.ID+"/complete", nil)
			// Not an outage: retrying cannot help until the operator fixes
			// the policy, so no 503 and no Retry-After, and a message that
			// says so instead of "try again".
			if got.status != http.StatusInternalServerError || got.retryAfter != "" || !strings.Contains(got.msg, "configuration problem") {
				t.Errorf("complete with S3 refusing us: %d (Retry-After %q) %s; want 500 naming a configuration problem, no Retry-After",
					got.status, got.retryAfter, got.body)
			}
			wantLogged(t, a, "S3 403", rid, "StatusCode: 403")
		}
		deny.Store(false)
		if got := call(t, a, "s3-back", "POST", "/api/uploads/"+p.ID+"/complete", nil); got.status != http.StatusAccepted {
			t.Errorf("complete once S3 lets us in: %d %s", got.status, got.body)
		}
	})
}
