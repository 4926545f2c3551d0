//go:build !linux

package devstack

func xattrWorks(string) bool { return false }
