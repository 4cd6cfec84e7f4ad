// Package migration reads a store's schema changes: SQL files embedded in
// its binary, one per version, named NNNN_what.sql and numbered from 1
// without gaps. A migration, once released, is never edited: a change is a
// new file. Each store applies them in its own dialect and transaction.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one schema change.
type Migration struct {
	Version int
	Name    string // the file name, for messages
	SQL     string
}

// Load returns the migrations in dir of fsys, in version order, or an
// error naming the first file that breaks the naming or numbering rule.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files { // fs.Glob returns names sorted
		name := path.Base(f)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number and '_'", name)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (numbered from 1 without gaps)", name, v, len(ms)+1)
		}
		text, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(text)})
	}
	return ms, nil
}
