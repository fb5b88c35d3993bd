// The non-zero bins of a joint histogram as a list of (key, count): a
// photo fills a few hundred of the 65536 bins, so the readback is the
// list, not the table. list[0].x counts the entries, which follow from
// list[1] in no fixed order (the host files each under its key, so the
// histogram it builds does not depend on that order).
layout(local_size_x = 256) in;

layout(std430, binding = BIND_DATA1) readonly buffer Counts { uint counts[]; };
layout(std430, binding = BIND_PARTIAL) buffer List { uvec2 list[]; };

void main() {
	uint key = gl_GlobalInvocationID.x;
	uint c = counts[key];
	if (c != 0u) {
		uint i = atomicAdd(list[0].x, 1u);
		list[1u + i] = uvec2(key, c);
	}
}
