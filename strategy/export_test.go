package strategy

// IntensityRingLen exposes the size of an Intensity's ring to the external
// tests, which check that its memory stays bounded.
func IntensityRingLen(in *Intensity) int { return len(in.ring) }
