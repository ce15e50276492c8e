//go:build race

package sheets_test

// raceSlowdown is how much slower the race detector makes a read.
const raceSlowdown = 10
