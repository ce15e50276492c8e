package sheets_test

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/internal/sheets/sheetstest"
)

// Bounds every hostile file must be read or refused within, on a shared
// two-core test machine: the slowest, a million rows that do not say so,
// reads half a million rows before it is refused.
const (
	hostileTime = 15 * time.Second
	hostileHeap = 64 << 20
)

// read reads a file with the reader of the layout and counts the rows it
// accepts.
func read(l sheetstest.Layout, path string) (accepted int, err error) {
	count := func() error { accepted++; return nil }
	switch l {
	case sheetstest.Contracts:
		_, err = sheets.ReadContracts(path, sheets.Options{}, func(sheets.Contract) error { return count() })
	case sheetstest.Payments:
		_, err = sheets.ReadPayments(path, sheets.Options{}, func(sheets.Payment) error { return count() })
	default:
		_, err = sheets.ReadReturns(path, sheets.Options{}, func(sheets.Return) error { return count() })
	}
	return accepted, err
}

// TestHostileFiles gives each hostile file to the reader it imitates: a file
// beyond a limit is refused with an error that names the file and the
// limit, a file within them is read; either way in bounded time and memory.
func TestHostileFiles(t *testing.T) {
	layouts := sheetstest.Layouts
	if testing.Short() {
		layouts = layouts[:1] // the returns reader only
	}
	tried := 0
	for _, c := range sheetstest.Cases() {
		for _, l := range layouts {
			t.Run(c.Name+"/"+l.String(), func(t *testing.T) {
				tried++
				path := c.Write(t, t.TempDir(), l)
				var (
					accepted int
					err      error
				)
				took, peak := measure(func() { accepted, err = read(l, path) })
				t.Logf("%v, heap peak +%d MB: %v", took.Round(time.Millisecond), peak>>20, err)
				if took > hostileTime*raceSlowdown {
					t.Errorf("took %v, want under %v", took, hostileTime*raceSlowdown)
				}
				if peak > hostileHeap {
					t.Errorf("the heap grew by %d MB, want under %d MB", peak>>20, hostileHeap>>20)
				}
				if !c.Refused {
					if err != nil {
						t.Fatal(err)
					}
					if accepted != c.Good {
						t.Errorf("accepted %d rows, want %d", accepted, c.Good)
					}
					return
				}
				if err == nil {
					t.Fatalf("read, accepting %d rows; want it refused", accepted)
				}
				if c.Err != nil && !errors.Is(err, c.Err) {
					t.Errorf("error %q is not %q", err, c.Err)
				}
				for _, want := range append([]string{filepath.Base(path)}, c.Says...) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q\ndoes not say %q", err, want)
					}
				}
				if c.Good > 0 && accepted > c.Good {
					t.Errorf("accepted %d rows, more than the %d good ones", accepted, c.Good)
				}
			})
		}
	}
	t.Logf("%d hostile files tried (%d shapes, each by %d readers)", tried, tried/len(layouts), len(layouts))
}

// measure runs f and returns how long it took and how far the heap in use
// rose above where it was, sampled every millisecond.
func measure(f func()) (took time.Duration, peak uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapInuse
	var (
		mu   sync.Mutex
		high = base
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		high = max(high, m.HeapInuse)
		mu.Unlock()
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	start := time.Now()
	f()
	took = time.Since(start)
	close(stop)
	<-done
	sample()
	return took, high - base
}
