package store

import (
	"errors"
	"sync"
)

// copyBatch is how many rows the reader hands to COPY at a time: enough to
// make the hand-over cheap, few enough to keep little in flight.
const copyBatch = 1024

// copyAhead is how many batches the reader may get ahead of COPY.
const copyAhead = 4

// errCopyStopped tells a reader that COPY no longer takes rows.
var errCopyStopped = errors.New("the store stopped taking rows")

// rowStream is a pgx.CopyFromSource fed by a reader running in a goroutine of
// its own, so that reading a workbook and storing its rows overlap. The
// reader calls emit for each row; COPY pulls them in batches.
type rowStream[T any] struct {
	batches chan []T
	stopped chan struct{}
	stopOne sync.Once
	done    chan struct{}
	values  func(T) []any

	readErr error // set by the reader before batches is closed
	ended   bool  // Next saw the end of the rows
	cur     []T
	i       int
	n       int // rows handed to COPY
}

// streamRows starts read and returns the source COPY takes its rows from.
// The caller must call stop once COPY is over, whatever its outcome.
func streamRows[T any](read func(emit func(T) error) error, values func(T) []any) *rowStream[T] {
	s := &rowStream[T]{
		batches: make(chan []T, copyAhead),
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
		values:  values,
	}
	go s.run(read)
	return s
}

func (s *rowStream[T]) run(read func(emit func(T) error) error) {
	defer close(s.done)
	batch := make([]T, 0, copyBatch)
	send := func() error {
		select {
		case s.batches <- batch:
			batch = make([]T, 0, copyBatch)
			return nil
		case <-s.stopped:
			return errCopyStopped
		}
	}
	err := read(func(r T) error {
		select {
		case <-s.stopped:
			return errCopyStopped
		default:
		}
		batch = append(batch, r)
		if len(batch) < copyBatch {
			return nil
		}
		return send()
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
	s.readErr = err
	close(s.batches)
}

// Next, Values and Err make rowStream a pgx.CopyFromSource; pgx calls them
// from one goroutine.
func (s *rowStream[T]) Next() bool {
	for s.i >= len(s.cur) {
		b, ok := <-s.batches
		if !ok {
			s.ended = true
			return false
		}
		s.cur, s.i = b, 0
	}
	s.i++
	s.n++
	return true
}

func (s *rowStream[T]) Values() ([]any, error) { return s.values(s.cur[s.i-1]), nil }

func (s *rowStream[T]) Err() error {
	if !s.ended {
		return nil
	}
	return s.readErr
}

// stop tells the reader that no more rows are taken and waits for it to
// return. It then returns the reader's own error, if any: the one to report,
// since COPY only says that it was aborted.
func (s *rowStream[T]) stop() error {
	s.stopOne.Do(func() { close(s.stopped) })
	<-s.done
	if errors.Is(s.readErr, errCopyStopped) {
		return nil
	}
	return s.readErr
}

// rows is the number of rows handed to COPY.
func (s *rowStream[T]) rows() int { return s.n }
