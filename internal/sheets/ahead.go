package sheets

import "sync"

// aheadBatch is how many rows the type scanner hands over at a time, and
// aheadBatches how many batches it may read ahead of excelize.
const (
	aheadBatch   = 256
	aheadBatches = 4
)

// typesAhead runs a typeScanner in a goroutine of its own, a few batches of
// rows ahead of excelize's iterator, so that the two passes over a worksheet
// run side by side instead of one after the other.
type typesAhead struct {
	s       *typeScanner
	batches chan typedBatch
	stop    chan struct{}
	stopOne sync.Once
	done    chan struct{}

	// Read by the iterator's goroutine only.
	cur     typedBatch
	i       int
	pending bool     // row has been taken from a batch and not yet asked for
	row     typedRow // that row
	// Batches received by readAhead and not yet reached, the number of the
	// last row received, and whether the scanner has sent its last batch.
	queue []typedBatch
	seen  int
	ended bool
	// declared is the last row of the sheet's dimension element, as the
	// latest batch received has it (0 when unknown).
	declared int
}

// typedRow is a row of the worksheet as the type scanner saw it.
type typedRow struct {
	num   int
	kinds []cellKind
}

// typedBatch is some rows in order, then the error that stopped the scanner
// after them, if any. The channel closes after the last row of the sheet.
type typedBatch struct {
	rows     []typedRow
	err      error
	declared int // the sheet's dimension, once the scanner has read it
}

func newTypesAhead(s *typeScanner) *typesAhead {
	a := &typesAhead{s: s, batches: make(chan typedBatch, aheadBatches), stop: make(chan struct{}), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *typesAhead) run() {
	defer close(a.done)
	defer close(a.batches)
	var (
		b    typedBatch
		slab []cellKind // the kinds of the batch's rows, one after the other
	)
	for {
		err := a.s.advance()
		if err == nil && a.s.pending {
			from := len(slab)
			slab = append(slab, a.s.buf...)
			b.rows = append(b.rows, typedRow{num: a.s.num, kinds: slab[from:len(slab):len(slab)]})
			a.s.pending = false
		}
		last := err != nil || a.s.finished
		if !last && len(b.rows) < aheadBatch {
			continue
		}
		b.err, b.declared = err, a.s.declaredLastRow()
		select {
		case a.batches <- b:
		case <-a.stop:
			return
		}
		if last {
			return
		}
		b, slab = typedBatch{rows: make([]typedRow, 0, aheadBatch)}, nil
	}
}

// next returns the next row the scanner found, false at the end of the
// sheet, or the error that stopped the scanner.
func (a *typesAhead) next() (typedRow, bool, error) {
	for a.i >= len(a.cur.rows) {
		if a.cur.err != nil {
			return typedRow{}, false, a.cur.err
		}
		if len(a.queue) > 0 {
			a.cur, a.i = a.queue[0], 0
			a.queue = a.queue[1:]
			continue
		}
		b, ok := a.receive()
		if !ok {
			return typedRow{}, false, nil
		}
		a.cur, a.i = b, 0
	}
	a.i++
	return a.cur.rows[a.i-1], true, nil
}

// receive takes the scanner's next batch, false after the last one.
func (a *typesAhead) receive() (typedBatch, bool) {
	b, ok := <-a.batches
	if !ok {
		a.ended = true
		return b, false
	}
	if n := len(b.rows); n > 0 {
		a.seen = b.rows[n-1].num
	}
	a.declared = b.declared
	return b, true
}

// readAhead waits until the scanner has read a row numbered above n, or
// the end of the sheet. It returns the error that stopped the scanner when
// it stopped before such a row: the limits it enforces are then broken
// before excelize would read past row n.
func (a *typesAhead) readAhead(n int) error {
	for a.seen <= n && !a.ended {
		if a.cur.err != nil {
			return a.cur.err
		}
		if k := len(a.queue); k > 0 && a.queue[k-1].err != nil {
			return a.queue[k-1].err
		}
		b, ok := a.receive()
		if !ok {
			break
		}
		a.queue = append(a.queue, b)
	}
	return nil
}

// kinds returns the cell kinds of row n, or nil when the file has no row n
// (excelize then yields an empty row). Rows must be asked for in order.
func (a *typesAhead) kinds(n int) ([]cellKind, error) {
	for !a.pending || a.row.num < n {
		r, ok, err := a.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		a.row, a.pending = r, true
	}
	if a.row.num > n {
		return nil, nil
	}
	a.pending = false
	return a.row.kinds, nil
}

// after returns the number of the first row the scanner found after row n,
// the last one excelize gave, or 0 when there is none.
func (a *typesAhead) after(n int) (int, error) {
	if a.pending && a.row.num > n {
		return a.row.num, nil
	}
	r, ok, err := a.next()
	if err != nil || !ok {
		return 0, err
	}
	return r.num, nil
}

// close stops the scanner and closes the worksheet part it reads.
func (a *typesAhead) close() error {
	a.stopOne.Do(func() { close(a.stop) })
	<-a.done
	return a.s.close()
}
