package matrix

import "time"

// t0 is the seeding time of every synthetic observation, fixed so golden files are stable.
var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// perfect is the row's exemplar seeded at t0.
func perfect(r Row) Observation { return Exemplar(r, t0) }
