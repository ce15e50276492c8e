// Command worker runs the collections cases: it applies the database
// migrations, then executes workflows and activities from the impagos task
// queue until SIGINT or SIGTERM. Configuration: see package internal/engine.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/codec"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/mail"
	"github.com/elega/impagos/internal/mailevents"
	"github.com/elega/impagos/internal/metrics"
	"github.com/elega/impagos/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		slog.Error("worker failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	logger, err := engine.LoggerFromEnv(os.Stderr)
	if err != nil {
		return err
	}
	// Before Dial, which hands the default logger to the SDK.
	slog.SetDefault(logger)
	cfg := engine.FromEnv()
	cache, err := engine.WorkflowCacheFromEnv()
	if err != nil {
		return err
	}
	if cache > 0 {
		// Before any worker starts: the cache is shared by the process.
		worker.SetStickyWorkflowCacheSize(cache)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	reg, sdkMetrics, err := metricsFromEnv()
	if err != nil {
		return err
	}
	c, err := engine.Dial(ctx, engine.WithMetricsHandler(sdkMetrics))
	if err != nil {
		return err
	}
	defer c.Close()
	// The holidays only, not cfg.Policy: the worker starts no case, and runs
	// those already started on whatever policy they carry.
	holidays, err := cfg.ExtraHolidays()
	if err != nil {
		return err
	}
	if err := engine.EnsureDigestSchedule(ctx, c, cfg.TaskQueue, holidays); err != nil {
		return err
	}
	extra, err := cfg.HolidayExtra()
	if err != nil {
		return err
	}
	mailer := mail.NewSender(mail.ConfigFromEnv())
	if !mailer.Enabled() {
		slog.Warn("SENDGRID_API_KEY not set: e-mails stay in the outbox, marked not_sent")
	}
	grace, err := mailevents.GraceFromEnv()
	if err != nil {
		return err
	}
	atrConfig, err := distributor.ConfigFromEnv()
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if err := startMetrics(ctx, g, reg, metrics.NewLedger(db, c, cfg.TaskQueue, metrics.LedgerOptions{MailConfirmGrace: grace})); err != nil {
		return err
	}
	if err := startCodecServer(ctx, g); err != nil {
		return err
	}
	if err := startMailEvents(ctx, g, db); err != nil {
		return err
	}
	d := startDistributor(ctx, g, db, c, atrConfig)
	if err := startStandIn(ctx, g); err != nil {
		return err
	}
	slog.Info("worker started", "task_queue", cfg.TaskQueue)
	g.Go(func() error {
		return engine.RunWorker(ctx, c, cfg.TaskQueue, &activities.Activities{
			Store: db, Retailer: cfg.Retailer, Mailer: mailer, CutsDeskEmail: cfg.CutsDeskEmail, ConfirmGrace: grace,
			Holidays:    extra,
			Cases:       cases.Checker{Client: c},
			Distributor: d, REECode: atrConfig.REECode,
		})
	})
	err = g.Wait()
	slog.Info("worker stopped")
	return err
}

// metricsFromEnv is the registry of the worker's metrics and the SDK's
// handler that records into it, both nil without IMPAGOS_METRICS_ADDR.
func metricsFromEnv() (*prometheus.Registry, client.MetricsHandler, error) {
	if os.Getenv(metrics.EnvAddr) == "" {
		return nil, nil, nil
	}
	reg := metrics.NewRegistry()
	h, err := metrics.SDKHandler(reg)
	if err != nil {
		return nil, nil, err
	}
	return reg, h, nil
}

// startMetrics serves the SDK's and the ledger's metrics on
// IMPAGOS_METRICS_ADDR for as long as the worker runs.
func startMetrics(ctx context.Context, g *errgroup.Group, reg *prometheus.Registry, ledger *metrics.Ledger) error {
	if reg == nil {
		return nil
	}
	if err := reg.Register(ledger); err != nil {
		return fmt.Errorf("business metrics: %w", err)
	}
	ln, err := net.Listen("tcp", os.Getenv(metrics.EnvAddr))
	if err != nil {
		return fmt.Errorf("metrics server: %w", err)
	}
	slog.Info("metrics server started", "addr", ln.Addr().String(), "path", metrics.Path)
	g.Go(func() error { return metrics.Serve(ctx, ln, metrics.Handler(reg)) })
	return nil
}

// startCodecServer serves the Web UI's codec server on IMPAGOS_CODEC_ADDR for
// as long as the worker runs; it needs the payload key.
func startCodecServer(ctx context.Context, g *errgroup.Group) error {
	pc, encrypted, err := codec.FromEnv()
	if err != nil {
		return err
	}
	if encrypted {
		slog.Info("payloads encrypted", "key_id", pc.(*codec.Codec).KeyID())
	}
	addr := os.Getenv(codec.EnvAddr)
	if addr == "" {
		return nil
	}
	if !encrypted {
		return fmt.Errorf("%s is set but no %s: there is nothing for the codec server to decode", codec.EnvAddr, codec.EnvKey)
	}
	opts, err := codec.HandlerOptionsFromEnv()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("codec server: %w", err)
	}
	slog.Info("codec server started", "addr", ln.Addr().String(), "cors_origins", opts.AllowedOrigins, "auth", opts.AuthToken != "")
	g.Go(func() error { return codec.Serve(ctx, ln, codec.Handler(pc, opts)) })
	return nil
}

// startMailEvents serves SendGrid's Event Webhook on IMPAGOS_MAIL_EVENTS_ADDR
// for as long as the worker runs; its events settle e-mails whose sending was
// cut short.
func startMailEvents(ctx context.Context, g *errgroup.Group, db *store.Store) error {
	addr := os.Getenv(mailevents.EnvAddr)
	if addr == "" {
		return nil
	}
	opts, err := mailevents.OptionsFromEnv()
	if err != nil {
		return err
	}
	keep, err := mailevents.KeepFromEnv()
	if err != nil {
		return err
	}
	if opts.PublicKey == nil {
		slog.Warn("mail events receiver takes unsigned requests", "setting", mailevents.EnvUnsigned)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mail events receiver: %w", err)
	}
	slog.Info("mail events receiver started", "addr", ln.Addr().String(), "path", mailevents.Path, "signed", opts.PublicKey != nil)
	g.Go(func() error { return mailevents.Serve(ctx, ln, mailevents.Handler(db, opts)) })
	g.Go(func() error {
		mailevents.Prune(ctx, db, keep, time.Hour)
		return nil
	})
	return nil
}

// startDistributor returns the outbox folder the ATR messages leave by, nil
// without IMPAGOS_ATR_OUTBOX (they stay in the ledger, unsent), and polls the
// folders for as long as the worker runs: the answers of the inbox folder
// (IMPAGOS_ATR_INBOX) reach their cases, and what the ledger holds unsent
// leaves even when the case that committed it was cut short.
func startDistributor(ctx context.Context, g *errgroup.Group, db *store.Store, c client.Client, cfg distributor.Config) activities.Distributor {
	if cfg.REECode == "" {
		slog.Warn(distributor.EnvREECode + " not set: the ledger writes no B1 message without our code at REE, so it refuses every cut (invalid_request)")
	}
	var d activities.Distributor
	var send func(context.Context) error
	if cfg.Outbox == "" {
		slog.Warn(distributor.EnvOutbox + " not set: the messages to the distributor stay in the ledger, unsent (starter atr pending)")
	} else {
		folder := distributor.Folder{Dir: cfg.Outbox}
		d = folder
		send = func(ctx context.Context) error {
			_, err := activities.SendPending(ctx, db, folder, 0)
			return err
		}
	}
	var in *distributor.Inbox
	if cfg.Inbox != "" {
		in = &distributor.Inbox{Dir: cfg.Inbox, Store: db, Signaler: c}
	}
	if in == nil && send == nil {
		return d
	}
	slog.Info("distributor folders", "outbox", cfg.Outbox, "inbox", cfg.Inbox, "poll", cfg.Poll.String())
	g.Go(func() error {
		distributor.Run(ctx, in, cfg.Poll, send)
		return nil
	})
	return d
}
