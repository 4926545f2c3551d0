// Package testenv gives tests the real services they talk to: a fresh
// Postgres schema, a Redis database of their own, a SQLite file. When a
// service is missing, the test is skipped, or fails when CI=true, so that
// CI never passes by skipping.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"uploader/internal/devstack"
)

// Defaults used when TEST_DATABASE_URL or REDIS_URL is unset: the
// services this project's machines and CI run.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisAddr   = "127.0.0.1:6379"
)

// RedisLockKey is the one key a database handed out by RedisAddr holds
// besides the test's own: it keeps other tests, in this process or
// another, off that database. Tests must not FLUSHDB it away.
const RedisLockKey = "testenv:lock"

// redisLockTTL outlives any test run (go test's default timeout is 10
// minutes), so a killed run frees its databases soon after.
const redisLockTTL = 15 * time.Minute

// CI reports whether the tests run in CI (CI=true), where a missing
// service is a failure rather than a reason to skip.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Require stops the test when err, the error got while reaching service,
// is not nil: it fails the test under CI and skips it elsewhere.
func Require(t testing.TB, service string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if CI() {
		t.Fatalf("testenv: %s is required with CI=true: %v", service, err)
	}
	t.Skipf("testenv: %s is not available, skipping: %v", service, err)
}

// PostgresURL returns the URL of a new, empty schema in the Postgres
// database at TEST_DATABASE_URL (DefaultPostgresURL when unset). The URL
// sets search_path, so every connection made from it uses the schema. The
// schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: TEST_DATABASE_URL is not a URL like %s", DefaultPostgresURL)
	}
	service := "Postgres at " + u.Host

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testenv: %s: %v", service, err)
	}
	defer db.Close()
	Require(t, service, db.PingContext(ctx))

	schema := "t_" + randomHex(8)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testenv: %s: create schema: %v", service, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", base)
		if err == nil {
			defer db.Close()
			_, err = db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		}
		if err != nil {
			t.Errorf("testenv: %s: drop schema %s: %v", service, schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLiteURL returns the path of a SQLite file, not yet created, in the
// test's temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "test.db")
}

// redisNext spreads tests over the databases; the random start makes
// test binaries running side by side begin in different places.
var redisNext atomic.Int64

func init() {
	n, _ := rand.Int(rand.Reader, big.NewInt(15))
	redisNext.Store(n.Int64())
}

// RedisAddr returns the host:port of the Redis at REDIS_URL
// (DefaultRedisAddr when unset) and a database number from 1 to 15 that
// no other running test holds, flushed for this test. Database 0 is left
// to development. The database holds RedisLockKey until the test ends; it
// is flushed again then.
//
// It speaks RESP over a plain TCP connection so that this package needs no
// Redis client. A password in REDIS_URL is used for the check; rediss://
// (TLS) is not supported for tests.
func RedisAddr(t testing.TB) (addr string, db int) {
	t.Helper()
	addr, password, err := redisFromEnv()
	if err != nil {
		t.Fatalf("testenv: REDIS_URL: %v", err)
	}
	service := "Redis at " + addr
	c, err := dialRedis(addr, password)
	Require(t, service, err)
	defer c.Close()

	token := randomHex(16)
	ttl := strconv.FormatInt(redisLockTTL.Milliseconds(), 10)
	deadline := time.Now().Add(30 * time.Second)
	for {
		for range 15 {
			db = 1 + int(redisNext.Add(1)%15)
			if _, err := c.do("SELECT", strconv.Itoa(db)); err != nil {
				t.Fatalf("testenv: %s: select %d: %v", service, db, err)
			}
			ok, err := c.do("SET", RedisLockKey, token, "NX", "PX", ttl)
			if err != nil {
				t.Fatalf("testenv: %s: lock db %d: %v", service, db, err)
			}
			if ok != "OK" {
				continue // another test holds it
			}
			// Flush everything but the lock, in one step.
			if _, err = c.do("MULTI"); err == nil {
				c.do("FLUSHDB")
				c.do("SET", RedisLockKey, token, "PX", ttl)
				_, err = c.do("EXEC")
			}
			if err != nil {
				t.Fatalf("testenv: %s: flush db %d: %v", service, db, err)
			}
			t.Cleanup(func() { releaseRedis(t, addr, password, db, token) })
			return addr, db
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s: databases 1 to 15 all stayed held by other tests for 30s", service)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// releaseRedis flushes the test's database, lock included, unless the lock
// has expired and another test has taken the database since.
func releaseRedis(t testing.TB, addr, password string, db int, token string) {
	c, err := dialRedis(addr, password)
	if err != nil {
		t.Errorf("testenv: Redis at %s: release db %d: %v", addr, db, err)
		return
	}
	defer c.Close()
	steps := [][]string{{"SELECT", strconv.Itoa(db)}, {"WATCH", RedisLockKey}, {"GET", RedisLockKey}}
	for _, s := range steps {
		got, err := c.do(s...)
		if err != nil {
			t.Errorf("testenv: Redis at %s: release db %d: %v", addr, db, err)
			return
		}
		if s[0] == "GET" && got != token {
			return
		}
	}
	for _, s := range [][]string{{"MULTI"}, {"FLUSHDB"}, {"EXEC"}} {
		if _, err := c.do(s...); err != nil {
			t.Errorf("testenv: Redis at %s: release db %d: %v", addr, db, err)
			return
		}
	}
}

func redisFromEnv() (addr, password string, err error) {
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		return DefaultRedisAddr, "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "", errors.New("want redis://[:PASSWORD@]HOST:PORT")
	}
	if u.Scheme != "redis" {
		return "", "", fmt.Errorf("scheme %q: tests support only redis://", u.Scheme)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "6379")
	}
	password, _ = u.User.Password()
	return addr, password, nil
}

// redisConn is just enough of RESP for the commands above.
type redisConn struct {
	net.Conn
	r *bufio.Reader
}

// dialRedis connects, authenticates when password is set, and checks that
// the server answers PING.
func dialRedis(addr, password string) (*redisConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &redisConn{Conn: nc, r: bufio.NewReader(nc)}
	if password != "" {
		if _, err := c.do("AUTH", password); err != nil {
			nc.Close()
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	if pong, err := c.do("PING"); err != nil || pong != "PONG" {
		nc.Close()
		return nil, fmt.Errorf("PING answered %q, %v", pong, err)
	}
	return c, nil
}

// do sends a command and returns its reply: the text of a simple string,
// integer or bulk string, "" for a nil reply, the elements of an array
// joined by newlines. A Redis error reply is returned as an error.
func (c *redisConn) do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return c.reply()
}

func (c *redisConn) reply() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	body := line[1:]
	switch line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", errors.New(body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		var parts []string
		for range n {
			p, err := c.reply()
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// WithS3 runs a test binary's tests against the one embedded S3 gateway
// it may start (versitygw allows one per process): it starts the gateway
// in a temporary directory on a free port, calls setup with it (to make
// a bucket or a client), runs the tests and stops the gateway. Use it as
// os.Exit(testenv.WithS3(m, setup)) in TestMain.
func WithS3(m *testing.M, setup func(gw *devstack.S3) error) int {
	dir, err := os.MkdirTemp("", "uploader-s3-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	addr, err := devstack.FreeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	gw, err := devstack.StartS3(filepath.Join(dir, "s3"), addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer gw.Stop()
	if setup != nil {
		if err := setup(gw); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: S3 setup:", err)
			return 1
		}
	}
	return m.Run()
}
