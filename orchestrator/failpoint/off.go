//go:build !failpoints

package failpoint

func hit(string) {}
