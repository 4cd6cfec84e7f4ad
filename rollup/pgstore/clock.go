package pgstore

import (
	"context"
	"fmt"
	"time"
)

// ClockOffset returns this process's clock minus the server's, taking the
// server's reading to lie halfway through the round trip.
func (s *Store) ClockOffset(ctx context.Context) (time.Duration, error) {
	var server time.Time
	before := time.Now()
	if err := s.pool.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&server); err != nil {
		return 0, fmt.Errorf("pgstore: read the server's clock: %w", err)
	}
	after := time.Now()
	local := before.Add(after.Sub(before) / 2)
	return local.Sub(server), nil
}
