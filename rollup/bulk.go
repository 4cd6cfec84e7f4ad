package rollup

import (
	"context"
	"database/sql"
	"runtime"
)

// Multi-row statements come in sizes bulkMaxRows, bulkMaxRows/bulkStep, …,
// 1 rows. One execution per chunk instead of per row saves the driver's
// per-statement work; the descending sizes keep the remainder of a batch
// to a few executions without preparing a statement for every count. The
// largest size stays far under SQLite's limit of 32766 parameters.
const (
	bulkMaxRows = 256
	bulkStep    = 4
)

// bulk runs one statement over many rows.
type bulk struct {
	shared int // leading values bound once per execution, before the rows
	cols   int
	stmts  []sizedStmt // descending rows, the last for a single row
	buf    []any       // shared values and one chunk's rows
}

type sizedStmt struct {
	rows int
	stmt *sql.Stmt
}

// exec runs the statement in tx over args, cols values per row.
func (b *bulk) exec(ctx context.Context, tx *sql.Tx, args []any) error {
	return b.run(ctx, tx, nil, args, nil)
}

// query runs the statement in tx over args, cols values per row, and
// calls scan for every row it returns.
func (b *bulk) query(ctx context.Context, tx *sql.Tx, args []any, scan func(*sql.Rows) error) error {
	return b.run(ctx, tx, nil, args, scan)
}

// queryShared is query for a statement whose first values, shared, are
// the same for all rows and bound once per execution.
func (b *bulk) queryShared(ctx context.Context, tx *sql.Tx, shared, args []any, scan func(*sql.Rows) error) error {
	return b.run(ctx, tx, shared, args, scan)
}

func (b *bulk) run(ctx context.Context, tx *sql.Tx, shared, args []any, scan func(*sql.Rows) error) error {
	if len(args)%b.cols != 0 || len(shared) != b.shared {
		panic("BUG: rollup: bulk arguments are not whole rows")
	}
	for _, s := range b.stmts {
		n := s.rows * b.cols
		if len(args) < n {
			continue
		}
		st := tx.StmtContext(ctx, s.stmt)
		for ; len(args) >= n; args = args[n:] {
			// An execution of the largest size runs for about a
			// millisecond: give the processor up between them (pace.go).
			runtime.Gosched()
			chunk := args[:n]
			if len(shared) > 0 {
				b.buf = append(append(b.buf[:0], shared...), chunk...)
				chunk = b.buf
			}
			if scan == nil {
				if _, err := st.ExecContext(ctx, chunk...); err != nil {
					return err
				}
				continue
			}
			if err := queryRows(ctx, st, chunk, scan); err != nil {
				return err
			}
		}
	}
	if b.buf != nil {
		clear(b.buf) // keep no strings alive between batches
	}
	return nil
}

func queryRows(ctx context.Context, st *sql.Stmt, args []any, scan func(*sql.Rows) error) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
