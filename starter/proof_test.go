package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadProofFile_RefusesWhatCannotBeAProof(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(size))
		require.NoError(t, f.Close())
		return p
	}
	for _, tt := range []struct {
		name, path, want string
	}{
		{"no file given", "", "--file is required"},
		{"a file that is not there", filepath.Join(dir, "missing.pdf"), "no such file"},
		{"a directory", dir, "is not a file"},
		{"an empty file", write("empty.pdf", 0), "is empty"},
		{"a file over 20 MB", write("huge.pdf", maxProofBytes+1), "more than the 20 MB"},
	} {
		_, err := readProofFile(tt.path)
		require.ErrorContains(t, err, tt.want, tt.name)
	}
	content, err := readProofFile(write("burofax.pdf", maxProofBytes))
	require.NoError(t, err)
	require.Len(t, content, maxProofBytes)
}
