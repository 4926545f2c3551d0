//go:build !race

package imageproc

const raceEnabled = false
