// Joint (x, t) histogram of 8-bit pairs, the CPU twin of
// kernels.Histogram.Add8, in one pass over the pairs.
//
// Privatized: each workgroup counts into its own table in shared memory
// and adds it to the global counts once, at its end. The 65536 bins do not
// fit in shared memory, but a photo's pairs hit a few hundred to a few
// thousand of them, so the private table is a hash of SLOTS (key, count)
// slots with linear probing; a key that finds no slot within PROBES (a
// workgroup that meets more distinct pairs than the table holds: noise)
// goes to the global counts directly, which stays right, only slower.
// Each invocation reads eight pairs at a time (a uvec4, coalesced) and
// counts runs of equal keys itself before it touches the table: smooth
// regions repeat a pair, and same-address atomics from one warp serialize.
// The counts are integers: any order of the adds gives the same table.
layout(local_size_x = LOCAL) in;

layout(std430, binding = BIND_DATA0) readonly buffer Pairs { uvec4 pairs[]; };
layout(std430, binding = BIND_DATA1) buffer Counts { uint counts[]; };

uniform uint n; // pairs

const uint EMPTY = 0xffffffffu;
shared uint skey[SLOTS];
shared uint scnt[SLOTS];

void add(uint key, uint c) {
	// Fibonacci hashing: the top bits of key·2^32/φ
	uint h = (key * 2654435769u) >> (32u - SLOTS_LOG2);
	for (uint p = 0u; p < PROBES; p++) {
		uint s = (h + p) & (SLOTS - 1u);
		uint k = skey[s];
		if (k == EMPTY) {
			k = atomicCompSwap(skey[s], EMPTY, key);
			if (k == EMPTY) {
				k = key;
			}
		}
		if (k == key) {
			atomicAdd(scnt[s], c);
			return;
		}
	}
	atomicAdd(counts[key], c);
}

void main() {
	uint lid = gl_LocalInvocationID.x;
	for (uint s = lid; s < SLOTS; s += LOCAL) {
		skey[s] = EMPTY;
		scnt[s] = 0u;
	}
	barrier();
	uint run = EMPTY, count = 0u;
	uint stride = gl_NumWorkGroups.x * LOCAL;
	for (uint v = gl_WorkGroupID.x * LOCAL + lid; 8u * v < n; v += stride) {
		uvec4 q = pairs[v];
		uint m = min(8u, n - 8u * v); // the pairs of this vector that exist
		for (uint j = 0u; j < m; j++) {
			uint w = q[j >> 1];
			uint pair = (w >> (16u * (j & 1u))) & 0xffffu;
			uint key = (pair & 255u) << 8 | pair >> 8; // x·256 + t
			if (key != run) {
				if (count != 0u) {
					add(run, count);
				}
				run = key;
				count = 0u;
			}
			count++;
		}
	}
	if (count != 0u) {
		add(run, count);
	}
	barrier();
	for (uint s = lid; s < SLOTS; s += LOCAL) {
		uint c = scnt[s];
		if (c != 0u) {
			atomicAdd(counts[skey[s]], c);
		}
	}
}
