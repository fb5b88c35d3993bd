// Package gpu runs quantfit's per-pixel work in OpenGL 4.3 compute shaders:
// contexts (headless through EGL), buffers, programs and dispatch, behind
// one locked thread, and an Evaluator with the same methods as package
// kernels' CPU evaluator.
//
// Every GL call runs on the goroutine of a Device, locked to its OS thread:
// GL state belongs to one thread, and calls from others saw empty results.
package gpu
