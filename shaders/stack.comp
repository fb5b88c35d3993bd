// A stack of pixel-wise operators: the loss and its gradient in every
// parameter (MODE_LOSSGRAD), or the exact loss (MODE_LOSS), reduced per
// workgroup. The CPU twin is kernels.Stack: SampleLossGrad and Forward.
//
// The operator functions (op0..op{NOPS-1} in double, op0F.. in float),
// runStack/runStackF and backward/backwardF are generated from the
// operators' GLSL bodies and inserted at the @OPS line below.
//
// It computes in float (fp32). The chain's decisions (the quantizer's
// floor, the clamp to [0,1], the storage rounding) must fall as on the
// CPU, whose double chain a float one follows only to about 2^-20 of its
// values: a sample whose float chain comes within NEAR of a decision
// (nearStep) is run again through the double chain, which decides as the
// CPU does. That is about NEAR of the samples, and those where a smooth
// surrogate is steeper than the identity (its slope would magnify the
// float chain's error: a tenth of the samples for atan at γ = 0.9).
// Continuous values carry float rounding; the sums are float-float
// (add2, add22), the second stage double.
//
// With 8-bit data (DATA_U8, PER_LEVEL) the chain is a function of 256
// levels: each workgroup runs it once per level, in double, keeps the
// stored output and the chain's derivative in every parameter, and a
// pixel is two lookups, a loss and NPAR multiply-adds in float.
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
// The smooth surrogate's table for the float path: nine floats a segment,
// the eight coefficients and the low part of Q' at its start (the layout
// of lossgrad.comp's table).
layout(std430, binding = BIND_EPS) readonly buffer TableF { float coefF[]; };
layout(std430, binding = BIND_PARTIAL) writeonly buffer Partial { double partial[]; };

uniform uint n;

#include "quantop.glsl"

// NEAR bounds how near a decision a float chain may come before the
// double chain decides: its values carry a few ulps per operator, which
// the quantizer multiplies by b (at most 64).
const float NEAR = 1.0 / 1024.0;
bool nearStep = false;

// surrogateTableF2 is quant.glsl's surrogateTableF on coefF.
void surrogateTableF2(float f, float lo, out float q, out vec2 q1) {
	float fnf = float(fn);
	float p = f * fnf;
	float jf = min(floor(p), fnf - 1.0);
	float u = (p - jf) + lo * fnf;
	uint j = 9u * uint(jf);
	q = coefF[j] + u * (coefF[j + 1u] + u * (coefF[j + 2u] + u * coefF[j + 3u]));
	q1 = vec2(coefF[j + 4u], coefF[j + 8u] + u * (coefF[j + 5u] + u * (coefF[j + 6u] + u * coefF[j + 7u])));
}

// quantizeOpF is quantizeOp in float: y = (floor(z) + d)/s for
// z = x·s + c, the product split exactly so that the fraction, and the
// derivative in b (Q'·x·s − Q − c − d over s², whose terms cancel), keep
// float precision relative to themselves.
float quantizeOpF(float x, float b, out float dx, out float db) {
	float s = b - float(QSHIFT);
	vec2 xs = twoProd(x, s);
	float c = float(QC), d = float(QD);
	precise float z = xs.x + (xs.y + c);
	float fl = floor(z);
	precise float h = (xs.x - fl) + c;
	precise float f = h + xs.y;
	precise float flo = (h - f) + xs.y;
	if (f < NEAR || f > 1.0 - NEAR) {
		nearStep = true;
	}
	float inv = 1.0 / s;
	float inv2 = inv * inv;
	float y = (fl + d) * inv;
#if defined(SUR_STE)
	dx = 1.0;
	db = ((f - c - d) + flo) * inv2;
#elif defined(SUR_IDENTITY)
	dx = 1.0;
	db = (-c - d) * inv2;
#else
	float q;
	vec2 q1;
	surrogateTableF2(f, flo, q, q1);
#if defined(SOFT)
	if (!exactMode) {
		y = ((fl + d) + (f + q)) * inv;
	}
#endif
	// Where the surrogate is steeper than the identity its derivative
	// magnifies the float chain's error in z past the parity bound.
	if (q1.x > 1.0) {
		nearStep = true;
	}
	dx = 1.0 + (q1.x + q1.y);
	vec2 m = twoProd(q1.x, xs.x);
	precise float me = m.y + (q1.x * xs.y + q1.y * xs.x);
	db = ((m.x - (q + c + d)) + me) * inv2;
#endif
	if (abs(y - 1.0) < NEAR) {
		nearStep = true;
	}
	if (y > 1.0 || y < 0.0) {
		y = clamp(y, 0.0, 1.0);
		dx = 0.0;
		db = 0.0;
	}
	return y;
}

//@OPS

// storedF is store(v) as a float-float pair, and marks a sample whose
// clamp or stored level is too near its decision for float to be sure of
// (an output of exactly 0 or 1, as the quantizer's bottom and top levels
// give, is sure).
vec2 storedF(float v) {
	if (v != 0.0 && v != 1.0 && (abs(v) < NEAR || abs(v - 1.0) < NEAR)) {
		nearStep = true;
	}
	float vc = clamp(v, 0.0, 1.0);
#if defined(STORED)
	float lv = float(olv);
	vec2 p = twoProd(vc, lv);
	precise float w = p.x + (p.y + 0.5);
	float k = floor(w);
	precise float fr = ((p.x - k) + 0.5) + p.y;
	if (fr < NEAR || fr > 1.0 - NEAR) {
		nearStep = true;
	}
	// k/lv with 1/lv split in two floats
	double linv = 1.0LF / olv;
	float lh = float(linv);
	vec2 kq = twoProd(k, lh);
	return vec2(kq.x, kq.y + k * float(linv - double(lh)));
#else
	return vec2(vc, 0.0);
#endif
}

// residualOf is y − t for a float-float y.
float residualOf(vec2 y, float t) {
	precise float r = (y.x - t) + y.y;
#if defined(LOSS_L1)
	if (abs(r) < 1e-6) {
		nearStep = true; // its sign decides the derivative
	}
#endif
	return r;
}

void lossEvalF(float r, out float l, out float dl) {
#if defined(LOSS_MSE)
	l = r * r;
	dl = 2.0 * r;
#elif defined(LOSS_L1)
	l = abs(r);
	dl = sign(r);
#else
	float dt = float(delta);
	float a = abs(r);
	if (a > dt) {
		l = dt * (a - dt / 2.0);
		dl = dt * sign(r);
	} else {
		l = r * r / 2.0;
		dl = r;
	}
#endif
}

// sampleDouble is one sample through the double chain: the CPU's
// decisions. It writes the loss and, in MODE_LOSSGRAD, each parameter's
// gradient (before the weight) as floats.
void sampleDouble(float xf, float tf, out float l, out float g[NPAR + 1]) {
	double dx[NOPS];
	double dp[NPAR + 1];
	double v = runStack(double(xf), dx, dp);
	double ld, dl;
	lossEval(store(v) - double(tf), ld, dl);
	l = float(ld);
	for (int j = 0; j <= NPAR; j++) {
		g[j] = 0.0;
	}
#if defined(MODE_LOSSGRAD)
	if (v >= 0.0LF && v <= 1.0LF) {
		double acc[NPAR + 1];
		for (int j = 0; j <= NPAR; j++) {
			acc[j] = 0.0LF;
		}
		backward(dl, dx, dp, acc);
		for (int j = 0; j < NPAR; j++) {
			g[j] = float(acc[j]);
		}
	}
#endif
}

// sampleFloat is one sample through the float chain, false where a
// decision was too near (then sampleDouble decides).
bool sampleFloat(float x, float t, out float l, out float g[NPAR + 1]) {
	nearStep = false;
	float dx[NOPS];
	float dp[NPAR + 1];
	float v = runStackF(x, dx, dp);
	float dl;
	lossEvalF(residualOf(storedF(v), t), l, dl);
	for (int j = 0; j <= NPAR; j++) {
		g[j] = 0.0;
	}
#if defined(MODE_LOSSGRAD)
	if (v >= 0.0 && v <= 1.0) {
		backwardF(dl, dx, dp, g);
	}
#endif
	return !nearStep;
}

void evalSample(float x, float t, out float l, out float g[NPAR + 1]) {
	if (!sampleFloat(x, t, l, g)) {
		sampleDouble(x, t, l, g);
	}
}

shared vec2 red[LOCAL];

// flush sums each thread's float-float sums over the workgroup, one at a
// time (so shared memory holds one), into this workgroup's row.
void flush(vec2 acc[NPAR + 1]) {
	uint lid = gl_LocalInvocationID.x;
	for (int j = 0; j <= NPAR; j++) {
		red[lid] = acc[j];
		barrier();
		for (uint s = LOCAL / 2u; s > 0u; s >>= 1) {
			if (lid < s) {
				red[lid] = add22(red[lid], red[lid + s]);
			}
			barrier();
		}
		if (lid == 0u) {
			partial[gl_WorkGroupID.x * uint(NPAR + 1) + uint(j)] = double(red[0].x) + double(red[0].y);
		}
		barrier();
	}
}

#if defined(DATA_U8) && !defined(NO_PER_LEVEL)
#define PER_LEVEL
// Per level: the stored output (hi, lo), and the chain's
// derivative in every parameter (0 where the output is clamped), so that
// a pixel's gradient is dl·lvD[level][j].
shared vec2 lvY[256];
shared float lvD[256 * NPARD];
layout(std430, binding = BIND_DATA0) readonly buffer Pairs4 { uvec4 pairs4[]; };

// levelOf fills level v's entries through the double chain: 256 chains a
// workgroup cost nothing beside its pixels, and give the CPU's values.
void levelOf(uint v) {
	double dx[NOPS];
	double dp[NPAR + 1];
	double y = runStack(double(lv8[v]), dx, dp);
	double sd = store(y);
	float hi = float(sd);
	lvY[v] = vec2(hi, float(sd - double(hi)));
	double acc[NPAR + 1];
	for (int j = 0; j <= NPAR; j++) {
		acc[j] = 0.0LF;
	}
	bool inside = y >= 0.0LF && y <= 1.0LF;
	if (inside) {
		backward(1.0LF, dx, dp, acc);
	}
	for (int j = 0; j < NPAR; j++) {
		lvD[v * uint(NPARD) + uint(j)] = float(acc[j]);
	}
}

void addPair(uint pr, inout vec2 acc[NPAR + 1]) {
	uint v = pr & 255u;
	vec2 y = lvY[v];
	float t = lv8[(pr >> 8) & 255u];
	precise float r = (y.x - t) + y.y;
#if defined(LOSS_L1)
	if (abs(r) < 1e-10) {
		r = float((double(y.x) - double(t)) + double(y.y));
	}
#endif
	float l, dl;
	lossEvalF(r, l, dl);
	acc[NPAR] = add2(acc[NPAR], l);
#if defined(MODE_LOSSGRAD)
	for (int j = 0; j < NPAR; j++) {
		acc[j] = add2(acc[j], dl * lvD[v * uint(NPARD) + uint(j)]);
	}
#endif
}
#endif

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupID.x;
	uint nwg = gl_NumWorkGroups.x;
	loadLevels();
#if defined(MODE_LOSS)
	exactMode = true;
#endif
	vec2 acc[NPAR + 1];
	for (int j = 0; j <= NPAR; j++) {
		acc[j] = vec2(0.0);
	}
#if defined(PER_LEVEL)
	for (uint v = lid; v < 256u; v += LOCAL) {
		levelOf(v);
	}
	barrier();
	uint quads = (n + 7u) / 8u;
	for (uint qi = wg * LOCAL + lid; qi < quads; qi += nwg * LOCAL) {
		uvec4 q = pairs4[qi];
		uint m = min(8u, n - 8u * qi);
		for (uint j = 0u; j < m; j++) {
			addPair(q[j >> 1] >> (16u * (j & 1u)), acc);
		}
	}
#else
	for (uint i = wg * LOCAL + lid; i < n; i += nwg * LOCAL) {
		float x, t, w;
		load(i, x, t, w);
		float l;
		float g[NPAR + 1];
		evalSample(x, t, l, g);
		acc[NPAR] = add2(acc[NPAR], w * l);
#if defined(MODE_LOSSGRAD)
		for (int j = 0; j < NPAR; j++) {
			acc[j] = add2(acc[j], w * g[j]);
		}
#endif
	}
#endif
	flush(acc);
}
