package report

import (
	"sort"

	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// PathNone is the breakdown's path of the invoices without a bank's reason:
// TRADE's exports carry none.
const PathNone = "none"

// NoReasonLabel is how the clerks read an invoice without a bank's reason.
const NoReasonLabel = "sin motivo (TRADE)"

// pathOrder is the order the paths are listed in, with the clerks' short
// names for them (PROCESS "Why the bank returned it").
var pathOrder = []struct {
	path  string
	label string
}{
	{string(workflows.PathFunds), "sin fondos"},
	{string(workflows.PathDisputed), "rechazo del cliente"},
	{string(workflows.PathAccount), "cuenta o mandato"},
	{string(workflows.PathDeceased), "titular fallecido"},
	{string(workflows.PathOurError), "error nuestro"},
	{PathNone, NoReasonLabel},
}

var pathRank, pathLabels = func() (map[string]int, map[string]string) {
	rank, labels := map[string]int{}, map[string]string{}
	for i, p := range pathOrder {
		rank[p.path], labels[p.path] = i, p.label
	}
	return rank, labels
}()

// PathLabel is the clerks' name of a return path; "" (no bank's reason) is
// NoReasonLabel, an unknown path keeps its code.
func PathLabel(path string) string {
	if path == "" {
		path = PathNone
	}
	if l, ok := pathLabels[path]; ok {
		return l
	}
	return path
}

// ReasonLabel is a bank's reason code with its path, short, as the table's
// Motivo Devolución column writes it: "MD06 · rechazo del cliente", or
// NoReasonLabel without a reason.
func ReasonLabel(reason, path string) string {
	if reason == "" {
		return NoReasonLabel
	}
	return reason + " · " + PathLabel(path)
}

// ReasonTotal is what the invoices of one return path, or of one reason code
// and its path, owe.
type ReasonTotal struct {
	Path         string `json:"path"`   // funds, disputed, account, deceased, our_error, or PathNone
	Reason       string `json:"reason"` // the SEPA code, e.g. MD06; "" by path, and without a bank's reason
	Label        string `json:"label"`
	Invoices     int    `json:"invoices"` // rows of the table
	Open         int    `json:"open"`     // of them, those not resolved (in management or cut)
	Owing        int    `json:"owing"`    // of them, those that owe something
	PendingCents int64  `json:"pending_cents"`
}

func (r *ReasonTotal) add(row *store.ReportRow, st State) {
	r.Invoices++
	if st != Resolved {
		r.Open++
	}
	if row.PendingCents > 0 {
		r.Owing++
		r.PendingCents += row.PendingCents
	}
}

// reasonKey is one reason code on one path: a code may choose either of two
// paths (MD01 raised by the debtor is a dispute, else an account problem).
type reasonKey struct{ reason, path string }

// addReason counts a row in its path's and its reason's totals.
func (t *Totals) addReason(r *store.ReportRow, st State) {
	if t.byPath == nil {
		t.byPath, t.byReason = map[string]int{}, map[reasonKey]int{}
	}
	path := r.ReturnPath
	if path == "" || r.ReturnReason == "" {
		path = PathNone
	}
	i, ok := t.byPath[path]
	if !ok {
		i = len(t.Paths)
		t.byPath[path] = i
		t.Paths = append(t.Paths, ReasonTotal{Path: path, Label: PathLabel(path)})
	}
	t.Paths[i].add(r, st)

	k := reasonKey{r.ReturnReason, path}
	if path == PathNone {
		k.reason = ""
	}
	j, ok := t.byReason[k]
	if !ok {
		j = len(t.Reasons)
		t.byReason[k] = j
		t.Reasons = append(t.Reasons, ReasonTotal{Path: path, Reason: k.reason, Label: ReasonLabel(k.reason, path)})
	}
	t.Reasons[j].add(r, st)
}

// sortReasons lists the paths in pathOrder, and the reasons by path, then
// code.
func (t *Totals) sortReasons() {
	rank := func(p string) int {
		if r, ok := pathRank[p]; ok {
			return r
		}
		return len(pathOrder)
	}
	less := func(a, b ReasonTotal) bool {
		if ra, rb := rank(a.Path), rank(b.Path); ra != rb {
			return ra < rb
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Reason < b.Reason
	}
	sort.SliceStable(t.Paths, func(i, j int) bool { return less(t.Paths[i], t.Paths[j]) })
	sort.SliceStable(t.Reasons, func(i, j int) bool { return less(t.Reasons[i], t.Reasons[j]) })
	for i, p := range t.Paths {
		t.byPath[p.Path] = i
	}
	for i, r := range t.Reasons {
		t.byReason[reasonKey{r.Reason, r.Path}] = i
	}
}
