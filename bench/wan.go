package main

import "io"

// wanResult is one contender over one emulated link.
type wanResult struct {
	link string
	rate float64 // link rate, MB/s
	cell *cell
}

func (r *report) wanTable(out io.Writer) {}
