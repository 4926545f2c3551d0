//go:build race

package imageproc

// raceEnabled: the race detector multiplies a program's memory use (the
// Go documentation says 5–10×), so memory measurements mean nothing under it.
const raceEnabled = true
