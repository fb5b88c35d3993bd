// A copy through the multiprocessors, 16 bytes an invocation: the memory
// ceiling that the per-pixel kernels reach for. glCopyBufferSubData is not
// it: drivers may hand it to a copy engine far slower than the
// multiprocessors (an H100's measured 176 GB/s).
layout(local_size_x = 256) in;

layout(std430, binding = BIND_DATA0) readonly buffer Src { uvec4 src[]; };
layout(std430, binding = BIND_DATA1) writeonly buffer Dst { uvec4 dst[]; };

uniform uint n; // uvec4s

void main() {
	for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * 256u) {
		dst[i] = src[i];
	}
}
