package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDebVersion(t *testing.T) {
	date := time.Date(2026, 12, 6, 5, 39, 4, 0, time.UTC)
	for _, tc := range []struct{ in, want string }{
		{"v1.2.0", "1.2.0"},
		{"1.2.0", "1.2.0"},
		{"v1.2.0-rc.1", "1.2.0~rc.1"},
		{"v1.2.0-3-gabc1234", "1.2.0+3.gabc1234"},
		{"v1.2.0-3-gabc1234-dirty", "1.2.0+3.gabc1234.dirty"},
		{"v1.2.0-dirty", "1.2.0+dirty"},
		{"aad0ab9", "0.0.0~git20261206053904.aad0ab9"},
		{"1ad0ab9", "0.0.0~git20261206053904.1ad0ab9"},
		{"aad0ab9-dirty", "0.0.0~git20261206053904.aad0ab9+dirty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := debVersion(tc.in, date)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{"", "v", "v1.2.0 evil", "v1/2"} {
		_, err := debVersion(bad, date)
		assert.Error(t, err, "%q", bad)
	}
}
