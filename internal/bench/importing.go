package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/internal/store"
)

// importRounds is how many times each import runs, alternating with its
// baseline; the fastest round of each counts, the largest peak RSS counts.
const importRounds = 3

// importFigure is figure 1: the TRADE export read, validated and stored the
// way the import does it (sheets.ReadReturns, then store.ImportReturns),
// against the same file read with excelize's row iterator and copied with a
// bare COPY into a plain table, without validation. Starting the cases is not
// part of it (figure 2 is).
func (b *bench) importFigure(ctx context.Context) error {
	n := b.opts.sizes.importRows
	path := filepath.Join(b.tmp, "trade_vencimientos_devueltos.xlsx")
	t := time.Now()
	if err := writeExport(path, n, "FB26-"); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	progress("figure 1: export of %d rows written in %s (%.1f MB)", n, time.Since(t).Round(time.Millisecond), float64(st.Size())/(1<<20))

	db, dsn, err := b.isolated(ctx, "bench_import")
	if err != nil {
		return err
	}
	var best [2]childResult // [0] import, [1] baseline
	var peak [2]int64
	var cpu [2]float64 // the least CPU a round took, child and database
	for round := 0; round < importRounds; round++ {
		order := []string{"import", "baseline"}
		if round%2 == 1 {
			order = []string{"baseline", "import"} // neither always runs on a warmer machine
		}
		for _, what := range order {
			i := 0
			if what == "baseline" {
				i = 1
			}
			if what == "import" {
				// Each round imports into an empty ledger: a second import of the
				// same file would only find every row known.
				if _, err := db.Pool().Exec(ctx, "TRUNCATE returns"); err != nil {
					return err
				}
			}
			a := childArgs{what: what, file: path, dsn: dsn}
			if b.opts.profileDir != "" {
				a.profile = profilePath(b.opts.profileDir, fmt.Sprintf("%s-%d", what, round+1))
			}
			res, _, err := runChild(ctx, a)
			if err != nil {
				return err
			}
			if res.Rows != n || res.Stored != n {
				return fmt.Errorf("%s read %d rows and stored %d, want %d: %s", what, res.Rows, res.Stored, n, res.Detail)
			}
			split := ""
			if res.ReadSeconds > 0 {
				split = fmt.Sprintf(" (read, validated and copied in %.2fs, then %.2fs to insert the new returns)", res.ReadSeconds, res.Seconds-res.ReadSeconds)
			}
			progress("figure 1: %s round %d: %d rows in %.2fs%s, %.0f rows/s, peak RSS %.0f MB, CPU %.2fs + %.2fs in the database",
				what, round+1, res.Rows, res.Seconds, split, float64(res.Rows)/res.Seconds, mb(res.PeakRSSKB), res.CPUSeconds, res.DBCPUSeconds)
			if c := res.CPUSeconds + res.DBCPUSeconds; cpu[i] == 0 || c < cpu[i] {
				cpu[i] = c
			}
			if best[i].Seconds == 0 || res.Seconds < best[i].Seconds {
				best[i] = res
			}
			peak[i] = max(peak[i], res.PeakRSSKB)
		}
	}
	imp := float64(best[0].Rows) / best[0].Seconds
	base := float64(best[1].Rows) / best[1].Seconds
	b.res.add(figure{fig: "1", name: "import_rows_per_s", value: imp, unit: "rows/s"})
	b.res.add(figure{fig: "1", name: "import_baseline_rows_per_s", value: base, unit: "rows/s"})
	b.res.addTarget(figure{fig: "1", name: "import_ratio", value: ratio(imp, base), unit: "ratio", digits: 3}, 0.8, true)
	b.res.addTarget(figure{fig: "1", name: "import_peak_rss_mb", value: mb(peak[0]), unit: "MB"}, 200, false)
	b.res.add(figure{fig: "1", name: "import_baseline_peak_rss_mb", value: mb(peak[1]), unit: "MB"})
	// The same comparison in CPU time rather than wall time: steadier on a
	// busy machine, and blind to the baseline's overlap of reading and COPY.
	b.res.add(figure{fig: "1", name: "import_cpu_ratio", value: ratio(cpu[1], cpu[0]), unit: "ratio", digits: 3})
	return nil
}

// importChild is the import as `starter import` runs it, without starting
// the cases: every row read and validated, and the accepted ones kept for the
// starts and stored in one transaction while the file is read.
func importChild(ctx context.Context, file, dsn string, meter *cpuMeter) (childResult, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	start := time.Now()
	var (
		rows []sheets.Return
		rep  sheets.Report
		read time.Duration
	)
	stored, err := db.ImportReturns(ctx, filepath.Base(file), func(emit func(sheets.Return) error) error {
		var err error
		rep, err = sheets.ReadReturns(file, sheets.Options{}, func(r sheets.Return) error {
			rows = append(rows, r)
			return emit(r)
		})
		read = time.Since(start)
		return err
	})
	if err != nil {
		return childResult{}, err
	}
	res := childResult{Rows: rep.RowsRead, Stored: len(stored.New), Seconds: time.Since(start).Seconds(), ReadSeconds: read.Seconds()}
	meter.read(ctx, &res)
	if len(rep.Rejected) > 0 {
		res.Detail = fmt.Sprintf("%d rows rejected, the first: row %d: %s", len(rep.Rejected), rep.Rejected[0].Row, rep.Rejected[0].Reason)
	}
	return res, nil
}

// baselineChild is the raw limit of figure 1: excelize's row iterator feeding
// pgx's CopyFrom into a table of text columns, no validation, no transaction
// of ours, no index.
func baselineChild(ctx context.Context, file, dsn string, meter *cpuMeter) (childResult, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return childResult{}, err
	}
	defer conn.Close(context.Background())
	cols := make([]string, exportColumns)
	ddl := "CREATE TABLE IF NOT EXISTS bench_baseline ("
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i+1)
		if i > 0 {
			ddl += ", "
		}
		ddl += cols[i] + " text"
	}
	if _, err := conn.Exec(ctx, ddl+")"); err != nil {
		return childResult{}, err
	}
	if _, err := conn.Exec(ctx, "TRUNCATE bench_baseline"); err != nil {
		return childResult{}, err
	}

	start := time.Now()
	f, err := excelize.OpenFile(file)
	if err != nil {
		return childResult{}, err
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetList()[0])
	if err != nil {
		return childResult{}, err
	}
	defer rows.Close()
	if !rows.Next() { // the header
		return childResult{}, fmt.Errorf("%s is empty", file)
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_baseline"}, cols, &rowSource{rows: rows, vals: make([]any, exportColumns)})
	if err != nil {
		return childResult{}, err
	}
	res := childResult{Rows: int(n), Stored: int(n), Seconds: time.Since(start).Seconds()}
	meter.read(ctx, &res)
	return res, nil
}

// rawCells reads cells as stored, without applying their number format:
// the cheapest way through excelize's iterator, and the one sheets uses.
var rawCells = excelize.Options{RawCellValue: true}

// rowSource feeds excelize's rows to CopyFrom as they are read.
type rowSource struct {
	rows *excelize.Rows
	vals []any
	err  error
}

func (s *rowSource) Next() bool { return s.err == nil && s.rows.Next() }

func (s *rowSource) Values() ([]any, error) {
	cells, err := s.rows.Columns(rawCells)
	if err != nil {
		s.err = err
		return nil, err
	}
	for i := range s.vals {
		s.vals[i] = nil
		if i < len(cells) {
			s.vals[i] = cells[i]
		}
	}
	return s.vals, nil
}

func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Error()
}
