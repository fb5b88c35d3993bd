// The loss of a residual and its derivative, shared by the compute shaders:
// LOSS_MSE, LOSS_L1, LOSS_HUBER (uniform delta), in the shader's REAL type
// (float in lossgrad.comp, double in stack.comp and image.comp). CPU twin:
// kernels.Loss.Eval. Included by #include "loss.glsl".

uniform REAL delta; // Huber threshold

void lossEval(REAL r, out REAL l, out REAL dl) {
#if defined(LOSS_MSE)
	l = r * r;
	dl = 2.0 * r;
#elif defined(LOSS_L1)
	l = abs(r);
	dl = sign(r);
#else
	REAL a = abs(r);
	if (a > delta) {
		l = delta * (a - delta / 2.0);
		dl = delta * sign(r);
	} else {
		l = r * r / 2.0;
		dl = r;
	}
#endif
}
