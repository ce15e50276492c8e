// Package engine wires the collections workflow to Temporal: configuration
// from the environment, the client, and the worker that runs cases.
//
// Configuration (environment variables, with defaults):
//
//	DATABASE_URL          Postgres of the application (default: the local stack, postgres://impagos@127.0.0.1:55432/impagos?sslmode=disable)
//	TEMPORAL_ADDRESS      Temporal frontend (default localhost:7233); with TEMPORAL_NAMESPACE,
//	TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE as Temporal's
//	                      own tools read them, so a cluster or Temporal Cloud needs no code change
//	IMPAGOS_TASK_QUEUE    task queue of the cases (default impagos)
//	IMPAGOS_WORKFLOW_CACHE_SIZE cases a worker process keeps in memory between their
//	                      workflow tasks (default: the SDK's, 10,000; about 65 KB each)
//	IMPAGOS_POLICY        policy of new cases: default or demo (default: default)
//	IMPAGOS_ALLOW_DEMO    1 lets new cases start on the demo policy, whose cuts come within
//	                      minutes; only the local stack's environment (.ci/stack env) sets it
//	IMPAGOS_HOLIDAYS_FILE holidays the retailer adds to each supply's calendar (national, and regional
//	                      from its province): one YYYY-MM-DD per line, optionally a scope ([Barcelona],
//	                      [28079], @CT: a province, by name or INE code, or a community) and a name; # starts
//	                      a comment (see internal/calendar)
//	IMPAGOS_CUT_BANS_FILE decreed periods in which vulnerable consumers are not cut, beyond those the
//	                      policy carries: FROM TO CLASSES NAME per line (see ParseCutBans)
//	CUTS_DESK_EMAIL       receives the daily digest of scheduled cuts (default cortes@elega.example)
//	SENDGRID_API_KEY, SENDGRID_HOST, SENDGRID_EU, MAIL_FROM, MAIL_FROM_NAME, MAIL_REPLY_TO: e-mail
//	                      delivery (see internal/mail); without a key e-mails stay in the outbox
//	IMPAGOS_MAIL_EVENTS_ADDR (the worker serves SendGrid's Event Webhook there, path /sendgrid/events),
//	                      with IMPAGOS_SENDGRID_WEBHOOK_KEY (or _FILE), IMPAGOS_MAIL_EVENTS_UNSIGNED and
//	                      IMPAGOS_MAIL_CONFIRM_GRACE (default 30m): settling e-mails whose sending was cut
//	                      short, and IMPAGOS_MAIL_EVENTS_KEEP (default 180d) (see internal/mailevents)
//	IMPAGOS_RETAILER_NAME, _TAX_ID, _ADDRESS, _PHONE, _EMAIL, _IBAN: the retailer printed in every notice
//	IMPAGOS_ATR_OUTBOX    folder the distributor collects our ATR B1 messages from (unset: they stay in the
//	                      ledger, unsent); IMPAGOS_ATR_INBOX, the folder it leaves its answers in, read every
//	                      IMPAGOS_ATR_POLL (default 2s); IMPAGOS_ATR_REE_CODE, our 4-digit code at REE, the
//	                      sender of every message, required with an outbox (see internal/distributor)
//	IMPAGOS_METRICS_ADDR  the worker serves Prometheus metrics there, at /metrics (unset: none; see
//	                      internal/metrics)
//	IMPAGOS_LOG_FORMAT    the worker's log lines: json (default) or text
//	IMPAGOS_PAYLOAD_KEY   (or IMPAGOS_PAYLOAD_KEY_FILE) encrypts what cases send to Temporal;
//	                      with IMPAGOS_PAYLOAD_PREVIOUS_KEYS, IMPAGOS_CODEC_ADDR (the worker serves the
//	                      Web UI's codec server there), IMPAGOS_CODEC_CORS_ORIGIN, IMPAGOS_CODEC_AUTH_TOKEN
//	                      (see internal/codec)
//
// Secrets (database password, API keys, the payload key) come only from the
// environment or from files it names, and are never logged.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/codec"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/workflows"
)

// DefaultDatabaseURL is the project-local Postgres that make up starts.
const DefaultDatabaseURL = "postgres://impagos@127.0.0.1:55432/impagos?sslmode=disable"

// Config is what the worker and the starter read from the environment.
type Config struct {
	DatabaseURL string
	TaskQueue   string
	PolicyName  string
	Holidays    string
	CutBansFile string
	Retailer    notice.Retailer
	// CutsDeskEmail receives the daily digest of scheduled cuts (CUTS_DESK_EMAIL).
	CutsDeskEmail string
	// AllowDemo lets Policy return the demo policy (IMPAGOS_ALLOW_DEMO=1).
	AllowDemo bool
}

// EnvAllowDemo names the variable that lets new cases start on the demo
// policy. A demo case sends its notices and reaches its cut within minutes, so
// a real customer must never get one: only the local stack sets it.
const EnvAllowDemo = "IMPAGOS_ALLOW_DEMO"

// ErrDemoNotAllowed is Policy's answer to the demo policy without IMPAGOS_ALLOW_DEMO=1.
var ErrDemoNotAllowed = errors.New("the demo policy (a day lasts two seconds: notices and cut within minutes) " +
	"is for the local stack only; " + EnvAllowDemo + "=1 allows it, as eval \"$(.ci/stack env)\" sets")

// FromEnv reads the configuration.
func FromEnv() Config {
	r := notice.DefaultRetailer
	set := func(dst *string, key string) {
		if v := os.Getenv(key); v != "" {
			*dst = v
		}
	}
	set(&r.Name, "IMPAGOS_RETAILER_NAME")
	set(&r.TaxID, "IMPAGOS_RETAILER_TAX_ID")
	set(&r.Address, "IMPAGOS_RETAILER_ADDRESS")
	set(&r.Phone, "IMPAGOS_RETAILER_PHONE")
	set(&r.Email, "IMPAGOS_RETAILER_EMAIL")
	set(&r.IBAN, "IMPAGOS_RETAILER_IBAN")
	return Config{
		DatabaseURL:   env("DATABASE_URL", DefaultDatabaseURL),
		TaskQueue:     env("IMPAGOS_TASK_QUEUE", workflows.TaskQueue),
		PolicyName:    env("IMPAGOS_POLICY", "default"),
		Holidays:      os.Getenv("IMPAGOS_HOLIDAYS_FILE"),
		CutBansFile:   os.Getenv("IMPAGOS_CUT_BANS_FILE"),
		Retailer:      r,
		CutsDeskEmail: env("CUTS_DESK_EMAIL", "cortes@elega.example"),
		AllowDemo:     os.Getenv(EnvAllowDemo) == "1",
	}
}

// Policy returns the named policy (empty: IMPAGOS_POLICY) with the configured
// extra holidays, ready to travel in a new case's input. Overrides come from
// IMPAGOS_<FIELD> variables (e.g. IMPAGOS_NOTICE_SPACING_DAYS=10). The demo
// policy needs AllowDemo: it is for new cases, so only their starts are
// refused; a worker runs the cases already started on it as they are.
func (c Config) Policy(name string) (workflows.Policy, error) {
	source := "--policy"
	if name == "" {
		name, source = c.PolicyName, "IMPAGOS_POLICY"
	}
	p, err := workflows.PolicyByName(name)
	if err != nil {
		return p, err
	}
	if p.Name == workflows.DemoPolicy().Name && !c.AllowDemo {
		return workflows.Policy{}, fmt.Errorf("%s=%s: %w", source, name, ErrDemoNotAllowed)
	}
	for key, dst := range map[string]*int{
		"IMPAGOS_NOTICE_SPACING_DAYS":     &p.NoticeSpacingDays,
		"IMPAGOS_REGULATORY_WAIT_MONTHS":  &p.RegulatoryWaitMonths,
		"IMPAGOS_BONO_SOCIAL_WAIT_MONTHS": &p.BonoSocialWaitMonths,
		"IMPAGOS_BUSINESS_CUT_LEAD_DAYS":  &p.BusinessCutLeadDays,
		"IMPAGOS_PRE_CUT_EMAIL_DAYS":      &p.PreCutEmailDays,
		"IMPAGOS_ACTION_HOUR":             &p.ActionHour,
	} {
		if v := os.Getenv(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, fmt.Errorf("%s=%q is not a whole number", key, v)
			}
			*dst = n
		}
	}
	extra, err := c.HolidayExtra()
	if err != nil {
		return p, err
	}
	// Only the days of every province: a day scoped to one reaches the cases
	// of that province through their contract's calendar (Contract.Holidays).
	for _, d := range extra.All {
		p.Holidays = append(p.Holidays, d.Format("2006-01-02"))
	}
	bans, err := c.CutBans()
	if err != nil {
		return p, err
	}
	p.CutBans = append(p.CutBans, bans...)
	return p, p.Validate()
}

// HolidayExtra reads IMPAGOS_HOLIDAYS_FILE: the days the retailer adds, for
// every province or for one. No file means none.
func (c Config) HolidayExtra() (calendar.Extra, error) {
	return calendar.LoadExtra(c.Holidays)
}

// ExtraHolidays are the configured days of every province (YYYY-MM-DD each),
// nil when none is configured: the days the digest's schedule skips.
func (c Config) ExtraHolidays() ([]string, error) {
	extra, err := c.HolidayExtra()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range extra.All {
		out = append(out, d.Format(time.DateOnly))
	}
	return out, nil
}

// DialOption changes how Dial connects.
type DialOption func(*client.Options)

// WithMetricsHandler has the client, and the workers built on it, record the
// SDK's metrics with h (see internal/metrics); nil records none.
func WithMetricsHandler(h client.MetricsHandler) DialOption {
	return func(o *client.Options) { o.MetricsHandler = h }
}

// Dial connects to Temporal as configured by the standard TEMPORAL_* variables.
// With IMPAGOS_PAYLOAD_KEY set, every payload and failure message the client
// (and a worker built on it) writes is encrypted, and read back transparently.
// The SDK logs through slog's default logger.
func Dial(ctx context.Context, with ...DialOption) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("temporal configuration: %w", err)
	}
	opts.Logger = tlog.NewStructuredLogger(slog.Default())
	for _, o := range with {
		o(&opts)
	}
	pc, encrypted, err := codec.FromEnv()
	if err != nil {
		return nil, err
	}
	if !encrypted {
		// Clear payloads as before; an encrypted case waits for a worker with the key.
		pc = codec.Keyless()
	}
	opts.DataConverter = codec.DataConverter(pc)
	if encrypted {
		opts.FailureConverter = codec.FailureConverter(opts.DataConverter)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", orDefault(opts.HostPort, client.DefaultHostPort), err)
	}
	return c, nil
}

// Register puts the workflows and the activities on a worker.
func Register(w worker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(workflows.ReturnedInvoice, workflow.RegisterOptions{Name: workflows.WorkflowType})
	w.RegisterWorkflowWithOptions(workflows.CutsDigest, workflow.RegisterOptions{Name: workflows.DigestWorkflowType})
	w.RegisterActivity(acts)
}

// EnsureDigestSchedule creates, or brings up to date, the Temporal Schedule
// that e-mails the cuts desk at 08:00 Europe/Madrid on weekdays (the workflow
// skips holidays). Every worker calls it at start; it is idempotent.
func EnsureDigestSchedule(ctx context.Context, c client.Client, taskQueue string, holidays []string) error {
	id := DigestScheduleID(taskQueue)
	spec := client.ScheduleSpec{
		Calendars: []client.ScheduleCalendarSpec{{
			Hour:      []client.ScheduleRange{{Start: 8}},
			DayOfWeek: []client.ScheduleRange{{Start: 1, End: 5}},
		}},
		TimeZoneName: "Europe/Madrid",
	}
	action := &client.ScheduleWorkflowAction{
		ID:        id,
		Workflow:  workflows.DigestWorkflowType,
		TaskQueue: taskQueue,
		Args:      []any{workflows.DigestInput{Holidays: holidays}},
	}
	sc := c.ScheduleClient()
	_, err := sc.Create(ctx, client.ScheduleOptions{ID: id, Spec: spec, Action: action})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", id, err)
	}
	err = sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			in.Description.Schedule.Spec = &spec
			in.Description.Schedule.Action = action
			return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", id, err)
	}
	return nil
}

// DigestScheduleID is the schedule of a task queue's digest: one per
// deployment, so a second deployment on its own queue keeps its own.
func DigestScheduleID(taskQueue string) string {
	if taskQueue == workflows.TaskQueue {
		return workflows.DigestScheduleID
	}
	return workflows.DigestScheduleID + "-" + taskQueue
}

// EnvWorkflowCache names the number of cases a worker process keeps in memory.
const EnvWorkflowCache = "IMPAGOS_WORKFLOW_CACHE_SIZE"

// WorkflowCacheFromEnv reads IMPAGOS_WORKFLOW_CACHE_SIZE: how many cases a
// worker process keeps in memory (the SDK's sticky cache) between their workflow
// tasks; zero when it is not set, for the SDK's default. A case out of the cache
// is rebuilt from its history by replay at its next task: a little CPU, where a
// cached one costs about 65 KB for as long as it sleeps (docs/benchmarks.md).
func WorkflowCacheFromEnv() (int, error) {
	v := strings.TrimSpace(os.Getenv(EnvWorkflowCache))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number of cases, at least 1", EnvWorkflowCache, v)
	}
	return n, nil
}

// RunWorker runs a worker on the task queue until ctx is done.
func RunWorker(ctx context.Context, c client.Client, taskQueue string, acts *activities.Activities) error {
	w := worker.New(c, taskQueue, worker.Options{})
	Register(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on %s: %w", taskQueue, err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
