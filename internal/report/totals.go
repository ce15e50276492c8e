package report

import (
	"sort"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// State is how the clerks' table colours a row (PROCESS "Every day").
type State int

// The states of a row, in the clerks' colours.
const (
	Managing State = iota // yellow: open, the supply not cut
	Cut                   // red: the supply is cut and the invoice not paid
	Resolved              // no fill: paid (and, if it was cut, reconnected)
)

// Label is the state as the table's Estado column writes it.
func (s State) Label() string {
	switch s {
	case Cut:
		return "Cortado"
	case Resolved:
		return "Resuelto"
	default:
		return "En gestión"
	}
}

// StateOf says how a row is coloured: resolved once settled and owing
// nothing; cut while its cut is in force; in management otherwise.
func StateOf(r *store.ReportRow) State {
	switch {
	case !r.PaidAt.IsZero() && r.PendingCents == 0:
		return Resolved
	case !r.CutAt.IsZero() && !r.Reconnected:
		return Cut
	default:
		return Managing
	}
}

// stageOrder is the order stages are listed in; its labels are the names the
// clerks read in the workbook.
var stageOrder = []struct {
	stage workflows.Stage
	label string
}{
	{workflows.StageChecking, "Comprobando pagos"},
	{workflows.StageNeedsContact, "Sin datos de contacto"},
	{workflows.StageNotice1, "Aviso 1"},
	{workflows.StageNotice2, "Aviso 2"},
	{workflows.StageNotice3, "Requerimiento"},
	{workflows.StageCutScheduled, "Corte programado"},
	{workflows.StageCutReview, "Corte en revisión"},
	{workflows.StageCutBlocked, "Corte bloqueado"},
	{workflows.StageMinimumSupply, "Suministro mínimo vital"},
	{workflows.StageOnHold, "En espera"},
	{workflows.StageCut, "Cortado"},
	{workflows.StageReconnecting, "Reconectando"},
	{workflows.StagePaid, "Pagado"},
	{workflows.StageReconnected, "Reconectado"},
	{workflows.StageCancelled, "Cancelado"},
}

var stageRank, stageLabels = func() (map[string]int, map[string]string) {
	rank, labels := map[string]int{}, map[string]string{}
	for i, s := range stageOrder {
		rank[string(s.stage)], labels[string(s.stage)] = i, s.label
	}
	return rank, labels
}()

// StageLabel is the clerks' name of a stage; an unknown stage keeps its code.
func StageLabel(stage string) string {
	if l, ok := stageLabels[stage]; ok {
		return l
	}
	if stage == "" {
		return "Sin etapa"
	}
	return stage
}

// SegmentLabel is the clerks' name of a contract segment.
func SegmentLabel(segment string) string {
	switch segment {
	case activities.SegmentDomestic:
		return "Doméstico"
	case activities.SegmentBusiness:
		return "Empresa"
	default:
		return segment
	}
}

// AgeBuckets name the ages of a debt, in days since the return.
var AgeBuckets = [4]string{"0–30 días", "31–60 días", "61–90 días", "Más de 90 días"}

// ageBucket returns the index in AgeBuckets of a debt returned at returned,
// counted in calendar days in Madrid up to the day asOf.
func ageBucket(returned, asOf time.Time) int {
	days := daysBetween(returned, asOf)
	switch {
	case days <= 30:
		return 0
	case days <= 60:
		return 1
	case days <= 90:
		return 2
	default:
		return 3
	}
}

// daysBetween counts calendar days in Madrid from a to b.
func daysBetween(a, b time.Time) int {
	da, db := civil(a), civil(b)
	return int(db.Sub(da).Hours() / 24)
}

// civil is the calendar day of t in Madrid, as midnight UTC, so that day
// arithmetic knows no daylight saving.
func civil(t time.Time) time.Time {
	y, m, d := t.In(madrid).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// StageTotal is what the invoices of one stage owe.
type StageTotal struct {
	Stage        string   `json:"stage"`
	Label        string   `json:"label"`
	Invoices     int      `json:"invoices"` // rows of the table in the stage
	Owing        int      `json:"owing"`    // of them, those that owe something
	PendingCents int64    `json:"pending_cents"`
	AgeCents     [4]int64 `json:"age_cents"` // PendingCents by AgeBuckets
}

// Totals add up the table: the Total General and its parts.
type Totals struct {
	Invoices     int          `json:"invoices"`
	Managing     int          `json:"managing"` // yellow rows
	Cut          int          `json:"cut"`      // red rows
	Resolved     int          `json:"resolved"` // rows without fill
	Owing        int          `json:"owing"`    // rows that owe something
	PendingCents int64        `json:"total_cents"`
	AgeCents     [4]int64     `json:"age_cents"`
	Stages       []StageTotal `json:"stages"`
	// What is owed by the path the bank's reason of the return chose, and by
	// reason code (PROCESS "Why the bank returned it"); the invoices without
	// a bank's reason under PathNone.
	Paths   []ReasonTotal `json:"paths"`
	Reasons []ReasonTotal `json:"reasons"`

	byStage  map[string]int    // index in Stages
	byPath   map[string]int    // index in Paths
	byReason map[reasonKey]int // index in Reasons
}

func (t *Totals) add(r *store.ReportRow, st State, asOf time.Time) {
	if t.byStage == nil {
		t.byStage = map[string]int{}
	}
	i, ok := t.byStage[r.Stage]
	if !ok {
		i = len(t.Stages)
		t.byStage[r.Stage] = i
		t.Stages = append(t.Stages, StageTotal{Stage: r.Stage, Label: StageLabel(r.Stage)})
	}
	s := &t.Stages[i]
	t.Invoices++
	s.Invoices++
	switch st {
	case Managing:
		t.Managing++
	case Cut:
		t.Cut++
	case Resolved:
		t.Resolved++
	}
	t.addReason(r, st)
	if r.PendingCents <= 0 {
		return
	}
	b := ageBucket(r.ReturnedAt, asOf)
	t.Owing++
	s.Owing++
	t.PendingCents += r.PendingCents
	s.PendingCents += r.PendingCents
	t.AgeCents[b] += r.PendingCents
	s.AgeCents[b] += r.PendingCents
}

// sort lists the stages and the reasons in their order.
func (t *Totals) sort() {
	t.sortStages()
	t.sortReasons()
}

// sortStages puts the stages in the order a case goes through them.
func (t *Totals) sortStages() {
	rank := func(s string) int {
		if r, ok := stageRank[s]; ok {
			return r
		}
		return len(stageOrder)
	}
	sort.SliceStable(t.Stages, func(i, j int) bool {
		ri, rj := rank(t.Stages[i].Stage), rank(t.Stages[j].Stage)
		if ri != rj {
			return ri < rj
		}
		return t.Stages[i].Stage < t.Stages[j].Stage
	})
	for i, s := range t.Stages {
		t.byStage[s.Stage] = i
	}
}
