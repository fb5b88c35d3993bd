// A stack of pixel-wise operators: the loss and its gradient in every
// parameter (MODE_LOSSGRAD), or the exact loss (MODE_LOSS), reduced per
// workgroup. The CPU twin is kernels.Stack: SampleLossGrad and Forward.
//
// The operator functions op0..op{NOPS-1} and runStack are generated from
// the operators' GLSL bodies and inserted at the @OPS line below.
//
// It computes in double, unlike lossgrad.comp: the operators before the
// quantizer feed its floor, and their outputs rounded to float would move
// the level of a pixel near a step, which no fallback can undo without
// running the whole chain again in double.
//
// Specialization: data DATA_F32 / DATA_U8 / DATA_WEIGHTED as lossgrad.comp;
// the quantizer's model (QSHIFT, QC, QD) and surrogate (SUR_STE,
// SUR_IDENTITY, SUR_TABLE, with SOFT for its soft forward); the loss
// LOSS_MSE / LOSS_L1 / LOSS_HUBER; STORED rounds the output to the levels;
// NOPS operators, NPAR parameters, MAXP parameters per operator at most.

#extension GL_ARB_gpu_shader_fp64 : enable

layout(local_size_x = LOCAL) in;

#define REAL double
#define TABLE_T double
#include "data.glsl"
#include "loss.glsl"
#include "quant.glsl"

layout(std430, binding = BIND_PARAMS) readonly buffer Params { double params[]; };
layout(std430, binding = BIND_PARTIAL) writeonly buffer Partial { double partial[]; };

uniform uint n;

#include "quantop.glsl"

//@OPS

shared double red[LOCAL * (NPAR + 1)];

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupID.x;
	uint nwg = gl_NumWorkGroups.x;
	loadLevels();
#if defined(MODE_LOSS)
	exactMode = true;
#endif
	double acc[NPAR + 1];
	for (int j = 0; j <= NPAR; j++) {
		acc[j] = 0.0LF;
	}
	for (uint i = wg * LOCAL + lid; i < n; i += nwg * LOCAL) {
		float xf, tf, wf;
		load(i, xf, tf, wf);
		double x = double(xf), t = double(tf), w = double(wf);
		double dx[NOPS];
		double dp[NPAR];
		double v = runStack(x, dx, dp);
		double l, dl;
		lossEval(store(v) - t, l, dl);
		acc[NPAR] += w * l;
#if defined(MODE_LOSSGRAD)
		if (v >= 0.0LF && v <= 1.0LF) {
			backward(w * dl, dx, dp, acc);
		}
#endif
	}
	for (int j = 0; j <= NPAR; j++) {
		red[uint(j) * LOCAL + lid] = acc[j];
	}
	barrier();
	for (uint s = LOCAL / 2u; s > 0u; s >>= 1) {
		if (lid < s) {
			for (int j = 0; j <= NPAR; j++) {
				red[uint(j) * LOCAL + lid] += red[uint(j) * LOCAL + lid + s];
			}
		}
		barrier();
	}
	if (lid == 0u) {
		for (int j = 0; j <= NPAR; j++) {
			partial[wg * uint(NPAR + 1) + uint(j)] = red[uint(j) * LOCAL];
		}
	}
}
