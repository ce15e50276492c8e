package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// PROCESS "One workflow per returned invoice": the workflow id is
// impago-<invoice number>, and the invoice number can be read back from it.
func TestWorkflowID_ImpagoDashInvoiceNumber(t *testing.T) {
	tests := []struct{ invoice, id string }{
		{"FE26-1", "impago-FE26-1"},
		{testInvoice, "impago-FE26-000123"},
		{"F-1", "impago-F-1"},
	}
	for _, tt := range tests {
		t.Run(tt.invoice, func(t *testing.T) {
			require.Equal(t, tt.id, WorkflowID(tt.invoice))
			require.Equal(t, tt.invoice, InvoiceOf(tt.id))
		})
	}

	// InvoiceOf has no way to say an id is not a case's: it hands such an id
	// back unchanged, which a caller can tell because it does not round-trip.
	// The digest schedule's id starts with "impagos-", not "impago-".
	for _, id := range []string{DigestScheduleID, "FE26-1", "impago"} {
		t.Run("not a case: "+id, func(t *testing.T) {
			require.Equal(t, id, InvoiceOf(id))
			require.NotEqual(t, id, WorkflowID(InvoiceOf(id)))
		})
	}
}

// The local stack registers the search attributes from a list of its own
// (.ci/stack runs before anything is built): it must be SearchAttributeTypes.
func TestSearchAttributes_TheStackRegistersEachOne(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", ".ci", "stack"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(data), "\nSEARCH_ATTRIBUTES=(\n")
	require.True(t, ok, ".ci/stack has no SEARCH_ATTRIBUTES list")
	list, _, _ := strings.Cut(rest, "\n)")
	var got []string
	for _, line := range strings.Split(list, "\n") {
		got = append(got, strings.TrimSpace(line))
	}
	var want []string
	for _, a := range SearchAttributeTypes {
		want = append(want, a.Name+"="+a.Type)
	}
	require.Equal(t, want, got)
}
