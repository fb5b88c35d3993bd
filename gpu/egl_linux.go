//go:build linux && cgo

package gpu

/*
#cgo pkg-config: egl
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <stdlib.h>
#include <string.h>

#ifndef EGL_PLATFORM_SURFACELESS_MESA
#define EGL_PLATFORM_SURFACELESS_MESA 0x31DD
#endif

static int has_ext(const char *list, const char *name) {
	if (!list) return 0;
	size_t n = strlen(name);
	const char *p = list;
	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
		p += n;
	}
	return 0;
}

static const char *client_exts(void) { return eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS); }

// qf_devices writes up to max EGL devices; -1 when enumeration is missing.
static int qf_devices(void **out, int max) {
	if (!has_ext(client_exts(), "EGL_EXT_device_enumeration") && !has_ext(client_exts(), "EGL_EXT_device_base")) return -1;
	PFNEGLQUERYDEVICESEXTPROC q = (PFNEGLQUERYDEVICESEXTPROC)eglGetProcAddress("eglQueryDevicesEXT");
	if (!q) return -1;
	EGLint n = 0;
	if (!q(max, (EGLDeviceEXT *)out, &n)) return -1;
	return n;
}

// qf_device_software reports a Mesa software device (llvmpipe).
static int qf_device_software(void *dev) {
	PFNEGLQUERYDEVICESTRINGEXTPROC q = (PFNEGLQUERYDEVICESTRINGEXTPROC)eglGetProcAddress("eglQueryDeviceStringEXT");
	if (!q) return 0;
	return has_ext(q((EGLDeviceEXT)dev, EGL_EXTENSIONS), "EGL_MESA_device_software");
}

static EGLDisplay platform_display(EGLenum platform, void *native) {
	PFNEGLGETPLATFORMDISPLAYEXTPROC get = (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	if (!get) return EGL_NO_DISPLAY;
	return get(platform, native, NULL);
}

static void *qf_display_device(void *dev) {
	if (!has_ext(client_exts(), "EGL_EXT_platform_device")) return NULL;
	return platform_display(EGL_PLATFORM_DEVICE_EXT, dev);
}

static void *qf_display_surfaceless(void) {
	if (!has_ext(client_exts(), "EGL_MESA_platform_surfaceless")) return NULL;
	return platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY);
}

// qf_context initializes dpy, creates a 4.3 core context and makes it
// current without a surface. It returns 0 or an EGL error code.
static int qf_context(void *dpy, int debug, void **ctxOut) {
	EGLint major, minor;
	if (!eglInitialize((EGLDisplay)dpy, &major, &minor)) return eglGetError();
	if (!eglBindAPI(EGL_OPENGL_API)) return eglGetError();
	EGLConfig cfg = NULL;
	EGLint n = 0;
	EGLint cattr[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE};
	if (!eglChooseConfig((EGLDisplay)dpy, cattr, &cfg, 1, &n) || n == 0) {
		cfg = NULL; // EGL_KHR_no_config_context
	}
	EGLint attr[] = {
		EGL_CONTEXT_MAJOR_VERSION, 4,
		EGL_CONTEXT_MINOR_VERSION, 3,
		EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
		EGL_CONTEXT_OPENGL_DEBUG, debug ? EGL_TRUE : EGL_FALSE,
		EGL_NONE,
	};
	EGLContext ctx = eglCreateContext((EGLDisplay)dpy, cfg, EGL_NO_CONTEXT, attr);
	if (ctx == EGL_NO_CONTEXT) return eglGetError();
	if (!eglMakeCurrent((EGLDisplay)dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, ctx)) {
		EGLint e = eglGetError();
		eglDestroyContext((EGLDisplay)dpy, ctx);
		return e;
	}
	*ctxOut = ctx;
	return 0;
}

static void qf_destroy(void *dpy, void *ctx) {
	eglMakeCurrent((EGLDisplay)dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	if (ctx) eglDestroyContext((EGLDisplay)dpy, (EGLContext)ctx);
	eglTerminate((EGLDisplay)dpy);
}

static void *qf_proc(const char *name) { return (void *)eglGetProcAddress(name); }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// eglCandidate is a display to try: a device, or the surfaceless platform.
type eglCandidate struct {
	name     string
	dpy      unsafe.Pointer
	software bool
}

// eglCandidates lists hardware devices first, then software devices and
// Mesa's surfaceless platform.
func eglCandidates() []eglCandidate {
	var devs [16]unsafe.Pointer
	var hw, sw []eglCandidate
	if n := int(C.qf_devices(&devs[0], C.int(len(devs)))); n > 0 {
		for i := 0; i < n; i++ {
			d := C.qf_display_device(devs[i])
			if d == nil {
				continue
			}
			c := eglCandidate{name: fmt.Sprintf("EGL device %d", i), dpy: d, software: C.qf_device_software(devs[i]) != 0}
			if c.software {
				sw = append(sw, c)
			} else {
				hw = append(hw, c)
			}
		}
	}
	if d := C.qf_display_surfaceless(); d != nil {
		// Mesa picks its best driver here: hardware if it has one. The
		// renderer string tells afterwards.
		sw = append(sw, eglCandidate{name: "EGL surfaceless", dpy: d, software: true})
	}
	return append(hw, sw...)
}

// eglContext makes a current 4.3 core context on c.
func eglContext(c eglCandidate, debug bool) (ctx unsafe.Pointer, err error) {
	d := 0
	if debug {
		d = 1
	}
	if code := C.qf_context(c.dpy, C.int(d), &ctx); code != 0 {
		return nil, fmt.Errorf("%s: EGL error 0x%x", c.name, int(code))
	}
	return ctx, nil
}

func eglDestroy(dpy, ctx unsafe.Pointer) { C.qf_destroy(dpy, ctx) }

func eglProcAddress(name string) unsafe.Pointer {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.qf_proc(cs)
}
