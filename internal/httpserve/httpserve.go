// Package httpserve runs the worker's small HTTP servers (the codec server
// for the Web UI, the receiver of SendGrid's events) the same way.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve serves h on ln until ctx is done, then shuts down, letting requests
// in flight finish for a few seconds. Listening is left to the caller, so that
// an address already in use is reported before anything starts. name says
// which server it is in errors.
func Serve(ctx context.Context, name string, ln net.Listener, h http.Handler) error {
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("%s on %s: %w", name, addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("%s on %s: shut down: %w", name, addr, err)
	}
	return nil
}
