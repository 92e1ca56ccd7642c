package main

import "context"

func runJobs(ctx context.Context, args []string, e env) int { return exitUsage }
