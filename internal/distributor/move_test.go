package distributor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o750))
	require.NoError(t, os.WriteFile(path, []byte(body), 0o640))
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestMoveToKeepsTheName(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "B1_02_000000000001_01.xml")
	write(t, src, "answer")
	got, err := moveTo(src, filepath.Join(dir, ProcessedDir))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, ProcessedDir, "B1_02_000000000001_01.xml"), got)
	require.Equal(t, "answer", read(t, got))
	require.NoFileExists(t, src)
}

// Another file of the same name already there is kept: the file moved takes
// the first free numbered name.
func TestMoveToNumbersTheNameBesideAnotherFile(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(dir, ProcessedDir)
	write(t, filepath.Join(done, "B1_02_000000000001_01.xml"), "first")
	write(t, filepath.Join(done, "B1_02_000000000001_01.1.xml"), "second")
	src := filepath.Join(dir, "B1_02_000000000001_01.xml")
	write(t, src, "third")

	got, err := moveTo(src, done)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(done, "B1_02_000000000001_01.2.xml"), got)
	require.Equal(t, "first", read(t, filepath.Join(done, "B1_02_000000000001_01.xml")))
	require.Equal(t, "second", read(t, filepath.Join(done, "B1_02_000000000001_01.1.xml")))
	require.Equal(t, "third", read(t, got))
	require.NoFileExists(t, src)
}

// The same file already there was moved before: the copy left behind goes.
func TestMoveToDropsACopyOfAFileAlreadyMoved(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(dir, ProcessedDir)
	write(t, filepath.Join(done, "B1_02_000000000001_01.xml"), "other")
	write(t, filepath.Join(done, "B1_02_000000000001_01.1.xml"), "answer")
	src := filepath.Join(dir, "B1_02_000000000001_01.xml")
	write(t, src, "answer")

	got, err := moveTo(src, done)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(done, "B1_02_000000000001_01.1.xml"), got)
	require.NoFileExists(t, src)
	require.NoFileExists(t, filepath.Join(done, "B1_02_000000000001_01.2.xml"))
}

func TestReadBoundedRefusesAFileLargerThanTheLimit(t *testing.T) {
	dir := t.TempDir()
	at := filepath.Join(dir, "at")
	write(t, at, "12345")
	body, err := readBounded(at, 5)
	require.NoError(t, err)
	require.Equal(t, "12345", string(body))

	over := filepath.Join(dir, "over")
	write(t, over, "123456")
	_, err = readBounded(over, 5)
	require.ErrorIs(t, err, ErrTooLarge)
}
