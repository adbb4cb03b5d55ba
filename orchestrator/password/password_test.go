package password

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashCheck(t *testing.T) {
	h, err := Hash("correct horse battery")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))
	assert.NotContains(t, h, "correct horse")
	assert.True(t, Check(h, "correct horse battery"))
	assert.False(t, Check(h, "correct horse batterY"))
	h2, err := Hash("correct horse battery")
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "salted")
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$x$AA$AA", h[:len(h)-4] + "!!!!"} {
		assert.False(t, Check(bad, "correct horse battery"), bad)
	}
}
