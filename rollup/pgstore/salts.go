package pgstore

import (
	"context"
	"fmt"
	"time"
)

// saltTimeout bounds a salt's round trip: the first event of a day waits
// for it, and a salt the database does not answer for is drawn locally
// (derive.Salts uses it all the same).
const saltTimeout = 5 * time.Second

// SaltKeeper keeps the daily salts of visitor ids in the database, shared
// by every node (a derive.SaltKeeper, for derive.NewSalts).
type SaltKeeper struct{ s *Store }

// Salts returns the store's keeper of daily salts.
func (s *Store) Salts() SaltKeeper { return SaltKeeper{s} }

// Salts returns the salts kept, by UTC day number.
func (k SaltKeeper) Salts() (map[int64][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), saltTimeout)
	defer cancel()
	rows, err := k.s.pool.Query(ctx, "SELECT day, salt FROM salts")
	if err != nil {
		return nil, fmt.Errorf("pgstore: salts: %w", err)
	}
	defer rows.Close()
	days := make(map[int64][]byte)
	for rows.Next() {
		var day int64
		var salt []byte
		if err := rows.Scan(&day, &salt); err != nil {
			return nil, fmt.Errorf("pgstore: salts: %w", err)
		}
		days[day] = salt
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: salts: %w", err)
	}
	return days, nil
}

// Keep keeps salt as day's salt unless another node kept one first, and
// returns the day's salt. Two statements: the insert waits for another
// node's insert of the same day to commit, and only a statement begun
// after it sees that node's salt.
func (k SaltKeeper) Keep(day int64, salt []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), saltTimeout)
	defer cancel()
	if _, err := k.s.pool.Exec(ctx, "INSERT INTO salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING", day, salt); err != nil {
		return nil, fmt.Errorf("pgstore: keep a salt: %w", err)
	}
	var kept []byte
	if err := k.s.pool.QueryRow(ctx, "SELECT salt FROM salts WHERE day = $1", day).Scan(&kept); err != nil {
		return nil, fmt.Errorf("pgstore: keep a salt: %w", err)
	}
	return kept, nil
}

// Forget deletes the salts of day and the days before it.
func (k SaltKeeper) Forget(day int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), saltTimeout)
	defer cancel()
	if _, err := k.s.pool.Exec(ctx, "DELETE FROM salts WHERE day <= $1", day); err != nil {
		return fmt.Errorf("pgstore: forget salts: %w", err)
	}
	return nil
}
