package distributor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

func message(name, body string) activities.DistributorMessage {
	return activities.DistributorMessage{ID: 7, FileName: name, Body: []byte(body)}
}

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestSendWritesTheMessageAsItsFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "atr", "outbox") // created by Send
	f := Folder{Dir: dir}
	m := message("B1_01_000000000001_01.xml", "<MensajeBajaSuspension/>")

	require.NoError(t, f.Send(context.Background(), m))
	got, err := os.ReadFile(filepath.Join(dir, m.FileName))
	require.NoError(t, err)
	require.Equal(t, m.Body, got)
	require.Equal(t, []string{m.FileName}, names(t, dir), "no temporary file is left behind")
	st, err := os.Stat(filepath.Join(dir, m.FileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "readable by the folder's group")
}

func TestSendAgainIsHarmless(t *testing.T) {
	dir := t.TempDir()
	f := Folder{Dir: dir}
	m := message("B1_03_000000000001_01.xml", "<MensajeAnulacionSolicitud/>")
	for range 3 {
		require.NoError(t, f.Send(context.Background(), m))
	}
	require.Equal(t, []string{m.FileName}, names(t, dir))
	got, err := os.ReadFile(filepath.Join(dir, m.FileName))
	require.NoError(t, err)
	require.Equal(t, m.Body, got)
}

func TestSendNeverOverwritesAnotherFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "B1_01_000000000002_01.xml")
	require.NoError(t, os.WriteFile(path, []byte("another message"), 0o640))

	err := Folder{Dir: dir}.Send(context.Background(), message("B1_01_000000000002_01.xml", "<MensajeBajaSuspension/>"))
	require.ErrorIs(t, err, ErrExists)
	require.Contains(t, err.Error(), path)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "another message", string(got))
	require.Equal(t, []string{"B1_01_000000000002_01.xml"}, names(t, dir), "the temporary file is removed")
}

// The distributor never sees a part of a message: the bytes are written and
// synced under a name starting with "." in the same folder, and only then
// does the message's name appear.
func TestSendWritesUnderADotNameInTheSameFolderFirst(t *testing.T) {
	dir := t.TempDir()
	m := message("B1_01_000000000003_01.xml", "<MensajeBajaSuspension>whole</MensajeBajaSuspension>")
	var seen string
	f := Folder{Dir: dir, written: func(tmp string) {
		seen = tmp
		require.Equal(t, dir, filepath.Dir(tmp))
		require.True(t, strings.HasPrefix(filepath.Base(tmp), "."+m.FileName+"."), "temporary name %q", filepath.Base(tmp))
		got, err := os.ReadFile(tmp)
		require.NoError(t, err)
		require.Equal(t, m.Body, got, "the temporary file is whole before it is named")
		_, err = os.Stat(filepath.Join(dir, m.FileName))
		require.ErrorIs(t, err, os.ErrNotExist, "the message's name appears only once it is whole")
	}}
	require.NoError(t, f.Send(context.Background(), m))
	require.NotEmpty(t, seen)
	_, err := os.Stat(seen)
	require.ErrorIs(t, err, os.ErrNotExist, "the temporary file is gone")
	require.Equal(t, []string{m.FileName}, names(t, dir))
}

// A temporary file left by a write that was cut short does not stop the
// message: it is not the message's name.
func TestSendIgnoresATemporaryFileLeftBehind(t *testing.T) {
	dir := t.TempDir()
	m := message("B1_01_000000000004_01.xml", "<MensajeBajaSuspension/>")
	left := filepath.Join(dir, "."+m.FileName+".123456")
	require.NoError(t, os.WriteFile(left, []byte("<Mensaje"), 0o640))
	require.NoError(t, Folder{Dir: dir}.Send(context.Background(), m))
	got, err := os.ReadFile(filepath.Join(dir, m.FileName))
	require.NoError(t, err)
	require.Equal(t, m.Body, got)
}

func TestSendRefusesANameOutsideTheFolder(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "outbox")
	for _, name := range []string{"", ".", "..", "../escape.xml", "sub/B1.xml", `sub\B1.xml`, ".hidden.xml"} {
		err := Folder{Dir: dir}.Send(context.Background(), message(name, "x"))
		require.Error(t, err, "%q", name)
		require.False(t, errors.Is(err, ErrExists), "%q", name)
	}
	require.Equal(t, []string(nil), names(t, root), "nothing was written, not even the folder")
}
