package pgstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"sitelog/internal/pgtest"
)

func TestMigrate(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("nodes starting together migrate once", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		const nodes = 4
		stores := make([]*Store, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() { stores[i], errs[i] = Open(ctx, dsn, Options{}) })
		}
		wg.Wait()
		for _, s := range stores {
			if s != nil {
				defer s.Close()
			}
		}
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		s := stores[0]
		if n := count(t, s, "SELECT count(*) FROM schema_migrations"); n != int64(len(ms)) {
			t.Fatalf("%d migrations recorded; want %d", n, len(ms))
		}
		if n := count(t, s, "SELECT max(version) FROM schema_migrations"); n != int64(len(ms)) {
			t.Fatalf("schema version %d; want %d", n, len(ms))
		}
	})

	t.Run("a database newer than the binary is refused", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		s := open(t, dsn)
		if _, err := s.pool.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", len(ms)+1); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ctx, dsn, Options{})
		if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
			t.Fatalf("Open of a newer database: err = %v; want a refusal", err)
		}
	})
}
