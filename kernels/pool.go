package kernels

import (
	"runtime"
	"sync"
)

// chunked is work split into numbered chunks that may run in parallel.
type chunked interface {
	runChunk(i int)
}

type job struct {
	w  chunked
	i  int
	wg *sync.WaitGroup
}

var (
	poolOnce sync.Once
	poolJobs chan job
)

// workers returns the number of pool goroutines.
func workers() int { return runtime.GOMAXPROCS(0) }

// runChunks runs w's chunks 0..n-1 on the shared pool and waits. The pool
// lives for the process, so a step spawns nothing and allocates nothing.
func runChunks(w chunked, n int, wg *sync.WaitGroup) {
	if n == 1 {
		w.runChunk(0)
		return
	}
	poolOnce.Do(func() {
		poolJobs = make(chan job, 256)
		for range workers() {
			go func() {
				for j := range poolJobs {
					j.w.runChunk(j.i)
					j.wg.Done()
				}
			}()
		}
	})
	wg.Add(n)
	for i := range n {
		poolJobs <- job{w, i, wg}
	}
	wg.Wait()
}
