package report

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// csvAllSheets is LibreOffice's CSV export: comma, double quotes, UTF-8,
// cells as shown (formatted), every sheet to its own file.
const csvAllSheets = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"

// TestWorkbookOpensInLibreOffice opens the workbook in a real spreadsheet
// program: LibreOffice, headless, converts every sheet to CSV as it shows
// them. It must show the table as written and compute the pivot table, which
// the workbook defines but does not fill, from the table.
func TestWorkbookOpensInLibreOffice(t *testing.T) {
	t.Parallel()
	soffice := ""
	for _, name := range []string{"soffice", "libreoffice"} {
		if p, err := exec.LookPath(name); err == nil {
			soffice = p
			break
		}
	}
	if soffice == "" {
		t.Skip("LibreOffice is not installed (Debian: apt-get install --no-install-recommends libreoffice-calc-nogui)")
	}
	path, total := writeSample(t, Reconciliation{Status: CheckFirst, Note: "primer informe"})
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "--headless", "--norestore",
		"-env:UserInstallation=file://"+filepath.ToSlash(filepath.Join(dir, "profile")),
		"--convert-to", csvAllSheets, "--outdir", dir, path)
	// A fixed locale, so that numbers read back with a decimal point.
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "soffice: %s", out)

	table := readCSV(t, filepath.Join(dir, "impagos-"+SheetTable+".csv"))
	require.Equal(t, TableHeader, table[0])
	require.Len(t, table, 5)
	require.Equal(t, "=SUM(A1)", table[1][0], "a formula-looking name stays text")
	require.Equal(t, "+34600111222", table[2][0])
	require.Equal(t, "@x", table[3][0])
	require.Regexp(t, regexp.MustCompile(`^123[.,]45 €$`), table[1][1], "euros with two decimals")
	require.Equal(t, "03/03/2026", table[2][7], "dates dd/mm/yyyy")
	require.Equal(t, "Cortado", table[2][11])
	require.Equal(t, "AC04 · cuenta o mandato", table[1][13])

	// LibreOffice builds the pivot from the table: its grand total is the
	// Total General, and the formula-looking customer is one of its rows.
	summary := readCSV(t, filepath.Join(dir, "impagos-"+SheetSummary+".csv"))
	var grand []string
	var customers []string
	for _, row := range summary {
		if len(row) == 0 {
			continue
		}
		if strings.HasPrefix(row[0], "Total") && !strings.Contains(row[0], "(importe)") {
			grand = row
		}
		customers = append(customers, row[0])
	}
	require.NotNil(t, grand, "no grand total row in the pivot table:\n%v", summary)
	last := ""
	for _, v := range grand[1:] {
		if v != "" {
			last = v
		}
	}
	got, err := strconv.ParseFloat(strings.NewReplacer(",", "", " €", "").Replace(last), 64)
	require.NoError(t, err, "grand total %q", last)
	require.InDelta(t, float64(total)/100, got, 0.001)
	require.Contains(t, customers, "=SUM(A1)")

	// Beside the check, the breakdown by the bank's reason, as written.
	byReason := map[string][]string{}
	for _, row := range summary {
		if len(row) > 9 && row[7] != "" {
			byReason[row[7]] = row[7:10]
		}
	}
	require.Equal(t, "1", byReason["AM04 · sin fondos"][1], "%v", summary)
	require.Regexp(t, regexp.MustCompile(`^200[.,]00 €$`), byReason["AM04 · sin fondos"][2])
	require.Regexp(t, regexp.MustCompile(`^323[.,]45 €$`), byReason["Total"][2])
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	require.NoError(t, err)
	return rows
}
