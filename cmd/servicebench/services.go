package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/redis/go-redis/v9"

	"uploader/internal/devstack"
	"uploader/internal/testenv"
)

// sharedRedis is a database of the Redis on 127.0.0.1:6379 held by this
// run. It takes databases the way testenv.RedisAddr does (the lock key
// testenv.RedisLockKey, set only when free), so a bench and a test suite
// running at the same time never share one.
type sharedRedis struct {
	addr   string
	db     int
	token  string
	client *redis.Client
}

func lockRedis(ctx context.Context, addr string) (*sharedRedis, error) {
	token := randomHex(16)
	for db := 1; db <= 15; db++ {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
		ok, err := c.SetNX(ctx, testenv.RedisLockKey, token, 15*time.Minute).Result()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("servicebench: Redis at %s: %w", addr, err)
		}
		if !ok {
			c.Close()
			continue
		}
		r := &sharedRedis{addr: addr, db: db, token: token, client: c}
		return r, r.flush(ctx)
	}
	return nil, fmt.Errorf("servicebench: Redis at %s: databases 1 to 15 are all held by tests", addr)
}

func (r *sharedRedis) url() string { return fmt.Sprintf("redis://%s/%d", r.addr, r.db) }

// flush empties the database but for the lock, in one step.
func (r *sharedRedis) flush(ctx context.Context) error {
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.FlushDB(ctx)
		p.Set(ctx, testenv.RedisLockKey, r.token, 15*time.Minute)
		return nil
	})
	return err
}

// release flushes the database, lock included, unless the lock expired and
// someone else took the database since.
func (r *sharedRedis) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v, err := r.client.Get(ctx, testenv.RedisLockKey).Result(); err == nil && v == r.token {
		r.client.FlushDB(ctx)
	}
	r.client.Close()
}

// privateRedis is a redis-server of the bench's own, for counting the
// commands an idle worker sends: INFO's counters are server-wide, and the
// shared server may be busy with tests.
type privateRedis struct {
	addr   string
	p      *proc
	client *redis.Client
}

func startPrivateRedis(ctx context.Context, dir string) (*privateRedis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	addr, err := devstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	p, err := startProc("redis-server", dir, bin, []string{"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir}, nil)
	if err != nil {
		return nil, err
	}
	r := &privateRedis{addr: addr, p: p, client: redis.NewClient(&redis.Options{Addr: addr})}
	if err := waitFor(ctx, p, 10*time.Second, "answer PING", func() error { return r.client.Ping(ctx).Err() }); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func (r *privateRedis) stop() {
	r.client.Close()
	r.p.stop()
}

// commands returns the server's total_commands_processed.
func (r *privateRedis) commands(ctx context.Context) (int64, error) {
	info, err := r.client.Info(ctx, "stats").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO stats has no total_commands_processed")
}

// commandStats summarises INFO commandstats: calls per command.
func (r *privateRedis) commandStats(ctx context.Context) string {
	info, err := r.client.Info(ctx, "commandstats").Result()
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		parts = append(parts, strings.TrimPrefix(name, "cmdstat_")+" "+calls)
	}
	return strings.Join(parts, ", ")
}

// pgSchema is a schema of the bench's own in the Postgres test database,
// dropped at the end.
type pgSchema struct {
	base, name string
}

func createSchema(ctx context.Context, base, prefix string) (*pgSchema, error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s := &pgSchema{base: base, name: prefix + randomHex(6)}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+s.name); err != nil {
		return nil, fmt.Errorf("servicebench: Postgres: create schema: %w", err)
	}
	return s, nil
}

// url is base with search_path set to the schema, so every connection the
// service opens from it works inside the schema.
func (s *pgSchema) url() string {
	u, _ := url.Parse(s.base)
	q := u.Query()
	q.Set("search_path", s.name)
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *pgSchema) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", s.base)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP SCHEMA "+s.name+" CASCADE")
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tempDir makes the run's working directory, absolute, because the
// embedded S3 gateway changes the process's working directory.
func tempDir() (string, error) {
	d, err := os.MkdirTemp("", "servicebench-")
	if err != nil {
		return "", err
	}
	return filepath.Abs(d)
}
