// Restoration by energy minimization, one channel plane a dispatch: package
// gpu's Restorer. CPU twin: kernels.CPURestorer (gradAt, energyAt,
// Rule.row): its loops are the specification, float32 as here.
//
//   PASS_STEP    at every sample the energy's gradient at U_IN, the update
//                rule (RULE_SGD, RULE_MOMENTUM, RULE_NESTEROV, RULE_ADAGRAD,
//                RULE_RMSPROP, RULE_ADAM) with its state in M (and V), the
//                projection onto [lo, hi], into U_OUT;
//   PASS_ENERGY  each sample's share of the energy, summed per workgroup
//                into partial[group] (double), for reduce.comp.
// ENERGY_TIKHONOV, ENERGY_TV or ENERGY_EDGE (pairs weighted by WX, WY);
// DATA_WEIGHTS where the problem weighs each sample's data term (DW).
#extension GL_ARB_gpu_shader_fp64 : enable

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = BIND_IN) readonly buffer UIn { float u[]; };
layout(std430, binding = BIND_OUT) writeonly buffer UOut { float uOut[]; };
layout(std430, binding = BIND_AUX) readonly buffer Q { float q[]; };
layout(std430, binding = BIND_LO) readonly buffer Lo { float lo[]; };
layout(std430, binding = BIND_HI) readonly buffer Hi { float hi[]; };
layout(std430, binding = BIND_WX) readonly buffer Wx { float wx[]; };
layout(std430, binding = BIND_WY) readonly buffer Wy { float wy[]; };
layout(std430, binding = BIND_DW) readonly buffer Dw { float dw[]; };
layout(std430, binding = BIND_M) buffer M { float m[]; };
layout(std430, binding = BIND_V) buffer V { float v[]; };
layout(std430, binding = BIND_PARTIAL) writeonly buffer Partial { double partial[]; };

uniform uint iw, ih;
uniform float eps, fid;
uniform float lr, c1, c2;                    // the step's constants (kernels.StepConsts)
uniform float mu, rho, beta1, beta2, reps;   // the rule's (kernels.Rule)

// fwd is kernels.fwd: forward differences, zero across the far borders.
vec2 fwd(uint x, uint y) {
	uint i = y * iw + x;
	float dx = x + 1u < iw ? u[i + 1u] - u[i] : 0.0;
	float dy = y + 1u < ih ? u[i + iw] - u[i] : 0.0;
	return vec2(dx, dy);
}

float phi(vec2 d) { return sqrt(d.x * d.x + d.y * d.y + eps * eps); }

// dataWeight is sample i's weight of the data term, fid·d.
float dataWeight(uint i) {
#if defined(DATA_WEIGHTS)
	return fid * dw[i];
#else
	return fid;
#endif
}

#if defined(PASS_STEP)
// grad is kernels.gradAt.
float grad(uint x, uint y) {
	uint i = y * iw + x;
	float ui = u[i];
	float g = 0.0;
#if defined(ENERGY_TV)
	vec2 d = fwd(x, y);
	g = -(d.x + d.y) / phi(d);
	if (x > 0u) {
		vec2 l = fwd(x - 1u, y);
		g += l.x / phi(l);
	}
	if (y > 0u) {
		vec2 a = fwd(x, y - 1u);
		g += a.y / phi(a);
	}
#else
	float wr = 1.0, wl = 1.0, wb = 1.0, wa = 1.0;
#if defined(ENERGY_EDGE)
	wr = wx[i];
	wb = wy[i];
	if (x > 0u) {
		wl = wx[i - 1u];
	}
	if (y > 0u) {
		wa = wy[i - iw];
	}
#endif
	if (x + 1u < iw) {
		g += 2.0 * wr * (ui - u[i + 1u]);
	}
	if (x > 0u) {
		g += 2.0 * wl * (ui - u[i - 1u]);
	}
	if (y + 1u < ih) {
		g += 2.0 * wb * (ui - u[i + iw]);
	}
	if (y > 0u) {
		g += 2.0 * wa * (ui - u[i - iw]);
	}
#endif
	return g + 2.0 * dataWeight(i) * (ui - q[i]);
}

void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= iw || y >= ih) {
		return;
	}
	uint i = y * iw + x;
	float g = grad(x, y);
	float xi = u[i];
	float nx;
	// Rule.row
#if defined(RULE_MOMENTUM)
	float mi = mu * m[i] + g;
	m[i] = mi;
	nx = xi - lr * mi;
#elif defined(RULE_NESTEROV)
	float mi = mu * m[i] + g;
	m[i] = mi;
	nx = xi - lr * (g + mu * mi);
#elif defined(RULE_ADAGRAD)
	float mi = m[i] + g * g;
	m[i] = mi;
	nx = xi - lr * g / (sqrt(mi) + reps);
#elif defined(RULE_RMSPROP)
	float mi = rho * m[i] + (1.0 - rho) * g * g;
	m[i] = mi;
	nx = xi - lr * g / (sqrt(mi) + reps);
#elif defined(RULE_ADAM)
	float mi = beta1 * m[i] + (1.0 - beta1) * g;
	float vi = beta2 * v[i] + (1.0 - beta2) * g * g;
	m[i] = mi;
	v[i] = vi;
	nx = xi - lr * (mi / c1) / (sqrt(vi / c2) + reps);
#else
	nx = xi - lr * g;
#endif
	// kernels.Project: within 2^-100 of 0 is 0, so that a sample pulled to
	// a bound of 0 never turns subnormal
	if (abs(nx) < 7.8886091e-31) {
		nx = 0.0;
	}
	uOut[i] = min(max(nx, lo[i]), hi[i]);
}
#endif

#if defined(PASS_ENERGY)
shared float red[256];

void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	uint lid = gl_LocalInvocationIndex;
	float e = 0.0;
	if (x < iw && y < ih) {
		// energyAt
		uint i = y * iw + x;
		vec2 d = fwd(x, y);
#if defined(ENERGY_TV)
		e = phi(d) - eps;
#elif defined(ENERGY_EDGE)
		e = wx[i] * d.x * d.x + wy[i] * d.y * d.y;
#else
		e = d.x * d.x + d.y * d.y;
#endif
		float r = u[i] - q[i];
		e += dataWeight(i) * r * r;
	}
	red[lid] = e;
	barrier();
	for (uint s = 128u; s > 0u; s >>= 1) {
		if (lid < s) {
			red[lid] += red[lid + s];
		}
		barrier();
	}
	if (lid == 0u) {
		partial[gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x] = double(red[0]);
	}
}
#endif
