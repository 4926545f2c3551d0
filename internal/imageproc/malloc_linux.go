//go:build !nodynamic

package imageproc

import "github.com/ebitengine/purego"

func init() { pinMallocThreshold = pinGlibcMmapThreshold }

// pinGlibcMmapThreshold fixes glibc's mmap threshold at its default of
// 128 KiB. glibc raises the threshold to the size of the last large block
// freed (up to 32 MB), so after libwebp's first encode its pictures and
// analysis buffers come from malloc's per-thread arenas, which keep the
// pages when they are freed: six 2048×2048 encodes one after another left
// 120 MB more resident than before them, memory Go's soft limit cannot
// see. With the threshold fixed, each large block is a mapping of its own,
// returned to the system by free (the same six encodes: 2 MB). It does
// nothing where libc has no mallopt (musl).
func pinGlibcMmapThreshold() {
	libc, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return
	}
	sym, err := purego.Dlsym(libc, "mallopt")
	if err != nil {
		return
	}
	const mMmapThreshold = -3 // M_MMAP_THRESHOLD in malloc.h
	purego.SyscallN(sym, uintptr(mMmapThreshold&0xFFFFFFFF), 128<<10)
}
