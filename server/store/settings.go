package store

import "context"

// Setting returns the instance setting called name, storing generate() first
// when it does not exist yet. Concurrent first calls agree on one value.
func (s *Store) Setting(ctx context.Context, name string, generate func() string) (string, error) {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO instance_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		name, generate())
	if err != nil {
		return "", err
	}
	var value string
	err = s.pool.QueryRow(ctx, `SELECT value FROM instance_settings WHERE name = $1`, name).Scan(&value)
	return value, err
}
