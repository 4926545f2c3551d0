package devstack

import (
	"github.com/alicebob/miniredis/v2"
)

// StartRedis starts an in-process Redis. ClockTTL(true) makes keys expire by
// the wall clock; without it asynq's unique and lease keys never expire.
// Its data lives in memory only: queued jobs do not survive a restart.
func StartRedis(addr string) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr(addr); err != nil {
		return nil, err
	}
	return m, nil
}
