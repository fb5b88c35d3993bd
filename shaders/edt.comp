// The squared distance of every sample of a plane of levels from its
// band's rim (the samples with a 4-neighbour of another level), exact:
// package gpu's Device.Contours. CPU twin: kernels.EDT of the rim's mask,
// Felzenszwalb and Huttenlocher's lower envelopes in float64; here
// Meijster, Roerdink and Hesselink's (2000), whose separators are exact
// integers, so that both give the one exact distance and must be equal
// sample for sample. One invocation per line: PASS_COLUMNS finds each
// sample's distance g from the rim within its column (INF, w + h, where
// the column holds none), PASS_ROWS the envelope of (x − i)² + g(i)²
// along each row. The host handles a plane with no rim (every distance
// infinite) itself.

layout(local_size_x = 64) in;

layout(std430, binding = BIND_LEVEL) readonly buffer Level { int level[]; };
#ifdef PASS_COLUMNS
layout(std430, binding = BIND_COLUMN) buffer Column { uint g[]; };
#else
layout(std430, binding = BIND_COLUMN) readonly buffer Column { uint g[]; };
// each row's envelope: its parabolas' sites and the first sample each
// is lowest at
layout(std430, binding = BIND_SITES) buffer Sites { int site[]; };
layout(std430, binding = BIND_STARTS) buffer Starts { int start[]; };
layout(std430, binding = BIND_DIST) writeonly buffer Dist { uint d2[]; };
#endif

uniform uint iw, ih;

#ifdef PASS_COLUMNS
// does sample (x, y) touch another level?
bool rim(uint x, uint y) {
	uint i = y * iw + x;
	int l = level[i];
	return x > 0u && level[i - 1u] != l || x + 1u < iw && level[i + 1u] != l ||
		y > 0u && level[i - iw] != l || y + 1u < ih && level[i + iw] != l;
}

void main() {
	uint x = gl_GlobalInvocationID.x;
	if (x >= iw) {
		return;
	}
	uint inf = iw + ih;
	uint d = inf;
	for (uint y = 0u; y < ih; y++) {
		d = rim(x, y) ? 0u : min(d + 1u, inf);
		g[y * iw + x] = d;
	}
	for (uint y = ih - 1u; y > 0u; y--) {
		d = g[y * iw + x];
		uint up = g[(y - 1u) * iw + x];
		if (d + 1u < up) {
			g[(y - 1u) * iw + x] = d + 1u;
		}
	}
}
#else
// the squared distance from x to the site i of row r
double f(uint r, int x, int i) {
	double gi = double(g[r + uint(i)]);
	return double((x - i) * (x - i)) + gi * gi;
}

// Meijster's Sep: the first x at which site u is no higher than site i
// (i < u), less 1, as an exact integer floor, clamped to [−1, w]
int sep(uint r, int i, int u) {
	double gi = double(g[r + uint(i)]), gu = double(g[r + uint(u)]);
	double num = double(u * u - i * i) + gu * gu - gi * gi;
	double den = double(2 * (u - i));
	double q = floor(num / den);
	// the quotient as rounded may be one off the exact floor: mend it
	// with exact products (all below 2⁵³)
	if (q * den > num) {
		q -= 1.0;
	} else if ((q + 1.0) * den <= num) {
		q += 1.0;
	}
	return int(clamp(q, -1.0, double(iw)));
}

void main() {
	uint y = gl_GlobalInvocationID.x;
	if (y >= ih) {
		return;
	}
	uint r = y * iw;
	int m = int(iw);
	int q = 0;
	site[r] = 0;
	start[r] = 0;
	for (int u = 1; u < m; u++) {
		while (q >= 0 && f(r, start[r + uint(q)], site[r + uint(q)]) > f(r, start[r + uint(q)], u)) {
			q--;
		}
		if (q < 0) {
			q = 0;
			site[r] = u;
		} else {
			int w = 1 + sep(r, site[r + uint(q)], u);
			if (w < m) {
				q++;
				site[r + uint(q)] = u;
				start[r + uint(q)] = w;
			}
		}
	}
	for (int u = m - 1; u >= 0; u--) {
		d2[r + uint(u)] = uint(f(r, u, site[r + uint(q)]));
		if (u == start[r + uint(q)]) {
			q--;
		}
	}
}
#endif
