package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/engine"
)

// starter start and starter import refuse the demo policy outside the local
// stack, before they open the database or dial Temporal (both unreachable here).
func TestStartAndImportRefuseTheDemoPolicyOutsideTheLocalStack(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	t.Setenv(engine.EnvAllowDemo, "")
	start := []string{"start", "--invoice", "F-DEMO-1", "--customer", "Ana", "--amount", "10,00",
		"--cups", "ES0021000012345678LB"}
	for _, tc := range []struct {
		name      string
		envPolicy string
		args      []string
		names     string
	}{
		{"start --policy demo", "", append(start, "--policy", "demo"), "--policy=demo"},
		{"start with IMPAGOS_POLICY=demo", "demo", start, "IMPAGOS_POLICY=demo"},
		{"import --policy demo", "", []string{"import", "devueltos.xlsx", "--policy", "demo"}, "--policy=demo"},
		{"import with IMPAGOS_POLICY=demo", "demo", []string{"import", "devueltos.xlsx"}, "IMPAGOS_POLICY=demo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IMPAGOS_POLICY", tc.envPolicy)
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			require.Equal(t, 1, code)
			require.Empty(t, out.String())
			require.Contains(t, errOut.String(), tc.names)
			require.Contains(t, errOut.String(), engine.EnvAllowDemo+"=1")
			require.Equal(t, 1, bytes.Count(errOut.Bytes(), []byte("\n")), "one line: %s", errOut.String())
		})
	}
}
