package rollup

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"time"
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
	named  []driver.NamedValue
}

type sizedStmt struct {
	rows  int
	query string
	stmt  *sql.Stmt // through database/sql, for the statements that return rows
	// For those that do not, the statement prepared on the writer's driver
	// connection rawOn (writeTx).
	raw   driver.StmtExecContext
	rawOn any
}

// exec runs the statement in tx over args, cols values per row.
func (b *bulk) exec(ctx context.Context, tx *writeTx, args []any) error {
	return b.run(ctx, tx, nil, args, nil)
}

// query runs the statement in tx over args, cols values per row, and
// calls scan for every row it returns.
func (b *bulk) query(ctx context.Context, tx *writeTx, args []any, scan func(*sql.Rows) error) error {
	return b.run(ctx, tx, nil, args, scan)
}

// queryShared is query for a statement whose first values, shared, are
// the same for all rows and bound once per execution.
func (b *bulk) queryShared(ctx context.Context, tx *writeTx, shared, args []any, scan func(*sql.Rows) error) error {
	return b.run(ctx, tx, shared, args, scan)
}

func (b *bulk) run(ctx context.Context, tx *writeTx, shared, args []any, scan func(*sql.Rows) error) error {
	if len(args)%b.cols != 0 || len(shared) != b.shared {
		panic("BUG: rollup: bulk arguments are not whole rows")
	}
	for i := range b.stmts {
		s := &b.stmts[i]
		n := s.rows * b.cols
		if len(args) < n {
			continue
		}
		var st *sql.Stmt
		if scan != nil {
			st = tx.StmtContext(ctx, s.stmt)
		}
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
				if err := b.execRaw(ctx, tx.conn, s, chunk); err != nil {
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

// execRaw executes s over args on conn's driver connection, with the
// values in the bulk's own slice: database/sql would allocate a
// []driver.NamedValue for every execution, which was nearly half of the
// bytes a batch allocated. The values are converted as database/sql
// converts them for a driver that checks none itself, as this one.
func (b *bulk) execRaw(ctx context.Context, conn *sql.Conn, s *sizedStmt, args []any) error {
	return conn.Raw(func(dc any) error {
		if s.rawOn != dc {
			st, err := prepareRaw(ctx, dc, s.query)
			if err != nil {
				return err
			}
			// A statement of an earlier connection stays unclosed: the pool
			// closed that connection, and closing it now would reach into
			// freed memory. The writer's one connection is replaced only
			// after the driver reported it broken.
			s.raw, s.rawOn = st, dc
		}
		b.named = b.named[:0]
		for i, v := range args {
			switch v.(type) {
			case nil, int64, float64, bool, []byte, string, time.Time:
			default:
				var err error
				if v, err = driver.DefaultParameterConverter.ConvertValue(v); err != nil {
					return fmt.Errorf("argument %d: %w", i+1, err)
				}
			}
			b.named = append(b.named, driver.NamedValue{Ordinal: i + 1, Value: v})
		}
		_, err := s.raw.ExecContext(ctx, b.named)
		clear(b.named) // keep no strings alive between executions
		return err
	})
}

// prepareRaw prepares query on the driver connection dc.
func prepareRaw(ctx context.Context, dc any, query string) (driver.StmtExecContext, error) {
	c, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("BUG: rollup: driver connection %T cannot prepare with a context", dc)
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("BUG: rollup: driver statement %T cannot execute with a context", st)
	}
	return ex, nil
}

// closeRaw closes the statements the bulks prepared on the driver's
// connection, before db closes: SQLite keeps a connection with statements
// open until they are finalized.
func (st *statements) closeRaw(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		var err error
		for _, b := range st.bulks {
			for i := range b.stmts {
				s := &b.stmts[i]
				if s.raw != nil && s.rawOn == dc {
					err = errors.Join(err, s.raw.(driver.Stmt).Close())
				}
				s.raw, s.rawOn = nil, nil
			}
		}
		return err
	})
}

// writeTx is a transaction of the writer and the connection that it
// holds until Commit or Rollback, on whose driver bulk executions bind
// their values (bulk.execRaw).
type writeTx struct {
	*sql.Tx
	conn *sql.Conn
}

// beginWrite begins a transaction on a connection of db.
func beginWrite(ctx context.Context, db *sql.DB) (*writeTx, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &writeTx{tx, conn}, nil
}

// Commit commits the transaction and gives its connection back to the
// pool.
func (t *writeTx) Commit() error {
	defer t.conn.Close()
	return t.Tx.Commit()
}

// Rollback rolls the transaction back, a no-op after Commit, and gives
// its connection back to the pool.
func (t *writeTx) Rollback() error {
	defer t.conn.Close()
	return t.Tx.Rollback()
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
