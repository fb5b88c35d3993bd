// The quantizer, shared by both compute shaders: y = (floor(x·s + c) + d)/s
// clamped to [0,1], rounded to the stored levels (STORED), and the table
// of a smooth surrogate. Included by #include "quant.glsl".
//
// CPU twin: kernels.Config.Derivs and Config.store (reference.go) are the
// specification; struct Scale is kernels.Scale byte for byte.
//
// Two paths compute it:
//   double (levelD, storeD; stack.comp's quantizeOp): the specification's arithmetic operation by
//     operation, `precise` so that no compiler fuses or reorders it; the
//     floor and the storage rounding fall as on the CPU even at exact ties.
//   float (…F functions, under FP32): the fast path of lossgrad.comp. The
//     two decisions (the level floor(x·s + c) and the stored level
//     floor(y·lv + 0.5)) are taken in float only where the fractional part,
//     computed to about 2^-24 by error-free products, is farther than
//     MARGIN from a step; otherwise the double path decides. So every
//     decision equals the CPU's, and only the continuous values (y, the
//     surrogate derivative, the loss) carry float rounding.

struct Scale {
	double s, c, d, inv, inv2, lv, linv, pad;
	float sHi, sLo, c32, d32, invHi, invLo, inv232, qHi, qLo, linvHi, linvLo, top;
};

layout(std430, binding = BIND_TABLE) readonly buffer Table { TABLE_T coef[]; };

uniform TABLE_T fn; // table segments

// surrogateTable returns Q and Q' at f + lo = frac(z) in [0,1]: the cubic
// Hermite piece of its segment (kernels' table.at). The table has a
// power-of-two number of segments, so f·fn is exact and lo, the low part
// of a float-float fraction, keeps the position in the segment exact to
// the last bit of u, not of f.
void surrogateTable(TABLE_T f, TABLE_T lo, out TABLE_T q, out TABLE_T q1) {
	TABLE_T p = f * fn;
	TABLE_T jf = min(floor(p), fn - 1.0);
	TABLE_T u = (p - jf) + lo * fn;
	uint j = 8u * uint(jf);
	q = coef[j] + u * (coef[j + 1u] + u * (coef[j + 2u] + u * coef[j + 3u]));
	q1 = coef[j + 4u] + u * (coef[j + 5u] + u * (coef[j + 6u] + u * coef[j + 7u]));
}

// levelD is floor(x·s + c) and z = x·s + c, as the CPU computes them.
double levelD(double x, double s, double c, out double z) {
	precise double zz = x * s + c;
	z = zz;
	return floor(zz);
}

// storeD rounds y to the stored levels: kernels' Config.store.
double storeD(double y, double lv, double linv) {
#if defined(STORED)
	precise double v = y * lv + 0.5LF;
	precise double r = floor(v) * linv;
	return r;
#else
	return y;
#endif
}

// twoProd returns a·b as hi + lo exactly (Dekker's product with
// Veltkamp's split): not fma(a, b, −hi), which a driver may compute
// unfused (llvmpipe does), losing the low part without a word.
vec2 twoProd(float a, float b) {
	precise float p = a * b;
	precise float ca = 4097.0 * a;
	precise float ah = ca - (ca - a);
	precise float al = a - ah;
	precise float cb = 4097.0 * b;
	precise float bh = cb - (cb - b);
	precise float bl = b - bh;
	precise float e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
	return vec2(p, e);
}

// add2 adds v to the float-float sum s by Knuth's two-sum; add22 adds two
// such sums: the compensated sums of the float kernels.
vec2 add2(vec2 s, float v) {
	precise float t = s.x + v;
	precise float bp = t - s.x;
	precise float e = (s.x - (t - bp)) + (v - bp);
	return vec2(t, s.y + e);
}

vec2 add22(vec2 a, vec2 b) {
	vec2 s = add2(a, b.x);
	return vec2(s.x, s.y + b.y);
}

#if defined(FP32)
// MARGIN is how near a step a fractional part computed in float may be
// before the double path decides: 16 times its error bound of 2^-24.
const float MARGIN = 1.0 / 1048576.0;

// levelF returns floor(x·s + c) as the CPU decides it, and in fr the
// fraction frac(x·s + c) as a float-float pair (hi, lo) good to about
// 2^-40: a steep surrogate's Q'(frac) would magnify a float fraction's
// error past the parity bound. x·s is x·sHi + x·sLo, the first product
// split exactly by twoProd, the offset c added by two-sum.
float levelF(Scale sc, float x, out vec2 fr) {
	vec2 xs = twoProd(x, sc.sHi);
	precise float z = xs.x + (xs.y + (x * sc.sLo + sc.c32));
	float fl = floor(z);
	precise float h0 = xs.x - fl; // exact: within [fl − 1/2, fl + 1) of fl
	precise float h = h0 + sc.c32;
	precise float bp = h - h0;
	precise float ce = (h0 - (h - bp)) + (sc.c32 - bp);
	precise float lo = (xs.y + ce) + x * sc.sLo;
	precise float f = h + lo;
	if (f < MARGIN || f > 1.0 - MARGIN) {
		double zd;
		double fd = levelD(double(x), sc.s, sc.c, zd);
		double frd = zd - fd;
		fl = float(fd);
		float fh = float(frd);
		fr = vec2(fh, float(frd - double(fh)));
		return fl;
	}
	precise float flo = (h - f) + lo;
	fr = vec2(f, flo);
	return fl;
}

// surrogateTableF is surrogateTable on the float table, whose segments
// hold nine floats: the eight coefficients and the low part of Q' at the
// segment's start. Q' returns as a float-float pair: the derivative
// multiplies it by x·s (up to b) and subtracts Q, so its float rounding
// alone would be magnified past the parity bound.
void surrogateTableF(vec2 fr, out float q, out vec2 q1) {
	float p = fr.x * fn;
	float jf = min(floor(p), fn - 1.0);
	float u = (p - jf) + fr.y * fn;
	uint j = 9u * uint(jf);
	q = coef[j] + u * (coef[j + 1u] + u * (coef[j + 2u] + u * coef[j + 3u]));
	q1 = vec2(coef[j + 4u], coef[j + 8u] + u * (coef[j + 5u] + u * (coef[j + 6u] + u * coef[j + 7u])));
}

// mulF is a·(hi + lo) as a float-float pair: y = k/s or lev/lv kept to
// about 2^-48, so that residualF(y, t) is accurate relative to the
// residual, not to y.
vec2 mulF(float a, float hi, float lo) {
	vec2 p = twoProd(a, hi);
	precise float e = p.y + a * lo;
	return vec2(p.x, e);
}

// residualF is y − t for y = hi + lo with one rounding at the end. Under
// L1, whose derivative is the residual's sign, a residual too small for
// float to be sure of is taken in double.
float residualF(vec2 y, float t) {
	precise float r = (y.x - t) + y.y;
#if defined(LOSS_L1)
	if (abs(r) < 1e-10) {
		r = float((double(y.x) - double(t)) + double(y.y));
	}
#endif
	return r;
}

// clampedF decides whether y = k/s (k = fl + d, exact) leaves [0,1], as
// the CPU's double y does near 1; top reports which side.
bool clampedF(Scale sc, float k, out bool top) {
	top = false;
	if (k < 0.0) {
		return true;
	}
	float y = k * sc.invHi;
	if (abs(y - 1.0) < MARGIN) {
		precise double yd = double(k) * sc.inv;
		top = yd > 1.0LF;
	} else {
		top = y > 1.0;
	}
	return top;
}

// storedLevelF is the stored level floor(y·lv + 0.5) of y = k/s, taken as
// floor(k·lv/s + 0.5) from the split q = lv/s; near a step the double
// path decides.
float storedLevelF(Scale sc, float k) {
	vec2 kq = twoProd(k, sc.qHi);
	precise float v = kq.x + (kq.y + (k * sc.qLo + 0.5));
	float fv = floor(v);
	precise float f = (kq.x - fv) + (kq.y + (k * sc.qLo + 0.5));
	if (f < MARGIN || f > 1.0 - MARGIN) {
		precise double vd = (double(k) * sc.inv) * sc.lv + 0.5LF;
		fv = float(floor(vd));
	}
	return fv;
}

// exactYF is the exact forward y, clamped and stored, as a float-float
// pair: kernels' Config.Exact(x, b), its decisions the CPU's.
vec2 exactYF(Scale sc, float x, out bool clamped) {
	vec2 fr;
	float k = levelF(sc, x, fr) + sc.d32;
	bool top;
	clamped = clampedF(sc, k, top);
#if defined(STORED)
	float lev = clamped ? (top ? sc.top : 0.0) : storedLevelF(sc, k);
	return mulF(lev, sc.linvHi, sc.linvLo);
#else
	return clamped ? vec2(top ? 1.0 : 0.0, 0.0) : mulF(k, sc.invHi, sc.invLo);
#endif
}

// exactResidualF is y − t for the exact forward y.
float exactResidualF(Scale sc, float x, float t, out bool clamped) {
	return residualF(exactYF(sc, x, clamped), t);
}

// forwardF returns the forward value y (the exact, stored one; the soft
// forward under SOFT and SUR_IDENTITY_SOFT) as a float-float pair, and the
// surrogate derivative dy/db: kernels' Config.Derivs. It depends on x
// alone, so 8-bit data evaluate it once per level. With F the floor
// surrogate, dy·s² = F'(z)(z − c) − F(z) − d, written without the
// cancellation:
//   STE       frac(z) − c − d
//   identity  −c − d
//   table     Q'(z)·x·s − Q(z) − c − d
vec2 forwardF(Scale sc, float x, out float dy) {
	vec2 fr;
	float fl = levelF(sc, x, fr);
	float cd = sc.c32 + sc.d32;
	float soft = 0.0; // F(z) − floor(z), for the soft forward
#if defined(SUR_STE)
	dy = ((fr.x - cd) + fr.y) * sc.inv232;
#elif defined(SUR_IDENTITY) || defined(SUR_IDENTITY_SOFT)
	dy = -cd * sc.inv232;
	soft = fr.x + fr.y;
#else // SUR_TABLE
	float q;
	vec2 q1;
	surrogateTableF(fr, q, q1);
	// Q'·x·s in float-float, then − Q − c − d
	vec2 xs = twoProd(x, sc.sHi);
	precise float xl = xs.y + x * sc.sLo;
	vec2 m = twoProd(q1.x, xs.x);
	precise float me = m.y + (q1.x * xl + q1.y * xs.x);
	precise float ds = (m.x - (q + cd)) + me;
	dy = ds * sc.inv232;
	soft = (fr.x + q) + fr.y;
#endif
#if defined(SOFT) || defined(SUR_IDENTITY_SOFT)
	float k = (fl + sc.d32) + soft;
	float y = k * sc.invHi;
	if (y < 0.0 || y > 1.0) {
		dy = 0.0;
		return vec2(clamp(y, 0.0, 1.0), 0.0);
	}
	return mulF(k, sc.invHi, sc.invLo);
#else
	bool clamped;
	vec2 y = exactYF(sc, x, clamped);
	if (clamped) {
		dy = 0.0;
	}
	return y;
#endif
}

// derivF returns the residual y − t of the forward value and dy/db.
float derivF(Scale sc, float x, float t, out float dy) {
	return residualF(forwardF(sc, x, dy), t);
}
#endif
