package chaos

import (
	"fmt"
	"time"
)

// Slicer cuts data from dep into pieces of about avgSize bytes (plus or minus variation,
// which must be smaller) and waits delay between them, to expose code that assumes one
// read returns one message.
func Slicer(dep Dependency, avgSize, variation int, delay time.Duration) Toxic {
	return newToxic(dep, "slicer", slicerAttrs{AverageSize: avgSize, SizeVariation: variation, Delay: int(delay.Microseconds())},
		fmt.Sprintf("%d±%dB every %s", avgSize, variation, delay), "downstream")
}

type slicerAttrs struct {
	AverageSize   int `json:"average_size"`
	SizeVariation int `json:"size_variation"`
	// Delay is in microseconds.
	Delay int `json:"delay"`
}
