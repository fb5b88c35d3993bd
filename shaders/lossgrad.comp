// Fused loss and surrogate gradient, and exact losses of K candidates, in
// float (fp32): the kernel the GPU runs for the quantizer.
//
// The CPU twin is package kernels: Config.SampleLossGrad (reference.go) is
// the specification, the loops of eval.go compute the same sums. The
// quantizer is quant.glsl's float path, whose level and storage decisions
// equal the CPU's (a double fallback decides near a step); the continuous
// values carry float rounding, per-thread and per-workgroup sums are
// float, and the second stage (reduce.comp) sums the workgroups in double.
//
// Specialization (#defines):
//   data      DATA_F32 (float x[], t[]), DATA_U8 (two x,t byte pairs per
//             uint, levels from a 256-entry table), DATA_WEIGHTED (float
//             x[], t[], w[]: groups)
//   PER_LEVEL (set here: 8-bit data, K = 1, not SUR_GAUSS) the quantizer
//             runs once per level and workgroup, not once per pixel
//   mode      MODE_LOSSGRAD (K = 1, loss and gradient) or MODE_LOSSES
//             (exact losses of K candidates, pixels staged in shared
//             memory so each is read once per dispatch)
//   surrogate SUR_STE, SUR_IDENTITY, SUR_IDENTITY_SOFT, SUR_TABLE (with
//             SOFT for the soft forward), SUR_GAUSS (GAUSS_M samples)
//   loss      LOSS_MSE, LOSS_L1, LOSS_HUBER
//   STORED    round outputs to the stored levels (Scale.lv, Scale.linv)
//   LOCAL     workgroup size; KPER candidates per thread in MODE_LOSSES

#extension GL_ARB_gpu_shader_fp64 : enable

layout(local_size_x = LOCAL) in;

#define REAL float
#define TABLE_T float
#define FP32
#include "data.glsl"
#include "loss.glsl"
#include "quant.glsl"

layout(std430, binding = BIND_SCALES) readonly buffer Scales { Scale scales[]; };
layout(std430, binding = BIND_EPS) readonly buffer Eps { float eps[]; };
layout(std430, binding = BIND_PARTIAL) writeonly buffer Partial { double partial[]; };

uniform uint n;       // samples
uniform uint k;       // candidates (MODE_LOSSES)
uniform float gnorm;  // 1/(2σM) of SUR_GAUSS

#if defined(MODE_LOSSES)
shared float tx[LOCAL];
shared float tt[LOCAL];
shared float tw[LOCAL];
#endif

#if defined(DATA_U8) && defined(MODE_LOSSGRAD) && !defined(SUR_GAUSS)
#define PER_LEVEL
// The forward value and derivative of each 8-bit level: (y hi, y lo, dy).
shared vec4 fx[256];
// The pairs again, 16 bytes an element: package gpu allocates buffers in
// powers of two of at least 16 bytes, so the last element is in bounds.
layout(std430, binding = BIND_DATA0) readonly buffer Pairs4 { uvec4 pairs4[]; };
#endif

#if defined(MODE_LOSSGRAD)
// The gradient's terms cancel: its sums are float-float pairs (hi, lo),
// added by quant.glsl's add2 (Knuth's two-sum), so that they reach the
// CPU's double sums to 1e-7 of the sum of magnitudes however many terms a
// thread adds.
shared vec2 sl[LOCAL];
shared vec2 sg[LOCAL];

#if defined(PER_LEVEL)
// addPair adds the loss and gradient of the pair in the low 16 bits of pr.
void addPair(uint pr, inout vec2 accL, inout vec2 accG) {
	vec4 f = fx[pr & 255u];
	float l, dl;
	lossEval(residualF(f.xy, lv8[(pr >> 8) & 255u]), l, dl);
	accL = add2(accL, l);
	accG = add2(accG, dl * f.z);
}
#endif

// evalSample returns the loss and the surrogate gradient of one sample.
void evalSample(Scale sc, float x, float t, out float l, out float g) {
	float dl;
#if defined(SUR_GAUSS)
	bool clamped;
	lossEval(exactResidualF(sc, x, t, clamped), l, dl);
	g = 0.0;
	for (int j = 0; j < GAUSS_M; j++) {
		float lp, lm;
		lossEval(exactResidualF(scales[1 + j], x, t, clamped), lp, dl);
		lossEval(exactResidualF(scales[1 + GAUSS_M + j], x, t, clamped), lm, dl);
		g += eps[j] * (lp - lm);
	}
	g *= gnorm;
#else
	float dy;
	lossEval(derivF(sc, x, t, dy), l, dl);
	g = dl * dy;
#endif
}
#endif

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupID.x;
	uint nwg = gl_NumWorkGroups.x;
	loadLevels();

#if defined(MODE_LOSSGRAD)
	Scale sc = scales[0];
	vec2 accL = vec2(0.0), accG = vec2(0.0);
#if defined(PER_LEVEL)
	// With 8-bit x the quantizer is a function of 256 values: a pixel is
	// two lookups, its residual and its loss, so the step is bound by
	// memory, not by the exact float arithmetic of the quantizer.
	for (uint v = lid; v < 256u; v += LOCAL) {
		float dy;
		vec2 y = forwardF(sc, lv8[v], dy);
		fx[v] = vec4(y, dy, 0.0);
	}
	barrier();
	// Eight pairs a load: one word a thread leaves too few bytes in flight
	// to cover the memory's latency.
	uint quads = (n + 7u) / 8u;
	for (uint qi = wg * LOCAL + lid; qi < quads; qi += nwg * LOCAL) {
		uvec4 q = pairs4[qi];
		uint m = min(8u, n - 8u * qi);
		if (m == 8u) {
			addPair(q.x, accL, accG);
			addPair(q.x >> 16, accL, accG);
			addPair(q.y, accL, accG);
			addPair(q.y >> 16, accL, accG);
			addPair(q.z, accL, accG);
			addPair(q.z >> 16, accL, accG);
			addPair(q.w, accL, accG);
			addPair(q.w >> 16, accL, accG);
		} else {
			for (uint j = 0u; j < m; j++) {
				addPair(q[j >> 1] >> (16u * (j & 1u)), accL, accG);
			}
		}
	}
#else
	for (uint i = wg * LOCAL + lid; i < n; i += nwg * LOCAL) {
		float x, t, w, l, g;
		load(i, x, t, w);
		evalSample(sc, x, t, l, g);
		accL = add2(accL, w * l);
		accG = add2(accG, w * g);
	}
#endif
	sl[lid] = accL;
	sg[lid] = accG;
	barrier();
	for (uint s = LOCAL / 2u; s > 0u; s >>= 1) {
		if (lid < s) {
			sl[lid] = add22(sl[lid], sl[lid + s]);
			sg[lid] = add22(sg[lid], sg[lid + s]);
		}
		barrier();
	}
	if (lid == 0u) {
		partial[2u * wg] = double(sl[0].x) + double(sl[0].y);
		partial[2u * wg + 1u] = double(sg[0].x) + double(sg[0].y);
	}
#else // MODE_LOSSES
	double acc[KPER]; // one add per tile of LOCAL pixels
	for (int j = 0; j < KPER; j++) {
		acc[j] = 0.0LF;
	}
	for (uint base = wg * LOCAL; base < n; base += nwg * LOCAL) {
		uint i = base + lid;
		if (i < n) {
			float x, t, w;
			load(i, x, t, w);
			tx[lid] = x;
			tt[lid] = t;
			tw[lid] = w;
		} else {
			tx[lid] = 0.0;
			tt[lid] = 0.0;
			tw[lid] = 0.0;
		}
		barrier();
		uint m = min(uint(LOCAL), n - base);
		for (int j = 0; j < KPER; j++) {
			uint kk = lid + uint(j) * LOCAL;
			if (kk < k) {
				Scale sc = scales[kk];
				float sum = 0.0;
				for (uint q = 0u; q < m; q++) {
					float l, dl;
					bool clamped;
					lossEval(exactResidualF(sc, tx[q], tt[q], clamped), l, dl);
					sum += tw[q] * l;
				}
				acc[j] += double(sum);
			}
		}
		barrier();
	}
	for (int j = 0; j < KPER; j++) {
		uint kk = lid + uint(j) * LOCAL;
		if (kk < k) {
			partial[wg * k + kk] = acc[j];
		}
	}
#endif
}
