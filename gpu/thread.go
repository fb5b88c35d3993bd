package gpu

import "runtime"

// thread is one goroutine locked to its OS thread that runs the functions
// it is given, in order: the only place GL is called.
type thread struct {
	calls chan func()
	done  chan struct{}
}

func newThread() *thread {
	t := &thread{calls: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		// Never unlocked: a thread that held a GL context is not returned
		// to the scheduler's pool; it exits with the goroutine.
		defer close(t.done)
		for f := range t.calls {
			f()
		}
	}()
	return t
}

// call runs f on the thread and waits for it.
func (t *thread) call(f func()) {
	ch := make(chan struct{})
	t.calls <- func() { defer close(ch); f() }
	<-ch
}

// stop ends the thread after the calls queued before it.
func (t *thread) stop() {
	close(t.calls)
	<-t.done
}
