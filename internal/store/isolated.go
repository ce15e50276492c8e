package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// OpenIsolated opens a Store on a new, migrated schema of its own, for tests
// and benchmarks that must not see (or leave) anyone else's rows. The returned
// function closes the store and drops the schema.
func OpenIsolated(ctx context.Context, databaseURL, prefix string) (*Store, func() error, error) {
	admin, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("open isolated store: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		_ = admin.Close(ctx)
		return nil, nil, fmt.Errorf("open isolated store: %w", err)
	}
	drop := func() error {
		defer admin.Close(context.Background())
		_, err := admin.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		return err
	}
	dsn, err := withSearchPath(databaseURL, schema)
	if err == nil {
		var s *Store
		if s, err = Open(ctx, dsn); err == nil {
			if err = s.Migrate(ctx); err == nil {
				return s, func() error { s.Close(); return drop() }, nil
			}
			s.Close()
		}
	}
	_ = drop()
	return nil, nil, err
}

// WithSearchPath is the connection string dsn, in URL or keyword/value
// form, on the schema: for a process that must share an isolated store.
func WithSearchPath(dsn, schema string) (string, error) { return withSearchPath(dsn, schema) }

// Schema is the schema the store works on.
func (s *Store) Schema(ctx context.Context) (string, error) {
	var schema string
	err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema)
	return schema, err
}

// withSearchPath adds search_path to a connection string in URL or
// keyword/value form.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
