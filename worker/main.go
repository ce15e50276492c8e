// Command worker runs the collections cases: it applies the database
// migrations, then executes workflows and activities from the impagos task
// queue until SIGINT or SIGTERM. Configuration: see package internal/engine.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/mail"
	"github.com/elega/impagos/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg := engine.FromEnv()
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	c, err := engine.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	policy, err := cfg.Policy("")
	if err != nil {
		return err
	}
	if err := engine.EnsureDigestSchedule(ctx, c, cfg.TaskQueue, policy.Holidays); err != nil {
		return err
	}
	mailer := mail.NewSender(mail.ConfigFromEnv())
	if !mailer.Enabled() {
		slog.Warn("SENDGRID_API_KEY not set: e-mails stay in the outbox, marked not_sent")
	}
	slog.Info("worker started", "task_queue", cfg.TaskQueue)
	err = engine.RunWorker(ctx, c, cfg.TaskQueue, &activities.Activities{
		Store: db, Retailer: cfg.Retailer, Mailer: mailer, CutsDeskEmail: cfg.CutsDeskEmail,
	})
	slog.Info("worker stopped")
	return err
}
