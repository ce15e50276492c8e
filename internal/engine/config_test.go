package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/engine"
)

func TestWorkflowCacheFromEnv(t *testing.T) {
	t.Setenv(engine.EnvWorkflowCache, "")
	n, err := engine.WorkflowCacheFromEnv()
	require.NoError(t, err)
	require.Zero(t, n, "unset: the SDK's default")
	t.Setenv(engine.EnvWorkflowCache, " 2000 ")
	n, err = engine.WorkflowCacheFromEnv()
	require.NoError(t, err)
	require.Equal(t, 2000, n)
	for _, bad := range []string{"0", "-1", "2k", "1e4"} {
		t.Setenv(engine.EnvWorkflowCache, bad)
		_, err = engine.WorkflowCacheFromEnv()
		require.ErrorContains(t, err, engine.EnvWorkflowCache, bad)
	}
}
