package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// wantUnavailable fails unless err is an outage a client may retry
// (upload.EUNAVAILABLE) that still names its cause.
func wantUnavailable(t *testing.T, what string, err error, cause string) {
	t.Helper()
	if code := upload.ErrorCode(err); code != upload.EUNAVAILABLE {
		t.Errorf("%s: code %q (%v), want %q", what, code, err, upload.EUNAVAILABLE)
	} else if !strings.Contains(err.Error(), cause) {
		t.Errorf("%s: %q does not keep its cause %q for the log", what, err, cause)
	}
	if msg := upload.ErrorMessage(err); strings.Contains(msg, "SQLSTATE") || strings.Contains(msg, "locked") {
		t.Errorf("%s: the message shown to people leaks the driver's error: %q", what, msg)
	}
}

// postgresRole makes a login role limited to limit connections, owning a
// fresh schema, and returns the URL that connects as it. The role is
// dropped after the schema.
func postgresRole(t *testing.T, limit int) (roleURL string, admin *sql.DB) {
	t.Helper()
	base := testenv.PostgresURL(t) // skips (or fails with CI=true) without Postgres
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	u, _ := url.Parse(base)
	schema := u.Query().Get("search_path")
	role := "r_" + schema
	ctx := context.Background()
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN CONNECTION LIMIT " + strconv.Itoa(limit),
		"ALTER SCHEMA " + schema + " OWNER TO " + role,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		// After the store's own cleanup closed its connections; before
		// testenv drops the schema, which then belongs to us again.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		if _, err := admin.ExecContext(ctx, "REASSIGN OWNED BY "+role+" TO CURRENT_USER"); err != nil {
			t.Errorf("reassign owned by %s: %v", role, err)
		}
		if _, err := admin.ExecContext(ctx, "DROP ROLE "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	u.User = url.User(role)
	return u.String(), admin
}

// TestPostgresOutagesAreUnavailable: a server that shuts a connection
// down (57P01, as pg_terminate_backend or a restart does) and one that has
// no connection left for us (53300) are outages the client may retry, not
// errors of ours.
func TestPostgresOutagesAreUnavailable(t *testing.T) {
	ctx := context.Background()
	roleURL, admin := postgresRole(t, 2)
	d := openDB(t, roleURL)
	u := create(t, d, newUpload("alice", t0))

	t.Run("57P01 admin shutdown", func(t *testing.T) {
		conn, err := d.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var pid int
		if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the server's notice reaches the socket
		_, err = conn.ExecContext(ctx, "SELECT 1")
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "57P01" {
			t.Fatalf("query on a terminated connection: %v; want SQLSTATE 57P01", err)
		}
		wantUnavailable(t, "57P01", classify(err), "57P01")
	})

	t.Run("53300 too many connections", func(t *testing.T) {
		// Hold both connections the role may have; the store needs a third.
		var held []*sql.Conn
		for range 2 {
			c, err := d.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		// One more role connection from elsewhere would do the same; the
		// store's pool must then open a new one and be refused.
		_, err := d.Upload(ctx, u.ID)
		for _, c := range held {
			c.Close()
		}
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "53300" {
			t.Fatalf("Upload with no connection left: %v; want SQLSTATE 53300", err)
		}
		wantUnavailable(t, "53300", err, "53300")
		if _, err := d.Upload(ctx, u.ID); err != nil {
			t.Errorf("after the connections are back: %v", err)
		}
	})

	t.Run("a bug stays a bug", func(t *testing.T) {
		_, err := d.db.ExecContext(ctx, "SELECT no_such_column FROM uploads")
		if code := upload.ErrorCode(classify(err)); code != upload.EINTERNAL {
			t.Errorf("bad SQL: code %q, want %q", code, upload.EINTERNAL)
		}
	})
}

// TestSQLiteLockedIsUnavailable: while another process holds SQLite's
// write lock for longer than the busy timeout, writes fail with
// SQLITE_BUSY ("database is locked"): an outage the client may retry.
func TestSQLiteLockedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := testenv.SQLiteURL(t)
	d := openDB(t, path+"?_busy_timeout=200")
	u := create(t, d, newUpload("alice", t0))

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	wantUnavailable(t, "MarkFailed", d.MarkFailed(ctx, u.ID, upload.ECORRUPT, "x"), "locked")
	wantUnavailable(t, "CreateUpload", d.CreateUpload(ctx, newUpload("bob", t0.Add(time.Second))), "locked")
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkFailed(ctx, u.ID, upload.ECORRUPT, "x"); err != nil {
		t.Errorf("after the lock is released: %v", err)
	}
}

// TestClassifyWithoutServer: errors met before a server answers (it
// refuses the connection, the pool hands back a broken one) are outages;
// errors that carry a code keep it, and anything else is ours.
func TestClassifyWithoutServer(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("sqlstore: upload x: %w", refused), upload.EUNAVAILABLE},
		{fmt.Errorf("sqlstore: %w", driver.ErrBadConn), upload.EUNAVAILABLE},
		{fmt.Errorf("sqlstore: %w", context.DeadlineExceeded), upload.EUNAVAILABLE},
		{errors.New("a bug"), upload.EINTERNAL},
		{upload.Errorf(upload.ENOTFOUND, "gone"), upload.ENOTFOUND},
	}
	for _, c := range cases {
		if got := upload.ErrorCode(classify(c.err)); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}
