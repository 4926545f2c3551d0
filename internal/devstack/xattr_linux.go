package devstack

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func xattrWorks(dir string) bool {
	f := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		return false
	}
	defer os.Remove(f)
	return unix.Setxattr(f, "user.probe", []byte("1"), 0) == nil
}
