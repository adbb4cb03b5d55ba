package orchestrator

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLimiterForgets: keys whose attempts left the window are swept, and
// the number of keys stays bounded however many addresses try.
func TestLimiterForgets(t *testing.T) {
	l := &limiter{max: 1000}
	now := time.Unix(1_700_000_000, 0)
	for i := range 20_000 {
		require.True(t, l.take(now, []string{fmt.Sprint("ip:", i)}, []int{LoginPerClient}))
		now = now.Add(time.Millisecond)
	}
	assert.LessOrEqual(t, len(l.fails), 1000, "bounded")
	_, kept := l.fails["ip:19999"]
	assert.True(t, kept, "the newest key is kept")
	_, kept = l.fails["ip:0"]
	assert.False(t, kept, "the oldest key went first")

	// After the window, one more login sweeps every old key.
	now = now.Add(LoginWindow + time.Minute)
	require.True(t, l.take(now, []string{"ip:new"}, []int{LoginPerClient}))
	assert.Len(t, l.fails, 1, "expired keys are gone")
}

// TestLimiterStillLimits: the bound does not reset an attacker's count:
// a key at its limit stays refused while others come and go.
func TestLimiterStillLimits(t *testing.T) {
	l := &limiter{max: 100}
	now := time.Unix(1_700_000_000, 0)
	keys := []string{"user:admin", "ip:1"}
	for range LoginPerAccountAddress {
		require.True(t, l.take(now, keys, []int{LoginPerAccountAddress, LoginPerClient}))
	}
	assert.False(t, l.take(now, keys, []int{LoginPerAccountAddress, LoginPerClient}), "the account is at its limit")
	for i := range 50 {
		now = now.Add(time.Second)
		l.take(now, []string{fmt.Sprint("ip:x", i)}, []int{LoginPerClient})
	}
	assert.False(t, l.take(now, []string{"user:admin", "ip:2"}, []int{LoginPerAccountAddress, LoginPerClient}), "still at its limit from another address")

	// A flood of new keys past the bound never evicts the blocked account.
	for i := range 500 {
		now = now.Add(time.Millisecond)
		l.take(now, []string{fmt.Sprint("ip:flood", i)}, []int{LoginPerClient})
	}
	assert.LessOrEqual(t, len(l.fails), 100)
	assert.False(t, l.take(now, []string{"user:admin", "ip:3"}, []int{LoginPerAccountAddress, LoginPerClient}), "the blocked account was not pushed out")
}
