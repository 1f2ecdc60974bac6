package main

import (
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// durationBuckets are the upper bounds of aegis_http_request_duration_seconds.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last slot is +Inf
	count  uint64
	sum    float64
}

type requestKey struct {
	path   string
	status string
}

// httpMetrics holds the runbook's request metrics and writes them in Prometheus text exposition.
type httpMetrics struct {
	mu         sync.Mutex
	paths      []string
	histograms map[string]*histogram
	requests   map[requestKey]uint64
}

func newHTTPMetrics(paths []string) *httpMetrics {
	m := &httpMetrics{
		paths:      append([]string(nil), paths...),
		histograms: map[string]*histogram{},
		requests:   map[requestKey]uint64{},
	}
	for _, p := range paths {
		m.histograms[p] = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.requests[requestKey{p, "200"}] = 0
	}
	return m
}

func (m *httpMetrics) observe(path, status string, seconds float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.histograms[path]
	if !ok {
		return
	}
	i := sort.SearchFloat64s(durationBuckets, seconds) // first bound >= seconds
	h.counts[i]++
	h.count++
	h.sum += seconds
	m.requests[requestKey{path, status}]++
}

func appendFloat(buf []byte, v float64) []byte {
	return strconv.AppendFloat(buf, v, 'g', -1, 64)
}

func appendLabel(buf []byte, name, value string, first bool) []byte {
	if !first {
		buf = append(buf, ',')
	}
	buf = append(buf, name...)
	buf = append(buf, '=')
	return strconv.AppendQuote(buf, value)
}

func appendHeader(buf []byte, name, kind, help string) []byte {
	buf = append(buf, "# HELP "+name+" "+help+"\n"...)
	return append(buf, "# TYPE "+name+" "+kind+"\n"...)
}

func (m *httpMetrics) appendExposition(buf []byte) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()

	const hname = "aegis_http_request_duration_seconds"
	buf = appendHeader(buf, hname, "histogram", "Duration of HTTP requests served by aegis-api.")
	for _, p := range m.paths {
		h := m.histograms[p]
		var cum uint64
		for i, bound := range durationBuckets {
			cum += h.counts[i]
			buf = append(buf, hname+"_bucket{"...)
			buf = appendLabel(buf, "path", p, true)
			buf = appendLabel(buf, "le", strconv.FormatFloat(bound, 'g', -1, 64), false)
			buf = append(buf, "} "...)
			buf = strconv.AppendUint(buf, cum, 10)
			buf = append(buf, '\n')
		}
		buf = append(buf, hname+"_bucket{"...)
		buf = appendLabel(buf, "path", p, true)
		buf = appendLabel(buf, "le", "+Inf", false)
		buf = append(buf, "} "...)
		buf = strconv.AppendUint(buf, h.count, 10)
		buf = append(buf, '\n')
		buf = append(buf, hname+"_sum{"...)
		buf = appendLabel(buf, "path", p, true)
		buf = append(buf, "} "...)
		buf = appendFloat(buf, h.sum)
		buf = append(buf, '\n')
		buf = append(buf, hname+"_count{"...)
		buf = appendLabel(buf, "path", p, true)
		buf = append(buf, "} "...)
		buf = strconv.AppendUint(buf, h.count, 10)
		buf = append(buf, '\n')
	}

	const cname = "aegis_http_requests_total"
	buf = appendHeader(buf, cname, "counter", "HTTP requests served by aegis-api, by path and status code.")
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].path != keys[j].path {
			return keys[i].path < keys[j].path
		}
		return keys[i].status < keys[j].status
	})
	for _, k := range keys {
		buf = append(buf, cname+"{"...)
		buf = appendLabel(buf, "path", k.path, true)
		buf = appendLabel(buf, "status", k.status, false)
		buf = append(buf, "} "...)
		buf = strconv.AppendUint(buf, m.requests[k], 10)
		buf = append(buf, '\n')
	}
	return buf
}

func appendGauge(buf []byte, name, help string, v float64) []byte {
	buf = appendHeader(buf, name, "gauge", help)
	buf = append(buf, name+" "...)
	buf = appendFloat(buf, v)
	return append(buf, '\n')
}

func appendRuntimeExposition(buf []byte) []byte {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	buf = appendGauge(buf, "go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	buf = appendGauge(buf, "go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", float64(ms.HeapAlloc))
	buf = appendGauge(buf, "go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", float64(ms.HeapInuse))
	buf = appendGauge(buf, "go_memstats_sys_bytes", "Number of bytes obtained from system.", float64(ms.Sys))
	buf = appendHeader(buf, "go_memstats_alloc_bytes_total", "counter", "Total number of bytes allocated, even if freed.")
	buf = append(buf, "go_memstats_alloc_bytes_total "...)
	buf = appendFloat(buf, float64(ms.TotalAlloc))
	buf = append(buf, '\n')
	buf = appendHeader(buf, "go_gc_cycles_total", "counter", "Number of completed GC cycles.")
	buf = append(buf, "go_gc_cycles_total "...)
	buf = strconv.AppendUint(buf, uint64(ms.NumGC), 10)
	return append(buf, '\n')
}
