// Command soak holds N concurrent clients against a running quantfit serve
// for a while and reports the answers by status, the latency, and the
// server's resident memory over time (from /proc, given its pid).
//
//	go run ./bench/soak -addr http://127.0.0.1:8080 -clients 32 -for 1m -pid $(pgrep -f 'quantfit serve')
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

func main() {
	addr := flag.String("addr", "http://127.0.0.1:8080", "server `url`")
	clients := flag.Int("clients", 32, "concurrent `clients`")
	dur := flag.Duration("for", time.Minute, "`duration` of the run")
	pid := flag.Int("pid", 0, "server `pid`, to sample its resident memory")
	photo := flag.String("photo", "ihc.png", "shipped `photo` to send")
	flag.Parse()

	im, err := photos.Load(*photo)
	if err != nil {
		fail(err)
	}
	orig, _ := photos.Bytes(*photo)
	type req struct {
		body []byte
		ct   string
		b    float64
	}
	var reqs []req
	for i := 0; i < 16; i++ {
		b := 5 + 25*float64(i)/15
		q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, b) })
		var qb, body bytes.Buffer
		q.EncodePNG(&qb)
		mw := multipart.NewWriter(&body)
		w, _ := mw.CreateFormFile("original", "o.png")
		w.Write(orig)
		w, _ = mw.CreateFormFile("quantized", "q.png")
		w.Write(qb.Bytes())
		mw.Close()
		reqs = append(reqs, req{body.Bytes(), mw.FormDataContentType(), b})
	}

	var mu sync.Mutex
	codes := map[int]int{}
	var lat []time.Duration
	wrong := 0
	stop := time.Now().Add(*dur)
	var rss []int
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Second):
				if *pid > 0 {
					rss = append(rss, rssKB(*pid))
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; time.Now().Before(stop); i++ {
				r := reqs[i%len(reqs)]
				t0 := time.Now()
				resp, err := http.Post(*addr+"/v1/estimate", r.ct, bytes.NewReader(r.body))
				if err != nil {
					mu.Lock()
					codes[-1]++
					mu.Unlock()
					continue
				}
				var v struct {
					B float64 `json:"b"`
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				json.Unmarshal(b, &v)
				mu.Lock()
				codes[resp.StatusCode]++
				lat = append(lat, time.Since(t0))
				if resp.StatusCode == 200 && math.Abs(v.B-r.b) > 0.1 {
					wrong++
				}
				mu.Unlock()
				if resp.StatusCode == 429 {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(c)
	}
	wg.Wait()
	close(done)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	total := 0
	var parts []string
	for code, n := range codes {
		total += n
		parts = append(parts, fmt.Sprintf("%d: %d", code, n))
	}
	sort.Strings(parts)
	fmt.Printf("%d clients for %v: %d requests (%.1f/s); by status {%s}; %d answers off the truth by > 0.1\n",
		*clients, *dur, total, float64(total)/dur.Seconds(), strings.Join(parts, ", "), wrong)
	if len(lat) > 0 {
		fmt.Printf("latency: median %v, p99 %v, max %v\n", lat[len(lat)/2].Round(time.Millisecond),
			lat[len(lat)*99/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
	if len(rss) > 0 {
		lo, hi := rss[0], rss[0]
		for _, v := range rss {
			lo, hi = min(lo, v), max(hi, v)
		}
		fmt.Printf("server RSS: first %d MiB, last %d MiB, min %d MiB, max %d MiB over %d samples\n",
			rss[0]/1024, rss[len(rss)-1]/1024, lo/1024, hi/1024, len(rss))
	}
}

func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &kb)
			return kb
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "soak:", err)
	os.Exit(1)
}
