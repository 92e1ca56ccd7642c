package main

import (
	"fmt"
	"slices"
)

// sample is one timed run: throughput and the servers' CPU cost.
type sample struct {
	mbs float64 // MB/s (10^6 bytes per second)
	cpu float64 // server CPU seconds per GB (10^9 bytes) moved
	// detail is each server's user and system CPU per GB, for the log.
	detail string
}

// summary is the median and the range of a series.
type summary struct {
	median, lo, hi float64
	n              int
}

// summarize returns the median (the mean of the middle two for an even
// count) and the extremes.
func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{median: m, lo: s[0], hi: s[len(s)-1], n: len(s)}
}

// spread is max/min (1 = perfectly steady); 0 without data.
func (s summary) spread() float64 {
	if s.lo <= 0 {
		return 0
	}
	return s.hi / s.lo
}

func (s summary) format(prec int) string {
	if s.n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.*f [%.*f–%.*f]", prec, s.median, prec, s.lo, prec, s.hi)
}

// cell is the runs of one contender in one measurement.
type cell struct {
	name    string
	samples []sample
}

func (c *cell) mbs() summary {
	v := make([]float64, len(c.samples))
	for i, s := range c.samples {
		v[i] = s.mbs
	}
	return summarize(v)
}

func (c *cell) cpu() summary {
	v := make([]float64, len(c.samples))
	for i, s := range c.samples {
		v[i] = s.cpu
	}
	return summarize(v)
}
