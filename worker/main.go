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

	"golang.org/x/sync/errgroup"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/codec"
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
	g, ctx := errgroup.WithContext(ctx)
	if err := startCodecServer(ctx, g); err != nil {
		return err
	}
	slog.Info("worker started", "task_queue", cfg.TaskQueue)
	g.Go(func() error {
		return engine.RunWorker(ctx, c, cfg.TaskQueue, &activities.Activities{
			Store: db, Retailer: cfg.Retailer, Mailer: mailer, CutsDeskEmail: cfg.CutsDeskEmail,
		})
	})
	err = g.Wait()
	slog.Info("worker stopped")
	return err
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
