package imports_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/imports"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/internal/sheets/sheetstest"
	"github.com/elega/impagos/internal/store"
)

// TestHostileFilesTouchNothingStored imports the sample exports into a
// ledger of its own, then gives every hostile file the readers refuse to the
// import it imitates: each must fail, and every table must hold exactly what
// it held before, row for row. Some files fail half way, after a thousand
// good rows were read (and, for the returns, sent to COPY): the transaction
// must take them back.
//
// Temporal is never reached: a refused file starts no case and signals
// none, so the target has no client, and a file imported by mistake fails
// the test (with the nil client's panic) instead of starting cases.
func TestHostileFilesTouchNothingStored(t *testing.T) {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set")
	}
	ctx := context.Background()
	db, done, err := store.OpenIsolated(ctx, dsn, "hostile_test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := done(); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	target := imports.Target{DB: db, TaskQueue: "hostile-test"}
	seed(t, ctx, db, target)
	before := snapshot(t, ctx, db)
	for table, rows := range before {
		t.Logf("%s: %d rows", table, len(rows))
	}

	tried := 0
	for _, c := range sheetstest.Cases() {
		if !c.Refused {
			continue
		}
		for _, l := range sheetstest.Layouts {
			t.Run(c.Name+"/"+l.String(), func(t *testing.T) {
				tried++
				path := c.Write(t, t.TempDir(), l)
				start := time.Now()
				err := importFile(ctx, target, l, path)
				t.Logf("%v: %v", time.Since(start).Round(time.Millisecond), err)
				if err == nil {
					t.Errorf("imported; want it refused")
				}
				after := snapshot(t, ctx, db)
				for table, rows := range before {
					if !reflect.DeepEqual(after[table], rows) {
						t.Errorf("table %s changed: %d rows before, %d after", table, len(rows), len(after[table]))
					}
				}
			})
		}
	}
	t.Logf("%d hostile files refused by the imports, nothing stored touched", tried)
}

// importFile runs the import of the layout on a file, as starter does.
func importFile(ctx context.Context, target imports.Target, l sheetstest.Layout, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = nil
			panic(fmt.Sprintf("%s was imported and the import went on to Temporal: %v", path, r))
		}
	}()
	switch l {
	case sheetstest.Contracts:
		_, err = imports.Contracts(ctx, target, path, sheets.Options{}, false)
	case sheetstest.Payments:
		_, err = imports.Payments(ctx, target, path, sheets.Options{}, false)
	default:
		_, err = imports.Returns(ctx, target, path, sheets.Options{}, false)
	}
	return err
}

// seed fills the ledger with the sample exports and an open case.
func seed(t *testing.T, ctx context.Context, db *store.Store, target imports.Target) {
	t.Helper()
	const samples = "../sheets/testdata/"
	contracts, err := imports.Contracts(ctx, target, samples+"contratos.xlsx", sheets.Options{}, false)
	if err != nil || contracts.Stored == 0 {
		t.Fatalf("contracts: %d stored, %v", contracts.Stored, err)
	}
	// The returns go straight to the store: imports.Returns would start
	// their cases in Temporal.
	returns := samples + "trade_vencimientos_devueltos.xlsx"
	imported, err := db.ImportReturns(ctx, returns, func(emit func(sheets.Return) error) error {
		_, err := sheets.ReadReturns(returns, sheets.Options{}, emit)
		return err
	})
	if err != nil || len(imported.New) == 0 {
		t.Fatalf("returns: %d new, %v", len(imported.New), err)
	}
	// A case of its own supply point, so that no contract or payment above
	// reaches it.
	if _, err := db.OpenCase(ctx, activities.OpenCaseInput{
		Case: activities.CaseRef{WorkflowID: "impago-HOSTIL-1", RunID: "run-1", Invoice: "HOSTIL-1",
			Customer: "Ferretería Ruiz SL", Cups: "ES0021000000999999ZZ", Stage: "started", AmountDueCents: 12345},
		AmountCents: 12345, ReturnedAt: time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC),
	}); err != nil {
		t.Fatal(err)
	}
	payments, err := imports.Payments(ctx, target, samples+"pago_facturas_clientes.xlsx", sheets.Options{}, false)
	if err != nil || payments.Recorded == 0 {
		t.Fatalf("payments: %d recorded, %v", payments.Recorded, err)
	}
}

// snapshot returns every row of every table of the ledger, as text, in order.
func snapshot(t *testing.T, ctx context.Context, db *store.Store) map[string][]string {
	t.Helper()
	rows, err := db.Pool().Query(ctx, `
		SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("the ledger has %d tables: %v", len(tables), tables)
	}
	out := make(map[string][]string, len(tables))
	for _, table := range tables {
		rows, err := db.Pool().Query(ctx, fmt.Sprintf(`SELECT t::text FROM %s t ORDER BY 1`, pgx.Identifier{table}.Sanitize()))
		if err != nil {
			t.Fatal(err)
		}
		if out[table], err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
