package main

import (
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"time"
)

const (
	cpuPeriodMicros = 100000 // container_spec_cpu_period: 100 ms, so 10 CFS periods per second
	periodsPerSec   = 1e6 / cpuPeriodMicros
	mib             = 1 << 20
)

// podSpec is one element of POST /admin/pods. Omitted fields keep the pod's current value
// (or the default for a new pod). The array's length is the number of simulated pods.
type podSpec struct {
	Name             *string  `json:"name"`
	CPUCores         *float64 `json:"cpu_cores"`
	CPULimitCores    *float64 `json:"cpu_limit_cores"`
	MemoryBytes      *float64 `json:"memory_bytes"`
	WorkingSetBytes  *float64 `json:"working_set_bytes"`
	MemoryLimitBytes *float64 `json:"memory_limit_bytes"`
	ThrottledRatio   *float64 `json:"throttled_ratio"`
}

// podState is a simulated pod. Counters advance lazily: value = base + rate * (now - since).
type podState struct {
	Name             string  `json:"name"`
	CPUCores         float64 `json:"cpu_cores"`
	CPULimitCores    float64 `json:"cpu_limit_cores"`
	MemoryBytes      float64 `json:"memory_bytes"`
	WorkingSetBytes  float64 `json:"working_set_bytes"`
	MemoryLimitBytes float64 `json:"memory_limit_bytes"`
	ThrottledRatio   float64 `json:"throttled_ratio"`
	CPUSecondsTotal  float64 `json:"cpu_usage_seconds_total"`

	cpuBase       float64
	periodsBase   float64
	throttledBase float64
	since         time.Time
}

func defaultPod(name string, now time.Time) *podState {
	return &podState{
		Name:             name,
		CPUCores:         0.2,
		CPULimitCores:    1,
		MemoryBytes:      256 * mib,
		WorkingSetBytes:  224 * mib,
		MemoryLimitBytes: 1024 * mib,
		since:            now,
	}
}

// fold moves the counters' growth so far into their bases, before a rate changes.
func (p *podState) fold(now time.Time) {
	cpu, periods, throttled := p.counters(now)
	p.cpuBase, p.periodsBase, p.throttledBase = cpu, periods, throttled
	p.since = now
}

func (p *podState) counters(now time.Time) (cpu, periods, throttled float64) {
	dt := now.Sub(p.since).Seconds()
	cpu = p.cpuBase + p.CPUCores*dt
	periods = p.periodsBase + periodsPerSec*dt
	throttled = p.throttledBase + periodsPerSec*p.ThrottledRatio*dt
	return
}

type podSet struct {
	mu   sync.Mutex
	hash string
	pods []*podState
}

const podHashAlphabet = "bcdfghjklmnpqrstvwxz2456789" // the alphabet Kubernetes uses for generated names

func randomPodHash(rnd *rand.Rand) string {
	b := make([]byte, 10)
	for i := range b {
		b[i] = podHashAlphabet[rnd.Intn(len(podHashAlphabet))]
	}
	return string(b)
}

func newPodSet(hash string, n int) *podSet {
	s := &podSet{hash: hash}
	now := time.Now()
	for i := 0; i < n; i++ {
		s.pods = append(s.pods, defaultPod(s.podName(i), now))
	}
	return s
}

func (s *podSet) podName(i int) string {
	return "aegis-api-" + s.hash + "-" + strconv.Itoa(i)
}

func (s *podSet) set(specs []podSpec, now time.Time) error {
	for i, sp := range specs {
		for _, v := range []*float64{sp.CPUCores, sp.CPULimitCores, sp.MemoryBytes, sp.WorkingSetBytes, sp.MemoryLimitBytes, sp.ThrottledRatio} {
			if v != nil && *v < 0 {
				return fmt.Errorf("pod %d: values must not be negative", i)
			}
		}
		if sp.ThrottledRatio != nil && *sp.ThrottledRatio > 1 {
			return fmt.Errorf("pod %d: throttled_ratio must be between 0 and 1", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make([]*podState, 0, len(specs))
	for i, sp := range specs {
		var p *podState
		if i < len(s.pods) {
			p = s.pods[i]
			p.fold(now)
		} else {
			p = defaultPod(s.podName(i), now)
		}
		if sp.Name != nil && *sp.Name != "" {
			p.Name = *sp.Name
		}
		if sp.CPUCores != nil {
			p.CPUCores = *sp.CPUCores
		}
		if sp.CPULimitCores != nil {
			p.CPULimitCores = *sp.CPULimitCores
		}
		if sp.MemoryBytes != nil {
			p.MemoryBytes = *sp.MemoryBytes
			if sp.WorkingSetBytes == nil {
				p.WorkingSetBytes = *sp.MemoryBytes
			}
		}
		if sp.WorkingSetBytes != nil {
			p.WorkingSetBytes = *sp.WorkingSetBytes
		}
		if sp.MemoryLimitBytes != nil {
			p.MemoryLimitBytes = *sp.MemoryLimitBytes
		}
		if sp.ThrottledRatio != nil {
			p.ThrottledRatio = *sp.ThrottledRatio
		}
		next = append(next, p)
	}
	s.pods = next
	return nil
}

func (s *podSet) list(now time.Time) []podState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]podState, 0, len(s.pods))
	for _, p := range s.pods {
		c := *p
		c.CPUSecondsTotal, _, _ = p.counters(now)
		out = append(out, c)
	}
	return out
}

type podSeries struct {
	name, kind, help string
	value            func(p *podState, cpu, periods, throttled float64) (float64, bool)
}

var cadvisorSeries = []podSeries{
	{"container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.",
		func(p *podState, cpu, _, _ float64) (float64, bool) { return cpu, true }},
	{"container_spec_cpu_quota", "gauge", "CPU quota of the container.",
		func(p *podState, _, _, _ float64) (float64, bool) {
			return p.CPULimitCores * cpuPeriodMicros, p.CPULimitCores > 0
		}},
	{"container_spec_cpu_period", "gauge", "CPU period of the container.",
		func(p *podState, _, _, _ float64) (float64, bool) { return cpuPeriodMicros, true }},
	{"container_memory_usage_bytes", "gauge", "Current memory usage in bytes, including all memory regardless of when it was accessed.",
		func(p *podState, _, _, _ float64) (float64, bool) { return p.MemoryBytes, true }},
	{"container_memory_working_set_bytes", "gauge", "Current working set in bytes.",
		func(p *podState, _, _, _ float64) (float64, bool) { return p.WorkingSetBytes, true }},
	{"container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.",
		func(p *podState, _, _, _ float64) (float64, bool) { return p.MemoryLimitBytes, true }},
	{"container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement period intervals.",
		func(p *podState, _, periods, _ float64) (float64, bool) { return periods, p.CPULimitCores > 0 }},
	{"container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.",
		func(p *podState, _, _, throttled float64) (float64, bool) { return throttled, p.CPULimitCores > 0 }},
}

func (s *podSet) appendExposition(buf []byte, now time.Time) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	type sample struct{ cpu, periods, throttled float64 }
	samples := make([]sample, len(s.pods))
	for i, p := range s.pods {
		samples[i].cpu, samples[i].periods, samples[i].throttled = p.counters(now)
	}
	for _, series := range cadvisorSeries {
		buf = appendHeader(buf, series.name, series.kind, series.help)
		for i, p := range s.pods {
			v, ok := series.value(p, samples[i].cpu, samples[i].periods, samples[i].throttled)
			if !ok {
				continue
			}
			buf = append(buf, series.name+"{"...)
			buf = appendLabel(buf, "container", "aegis-api", true)
			buf = appendLabel(buf, "namespace", "aegis", false)
			buf = appendLabel(buf, "pod", p.Name, false)
			buf = append(buf, "} "...)
			buf = appendFloat(buf, v)
			buf = append(buf, '\n')
		}
	}
	return buf
}
