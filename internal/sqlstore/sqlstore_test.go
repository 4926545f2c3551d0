package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"uploader/internal/testenv"
	"uploader/internal/upload"
	"uploader/migrations"
)

// backends are the databases every store test runs against.
var backends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"sqlite", testenv.SQLiteURL},
	{"postgres", testenv.PostgresURL},
}

// openDB opens and migrates a fresh database; it is closed when the test ends.
func openDB(t testing.TB, url string) *DB {
	t.Helper()
	ctx := context.Background()
	d, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return d
}

func TestOpenDialect(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			d := openDB(t, b.url(t))
			if d.Dialect() != b.name {
				t.Errorf("Dialect() = %q, want %q", d.Dialect(), b.name)
			}
			if err := d.Ping(context.Background()); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

func TestOpenSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub dir#1", "app.db") // a directory Open must create, with URI-ish characters
	ctx := context.Background()
	d := openDB(t, path)
	u := &upload.Upload{ID: upload.NewID(time.Now()), Profile: "photo", Owner: "o"}
	if err := d.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, url := range []string{"sqlite://" + path, "sqlite:" + path, "file:" + path, path + "?_cache_size=2000"} {
		d, err := Open(ctx, url)
		if err != nil {
			t.Errorf("Open(%q): %v", url, err)
			continue
		}
		if _, err := d.Upload(ctx, u.ID); err != nil {
			t.Errorf("Open(%q) did not open the same file: %v", url, err)
		}
		checkPragmas(t, d)
		d.Close()
	}
}

// checkPragmas checks the settings SQLite needs on every connection.
func checkPragmas(t *testing.T, d *DB) {
	t.Helper()
	ctx := context.Background()
	// Hold several connections at once so that more than one is checked.
	for i := range 3 {
		conn, err := d.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var (
			mode        string
			fk, timeout int
		)
		if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("connection %d: journal_mode %q (%v), want wal", i, mode, err)
		}
		if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("connection %d: foreign_keys %d (%v), want 1", i, fk, err)
		}
		if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil || timeout < 5000 {
			t.Errorf("connection %d: busy_timeout %d (%v), want at least 5000", i, timeout, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		url, want string
	}{
		{"postgres://app:hunter2@127.0.0.1:1/db?sslmode=disable", "127.0.0.1:1"},
		{"postgresql://app:hunter2@127.0.0.1:1/db?sslmode=disable", "127.0.0.1:1"},
		{"postgres://app:hunter2@127.0.0.1:badport/db", "invalid"},
		{"", "no database URL"},
		{":memory:", "file path"},
		{filepath.Join(file, "app.db"), file}, // a directory that cannot be made
	} {
		d, err := Open(ctx, tc.url)
		if err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded, want an error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want it to mention %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error leaks the password: %v", tc.url, err)
		}
	}
}

func TestMigrations(t *testing.T) {
	files, err := migrationCount()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			d, err := Open(ctx, b.url(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for i := range 2 { // the second run must find nothing to do
				if err := d.Migrate(ctx); err != nil {
					t.Fatalf("Migrate run %d: %v", i+1, err)
				}
			}
			p, err := d.migrator(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := p.GetDBVersion(ctx); err != nil || v != int64(files) {
				t.Fatalf("version %d (%v), want %d", v, err, files)
			}
			// Down must work too, and leave a database Up can rebuild.
			if _, err := p.DownTo(ctx, 0); err != nil {
				t.Fatalf("down: %v", err)
			}
			if _, err := d.db.ExecContext(ctx, "SELECT 1 FROM uploads"); err == nil {
				t.Fatal("uploads still exists after migrating down")
			}
			if err := d.Migrate(ctx); err != nil {
				t.Fatalf("Migrate after down: %v", err)
			}
			if err := d.CreateUpload(ctx, &upload.Upload{ID: upload.NewID(time.Now()), Profile: "p", Owner: "o"}); err != nil {
				t.Fatalf("store unusable after down and up: %v", err)
			}
		})
	}
}

func migrationCount() (int, error) {
	entries, err := migrations.FS.ReadDir(".")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no migrations embedded")
	}
	return n, nil
}

// TestConcurrentWriters checks that SQLite writers queue rather than fail
// with SQLITE_BUSY; it runs on Postgres too, as a check of the pool.
func TestConcurrentWriters(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			d := openDB(t, b.url(t))
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for i := range 50 {
				wg.Go(func() {
					u := &upload.Upload{ID: upload.NewID(time.Now()), Profile: "photo", Owner: fmt.Sprint("owner", i%5)}
					if err := d.CreateUpload(ctx, u); err != nil {
						errs <- err
						return
					}
					if _, err := d.MarkProcessing(ctx, u.ID, "image/png", 10); err != nil {
						errs <- err
						return
					}
					if _, err := d.BumpVersion(ctx, u.ID); err != nil {
						errs <- err
						return
					}
					u.Variants = []upload.Variant{{Name: "a.png", Key: "k/a", ContentType: "image/png"}, {Name: "b.png", Key: "k/b", ContentType: "image/png"}}
					if err := d.MarkReady(ctx, u); err != nil {
						errs <- err
						return
					}
					if _, err := d.ListUploads(ctx, u.Owner, "", 100); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			ready, err := d.UploadsByStatus(ctx, upload.StatusReady, time.Now().Add(time.Hour), 1000)
			if err != nil || len(ready) != 50 {
				t.Fatalf("%d ready uploads (%v), want 50", len(ready), err)
			}
		})
	}
}
