// The per-sample passes of a look's fit (package host/look): package gpu's
// Look. CPU twin: kernels.CPULook, whose loops are the specification
// (LookStack.Smooth, Curve.Knot and At, Lattice.Corners, CurveSystem.Add
// and the lattice's right sides), computed here in float.
//
//   PASS_TARGETS  each sample's target: the stack's output (HAS_CURVES,
//                 HAS_MATRIX with its post curves, HAS_LATTICE) projected
//                 onto [lo, hi]; FIRST: the interval's middle, an open one
//                 taken as openw wide;
//   PASS_CURVES   the normal equations of a curve per channel (knots of the
//                 curves at cOff) fitted to the targets less the lattice's
//                 output (HAS_LATTICE), the input x_c or, HAS_MATRIX,
//                 row c of the matrix applied to x;
//   PASS_LATTICE  the right sides of an ln³ lattice's normal equations for
//                 the targets less the curves' output (HAS_CURVES);
//   PASS_SUM      the column sums of partial[rows][width] into result.
//
// The scatters (PASS_CURVES, PASS_LATTICE) are privatized: a workgroup
// adds its samples into integer counters in shared memory (fixed point,
// 1/SCALE: GLSL has no float atomics), SUB samples at a time so that no
// counter overflows, then adds them as doubles into its own row of
// partial; PASS_SUM adds the rows in a fixed order, so the sums are the
// same every run. PASS_LATTICE's workgroup row y holds the lattice's
// values of tile y only: they do not all fit in shared memory.
#extension GL_ARB_gpu_shader_fp64 : enable

#define LOCAL 256u
layout(local_size_x = 256) in;

layout(std430, binding = BIND_IN) readonly buffer X { float x[]; };
layout(std430, binding = BIND_LO) readonly buffer Lo { float lo[]; };
layout(std430, binding = BIND_HI) readonly buffer Hi { float hi[]; };
layout(std430, binding = BIND_AUX) buffer T { float t[]; };
layout(std430, binding = BIND_TABLES) readonly buffer Tables { float tab[]; };
layout(std430, binding = BIND_PARTIAL) buffer Partial { double partial[]; };
layout(std430, binding = BIND_RESULT) writeonly buffer Result { double result[]; };

uniform uint n;          // samples
uniform uint cOff, ck;   // the curves: per channel lo, hi, ck values
uniform uint mOff;       // the matrix: 3 rows of (m0, m1, m2, o)
uniform uint pOff, pk;   // the post curves, as the curves
uniform uint lOff, ln;   // the lattice: 3·ln³ values, red fastest
uniform float openw;     // FIRST: an open interval's width
uniform uint per;        // the scatters: samples a workgroup row
uniform uint width;      // the scatters' and PASS_SUM's values a row
uniform uint rows;       // PASS_SUM
uniform uint tile;       // PASS_LATTICE: values a tile

// bound keeps a residual within the fixed-point counters (kernels'
// residualBound); SUB·BOUND·SCALE < 2³¹.
#define BOUND 7.5
#define SCALE 65536.0
#define SUB 4096u

// knot is Curve.Knot: the interval of v and its fraction.
void knot(uint base, uint k, float v, out uint i, out float f) {
	float u = (v - tab[base]) / (tab[base + 1u] - tab[base]) * float(k - 1u);
	if (!(u > 0.0)) {
		i = 0u;
		f = 0.0;
		return;
	}
	if (u >= float(k - 1u)) {
		i = k - 2u;
		f = 1.0;
		return;
	}
	i = min(uint(u), k - 2u);
	f = u - float(i);
}

// curveAt is Curve.At.
float curveAt(uint base, uint k, float v) {
	uint i;
	float f;
	knot(base, k, v, i, f);
	float a = tab[base + 2u + i];
	return a + f * (tab[base + 3u + i] - a);
}

// cell is kernels' cell: the lower node of v's cell on an axis and the
// fraction within it.
void cell(float v, out uint i, out float f) {
	float u = v * float(ln - 1u);
	if (!(u > 0.0)) {
		i = 0u;
		f = 0.0;
		return;
	}
	if (u >= float(ln - 1u)) {
		i = ln - 2u;
		f = 1.0;
		return;
	}
	i = uint(u);
	f = u - float(i);
}

// corners is Lattice.Corners: corner k at offset (k&1, k>>1&1, k>>2).
void corners(vec3 p, out uint idx[8], out float w[8]) {
	uint ir, ig, ib;
	float tr, tg, tb;
	cell(p.r, ir, tr);
	cell(p.g, ig, tg);
	cell(p.b, ib, tb);
	uint base = ir + ln * (ig + ln * ib);
	for (uint k = 0u; k < 8u; k++) {
		uint dr = k & 1u, dg = (k >> 1) & 1u, db = k >> 2;
		idx[k] = base + dr + ln * (dg + ln * db);
		w[k] = (dr == 1u ? tr : 1.0 - tr) * (dg == 1u ? tg : 1.0 - tg) * (db == 1u ? tb : 1.0 - tb);
	}
}

vec3 latticeAt(vec3 p) {
	uint idx[8];
	float w[8];
	corners(p, idx, w);
	vec3 y = vec3(0.0);
	for (uint k = 0u; k < 8u; k++) {
		uint j = lOff + 3u * idx[k];
		y += w[k] * vec3(tab[j], tab[j + 1u], tab[j + 2u]);
	}
	return y;
}

float matrixRow(uint c, vec3 p) {
	uint m = mOff + 4u * c;
	return tab[m] * p.r + tab[m + 1u] * p.g + tab[m + 2u] * p.b + tab[m + 3u];
}

vec3 sampleX(uint i) {
	return vec3(x[i], x[n + i], x[2u * n + i]);
}

#ifdef PASS_TARGETS
// lookSmooth is LookStack.Smooth.
vec3 lookSmooth(vec3 p) {
	vec3 y = vec3(0.0);
#ifdef HAS_MATRIX
	for (uint c = 0u; c < 3u; c++) {
		y[c] = curveAt(pOff + c * (pk + 2u), pk, matrixRow(c, p));
	}
#else
#ifdef HAS_LATTICE
	y = latticeAt(p);
#endif
	for (uint c = 0u; c < uint(CHANNELS); c++) {
		y[c] += curveAt(cOff + c * (ck + 2u), ck, p[c]);
	}
#endif
	return y;
}

void main() {
	uint i = gl_GlobalInvocationID.x;
	if (i >= n) {
		return;
	}
#ifndef FIRST
	vec3 y = lookSmooth(sampleX(i));
#endif
	for (uint c = 0u; c < uint(CHANNELS); c++) {
		float l = lo[c * n + i], h = hi[c * n + i];
#ifdef FIRST
		if (isinf(l)) {
			l = h - openw;
		} else if (isinf(h)) {
			h = l + openw;
		}
		t[c * n + i] = (l + h) * 0.5;
#else
		t[c * n + i] = max(l, min(h, y[c]));
#endif
	}
}
#endif

#if defined(PASS_CURVES) || defined(PASS_LATTICE)
#ifdef PASS_CURVES
#define COUNTERS (CHANNELS * 4 * MAXK)
#else
#define COUNTERS TILE
#endif
shared int acc[COUNTERS];

void add(uint j, float v) {
	atomicAdd(acc[j], int(round(v * SCALE)));
}

void scatter(uint i, uint lo0) {
	vec3 p = sampleX(i);
#ifdef PASS_CURVES
	vec3 part = vec3(0.0);
#ifdef HAS_LATTICE
	part = latticeAt(p);
#endif
	for (uint c = 0u; c < uint(CHANNELS); c++) {
#ifdef HAS_MATRIX
		float v = matrixRow(c, p);
#else
		float v = p[c];
#endif
		uint k;
		float f;
		knot(cOff + c * (ck + 2u), ck, v, k, f);
		float r = clamp(t[c * n + i] - part[c], -BOUND, BOUND);
		uint b = c * 4u * ck;
		add(b + k, (1.0 - f) * (1.0 - f));
		add(b + k + 1u, f * f);
		add(b + ck + k, f * (1.0 - f));
		add(b + 2u * ck + k, (1.0 - f) * r);
		add(b + 2u * ck + k + 1u, f * r);
		add(b + 3u * ck + k, 1.0 - f);
		add(b + 3u * ck + k + 1u, f);
	}
#else
	vec3 r = vec3(t[i], t[n + i], t[2u * n + i]);
#ifdef HAS_CURVES
	for (uint c = 0u; c < 3u; c++) {
		r[c] -= curveAt(cOff + c * (ck + 2u), ck, p[c]);
	}
#endif
	r = clamp(r, -BOUND, BOUND);
	uint idx[8];
	float w[8];
	corners(p, idx, w);
	for (uint k = 0u; k < 8u; k++) {
		uint j = 3u * idx[k];
		if (j >= lo0 && j < lo0 + tile) {
			add(j - lo0, w[k] * r.r);
			add(j - lo0 + 1u, w[k] * r.g);
			add(j - lo0 + 2u, w[k] * r.b);
		}
	}
#endif
}

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint row = gl_WorkGroupID.x;
#ifdef PASS_CURVES
	uint lo0 = 0u, count = uint(CHANNELS) * 4u * ck;
#else
	uint lo0 = gl_WorkGroupID.y * tile, count = min(tile, width - lo0);
#endif
	uint start = row * per, end = min(start + per, n);
	bool first = true;
	for (uint base = start; base < end || first; base += SUB) {
		for (uint j = lid; j < count; j += LOCAL) {
			acc[j] = 0;
		}
		barrier();
		for (uint i = base + lid; i < min(base + SUB, end); i += LOCAL) {
			scatter(i, lo0);
		}
		barrier();
		for (uint j = lid; j < count; j += LOCAL) {
			double v = double(acc[j]) / double(SCALE);
			uint at = row * width + lo0 + j;
			partial[at] = first ? v : partial[at] + v;
		}
		barrier();
		first = false;
	}
}
#endif

#ifdef PASS_SUM
void main() {
	uint c = gl_GlobalInvocationID.x;
	if (c >= width) {
		return;
	}
	double s = 0.0LF;
	for (uint r = 0u; r < rows; r++) {
		s += partial[r * width + c];
	}
	result[c] = s;
}
#endif
