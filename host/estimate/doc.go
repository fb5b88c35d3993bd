// Package estimate finds the parameter b of a quantizer from pairs of
// original and filtered data: the estimation strategies (gd, multistart,
// continuation, scan, auto), the exact polish between breakpoints, and the
// reported interval and margin. The per-sample work is package kernels'.
package estimate
