package gpu

import (
	"runtime"
	"time"
)

// thread is one goroutine locked to its OS thread that runs the functions
// it is given, in order: the only place GL is called. Its callers take
// turns (Device.mu, Window's single user): a call and its reply share one
// pair of channels, so a call allocates nothing.
type thread struct {
	calls   chan func() error
	replies chan error
	done    chan struct{}
	// start and end, if set, run on the thread before its first call and
	// after its last (a debug device watches its GL errors there).
	start, end func()
}

// spin is how long each side of a call polls its channel before it sleeps.
// Waking a sleeping OS thread costs tens of microseconds (a round trip
// measured 35 µs on the H100 machine, two per step), and a GPU step takes
// as little as 80 µs: an optimizer's steps come back to back, so the
// thread that polls finds the next call, or its reply, awake.
const spin = 200 * time.Microsecond

func newThread(start, end func()) *thread {
	t := &thread{calls: make(chan func() error, 1), replies: make(chan error, 1), done: make(chan struct{}), start: start, end: end}
	go func() {
		runtime.LockOSThread()
		// Never unlocked: a thread that held a GL context is not returned
		// to the scheduler's pool; it exits with the goroutine.
		defer close(t.done)
		if t.start != nil {
			t.start()
		}
		for {
			f, ok := poll(t.calls, false)
			if !ok {
				break
			}
			t.replies <- f()
		}
		if t.end != nil {
			t.end()
		}
	}()
	return t
}

// poll receives from c, polling for up to spin before it blocks. yield
// lets other goroutines run between polls; the locked thread does not
// yield, as its goroutine can run on its own OS thread only.
func poll[T any](c chan T, yield bool) (v T, ok bool) {
	var since time.Time
	for i := 0; ; i++ {
		select {
		case v, ok = <-c:
			return v, ok
		default:
		}
		if i&31 == 0 {
			if i == 0 {
				since = time.Now()
			} else if time.Since(since) > spin {
				v, ok = <-c
				return v, ok
			}
		}
		if yield {
			runtime.Gosched()
		}
	}
}

// run runs f on the thread and returns its error.
func (t *thread) run(f func() error) error {
	t.calls <- f
	err, _ := poll(t.replies, true)
	return err
}

// call runs f on the thread and waits for it.
func (t *thread) call(f func()) {
	t.run(func() error { f(); return nil })
}

// stop ends the thread after the calls queued before it.
func (t *thread) stop() {
	close(t.calls)
	<-t.done
}
