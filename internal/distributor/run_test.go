package distributor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Run sends at once and at every poll, goes on after a failed round, and
// returns when its context ends.
func TestRunSendsEveryPollUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	send := func(context.Context) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return errors.New("the outbox folder is not mounted")
	}
	done := make(chan struct{})
	go func() {
		Run(ctx, nil, time.Millisecond, send)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return once its context was done")
	}
	require.Equal(t, 3, calls)
}
