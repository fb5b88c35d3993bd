package gpu

import "runtime"

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

func newThread(start, end func()) *thread {
	t := &thread{calls: make(chan func() error), replies: make(chan error), done: make(chan struct{}), start: start, end: end}
	go func() {
		runtime.LockOSThread()
		// Never unlocked: a thread that held a GL context is not returned
		// to the scheduler's pool; it exits with the goroutine.
		defer close(t.done)
		if t.start != nil {
			t.start()
		}
		for f := range t.calls {
			t.replies <- f()
		}
		if t.end != nil {
			t.end()
		}
	}()
	return t
}

// run runs f on the thread and returns its error.
func (t *thread) run(f func() error) error {
	t.calls <- f
	return <-t.replies
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
