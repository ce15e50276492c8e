// Package store keeps the collections ledger in Postgres: returned invoices,
// contracts, payments, the outbox of communications and the cuts and
// reconnections requested from the distributor. It implements activities.Store;
// every write of a case runs in one transaction and is safe to retry.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Store is the Postgres implementation of activities.Store.
type Store struct {
	pool *pgxpool.Pool
	// Clock tells the ledger what time it is when it judges a cut request or a
	// proof's date; nil means the database's now(), so every worker agrees.
	// Tests set it to the day they play.
	Clock func() time.Time
	// calendarOf builds the calendar of allowed cut days of a province;
	// nil means calendar.ForProvince. Tests replace it to play a year the
	// holiday data does not cover.
	calendarOf func(province string, extra calendar.Extra) (calendar.Calendar, int)
}

var _ activities.Store = (*Store)(nil)

// Open connects to the database at databaseURL and checks that it answers.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection of the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool returns the underlying connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// rowQuerier is what a pool and a transaction share for one-row reads.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// now is the ledger's time: Clock's, else the database's (the start of tx's
// transaction when tx is given).
func (s *Store) now(ctx context.Context, q rowQuerier) (time.Time, error) {
	if s.Clock != nil {
		return s.Clock(), nil
	}
	var t time.Time
	if err := q.QueryRow(ctx, `SELECT now()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("database clock: %w", err)
	}
	return t, nil
}

// today is the ledger's day in Madrid, at midnight Madrid.
func (s *Store) today(ctx context.Context, q rowQuerier) (time.Time, error) {
	t, err := s.now(ctx, q)
	if err != nil {
		return time.Time{}, err
	}
	return madridDay(t), nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	if err := pgx.BeginFunc(ctx, s.pool, fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
