package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"uploader/internal/upload"
)

// unavailableMessage is what a person sees when the database is down.
const unavailableMessage = "The database is briefly unavailable; please retry in a moment."

// classify says what a database error means to the rest of the service:
// an outage (the server restarting or shut down by an administrator, too
// many connections, a lost connection, a timeout, SQLite's write lock held
// for longer than the busy timeout) is upload.EUNAVAILABLE, which a client
// may retry; the cause stays in the chain for the log. Errors that already
// carry a code, and every other error (a bug: bad SQL, a broken
// constraint), are returned as they are.
func classify(err error) error {
	if err == nil || upload.ErrorCode(err) != upload.EINTERNAL || !transient(err) {
		return err
	}
	return upload.Wrap(upload.EUNAVAILABLE, unavailableMessage, err)
}

// classifyErr is classify for a deferred call on a named result.
func classifyErr(err *error) { *err = classify(*err) }

func transient(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return transientSQLState(pg.Code)
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PROTOCOL:
			return true
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded)
}

// transientSQLState reports whether a Postgres error code is one a later
// attempt may not meet: connection exceptions (class 08), insufficient
// resources (53: too many connections, out of memory, disk full), the
// server shutting down or starting (57P01-57P03), serialization failures
// and deadlocks (40001, 40P01), a lock not available (55P03) and a
// cancelled statement (57014, e.g. a statement timeout).
func transientSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"):
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", "40001", "40P01", "55P03", "57014":
		return true
	}
	return false
}
