// Package migrations holds the numbered goose SQL migrations of the
// uploader database. Every file runs unchanged on SQLite and Postgres, so
// both are covered by the same tests.
package migrations

import "embed"

// FS holds the migration files, named NNNNN_description.sql, for
// goose.NewProvider.
//
//go:embed *.sql
var FS embed.FS
