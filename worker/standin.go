package main

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/elega/impagos/internal/atr/standin"
)

// startStandIn plays the distributor beside the worker when
// IMPAGOS_ATR_STANDIN=1 (the local stack only): it answers the messages of
// the outbox folder into the inbox folder, as a distributor would.
func startStandIn(ctx context.Context, g *errgroup.Group) error {
	opts, enabled, err := standin.OptionsFromEnv()
	if err != nil || !enabled {
		return err
	}
	slog.Warn("the distributor stand-in answers the B1 messages: no real distributor is asked",
		"outbox", opts.Outbox, "inbox", opts.Inbox)
	g.Go(func() error { return standin.Run(ctx, opts) })
	return nil
}
