package cdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Written is what Write did to one list.
type Written struct {
	List    List   `json:"list"`
	Path    string `json:"path"` // relative to the Wazuh home, as ossec.conf names it
	Entries int    `json:"entries"`
	Changed bool   `json:"changed"` // the file was (re)written
}

// errSymlink: a list or its directory is a symbolic link, never followed.
var errSymlink = errors.New("is a symbolic link, which is never followed")

// File and directory modes. The text files are 0640 and get the group of
// their directory (when written by root), as the mirror's files do:
// analysisd (user wazuh, group wazuh) reads them. The directory is 0770 in
// the group of etc/lists (wazuh on a stock manager) because analysisd
// writes each compiled .cdb next to its text file.
const (
	filePerm fs.FileMode = 0o640
	dirPerm  fs.FileMode = 0o770
)

// maxCompare caps the old file read to compare with the new content: a
// file this large is not one we wrote (the 1,000,000-attribute mirror's
// lists are about 60 MB together), so it is simply replaced.
const maxCompare = 1 << 30

// Write writes every list of set into dir (a Wazuh home's Dir): each into a temporary file
// beside it, synced, then renamed over the list, so analysisd (or a
// cluster sync) never reads half a list; a list whose content is unchanged
// is not touched, so analysisd does not recompile it. Never through a
// symbolic link.
func Write(dir string, set *Set) ([]Written, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	removeStaleTemps(dir)
	var out []Written
	for _, l := range Lists {
		text := set.Text(l)
		changed, err := writeList(filepath.Join(dir, string(l)), text)
		if err != nil {
			return out, fmt.Errorf("cdb list %s: %w", l.Path(), err)
		}
		out = append(out, Written{List: l, Path: l.Path(), Entries: set.Len(l), Changed: changed})
	}
	return out, nil
}

// ensureDir creates the lists' directory if need be, in the group of its
// parent (etc/lists), and refuses a link.
func ensureDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s %w", dir, errSymlink)
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	parent := filepath.Dir(dir)
	pfi, err := os.Lstat(parent)
	if err != nil {
		return fmt.Errorf("%s: %w (is this a Wazuh manager's home?)", parent, err)
	}
	if pfi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s %w", parent, errSymlink)
	}
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Chmod(dir, dirPerm); err != nil { // past the umask
		return err
	}
	if os.Geteuid() == 0 {
		return os.Lchown(dir, -1, int(pfi.Sys().(*syscall.Stat_t).Gid))
	}
	return nil
}

// tempPrefix is the name of list's temporary files but for the pid of
// the export writing it.
func tempPrefix(dir string, l List) string {
	return filepath.Join(dir, "."+string(l)+".tmp-")
}

// removeStaleTemps removes what killed exports left: a list's temporary
// file whose process is gone. Exports take no lock (sync's export_cdb and
// an operator's export cdb may overlap), so the file of a live process is
// left alone; a pid reused since is only a file removed by a later export.
func removeStaleTemps(dir string) {
	for _, l := range Lists {
		prefix := tempPrefix(dir, l)
		matches, _ := filepath.Glob(prefix + "*")
		for _, m := range matches {
			pid, err := strconv.Atoi(m[len(prefix):])
			if err != nil || pid <= 0 || processAlive(pid) {
				continue // not one of ours, or still being written
			}
			_ = os.Remove(m) // a link is removed, never followed
		}
	}
}

// processAlive reports whether a process pid exists (EPERM: it exists,
// as another user's).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// writeList replaces path with text unless it already holds exactly that.
func writeList(path string, text []byte) (changed bool, err error) {
	same, err := sameContent(path, text)
	if err != nil || same {
		return false, err
	}
	dir := filepath.Dir(path)
	tmp := tempPrefix(dir, List(filepath.Base(path))) + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmp) // a pid reused after a crash
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, filePerm)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = matchDirGroup(f, dir); err != nil {
		return false, err
	}
	if err = f.Chmod(filePerm); err != nil {
		return false, err
	}
	if _, err = f.Write(text); err != nil {
		return false, err
	}
	if err = f.Sync(); err != nil {
		return false, err
	}
	if err = f.Close(); err != nil {
		return false, err
	}
	if err = os.Rename(tmp, path); err != nil {
		return false, err
	}
	syncDir(dir)
	newerThanCompiled(path)
	return true, nil
}

// sameContent says whether path holds exactly text. A missing file is not
// the same; a link is an error.
func sameContent(path string, text []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case errors.Is(err, syscall.ELOOP):
		return false, fmt.Errorf("%s %w", path, errSymlink)
	case err != nil:
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() != int64(len(text)) || fi.Size() > maxCompare {
		return false, nil
	}
	old, err := io.ReadAll(io.LimitReader(f, maxCompare))
	if err != nil {
		return false, err
	}
	return bytes.Equal(old, text), nil
}

// newerThanCompiled makes sure analysisd sees the text as newer than its
// compiled .cdb: it compares modification times in whole seconds and
// recompiles only when the text is strictly newer, so a list rewritten in
// the second its .cdb was compiled would otherwise keep the old .cdb.
func newerThanCompiled(path string) {
	cdb, err := os.Lstat(path + ".cdb")
	if err != nil {
		return
	}
	txt, err := os.Lstat(path)
	if err != nil || txt.ModTime().Unix() > cdb.ModTime().Unix() {
		return
	}
	t := time.Unix(cdb.ModTime().Unix()+1, 0)
	_ = os.Chtimes(path, t, t)
}

// matchDirGroup gives f the group of dir, as a setgid directory would.
// Only root can give a file away; anyone else's files keep their group.
func matchDirGroup(f *os.File, dir string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(-1, int(st.Gid))
}

// syncDir makes a rename durable; failing is not worth an error, the
// rename itself is done.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
