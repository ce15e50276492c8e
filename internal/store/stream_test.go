package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/sheets"
)

// returnsRead emits n returns, numbered from first, and then fails with
// failAfter when it is set.
func returnsRead(first, n int, failAfter error) func(func(sheets.Return) error) error {
	return func(emit func(sheets.Return) error) error {
		for i := first; i < first+n; i++ {
			err := emit(sheets.Return{Row: i + 2, Invoice: fmt.Sprintf("F-%06d", i), Customer: "Ana Pérez",
				AmountCents: 1000 + int64(i), Cups: "ES0021000000000001AB", ReturnedAt: day(2026, 3, 2, 9)})
			if err != nil {
				return err
			}
		}
		return failAfter
	}
}

func TestImportReturnsStoresRowsWhileTheyAreRead(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// More rows than fit in the batches in flight, so COPY must take them
	// while the reader still reads.
	n := copyBatch*(copyAhead+3) + 17
	res, err := s.ImportReturns(ctx, "trade.xlsx", returnsRead(0, n, nil))
	require.NoError(t, err)
	require.Len(t, res.New, n)
	require.Zero(t, res.Known)
	require.Equal(t, n, count(t, s, `SELECT count(*) FROM returns WHERE source_file = 'trade.xlsx'`))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM returns WHERE invoice = 'F-000042' AND amount_cents = 1042 AND source_row = 44`))

	// The same rows again, and some new ones: only the new ones are new.
	res, err = s.ImportReturns(ctx, "trade.xlsx", returnsRead(n-10, 15, nil))
	require.NoError(t, err)
	require.Len(t, res.New, 5)
	require.Equal(t, 10, res.Known)
}

func TestImportReturnsStoresNothingWhenTheReadFailsHalfWay(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, err := s.ImportReturns(ctx, "before.xlsx", returnsRead(0, 3, nil))
	require.NoError(t, err)

	damaged := errors.New("trade.xlsx: sheet \"Hoja1\" is damaged: the rows from 9000 on cannot be read")
	res, err := s.ImportReturns(ctx, "trade.xlsx", returnsRead(100, copyBatch*3, damaged))
	require.ErrorIs(t, err, damaged)
	require.Equal(t, damaged.Error(), err.Error(), "the reader's error reaches the clerk as it is")
	require.Empty(t, res.New)
	require.Zero(t, count(t, s, `SELECT count(*) FROM returns WHERE source_file = 'trade.xlsx'`))
	require.Equal(t, 3, count(t, s, `SELECT count(*) FROM returns`), "rows stored before are untouched")

	// A file refused before its first row stores nothing either.
	refused := errors.New("trade.xlsx is not an Excel workbook (.xlsx)")
	_, err = s.ImportReturns(ctx, "trade.xlsx", returnsRead(0, 0, refused))
	require.ErrorIs(t, err, refused)
	require.Equal(t, 3, count(t, s, `SELECT count(*) FROM returns`))
}

// TestImportReturnsStopsTheReaderWhenTheStoreFails: once COPY fails, the
// reader is told to stop after at most the rows already handed over.
//
// The failure is a row the store cannot encode (a row number beyond int4),
// not a cancelled context: pgx fails COPY at that very row, on the client,
// and pulls no row after it, so the rows read after the failure are bounded by
// the stream alone: the batches up to the bad row's (COPY takes them whole),
// copyAhead batches waiting in the channel, and one batch being filled, less
// the row whose emit is refused. Fewer rows when the reader is slower than
// COPY's failure; never more, whatever the scheduling. A cancelled context
// makes pgx fail only when the server answers the cancel request; until then
// it keeps pulling rows as fast as the reader makes them (9216 once on a
// fresh clone, 15359 under load), so with it the test can only hold that the
// reader is stopped, not how soon.
func TestImportReturnsStopsTheReaderWhenTheStoreFails(t *testing.T) {
	const badRow = copyBatch*2 + 5 // in the third batch
	for _, tc := range []struct {
		name string
		fail func(i int, r *sheets.Return, cancel func())
		// most rows the reader may emit, when the store's failure bounds it
		most int
	}{
		{
			name: "a row the store cannot take",
			fail: func(i int, r *sheets.Return, _ func()) {
				if i == badRow {
					r.Row = math.MaxInt32 + 1
				}
			},
			most: (badRow/copyBatch+1)*copyBatch + copyAhead*copyBatch + copyBatch - 1,
		},
		{
			name: "the database goes away in the middle of the file",
			fail: func(i int, _ *sheets.Return, cancel func()) {
				if i == badRow {
					cancel()
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			goroutines := runtime.NumGoroutine()
			emitted, stopped := 0, error(nil)
			_, err := s.ImportReturns(ctx, "trade.xlsx", func(emit func(sheets.Return) error) error {
				for i := 0; ; i++ {
					r := sheets.Return{Row: i + 2, Invoice: fmt.Sprintf("F-%d", i), AmountCents: 1}
					tc.fail(i, &r, cancel)
					if err := emit(r); err != nil {
						stopped = err
						return err
					}
					emitted++
				}
			})
			require.Error(t, err)
			require.NotErrorIs(t, err, errCopyStopped, "the store's failure is reported, not the stop it caused")
			require.ErrorIs(t, stopped, errCopyStopped, "the reader was told to stop")
			if tc.most > 0 {
				require.LessOrEqual(t, emitted, tc.most, "the reader stopped as soon as the rows in flight were taken")
			}
			require.Zero(t, count(t, s, `SELECT count(*) FROM returns`))
			require.Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+2 }, 5*time.Second, 50*time.Millisecond,
				"the reader's goroutine is gone")
		})
	}
}
