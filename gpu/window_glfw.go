//go:build linux && cgo && glfw

package gpu

import (
	"math"
	"sync"
	"time"

	"github.com/go-gl/glfw/v3.3/glfw"
)

// Window shows an estimation live in a visible window: the exact loss
// landscape over [bmin, bmax], the trajectory of the gradient steps on it,
// and the answer. It has its own thread and context; its methods may be
// called from any goroutine.
type Window struct {
	t   *thread
	win *glfw.Window

	mu       sync.Mutex
	bs, ls   []float64
	traj     [][2]float64
	answer   float64
	dirty    bool
	lastDraw time.Time

	prog  program
	color uniform
	verts vertices

	img        []uint8 // an image shown in place of the landscape
	imgW, imgH int
	pic        picture
}

// OpenWindow opens a visible window of w×h pixels.
func OpenWindow(title string, w, h int) (*Window, error) {
	win := &Window{t: newThread(nil, nil), answer: math.NaN()}
	var err error
	win.t.call(func() { err = win.open(title, w, h) })
	if err != nil {
		win.t.stop()
		return nil, err
	}
	return win, nil
}

const lineVS = `#version 430 core
layout(location = 0) in vec2 pos;
void main() { gl_Position = vec4(pos, 0.0, 1.0); gl_PointSize = 4.0; }
`

const lineFS = `#version 430 core
uniform vec4 color;
out vec4 frag;
void main() { frag = color; }
`

func (w *Window) open(title string, width, height int) error {
	win, err := glfwWindow(title, width, height, true, false)
	if err != nil {
		return err
	}
	w.win = win
	if w.prog, err = linkGraphics(lineVS, lineFS); err != nil {
		return err
	}
	w.color = w.prog.uniform("color")
	w.verts = newVertices()
	w.draw()
	return glErr("window")
}

// SetLandscape sets the curve: loss ls[i] at b = bs[i].
func (w *Window) SetLandscape(bs, ls []float64) {
	w.mu.Lock()
	w.bs, w.ls, w.dirty = append([]float64(nil), bs...), append([]float64(nil), ls...), true
	w.mu.Unlock()
	w.refresh(true)
}

// Add appends a step of the trajectory; the window redraws at most 30
// times a second.
func (w *Window) Add(b, loss float64) {
	w.mu.Lock()
	w.traj = append(w.traj, [2]float64{b, loss})
	w.dirty = true
	w.mu.Unlock()
	w.refresh(false)
}

// ShowImage shows an RGBA image (w×h, top row first) in place of the
// landscape, as a restoration improves; the window redraws at most 30
// times a second.
func (w *Window) ShowImage(rgba []uint8, width, height int) {
	w.mu.Lock()
	w.img, w.imgW, w.imgH, w.dirty = rgba, width, height, true
	w.mu.Unlock()
	w.refresh(false)
}

// Mark draws the answer.
func (w *Window) Mark(b float64) {
	w.mu.Lock()
	w.answer, w.dirty = b, true
	w.mu.Unlock()
	w.refresh(true)
}

func (w *Window) refresh(force bool) {
	w.mu.Lock()
	due := force || time.Since(w.lastDraw) > 33*time.Millisecond
	w.mu.Unlock()
	if due {
		w.t.call(func() { glfw.PollEvents(); w.draw() })
	}
}

// Wait keeps the window on screen, serving its events, until the user
// closes it or d passes (0: until closed).
func (w *Window) Wait(d time.Duration) {
	end := time.Now().Add(d)
	for d == 0 || time.Now().Before(end) {
		closed := false
		w.t.call(func() {
			glfw.WaitEventsTimeout(0.05)
			closed = w.win.ShouldClose()
			w.draw()
		})
		if closed {
			return
		}
	}
}

// draw renders the state and shows it; on the window's thread.
func (w *Window) draw() {
	w.render()
	w.win.SwapBuffers()
}

// render draws the state into the back buffer.
func (w *Window) render() {
	w.mu.Lock()
	bs, ls, traj, answer := w.bs, w.ls, append([][2]float64(nil), w.traj...), w.answer
	img, iw, ih := w.img, w.imgW, w.imgH
	w.lastDraw, w.dirty = time.Now(), false
	w.mu.Unlock()
	fw, fh := w.win.GetFramebufferSize()
	clearView(fw, fh)
	if img != nil {
		w.pic.draw(img, iw, ih, fw, fh)
		return
	}
	if len(bs) >= 2 {
		bmin, bmax := bs[0], bs[len(bs)-1]
		lmin, lmax := math.Inf(1), math.Inf(-1)
		for _, l := range ls {
			lmin, lmax = math.Min(lmin, l), math.Max(lmax, l)
		}
		if !(lmax > lmin) {
			lmax = lmin + 1
		}
		x := func(b float64) float32 { return float32(-0.95 + 1.9*(b-bmin)/(bmax-bmin)) }
		y := func(l float64) float32 { return float32(-0.9 + 1.8*(l-lmin)/(lmax-lmin)) }
		curve := make([]float32, 0, 2*len(bs))
		for i := range bs {
			curve = append(curve, x(bs[i]), y(ls[i]))
		}
		w.drawVerts(curve, lineStrip, [4]float32{0.17, 0.63, 0.17, 1})
		if len(traj) > 0 {
			pts := make([]float32, 0, 2*len(traj))
			for _, p := range traj {
				pts = append(pts, x(p[0]), y(math.Min(math.Max(p[1], lmin), lmax)))
			}
			w.drawVerts(pts, points, [4]float32{0.12, 0.47, 0.71, 1})
		}
		if !math.IsNaN(answer) {
			w.drawVerts([]float32{x(answer), -1, x(answer), 1}, lines, [4]float32{1, 0.5, 0.05, 1})
		}
	}
}

func (w *Window) drawVerts(v []float32, mode primitive, c [4]float32) {
	w.verts.draw(w.prog, w.color, v, mode, c)
}

// Pixels renders the window and reads it as RGBA rows, bottom row first.
func (w *Window) Pixels() (rgba []uint8, width, height int) {
	w.t.call(func() {
		w.render()
		width, height = w.win.GetFramebufferSize()
		rgba = readBack(width, height)
		w.win.SwapBuffers()
	})
	return rgba, width, height
}

// Close closes the window.
func (w *Window) Close() {
	w.t.call(func() {
		w.verts.delete()
		w.prog.delete()
		w.pic.delete()
		destroyWindow(w.win)
	})
	w.t.stop()
}
