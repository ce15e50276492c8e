// Package distributor carries the ATR B1 messages between the ledger and the
// distributor's folders: Folder writes the messages the ledger committed to
// the outbox folder the distributor collects, and Inbox reads the answers the
// distributor leaves in the inbox folder, records them in the ledger and tells
// the cases they concern. Run is the worker's loop over both.
//
// A file appears in either folder whole or not at all: it is written under a
// name starting with "." in the same folder and linked to its own name once
// synced. Names starting with "." are never read as messages.
package distributor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/elega/impagos/activities"
)

// Folder is the ATR adapter of activities.Distributor: each message is a file
// of the outbox folder Dir, named as the ledger named it.
type Folder struct {
	Dir string
	// written, when set, is called with the path of the synced temporary
	// file before it takes the message's name (tests look at it there).
	written func(tmp string)
}

// ErrExists is a message whose file name the outbox already holds with other
// content: the file is never overwritten.
var ErrExists = errors.New("the outbox holds another file of that name")

// Send writes the message as the file m.FileName of the outbox, creating the
// folder if missing. Sending it again is harmless: a file of that name with
// the same bytes is the message already sent. A file of that name with other
// bytes is left as it is and Send fails with ErrExists.
func (f Folder) Send(ctx context.Context, m activities.DistributorMessage) error {
	if err := checkName(m.FileName); err != nil {
		return fmt.Errorf("send ATR message %d: %w", m.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return fmt.Errorf("send %s: outbox: %w", m.FileName, err)
	}
	dst := filepath.Join(f.Dir, m.FileName)
	same, err := sameContent(dst, m.Body)
	switch {
	case err == nil && same:
		return nil
	case err == nil:
		return fmt.Errorf("send %s: %w", dst, ErrExists)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("send %s: %w", m.FileName, err)
	}
	tmp, err := writeTemp(f.Dir, m.FileName, m.Body)
	if err != nil {
		return fmt.Errorf("send %s: %w", m.FileName, err)
	}
	defer os.Remove(tmp)
	if f.written != nil {
		f.written(tmp)
	}
	err = place(tmp, dst)
	if errors.Is(err, fs.ErrExist) {
		// Another sender of the same message got there first.
		if same, serr := sameContent(dst, m.Body); serr == nil && same {
			return nil
		}
		return fmt.Errorf("send %s: %w", dst, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("send %s: %w", m.FileName, err)
	}
	return syncDir(f.Dir)
}

// checkName refuses a file name that is not a plain name of the folder.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("file name %q is not a name", name)
	case strings.ContainsAny(name, `/\`) || filepath.Base(name) != name:
		return fmt.Errorf("file name %q is not a plain name", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("file name %q starts with a dot, which the folders keep for files being written", name)
	}
	return nil
}

// sameContent reports whether the file at path holds exactly body.
func sameContent(path string, body []byte) (bool, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	if !st.Mode().IsRegular() || st.Size() != int64(len(body)) {
		return false, nil
	}
	have, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.Equal(have, body), nil
}

// writeTemp writes body to a new file of dir whose name starts with "." and
// the name it is for, synced, and returns its path. The file is readable by
// the folder's group, as the folder is: whoever collects the messages may run
// as another user of it.
func writeTemp(dir, name string, body []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", err
	}
	err = f.Chmod(0o640)
	if err == nil {
		_, err = f.Write(body)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// place gives the file src the path dst, which must not exist: a hard link,
// so that a file of that name is never replaced (fs.ErrExist then), and src
// stays where it was. Where the file system has no hard links it is a rename,
// after checking dst is free.
func place(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil || errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, serr := os.Lstat(dst); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(src, dst)
}

// syncDir makes the names just given in dir survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
