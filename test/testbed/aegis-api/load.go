package main

import (
	"io"
	"log"
	"math"
	"net/http"
	"sync/atomic"
	"time"
)

// loadGenerator calls the service's own endpoints at a steady rate so Prometheus always has
// traffic to compute rates and quantiles from. Requests run concurrently (a slow endpoint does
// not slow the generator down); when too many are in flight, ticks are dropped.
type loadGenerator struct {
	log      *log.Logger
	base     string
	rpsBits  uint64
	client   *http.Client
	inflight chan struct{}
	dropped  uint64
	wake     chan struct{}
}

var loadTargets = []string{
	"/api/search?q=bucket",
	"/api/findings?status=open",
	"/api/report?format=json",
	"/api/health",
}

func newLoadGenerator(logger *log.Logger, base string, rps float64) *loadGenerator {
	g := &loadGenerator{
		log:  logger,
		base: base,
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
		},
		inflight: make(chan struct{}, 256),
		wake:     make(chan struct{}, 1),
	}
	g.setRPS(rps)
	return g
}

func (g *loadGenerator) setRPS(rps float64) {
	atomic.StoreUint64(&g.rpsBits, math.Float64bits(rps))
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *loadGenerator) getRPS() float64 {
	return math.Float64frombits(atomic.LoadUint64(&g.rpsBits))
}

func (g *loadGenerator) run() {
	next := time.Now()
	for i := 0; ; i++ {
		rps := g.getRPS()
		if rps <= 0 {
			<-g.wake
			next = time.Now()
			continue
		}
		next = next.Add(time.Duration(float64(time.Second) / rps))
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-g.wake:
				next = time.Now()
			}
		} else if d < -time.Second {
			next = time.Now() // fell far behind (machine busy): do not burst to catch up
		}
		select {
		case g.inflight <- struct{}{}:
			go g.fire(loadTargets[i%len(loadTargets)])
		default:
			atomic.AddUint64(&g.dropped, 1)
		}
	}
}

func (g *loadGenerator) fire(path string) {
	defer func() { <-g.inflight }()
	resp, err := g.client.Get(g.base + path)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
