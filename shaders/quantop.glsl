// The quantizer as a stack operator, in double, and the storage rounding of
// a stack's output: shared by stack.comp and image.comp (after quant.glsl).
// CPU twin: kernels.Quantize.Apply (Config.Derivs) and Stack.store.
// Needs QSHIFT, QC, QD, a SUR_ define (and SOFT), the uniform olv.

uniform double olv;   // output levels (STORED)

// exactMode makes quantizeOp run the exact forward (MODE_LOSS).
bool exactMode = false;

// quantizeOp is kernels.Config.Derivs without the storage rounding.
double quantizeOp(double x, double b, out double dx, out double db) {
	precise double s = b - QSHIFT;
	precise double inv = 1.0LF / s;
	double z;
	double fl = levelD(x, s, QC, z);
	precise double y = (fl + QD) * inv;
	double inv2 = 1.0LF / (s * s);
#if defined(SUR_STE)
	dx = 1.0LF;
	db = ((z - fl) - QC - QD) * inv2;
#elif defined(SUR_IDENTITY)
	dx = 1.0LF;
	db = (-QC - QD) * inv2;
#else
	double q, q1;
	surrogateTable(z - fl, 0.0LF, q, q1);
#if defined(SOFT)
	if (!exactMode) {
		y = (z + q + QD) * inv;
	}
#endif
	dx = 1.0LF + q1;
	db = ((1.0LF + q1) * (z - QC) - (z + q) - QD) * inv2;
#endif
	if (y > 1.0LF || y < 0.0LF) {
		y = clamp(y, 0.0LF, 1.0LF);
		dx = 0.0LF;
		db = 0.0LF;
	}
	return y;
}

// store is kernels.Stack.store: clamp, then round to the output levels.
double store(double y) {
	return storeD(clamp(y, 0.0LF, 1.0LF), olv, 1.0LF / olv);
}

