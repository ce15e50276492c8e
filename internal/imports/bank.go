package imports

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/elega/impagos/internal/bankfile"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// Matching says how a bank's return names its invoice and what its reason
// makes of the case.
type Matching struct {
	// Pattern reads the invoice from the end-to-end id, or else from the
	// mandate: its one group is the invoice number. Without one, the
	// end-to-end id is the invoice number (the remittances carry it so).
	Pattern *regexp.Regexp
	// Paths overrides the reason table's path of some codes.
	Paths map[string]workflows.ReturnPath
}

// MatchingFromEnv reads IMPAGOS_E2E_PATTERN (a regular expression with one
// group) and IMPAGOS_REASON_PATHS ("CODE=path,CODE=path").
func MatchingFromEnv() (Matching, error) {
	return ParseMatching(os.Getenv("IMPAGOS_E2E_PATTERN"), os.Getenv("IMPAGOS_REASON_PATHS"))
}

// ParseMatching reads the pattern and the path overrides as the environment
// gives them.
func ParseMatching(pattern, paths string) (Matching, error) {
	var m Matching
	if pattern = strings.TrimSpace(pattern); pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return m, fmt.Errorf("IMPAGOS_E2E_PATTERN: %w", err)
		}
		if re.NumSubexp() != 1 {
			return m, fmt.Errorf("IMPAGOS_E2E_PATTERN %q: want exactly one group (the invoice number), it has %d", pattern, re.NumSubexp())
		}
		m.Pattern = re
	}
	for _, kv := range strings.Split(paths, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		code, path, ok := strings.Cut(kv, "=")
		p := workflows.ReturnPath(strings.TrimSpace(path))
		if !ok || strings.TrimSpace(code) == "" || !p.Valid() {
			return m, fmt.Errorf("IMPAGOS_REASON_PATHS: %q is not CODE=path (path: funds, disputed, account, deceased or our_error)", kv)
		}
		if m.Paths == nil {
			m.Paths = map[string]workflows.ReturnPath{}
		}
		m.Paths[strings.ToUpper(strings.TrimSpace(code))] = p
	}
	return m, nil
}

// Invoice is the invoice a return names, "" when it names none.
func (m Matching) Invoice(r bankfile.Return) string {
	if m.Pattern == nil {
		if id := strings.TrimSpace(r.EndToEndID); id != "" && !strings.EqualFold(id, "NOTPROVIDED") {
			return id
		}
		return ""
	}
	for _, s := range []string{r.EndToEndID, r.MandateID} {
		if g := m.Pattern.FindStringSubmatch(strings.TrimSpace(s)); g != nil && strings.TrimSpace(g[1]) != "" {
			return strings.TrimSpace(g[1])
		}
	}
	return ""
}

// Path is the path of a return's reason.
func (m Matching) Path(r bankfile.Return) workflows.ReturnPath {
	if p, ok := m.Paths[strings.ToUpper(r.Reason)]; ok {
		return p
	}
	return workflows.ReturnPath(bankfile.PathOf(r.Reason, r.Originator))
}

// BankResult is what the import of one bank's return file did.
type BankResult struct {
	File bankfile.File
	// Known is true when the ledger had the file (by its hash): nothing new
	// was stored, and its returns' cases were only looked at again.
	Known   bool
	Returns []store.BankReturn
	// Started counts the cases started; Told the open cases that took the
	// bank's reason; AlreadyOpen and AlreadyHandled the cases found open or
	// closed that were not told again.
	Started, Told, AlreadyOpen, AlreadyHandled int
	Failed                                     []Failure
}

// BankReturns reads one bank's return file (pain.002, camt.054 or AEB 19.14)
// and, unless dryRun, stores it with its returns and starts one case per new
// matched return on the path its reason names, or tells the invoice's open
// case the reason. A file that cannot be read stores nothing; a bad
// transaction is listed and the others are taken.
func BankReturns(ctx context.Context, t Target, path string, m Matching, dryRun bool) (BankResult, error) {
	f, err := bankfile.ReadFile(path)
	res := BankResult{File: f}
	if err != nil {
		return res, err
	}
	rets := make([]store.BankReturn, 0, len(f.Returns))
	for _, r := range f.Returns {
		var requested *time.Time
		if !r.RequestedOn.IsZero() {
			d := r.RequestedOn
			requested = &d
		}
		returned := r.ReturnedOn
		if returned.IsZero() {
			returned = f.CreatedAt
		}
		rets = append(rets, store.BankReturn{
			EndToEndID: r.EndToEndID, MandateID: r.MandateID, AmountCents: r.AmountCents,
			DebtorName: r.DebtorName, DebtorIBAN: r.DebtorIBAN, IBANOK: r.IBANOK,
			RequestedOn: requested, ReturnedOn: returned, Reason: r.Reason, Originator: r.Originator,
			Path: string(m.Path(r)), Candidate: m.Invoice(r), Where: r.Where, File: f.MessageID,
		})
	}
	if dryRun {
		for i := range rets {
			rets[i].Invoice = rets[i].Candidate
			if rets[i].Invoice == "" {
				rets[i].Status = store.ReturnUnmatched
			}
		}
		res.Returns = rets
		return res, nil
	}
	imp, err := t.DB.ImportBankFile(ctx, store.BankFile{
		SHA256: f.SHA256, Name: filepath.Base(path), Format: string(f.Format), MessageID: f.MessageID,
		CreatedAt: f.CreatedAt, Returns: len(f.Returns), Rejected: len(f.Rejected),
	}, rets)
	if err != nil {
		return res, err
	}
	res.Known, res.Returns = imp.Known, imp.Returns
	err = t.act(ctx, &res, imp.Returns, "fichero del banco "+filepath.Base(path))
	return res, err
}

// act starts or tells the case of each placed return.
func (t Target) act(ctx context.Context, res *BankResult, rets []store.BankReturn, by string) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startConcurrency)
	for i := range rets {
		r := &rets[i]
		if r.Status != store.ReturnStarted && r.Status != store.ReturnKnown {
			continue
		}
		g.Go(func() error {
			outcome, detail, err := t.actOn(gctx, r, by)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				res.Failed = append(res.Failed, Failure{Invoice: r.Invoice, Error: err.Error()})
			case outcome == cases.Started:
				res.Started++
			case outcome == "told":
				res.Told++
			case outcome == cases.AlreadyOpen:
				res.AlreadyOpen++
			default:
				res.AlreadyHandled++
			}
			if detail != "" {
				r.Detail = detail
			}
			return gctx.Err()
		})
	}
	err := g.Wait()
	sort.Slice(res.Failed, func(i, j int) bool { return res.Failed[i].Invoice < res.Failed[j].Invoice })
	return err
}

// actOn starts the case of a new return, or tells the open case of a known
// one its reason; a case the ledger took for new but that is open (started
// a moment ago by another import) is told too.
func (t Target) actOn(ctx context.Context, r *store.BankReturn, by string) (cases.Outcome, string, error) {
	ret := &workflows.BankReturn{Reason: r.Reason, Path: workflows.ReturnPath(r.Path), Originator: r.Originator,
		Description: bankfile.Describe(r.Reason), File: r.File, By: by}
	if r.Status == store.ReturnStarted {
		in := workflows.Input{Invoice: r.Invoice, Customer: r.Customer, Cups: r.Cups, AmountCents: r.AmountCents,
			ReturnedAt: r.ReturnedOn.In(calendar.Madrid), Policy: t.Policy, Return: ret}
		out, err := cases.Start(ctx, t.Temporal, t.TaskQueue, in, r.New)
		if err != nil || out != cases.AlreadyOpen || !r.New {
			return out, "", err
		}
	}
	ans, err := cases.Update(ctx, t.Temporal, r.Invoice, workflows.UpdateBankReturn, *ret)
	var refused *cases.Refused
	switch {
	case errors.Is(err, cases.ErrClosed) || errors.Is(err, cases.ErrUnknown):
		detail := "its case is closed: the reason is kept in the ledger"
		if errors.Is(err, cases.ErrUnknown) {
			detail = "no case for the invoice yet: the reason is kept in the ledger"
		}
		return cases.AlreadyClosed, detail, t.DB.MarkBankReturn(ctx, r.ID, store.ReturnKnown, detail)
	case errors.As(err, &refused) && strings.Contains(refused.Reason, "already recorded"):
		r.Status = store.ReturnSent
		return cases.AlreadyOpen, refused.Reason, t.DB.MarkBankReturn(ctx, r.ID, store.ReturnSent, refused.Reason)
	case errors.As(err, &refused):
		return cases.AlreadyOpen, "refused by the case: " + refused.Reason, t.DB.MarkBankReturn(ctx, r.ID, store.ReturnKnown, "refused by the case: "+refused.Reason)
	case err != nil:
		return "", "", err
	}
	detail := fmt.Sprintf("case told: %s (%s)", ans.Detail, ans.Stage)
	r.Status = store.ReturnSent
	return "told", detail, t.DB.MarkBankReturn(ctx, r.ID, store.ReturnSent, detail)
}

// StartPlaced starts or tells the cases of the returns a contracts import
// placed (store.ResolvePendingReturns).
func (t Target) StartPlaced(ctx context.Context, placed []store.BankReturn) (BankResult, error) {
	res := BankResult{Returns: placed}
	err := t.act(ctx, &res, res.Returns, "importación de contratos")
	return res, err
}
