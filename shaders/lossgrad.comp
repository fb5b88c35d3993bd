// Fused loss and surrogate gradient, and exact losses of K candidates.
//
// The CPU twin is package kernels: Config.SampleLossGrad (reference.go) is
// the specification, the loops of eval.go compute the same sums. All
// arithmetic is in double and the steps that decide a level or a stored
// value are `precise`, so that floor and rounding fall on the same side as
// on the CPU even at exact ties.
//
// Specialization (#defines):
//   data      DATA_F32 (float x[], t[]), DATA_U8 (two x,t byte pairs per
//             uint, levels from a 256-entry table), DATA_WEIGHTED (double
//             x[], t[], w[]: histogram groups)
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

struct Scale {
	double s, c, d, inv, inv2, lv, linv, pad;
};

#include "data.glsl"

layout(std430, binding = BIND_SCALES) readonly buffer Scales { Scale scales[]; };
layout(std430, binding = BIND_TABLE) readonly buffer Table { double coef[]; };
layout(std430, binding = BIND_EPS) readonly buffer Eps { double eps[]; };
layout(std430, binding = BIND_PARTIAL) writeonly buffer Partial { double partial[]; };

uniform uint n;        // samples
uniform uint k;        // candidates (MODE_LOSSES)
uniform double fn;     // table segments
uniform double gnorm;  // 1/(2σM) of SUR_GAUSS

// store rounds y to the stored output levels, as kernels' scale.store.
double store(Scale sc, double y) {
#if defined(STORED)
	precise double v = y * sc.lv + 0.5LF;
	precise double r = floor(v) * sc.linv;
	return r;
#else
	return y;
#endif
}

// exactY is the exact forward: kernels' exactY.
double exactY(Scale sc, double x) {
	precise double z = x * sc.s + sc.c;
	precise double y = (floor(z) + sc.d) * sc.inv;
	if (y > 1.0LF) {
		y = 1.0LF;
	}
	return store(sc, y);
}

#if defined(MODE_LOSSES)
shared double tx[LOCAL];
shared double tt[LOCAL];
shared double tw[LOCAL];
#endif

#if defined(MODE_LOSSGRAD)
shared double sl[LOCAL];
shared double sg[LOCAL];

// sample returns the loss and the surrogate gradient of one sample.
void evalSample(Scale sc, double x, double t, out double l, out double g) {
#if defined(SUR_GAUSS)
	double dl;
	lossEval(exactY(sc, x) - t, l, dl);
	g = 0.0LF;
	for (int j = 0; j < GAUSS_M; j++) {
		double lp, lm;
		lossEval(exactY(scales[1 + j], x) - t, lp, dl);
		lossEval(exactY(scales[1 + GAUSS_M + j], x) - t, lm, dl);
		g += eps[j] * (lp - lm);
	}
	g *= gnorm;
#else
	precise double z = x * sc.s + sc.c;
	double fl = floor(z);
	precise double y = (fl + sc.d) * sc.inv;
#if defined(SUR_STE)
	double dy = ((z - fl) - sc.c - sc.d) * sc.inv2;
#elif defined(SUR_IDENTITY)
	double dy = (-sc.c - sc.d) * sc.inv2;
#elif defined(SUR_IDENTITY_SOFT)
	y = (z + sc.d) * sc.inv;
	double dy = ((z - sc.c) - z - sc.d) * sc.inv2;
#else // SUR_TABLE: Q and Q' of frac(z) from cubic Hermite pieces
	double p = (z - fl) * fn;
	double jf = floor(p);
	double u = p - jf;
	uint j = 8u * uint(jf);
	double q = coef[j] + u * (coef[j + 1u] + u * (coef[j + 2u] + u * coef[j + 3u]));
	double q1 = coef[j + 4u] + u * (coef[j + 5u] + u * (coef[j + 6u] + u * coef[j + 7u]));
#if defined(SOFT)
	y = (z + q + sc.d) * sc.inv;
#endif
	double dy = ((1.0LF + q1) * (z - sc.c) - (z + q) - sc.d) * sc.inv2;
#endif
	if (y > 1.0LF || y < 0.0LF) {
		y = clamp(y, 0.0LF, 1.0LF);
		dy = 0.0LF;
	}
#if !defined(SOFT) && !defined(SUR_IDENTITY_SOFT)
	y = store(sc, y);
#endif
	double dl;
	lossEval(y - t, l, dl);
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
	double accL = 0.0LF, accG = 0.0LF;
	for (uint i = wg * LOCAL + lid; i < n; i += nwg * LOCAL) {
		double x, t, w, l, g;
		load(i, x, t, w);
		evalSample(sc, x, t, l, g);
		accL += w * l;
		accG += w * g;
	}
	sl[lid] = accL;
	sg[lid] = accG;
	barrier();
	for (uint s = LOCAL / 2u; s > 0u; s >>= 1) {
		if (lid < s) {
			sl[lid] += sl[lid + s];
			sg[lid] += sg[lid + s];
		}
		barrier();
	}
	if (lid == 0u) {
		partial[2u * wg] = sl[0];
		partial[2u * wg + 1u] = sg[0];
	}
#else // MODE_LOSSES
	double acc[KPER];
	for (int j = 0; j < KPER; j++) {
		acc[j] = 0.0LF;
	}
	for (uint base = wg * LOCAL; base < n; base += nwg * LOCAL) {
		uint i = base + lid;
		if (i < n) {
			double x, t, w;
			load(i, x, t, w);
			tx[lid] = x;
			tt[lid] = t;
			tw[lid] = w;
		} else {
			tx[lid] = 0.0LF;
			tt[lid] = 0.0LF;
			tw[lid] = 0.0LF;
		}
		barrier();
		uint m = min(uint(LOCAL), n - base);
		for (int j = 0; j < KPER; j++) {
			uint kk = lid + uint(j) * LOCAL;
			if (kk < k) {
				Scale sc = scales[kk];
				double sum = 0.0LF;
				for (uint q = 0u; q < m; q++) {
					double l, dl;
					lossEval(exactY(sc, tx[q]) - tt[q], l, dl);
					sum += tw[q] * l;
				}
				acc[j] += sum;
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
