package testenv

import (
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeTB records how a helper stopped the test. Like the real thing, its
// Fatalf and Skipf end the goroutine, so call the helper through run.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func run(fn func(t testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestCI(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"true", true}, {"1", true}, {"", false}, {"false", false}, {"yes please", false}} {
		t.Setenv("CI", tc.value)
		if got := CI(); got != tc.want {
			t.Errorf("CI=%q: CI() = %v, want %v", tc.value, got, tc.want)
		}
	}
}

func TestRequire(t *testing.T) {
	errDown := fmt.Errorf("connection refused")
	for _, tc := range []struct {
		name      string
		ci        string
		err       error
		wantFatal bool
		wantSkip  bool
	}{
		{"no error", "true", nil, false, false},
		{"error under CI fails", "true", errDown, true, false},
		{"error elsewhere skips", "", errDown, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			f := run(func(tb testing.TB) { Require(tb, "Frobnicator", tc.err) })
			if (f.fatal != "") != tc.wantFatal || (f.skip != "") != tc.wantSkip {
				t.Fatalf("fatal=%q skip=%q, want fatal %v skip %v", f.fatal, f.skip, tc.wantFatal, tc.wantSkip)
			}
			for _, msg := range []string{f.fatal, f.skip} {
				if msg != "" && (!strings.Contains(msg, "Frobnicator") || !strings.Contains(msg, "connection refused")) {
					t.Errorf("message %q should name the service and the error", msg)
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Setenv("TEST_DATABASE_URL", "postgres://postgres:s3cret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	for _, tc := range []struct {
		name string
		fn   func(testing.TB)
		want string
	}{
		{"postgres", func(tb testing.TB) { PostgresURL(tb) }, "Postgres at 127.0.0.1:1"},
		{"redis", func(tb testing.TB) { RedisAddr(tb) }, "Redis at 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", "")
			if f := run(tc.fn); f.skip == "" || f.fatal != "" {
				t.Errorf("without CI: skip=%q fatal=%q, want a skip", f.skip, f.fatal)
			}
			t.Setenv("CI", "true")
			f := run(tc.fn)
			if !strings.Contains(f.fatal, tc.want) {
				t.Errorf("with CI: fatal=%q, want it to name %q", f.fatal, tc.want)
			}
			if strings.Contains(f.fatal+f.skip, "s3cret") {
				t.Errorf("message leaks the password: %q", f.fatal)
			}
		})
	}
}

func TestPostgresURL(t *testing.T) {
	var schema string
	t.Run("fresh schema", func(t *testing.T) {
		db := openPG(t, PostgresURL(t))
		if err := db.QueryRow("SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(schema, "t_") {
			t.Fatalf("current_schema() = %q, want a t_ schema", schema)
		}
		if _, err := db.Exec("CREATE TABLE probe (x int)"); err != nil {
			t.Fatal(err)
		}
		var where string
		if err := db.QueryRow("SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe'").Scan(&where); err != nil || where != schema {
			t.Fatalf("probe table in schema %q (%v), want %q", where, err, schema)
		}
		if other := PostgresURL(t); strings.Contains(other, schema) {
			t.Errorf("second PostgresURL %q reuses schema %s", other, schema)
		}
	})
	if schema == "" {
		return // skipped
	}
	db := openPG(t, basePostgresURL())
	var n int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s still exists after the test ended", schema)
	}
}

func basePostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

func openPG(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLiteURL(t *testing.T) {
	a, b := SQLiteURL(t), SQLiteURL(t)
	if a == b || !strings.HasSuffix(a, ".db") {
		t.Errorf("SQLiteURL gave %q and %q, want two different .db files", a, b)
	}
}

func TestRedisAddr(t *testing.T) {
	var (
		addr    string
		db1     int
		pw      string
		skipped = true
	)
	t.Run("own flushed database", func(t *testing.T) {
		var db2 int
		addr, db1 = RedisAddr(t)
		_, db2 = RedisAddr(t)
		skipped = false
		if db1 < 1 || db1 > 15 || db2 < 1 || db2 > 15 || db1 == db2 {
			t.Fatalf("databases %d and %d, want two different ones in 1..15", db1, db2)
		}
		c := redisDB(t, addr, pw, db1)
		if n, _ := c.do("DBSIZE"); n != "1" {
			t.Errorf("DBSIZE = %s, want 1 (the lock)", n)
		}
		if _, err := c.do("SET", "leftover", "x"); err != nil {
			t.Fatal(err)
		}
	})
	if skipped {
		return
	}
	c := redisDB(t, addr, pw, db1)
	if got, _ := c.do("GET", "leftover"); got != "" {
		t.Errorf("db %d still holds the test's key after it ended", db1)
	}

	// A database with stale keys is flushed before it is handed out.
	target := db1
	if _, err := c.do("SET", RedisLockKey+":x", "stale"); err != nil {
		t.Fatal(err)
	}
	redisNext.Store(int64(target - 2 + 15)) // the next pick is target
	t.Run("flushes stale keys", func(t *testing.T) {
		_, db := RedisAddr(t)
		if db != target {
			t.Skipf("db %d was taken by another test meanwhile", target)
		}
		c := redisDB(t, addr, pw, db)
		if n, _ := c.do("DBSIZE"); n != "1" {
			t.Errorf("DBSIZE = %s, want 1: stale keys survived", n)
		}
	})
	c.do("DEL", RedisLockKey+":x")
}

func redisDB(t *testing.T, addr, pw string, db int) *redisConn {
	t.Helper()
	c, err := dialRedis(addr, pw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.do("SELECT", strconv.Itoa(db)); err != nil {
		t.Fatal(err)
	}
	return c
}
