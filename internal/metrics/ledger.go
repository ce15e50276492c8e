package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// FigureSource is the ledger's side of the business metrics (*store.Store).
type FigureSource interface {
	Figures(ctx context.Context) (store.Figures, error)
}

// CaseCounter counts workflows in Temporal's visibility (a client.Client).
type CaseCounter interface {
	CountWorkflow(ctx context.Context, req *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error)
}

// DefaultMaxAge is how long a reading of the ledger serves scrapes.
const DefaultMaxAge = 30 * time.Second

// LedgerOptions tune a Ledger; the zero value is the worker's.
type LedgerOptions struct {
	// MaxAge is how long one reading serves the scrapes that follow it
	// (default DefaultMaxAge); negative: every scrape reads.
	MaxAge time.Duration
	// Timeout bounds one reading (default 10 s).
	Timeout time.Duration
	// MailConfirmGrace is the worker's IMPAGOS_MAIL_CONFIRM_GRACE (zero:
	// activities.DefaultConfirmGrace), exported for the alert on e-mails left
	// sending to compare with.
	MailConfirmGrace time.Duration
}

// Ledger collects the business figures when Prometheus scrapes: what the
// ledger holds open, sent, cut, refused and waiting, and how many cases
// Temporal has flagged NeedsAttention (the ledger does not know it). A
// reading serves the scrapes of the next MaxAge, so that several Prometheus
// servers, or a fast scrape interval, cost the database nothing more; every
// worker of a deployment reports the same figures.
type Ledger struct {
	source    FigureSource
	cases     CaseCounter
	taskQueue string
	opts      LedgerOptions
	now       func() time.Time

	mu   sync.Mutex
	last *reading
}

// reading is one look at the ledger and at Temporal.
type reading struct {
	at            time.Time
	figures       store.Figures
	figuresErr    error
	figuresTook   time.Duration
	attention     int64
	attentionErr  error
	attentionTook time.Duration
}

// NewLedger collects from the ledger and, with cases, counts the flagged
// cases of the task queue in Temporal.
func NewLedger(source FigureSource, cases CaseCounter, taskQueue string, opts LedgerOptions) *Ledger {
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MailConfirmGrace <= 0 {
		opts.MailConfirmGrace = activities.DefaultConfirmGrace
	}
	return &Ledger{source: source, cases: cases, taskQueue: taskQueue, opts: opts, now: time.Now}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descCasesOpen = desc("impagos_cases_open",
		"Open cases (returned invoices neither paid nor cancelled in the ledger) by stage and segment.", "stage", "segment")
	descAmountDue = desc("impagos_amount_due_euros",
		"What the open cases are owed, in euros, by stage and segment.", "stage", "segment")
	descNotices = desc("impagos_notices",
		"Communications in the outbox by channel and status (pending, sending, sent, failed, not_sent).", "channel", "status")
	descCutsRequested = desc("impagos_cuts_requested_total",
		"Cuts the ledger accepted and asked of the distributor.")
	descCutsExecuted = desc("impagos_cuts_executed_total",
		"Cuts the distributor says it carried out (B1 05).")
	descCutsExecutedToday = desc("impagos_cuts_executed_today",
		"Cuts the distributor carried out today (Europe/Madrid).")
	descCutRefusals = desc("impagos_cut_refusals_total",
		"Cut requests the ledger refused, by reason; once per run of a case, reason and day.", "reason")
	descUnrequested = desc("impagos_reconnections_unrequested",
		"Supply points still held by a cut although no invoice of theirs owes anything: no reconnection (or cancellation) was asked for.")
	descUnrequestedAge = desc("impagos_reconnection_unrequested_seconds",
		"How long the oldest of impagos_reconnections_unrequested has waited since its last debt was cleared; 0 when none.")
	descReconnPending = desc("impagos_reconnections_pending",
		"Reconnections asked of the distributor that it has not answered yet.")
	descReconnPendingAge = desc("impagos_reconnection_pending_seconds",
		"Age of the oldest reconnection the distributor has not answered; 0 when none.")
	descReconnOverdue = desc("impagos_reconnections_overdue",
		"Reconnections the distributor has not answered by the day the policy gives it (the day after the payment).")
	descSending = desc("impagos_emails_sending",
		"E-mails claimed for sending whose outcome nobody knows (outbox status sending).")
	descSendingAge = desc("impagos_email_sending_seconds",
		"How long ago the oldest e-mail left sending was claimed; 0 when none.")
	descGrace = desc("impagos_mail_confirm_grace_seconds",
		"The grace (IMPAGOS_MAIL_CONFIRM_GRACE) after which an e-mail left sending with no event from the provider may be sent again.")
	descBankPending = desc("impagos_bank_returns_pending",
		"Banks' returns matched to an invoice whose supply point no contract names yet.")
	descBankUnmatched = desc("impagos_bank_returns_unmatched",
		"Banks' returns that match no invoice.")
	descAttention = desc("impagos_cases_needing_attention",
		"Running cases flagged NeedsAttention in Temporal: a person must look at them (starter attention says why).")
	descUp = desc("impagos_metrics_source_up",
		"Whether the last reading of a source of the business metrics (ledger, temporal) succeeded.", "source")
	descReadTook = desc("impagos_metrics_read_duration_seconds",
		"How long the last reading of a source of the business metrics took.", "source")
)

// refusalReasons are the reasons the ledger refuses a cut for, each exported
// from the start (at zero), so that the first refusal of a reason is an
// increase.
var refusalReasons = []string{
	activities.RefusedNothingDue, activities.RefusedOnHold, activities.RefusedNeverCut, activities.RefusedNotProven,
	activities.RefusedWaitNotOver, activities.RefusedNotCutDay, activities.RefusedCutBan, activities.RefusedMinimumSupply,
	activities.RefusedNoCalendar, activities.RefusedNotOpen, store.RefusedInvalidRequest,
}

// Describe sends the descriptors of every metric Collect may send.
func (l *Ledger) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descCasesOpen, descAmountDue, descNotices, descCutsRequested, descCutsExecuted, descCutsExecutedToday,
		descCutRefusals, descUnrequested, descUnrequestedAge, descReconnPending, descReconnPendingAge, descReconnOverdue,
		descSending, descSendingAge, descGrace, descBankPending, descBankUnmatched, descAttention, descUp, descReadTook,
	} {
		ch <- d
	}
}

// Collect sends the figures of the last reading, reading again first when it
// is older than MaxAge. A source that cannot be read sends only its
// impagos_metrics_source_up of 0: no figure rather than a stale one.
func (l *Ledger) Collect(ch chan<- prometheus.Metric) {
	r := l.read()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	up := func(err error) float64 {
		if err != nil {
			return 0
		}
		return 1
	}
	gauge(descGrace, l.opts.MailConfirmGrace.Seconds())
	gauge(descUp, up(r.figuresErr), "ledger")
	gauge(descReadTook, r.figuresTook.Seconds(), "ledger")
	if r.figuresErr == nil {
		f := r.figures
		for _, o := range f.Open {
			stage, segment := orUnknown(o.Stage), orUnknown(o.Segment)
			gauge(descCasesOpen, float64(o.Cases), stage, segment)
			gauge(descAmountDue, float64(o.DueCents)/100, stage, segment)
		}
		for _, n := range f.Notices {
			gauge(descNotices, float64(n.Count), n.Channel, n.Status)
		}
		counter(descCutsRequested, float64(f.CutsRequested))
		counter(descCutsExecuted, float64(f.CutsExecuted))
		gauge(descCutsExecutedToday, float64(f.CutsExecutedToday))
		refusals := map[string]int64{}
		for _, reason := range refusalReasons {
			refusals[reason] = 0
		}
		for reason, n := range f.CutRefusals {
			refusals[orUnknown(reason)] += n
		}
		for reason, n := range refusals {
			counter(descCutRefusals, float64(n), reason)
		}
		gauge(descUnrequested, float64(f.ReleasesUnrequested))
		gauge(descUnrequestedAge, f.OldestUnrequested.Seconds())
		gauge(descReconnPending, float64(f.ReconnectionsPending))
		gauge(descReconnPendingAge, f.OldestReconnection.Seconds())
		gauge(descReconnOverdue, float64(f.ReconnectionsOverdue))
		gauge(descSending, float64(f.EmailsSending))
		gauge(descSendingAge, f.OldestSending.Seconds())
		gauge(descBankPending, float64(f.BankReturnsPending))
		gauge(descBankUnmatched, float64(f.BankReturnsUnmatched))
	}
	if l.cases == nil {
		return
	}
	gauge(descUp, up(r.attentionErr), "temporal")
	gauge(descReadTook, r.attentionTook.Seconds(), "temporal")
	if r.attentionErr == nil {
		gauge(descAttention, float64(r.attention))
	}
}

// read returns the last reading, or a new one when it is older than MaxAge.
// Scrapes that come together wait for one reading.
func (l *Ledger) read() *reading {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.last != nil && now.Sub(l.last.at) < l.opts.MaxAge {
		return l.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
	defer cancel()
	r := &reading{at: now}
	began := time.Now()
	r.figures, r.figuresErr = l.source.Figures(ctx)
	r.figuresTook = time.Since(began)
	if r.figuresErr != nil {
		slog.Warn("business metrics: the ledger cannot be read", "error", r.figuresErr)
	}
	if l.cases != nil {
		began = time.Now()
		r.attention, r.attentionErr = l.countAttention(ctx)
		r.attentionTook = time.Since(began)
		if r.attentionErr != nil {
			slog.Warn("business metrics: the cases needing attention cannot be counted", "error", r.attentionErr)
		}
	}
	l.last = r
	return r
}

// AttentionQuery is the visibility query of the running cases of a task
// queue flagged NeedsAttention (as starter attention lists them).
func AttentionQuery(taskQueue string) string {
	return fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = \"Running\" AND TaskQueue = %q AND %s = true",
		workflows.WorkflowType, taskQueue, workflows.AttrNeedsAttention.GetName())
}

func (l *Ledger) countAttention(ctx context.Context) (int64, error) {
	res, err := l.cases.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: AttentionQuery(l.taskQueue)})
	if err != nil {
		return 0, fmt.Errorf("count the cases needing attention: %w", err)
	}
	return res.GetCount(), nil
}

// orUnknown keeps a label from being empty, which Prometheus reads as absent.
func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}
