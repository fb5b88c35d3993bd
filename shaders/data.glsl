// Shared by the compute shaders: the data layouts, the loss, and the
// levels table of 8-bit data. Included by #include "data.glsl".
//
//   DATA_F32       float x[], t[] at bindings BIND_DATA0 and BIND_DATA1
//   DATA_U8        two (x, t) byte pairs per uint at BIND_DATA0, the float
//                  value of each level at BIND_DATA1 (kernels.Level8)
//   DATA_WEIGHTED  float x[], t[], w[] at BIND_DATA0, 1, 2 (groups: every
//                  x of quantfit's data is a float32 value, so only the
//                  mean targets and the counts round, to 2^-24 relative)
//
// The BIND_ numbers are package gpu's (bindings.go), passed as defines.

#if defined(DATA_F32)
layout(std430, binding = BIND_DATA0) readonly buffer Xs { float xs[]; };
layout(std430, binding = BIND_DATA1) readonly buffer Ts { float ts[]; };
#elif defined(DATA_U8)
layout(std430, binding = BIND_DATA0) readonly buffer Pairs { uint pairs[]; };
layout(std430, binding = BIND_DATA1) readonly buffer Levels { float levels[]; };
shared float lv8[256];
#else
layout(std430, binding = BIND_DATA0) readonly buffer Xs { float xs[]; };
layout(std430, binding = BIND_DATA1) readonly buffer Ts { float ts[]; };
layout(std430, binding = BIND_DATA2) readonly buffer Ws { float ws[]; };
#endif

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

void load(uint i, out float x, out float t, out float w) {
#if defined(DATA_F32)
	x = xs[i];
	t = ts[i];
	w = 1.0;
#elif defined(DATA_U8)
	uint word = pairs[i >> 1];
	uint sh = (i & 1u) * 16u;
	x = lv8[(word >> sh) & 255u];
	t = lv8[(word >> (sh + 8u)) & 255u];
	w = 1.0;
#else
	x = xs[i];
	t = ts[i];
	w = ws[i];
#endif
}
