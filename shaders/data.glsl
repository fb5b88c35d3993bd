// Shared by the compute shaders: the data layouts, the loss, and the
// levels table of 8-bit data. Included by #include "data.glsl".
//
//   DATA_F32       float x[], t[] at bindings BIND_DATA0 and BIND_DATA1
//   DATA_U8        two (x, t) byte pairs per uint at BIND_DATA0, the float
//                  value of each level at BIND_DATA1 (kernels.Level8)
//   DATA_WEIGHTED  double x[], t[], w[] at BIND_DATA0, 1, 2 (histogram
//                  groups)
//
// The BIND_ numbers are package gpu's (bindings.go), passed as defines.
//   LOSS_MSE, LOSS_L1, LOSS_HUBER (uniform delta)

#if defined(DATA_F32)
layout(std430, binding = BIND_DATA0) readonly buffer Xs { float xs[]; };
layout(std430, binding = BIND_DATA1) readonly buffer Ts { float ts[]; };
#elif defined(DATA_U8)
layout(std430, binding = BIND_DATA0) readonly buffer Pairs { uint pairs[]; };
layout(std430, binding = BIND_DATA1) readonly buffer Levels { float levels[]; };
shared float lv8[256];
#else
layout(std430, binding = BIND_DATA0) readonly buffer Xs { double xs[]; };
layout(std430, binding = BIND_DATA1) readonly buffer Ts { double ts[]; };
layout(std430, binding = BIND_DATA2) readonly buffer Ws { double ws[]; };
#endif

uniform double delta; // Huber threshold

// loadLevels copies the levels table to shared memory; every invocation of
// the workgroup calls it before load.
void loadLevels() {
#if defined(DATA_U8)
	for (uint i = gl_LocalInvocationID.x; i < 256u; i += gl_WorkGroupSize.x) {
		lv8[i] = levels[i];
	}
	barrier();
#endif
}

void load(uint i, out double x, out double t, out double w) {
#if defined(DATA_F32)
	x = double(xs[i]);
	t = double(ts[i]);
	w = 1.0LF;
#elif defined(DATA_U8)
	uint word = pairs[i >> 1];
	uint sh = (i & 1u) * 16u;
	x = double(lv8[(word >> sh) & 255u]);
	t = double(lv8[(word >> (sh + 8u)) & 255u]);
	w = 1.0LF;
#else
	x = xs[i];
	t = ts[i];
	w = ws[i];
#endif
}

void lossEval(double r, out double l, out double dl) {
#if defined(LOSS_MSE)
	l = r * r;
	dl = 2.0LF * r;
#elif defined(LOSS_L1)
	l = abs(r);
	dl = sign(r);
#else
	double a = abs(r);
	if (a > delta) {
		l = delta * (a - delta / 2.0LF);
		dl = delta * sign(r);
	} else {
		l = r * r / 2.0LF;
		dl = r;
	}
#endif
}
