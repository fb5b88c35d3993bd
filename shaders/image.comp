// The passes of a spatial stack over whole images: package gpu's
// ImageEvaluator cuts the stack into them and generates the operators'
// code. CPU twin: kernels.ImageEvaluator (Forward, LossGrad, Loss,
// CellSums) and kernels.ApplyMix: their loops are the specification.
//
// The state is float: per pixel the running image and one tangent per
// tracked parameter (forward mode), slot k (0 the value, 1+j the tangent
// of parameter j) of channel c at ((k·NC + c)·n + i). Each program is one
// pass (a define):
//   PASS_POINT  a run of pixel-wise and colour operators, IN to OUT (in
//               place but for the first pass, which reads the original);
//   PASS_H      the horizontal half of a Gaussian mix (kernels.GaussianMix):
//               every slot's rows convolved into AUX, K'_h·x beside in
//               slot NT_IN + 1, over shared-memory tiles of a row;
//   PASS_V      its vertical half over tiles of columns, combined with the
//               input pixel into y = U·x + V·K·x, the tangents through the
//               same map and one new tangent per own parameter;
//   PASS_FINAL  the trailing run of operators, then per sample the loss
//               against the target at AUX (MODE_LOSS, MODE_LOSSGRAD) or the
//               residual to its quantization cell (MODE_CELLS, and
//               MODE_CELLSN with the normal equations' terms), reduced per
//               workgroup into WIDTH partial sums at row rowOff + group.
// The operators compute in double, as stack.comp's fallback chain does
// (their values feed the quantizer's floor); the convolutions and the
// state are float.
//
// NC channels; NT_IN tangents read, NT after the pass; TS = max(1, NT);
// MAXP parameters per operator at most; MAXR the largest kernel radius.

#extension GL_ARB_gpu_shader_fp64 : enable

#define REAL double
#define TABLE_T double
#include "loss.glsl"
#include "quant.glsl"
#include "quantop.glsl"

layout(std430, binding = BIND_IN) readonly buffer In { float src[]; };
layout(std430, binding = BIND_OUT) buffer Out { float dst[]; };
layout(std430, binding = BIND_AUX) buffer Aux { float aux[]; };
layout(std430, binding = BIND_PARAMS) readonly buffer Params { double params[]; };
layout(std430, binding = BIND_TAPS) readonly buffer Taps { float taps[]; };
layout(std430, binding = BIND_PARTIAL) writeonly buffer Partial { double partial[]; };

uniform uint n;      // pixels of the image
uniform uint iw;     // its width
uniform uint ih;     // its height
uniform uint radius; // the kernel's radius this step (PASS_H, PASS_V)
uniform uint rowOff; // the image's first row of partial sums (PASS_FINAL)
uniform uvec4 inner; // the samples summed: x0, y0, x1, y1 (PASS_FINAL)

// The cells (MODE_CELLS, MODE_CELLSN): kernels.Cells.
uniform double cs, cc, cd, ckb, ckt;
uniform uint cmid;

//@OPS

#if defined(PASS_POINT) || defined(PASS_FINAL)
layout(local_size_x = LOCAL) in;

void loadPixel(uint i, out double v[NC], out double t[TS * NC]) {
	for (int c = 0; c < NC; c++) {
		v[c] = double(src[uint(c) * n + i]);
	}
	for (int k = 0; k < TS * NC; k++) {
		t[k] = 0.0LF;
	}
	for (int k = 0; k < NT_IN; k++) {
		for (int c = 0; c < NC; c++) {
			t[k * NC + c] = double(src[uint((k + 1) * NC + c) * n + i]);
		}
	}
}
#endif

#if defined(PASS_POINT)
void main() {
	for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * LOCAL) {
		double v[NC];
		double t[TS * NC];
		loadPixel(i, v, t);
		runOps(v, t);
		for (int c = 0; c < NC; c++) {
			dst[uint(c) * n + i] = float(v[c]);
		}
		for (int k = 0; k < NT; k++) {
			for (int c = 0; c < NC; c++) {
				dst[uint((k + 1) * NC + c) * n + i] = float(t[k * NC + c]);
			}
		}
	}
}
#endif

#if defined(PASS_H)
layout(local_size_x = LOCAL) in;
shared float tile[LOCAL + 2 * MAXR];

void main() {
	uint lx = gl_LocalInvocationID.x;
	uint x0 = gl_WorkGroupID.x * LOCAL;
	uint y = gl_WorkGroupID.y;
	uint x = x0 + lx;
	int r = int(radius);
	for (int k = 0; k <= NT_IN; k++) {
		for (int c = 0; c < NC; c++) {
			uint row = uint(k * NC + c) * n + y * iw;
			for (int j = int(lx); j < LOCAL + 2 * r; j += LOCAL) {
				tile[j] = src[row + uint(clamp(int(x0) - r + j, 0, int(iw) - 1))];
			}
			barrier();
			if (x < iw) {
				uint m = lx + uint(r);
				float s = taps[TAPS] * tile[m];
				float ds = taps[TAPS + MAXR + 1] * tile[m];
				for (int d = 1; d <= r; d++) {
					float pair = tile[m - uint(d)] + tile[m + uint(d)];
					s += taps[TAPS + d] * pair;
					ds += taps[TAPS + MAXR + 1 + d] * pair;
				}
				aux[row + x] = s;
				if (k == 0) {
					aux[uint((NT_IN + 1) * NC + c) * n + y * iw + x] = ds;
				}
			}
			barrier();
		}
	}
}
#endif

#if defined(PASS_V)
#define TW 32
#define TH 8
// The mix's weights follow the taps and their derivatives.
#define MIX_AT (TAPS + 2 * (MAXR + 1))
// The tangent of the mix's own parameter J (a literal: NVIDIA's compiler
// refused the same code in a loop over J, "lvalue in array access too
// complex"): ∂y/∂p_J = ∂U/∂p_J·x + ∂V/∂p_J·K·x, plus V·K'·x for σ.
#define OWN_TANGENT(J) { \
	float dv = taps[MIX_AT + 2 + 2 * J] * xv + taps[MIX_AT + 3 + 2 * J] * kx; \
	if (J == SIGMA_AT) { \
		dv += v * dkx; \
	} \
	dst[uint((NT_IN + 1 + J) * NC + c) * n + o] = dv; \
}
layout(local_size_x = TW, local_size_y = TH) in;
shared float tile[(TH + 2 * MAXR) * TW];

void main() {
	uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
	uint x = gl_WorkGroupID.x * TW + lx;
	uint y0 = gl_WorkGroupID.y * TH;
	uint y = y0 + ly;
	bool inside = x < iw && y < ih;
	uint xc = min(x, iw - 1u);
	int r = int(radius);
	float u = taps[MIX_AT], v = taps[MIX_AT + 1];
	uint o = y * iw + x;
	for (int c = 0; c < NC; c++) {
		float kx = 0.0, dkx = 0.0;
		// k = -1 is K'_h·x (for ∂/∂σ), then the value, then the tangents.
		for (int k = -1; k <= NT_IN; k++) {
			uint slot = k < 0 ? uint(NT_IN + 1) : uint(k);
			uint plane = (slot * uint(NC) + uint(c)) * n;
			for (int j = int(ly); j < TH + 2 * r; j += TH) {
				tile[j * TW + int(lx)] = aux[plane + uint(clamp(int(y0) - r + j, 0, int(ih) - 1)) * iw + xc];
			}
			barrier();
			if (inside) {
				int m = (int(ly) + r) * TW + int(lx);
				float s = taps[TAPS] * tile[m];
				float ds = taps[TAPS + MAXR + 1] * tile[m];
				for (int d = 1; d <= r; d++) {
					float pair = tile[m - d * TW] + tile[m + d * TW];
					s += taps[TAPS + d] * pair;
					ds += taps[TAPS + MAXR + 1 + d] * pair;
				}
				if (k < 0) {
					dkx = s;
				} else if (k == 0) {
					kx = s;
					dkx += ds;
					float xv = src[uint(c) * n + o];
					dst[uint(c) * n + o] = u * xv + v * kx;
#if NPOWN > 0 && NT > 0
					OWN_TANGENT(0);
#endif
#if NPOWN > 1 && NT > 0
					OWN_TANGENT(1);
#endif
				} else {
					uint p = (uint(k * NC) + uint(c)) * n + o;
					dst[p] = u * src[p] + v * s;
				}
			}
			barrier();
		}
	}
}
#endif

#if defined(PASS_FINAL)
shared double red[LOCAL];

// cellResidual is kernels.Cells.Residual.
double cellResidual(double g, double t) {
	// math.Round: halves away from zero (a target at 0 is one)
	double z = t * cs - cd;
	double k = max(ckb, min(ckt, sign(z) * floor(abs(z) + 0.5LF)));
	if (t >= 1.0LF) {
		k = ckt;
	} else if (t <= 0.0LF) {
		k = ckb;
	}
	double lo = (k - cc) / cs, hi = (k + 1.0LF - cc) / cs;
	if (k > ckb && g < lo) {
		return g - lo;
	}
	if (k < ckt && g > hi) {
		return g - hi;
	}
	if (cmid != 0u && k > ckb && k < ckt) {
		return g - (lo + hi) / 2.0LF;
	}
	return 0.0LF;
}

void main() {
	uint lid = gl_LocalInvocationID.x;
#if defined(MODE_LOSS)
	exactMode = true;
#endif
	double acc[WIDTH];
	for (int j = 0; j < WIDTH; j++) {
		acc[j] = 0.0LF;
	}
	for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * LOCAL) {
		uint px = i % iw, py = i / iw;
		if (px < inner.x || py < inner.y || px >= inner.z || py >= inner.w) {
			continue; // a tile's border: read by the blurs, not summed
		}
		double v[NC];
		double t[TS * NC];
		loadPixel(i, v, t);
		runOps(v, t);
		for (int c = 0; c < NC; c++) {
			double tv = double(aux[uint(c) * n + i]);
#if defined(STORED)
			// a stored target back on its grid to double precision (as the
			// CPU holds it): rounded to float, a target near the boundary
			// of two cells would name the other
			double ts = floor(tv * olv + 0.5LF) / olv;
			if (abs(ts - tv) < 1e-6LF) {
				tv = ts;
			}
#endif
#if defined(MODE_LOSS) || defined(MODE_LOSSGRAD)
			double l, dl;
			lossEval(store(v[c]) - tv, l, dl);
			acc[0] += l;
#if defined(MODE_LOSSGRAD)
			if (v[c] >= 0.0LF && v[c] <= 1.0LF) {
				for (int k = 0; k < NT; k++) {
					acc[1 + k] += dl * t[k * NC + c];
				}
			}
#endif
#else
			double res = cellResidual(v[c], tv);
			acc[0] += res * res;
#if defined(MODE_CELLSN)
			if (res != 0.0LF) {
				int q = 1 + NT;
				for (int a = 0; a < NT; a++) {
					double ja = t[a * NC + c];
					acc[1 + a] += ja * res;
					for (int b = a; b < NT; b++) {
						acc[q++] += ja * t[b * NC + c];
					}
				}
			}
#endif
#endif
		}
	}
	// one column at a time: WIDTH·LOCAL doubles would not fit shared
	// memory for a colour matrix's normal equations
	for (int j = 0; j < WIDTH; j++) {
		red[lid] = acc[j];
		barrier();
		for (uint s = LOCAL / 2u; s > 0u; s >>= 1) {
			if (lid < s) {
				red[lid] += red[lid + s];
			}
			barrier();
		}
		if (lid == 0u) {
			partial[(rowOff + gl_WorkGroupID.x) * uint(WIDTH) + uint(j)] = red[0];
		}
		barrier();
	}
}
#endif
