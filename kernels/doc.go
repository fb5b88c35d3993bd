// Package kernels implements the per-pixel mathematics of quantfit on the CPU:
// the quantizer models, their surrogate gradients, the losses, and the fused
// loss-and-gradient loops over pixel samples and histograms.
//
// The plain per-sample functions in reference.go are the specification. Every
// fast loop in this package, and every GLSL kernel in package shaders, must
// equal them (the table-driven surrogates within 1e-6), and tests hold them
// together.
package kernels
