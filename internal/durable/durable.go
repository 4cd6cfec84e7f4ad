// Package durable writes small files so that they survive a crash or a
// power loss whole: the log's identity and repair files, the visitor
// salts.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path through a temporary file beside it: the
// data is written and fsynced, the file renamed into place and the
// directory fsynced, so after a crash path holds either what it held
// before or all of data. perm is the mode of the new file.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	// A file left by a crash may have another mode, which O_CREATE keeps.
	os.Remove(tmp)
	if err := writeSynced(tmp, data, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

func writeSynced(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncDir fsyncs a directory, so that files created, renamed or removed
// in it survive a power loss.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
