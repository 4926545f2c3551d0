// Package sqlstore keeps uploads and their variants in SQL: Postgres in
// production (through pgx) and SQLite for development and small setups
// (through modernc.org/sqlite, without cgo). The queries are written once;
// both databases accept the same SQL and the same $N placeholders.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"uploader/internal/upload"
	"uploader/migrations"
)

// The dialects Dialect reports.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// sqliteBusyTimeout is how long a SQLite connection waits for another
// connection's write lock before giving up with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// DB is a connection pool to the uploads database. It implements
// upload.Store.
type DB struct {
	db      *sql.DB
	dialect string
	where   string // host or file, for error messages; never holds a password
	now     func() time.Time

	batch batcher // group commit for CreateUpload
}

var _ upload.Store = (*DB)(nil)

// Open connects to the database at databaseURL and pings it.
//
// A postgres:// or postgresql:// URL opens Postgres through pgx; every other
// form (sqlite://PATH, sqlite:PATH, file:PATH or a plain file path) opens a
// SQLite file, creating it and its directory if needed. SQLite connections
// use WAL, foreign keys and a busy timeout, and take the write lock when a
// transaction begins, so concurrent writers wait for each other instead of
// failing with SQLITE_BUSY. Errors name the host or file, never the password.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	var (
		d   *DB
		err error
	)
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		d, err = openPostgres(databaseURL)
	case databaseURL == "":
		return nil, errors.New("sqlstore: no database URL: want postgres://USER@HOST/DB or a SQLite file path")
	default:
		d, err = openSQLite(databaseURL)
	}
	if err != nil {
		return nil, err
	}
	if err := d.Ping(ctx); err != nil {
		d.db.Close()
		return nil, err
	}
	return d, nil
}

func openPostgres(databaseURL string) (*DB, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("sqlstore: invalid postgres URL: %v", err)
	}
	host := u.Host
	if host == "" {
		host = "localhost" // libpq's default: a local socket
	}
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres at %s: %w", host, err)
	}
	// Small enough for Heroku's smaller plans, where web and worker share
	// the connection limit; big enough that a request never waits long.
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{db: db, dialect: DialectPostgres, where: "postgres at " + host, now: time.Now}, nil
}

func openSQLite(databaseURL string) (*DB, error) {
	path := databaseURL
	for _, prefix := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, prefix) {
			path = strings.TrimPrefix(path, prefix)
			break
		}
	}
	path, query, _ := strings.Cut(path, "?")
	if path == "" || path == ":memory:" {
		// Each pooled connection would get its own empty in-memory database.
		return nil, fmt.Errorf("sqlstore: %q: SQLite needs a file path", databaseURL)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlstore: sqlite %s: %w", path, err)
		}
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite %s: parameters: %w", path, err)
	}
	// The driver runs these on every new connection: foreign_keys in
	// particular is per connection, and without it ON DELETE CASCADE does
	// nothing. _txlock=immediate makes BEGIN take the write lock, so a
	// transaction never fails halfway when it upgrades from reading to
	// writing (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry).
	if params.Get("_busy_timeout") == "" { // a URL may choose its own, in milliseconds
		params.Set("_busy_timeout", fmt.Sprint(sqliteBusyTimeout.Milliseconds()))
	}
	params.Set("_journal_mode", "WAL")
	params.Set("_foreign_keys", "1")
	params.Set("_synchronous", "NORMAL") // durable across crashes in WAL mode; fsync only at checkpoints
	params.Set("_txlock", "immediate")
	// A path without the file: prefix is used as is, so '%' or '#' in it
	// are not read as URI syntax.
	db, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite %s: %w", path, err)
	}
	// SQLite has one writer at a time whatever the pool size; a few
	// connections let reads go on beside it (WAL) while writers queue in
	// the busy handler. Idle connections are kept: opening one reruns the
	// pragmas.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	return &DB{db: db, dialect: DialectSQLite, where: "sqlite " + path, now: time.Now}, nil
}

// Dialect returns DialectPostgres or DialectSQLite.
func (d *DB) Dialect() string { return d.dialect }

// Ping checks that the database answers, for health checks.
func (d *DB) Ping(ctx context.Context) (err error) {
	defer classifyErr(&err)
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", d.where, err)
	}
	return nil
}

// Close closes every connection of the pool.
func (d *DB) Close() error {
	d.batch.stop()
	return d.db.Close()
}

// Migrate applies every migration in migrations.FS that the database lacks.
// It does nothing on an up-to-date database. On Postgres, concurrent runs
// against the same schema wait for each other on an advisory lock.
func (d *DB) Migrate(ctx context.Context) error {
	p, err := d.migrator(ctx)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate %s: %w", d.where, err)
	}
	return nil
}

// migrator returns a goose provider for the embedded migrations.
func (d *DB) migrator(ctx context.Context) (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		// The lock is per schema, so that tests migrating their own schemas
		// in one database do not queue behind each other.
		var schema string
		if err := d.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return nil, fmt.Errorf("sqlstore: migrate %s: %w", d.where, err)
		}
		id := int64(crc64.Checksum([]byte("uploader migrations "+schema), crc64.MakeTable(crc64.ECMA)) >> 1)
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migrate %s: %w", d.where, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, d.db, migrations.FS, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrate %s: %w", d.where, err)
	}
	return p, nil
}
