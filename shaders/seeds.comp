// The contour search's seeds by jump flooding: package gpu's
// Device.Seeds. CPU twin: kernels.JumpSeeds, whose loops are the
// specification; the seeds must equal its sample for sample. One
// invocation per sample and stride. BAND finds Seeds.Lower or .Upper
// (the nearest sample of the next level down or up that touches the
// sample's band, taken only from samples of the same band); without it,
// Seeds.Below or .Above with their SeedTiers tiers (the nearest at least
// t + 1 levels the sample's way in tier t). PASS_INIT offers the 4
// neighbours; the other passes the seeds held by the sample and the 8
// samples k away. Nearer is a smaller squared distance, then a smaller
// index; the squared distance is exact in uint for sides up to 46340
// (package gpu refuses larger planes). BAND's passes of stride 1 that
// follow the strides until none changes a seed flag a change with COUNT.

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = BIND_LEVEL) readonly buffer Level { int level[]; };
layout(std430, binding = BIND_BAND) readonly buffer Band { int band[]; };
layout(std430, binding = BIND_SEED0) readonly buffer S0 { int s0[]; };
layout(std430, binding = BIND_NEXT0) writeonly buffer N0 { int n0[]; };
#ifdef COUNT
// set where a seed changed: the passes of stride 1 end when one is not
layout(std430, binding = BIND_CHANGED) writeonly buffer Changed { uint changed; };
#endif
#ifndef BAND
layout(std430, binding = BIND_SEED1) readonly buffer S1 { int s1[]; };
layout(std430, binding = BIND_SEED2) readonly buffer S2 { int s2[]; };
layout(std430, binding = BIND_NEXT1) writeonly buffer N1 { int n1[]; };
layout(std430, binding = BIND_NEXT2) writeonly buffer N2 { int n2[]; };
#endif

uniform uint iw, ih;
uniform uint k;  // the stride
uniform uint up; // 1: the levels above (Upper, Above), 0: below

// A seed is held as its coordinates, y << 16 | x, whose order is its
// index's (the tie-break's), so that no pass divides; the host turns them
// into indices. Its squared distance from the sample is computed once
// per offer: the tiers keep theirs.

int packSeed(uvec2 q) {
	return int(q.y << 16 | q.x);
}

// the squared distance from sample p to the seed at s
uint dist2(uvec2 p, int s) {
	uvec2 q = uvec2(uint(s) & 0xffffu, uint(s) >> 16);
	uvec2 d = max(p, q) - min(p, q);
	return d.x * d.x + d.y * d.y;
}

// kernels' nearer, a's distance da given: is seed a nearer than seed b
// at distance db (b −1: none)?
bool nearer(int a, uint da, int b, uint db) {
	return b < 0 || da < db || da == db && a < b;
}

#ifdef BAND
// sample j (at q) offers the sample at p (index i, level li) its seed,
// or itself in the first pass
void offer(uvec2 p, uint i, int li, int dir, uint j, uvec2 q, inout int best, inout uint bd) {
#ifdef PASS_INIT
	int s = packSeed(q);
	if (level[j] == li + dir && nearer(s, 1u, best, bd)) {
		best = s;
		bd = 1u;
	}
#else
	int s = s0[j];
	if (s >= 0 && band[j] == band[i]) {
		uint d = dist2(p, s);
		if (nearer(s, d, best, bd)) {
			best = s;
			bd = d;
		}
	}
#endif
}
#else
// kernels' seedTiers.offer, its loop over the tiers unrolled: the tiers t
// (at distances dt) of the sample at p, of level li, take seed s
void offerSeed(uvec2 p, int li, int dir, int s, inout ivec3 t, inout uvec3 dt) {
	int gap = (level[(uint(s) >> 16) * iw + (uint(s) & 0xffffu)] - li) * dir;
	if (gap < 1) {
		return;
	}
	uint d = dist2(p, s);
	if (gap >= 3) {
		if (!nearer(s, d, t.z, dt.z)) {
			return;
		}
		t.z = s;
		dt.z = d;
	}
	if (gap >= 2) {
		if (!nearer(s, d, t.y, dt.y)) {
			return;
		}
		t.y = s;
		dt.y = d;
	}
	if (nearer(s, d, t.x, dt.x)) {
		t.x = s;
		dt.x = d;
	}
}

// sample j (at q) offers its tiers, or itself in the first pass
void offer(uvec2 p, uint i, int li, int dir, uint j, uvec2 q, inout ivec3 t, inout uvec3 dt) {
#ifdef PASS_INIT
	offerSeed(p, li, dir, packSeed(q), t, dt);
#else
	int a = s0[j], b = s1[j], c = s2[j];
	if (a >= 0) {
		offerSeed(p, li, dir, a, t, dt);
	}
	if (b >= 0) {
		offerSeed(p, li, dir, b, t, dt);
	}
	if (c >= 0) {
		offerSeed(p, li, dir, c, t, dt);
	}
#endif
}
#endif

void main() {
	uvec2 p = gl_GlobalInvocationID.xy;
	if (p.x >= iw || p.y >= ih) {
		return;
	}
	uint i = p.y * iw + p.x;
	int li = level[i];
	int dir = up == 1u ? 1 : -1;
#ifdef BAND
#ifdef PASS_INIT
	int t = -1;
	uint dt = 0u;
#else
	int t = s0[i];
	uint dt = t >= 0 ? dist2(p, t) : 0u;
#endif
#else
#ifdef PASS_INIT
	ivec3 t = ivec3(-1);
	uvec3 dt = uvec3(0u);
#else
	ivec3 t = ivec3(s0[i], s1[i], s2[i]);
	uvec3 dt = uvec3(t.x >= 0 ? dist2(p, t.x) : 0u, t.y >= 0 ? dist2(p, t.y) : 0u, t.z >= 0 ? dist2(p, t.z) : 0u);
#endif
#endif
#ifdef PASS_INIT
	// kernels' jumpNeighbours4
	if (p.y > 0u) {
		offer(p, i, li, dir, i - iw, p - uvec2(0u, 1u), t, dt);
	}
	if (p.x > 0u) {
		offer(p, i, li, dir, i - 1u, p - uvec2(1u, 0u), t, dt);
	}
	if (p.x + 1u < iw) {
		offer(p, i, li, dir, i + 1u, p + uvec2(1u, 0u), t, dt);
	}
	if (p.y + 1u < ih) {
		offer(p, i, li, dir, i + iw, p + uvec2(0u, 1u), t, dt);
	}
#else
	// kernels' jumpNeighbours: the 8 samples k away inside the plane
	for (int dy = -1; dy <= 1; dy++) {
		int yy = int(p.y) + dy * int(k);
		if (yy < 0 || yy >= int(ih)) {
			continue;
		}
		for (int dx = -1; dx <= 1; dx++) {
			int xx = int(p.x) + dx * int(k);
			if (xx < 0 || xx >= int(iw) || dx == 0 && dy == 0) {
				continue;
			}
			offer(p, i, li, dir, uint(yy) * iw + uint(xx), uvec2(xx, yy), t, dt);
		}
	}
#endif
#ifdef BAND
	n0[i] = t;
#ifdef COUNT
	if (t != s0[i]) {
		changed = 1u;
	}
#endif
#else
	n0[i] = t.x;
	n1[i] = t.y;
	n2[i] = t.z;
#endif
}
