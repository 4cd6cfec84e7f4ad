package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_more.sql":  {Data: []byte("ALTER TABLE t ADD b")},
		"m/0001_first.sql": {Data: []byte("CREATE TABLE t (a)")},
		"m/README":         {Data: []byte("not a migration")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []Migration{{1, "0001_first.sql", "CREATE TABLE t (a)"}, {2, "0002_more.sql", "ALTER TABLE t ADD b"}}
	if len(ms) != len(want) || ms[0] != want[0] || ms[1] != want[1] {
		t.Errorf("Load = %+v, want %+v", ms, want)
	}
}

func TestLoadRefusesBadNames(t *testing.T) {
	for name, files := range map[string][]string{
		"gap":       {"0001_a.sql", "0003_c.sql"},
		"no number": {"0001_a.sql", "init.sql"},
		"from two":  {"0002_b.sql"},
	} {
		fsys := fstest.MapFS{}
		for _, f := range files {
			fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1")}
		}
		if _, err := Load(fsys, "m"); err == nil || !strings.Contains(err.Error(), "migration ") {
			t.Errorf("%s: Load = %v, want an error naming the file", name, err)
		}
	}
}
