package main

import "testing"

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in             []float64
		med, lo, hi, r float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, 4},
		{[]float64{5}, 5, 5, 5, 1},
	} {
		s := summarize(tc.in)
		if s.median != tc.med || s.lo != tc.lo || s.hi != tc.hi || s.spread() != tc.r || s.n != len(tc.in) {
			t.Errorf("summarize(%v) = %+v spread %v", tc.in, s, s.spread())
		}
	}
	if s := summarize(nil); s.n != 0 || s.spread() != 0 || s.format(0) != "—" {
		t.Errorf("empty: %+v", s)
	}
	in := []float64{3, 1, 2}
	summarize(in)
	if in[0] != 3 {
		t.Error("summarize sorted its argument")
	}
}
