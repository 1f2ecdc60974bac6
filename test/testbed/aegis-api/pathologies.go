package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pathologyNames are the planted problems a test can switch on and off. Each one's work lives in
// its own clearly named function below, so CPU, heap, mutex and goroutine profiles name it.
var pathologyNames = []string{
	"regexp-per-request", // compileFilterPerRequest
	"json-heavy",         // encodeReportJSON
	"excessive-logging",  // logRequestVerbose
	"string-concat",      // buildCSVConcat
	"goroutine-leak",     // leakyWorker
	"mutex-hotspot",      // lockedCounterUpdate
	"slice-growth",       // appendAuditTrail
	"retained-objects",   // retainSnapshot
	"slow-endpoint",      // slowSearchQuery
	"errors-5xx",         // failWithInternalError
	"pool-exhausted-log", // acquireDBConnection
}

var pathologyDescriptions = map[string]string{
	"regexp-per-request": "compileFilterPerRequest: regexp.MustCompile on every request",
	"json-heavy":         "encodeReportJSON: encoding/json of a large report on every request",
	"excessive-logging":  "logRequestVerbose: dozens of log lines per request",
	"string-concat":      "buildCSVConcat: s += in a loop (quadratic copying)",
	"goroutine-leak":     "leakyWorker: goroutines blocked forever on a channel receive",
	"mutex-hotspot":      "lockedCounterUpdate: goroutines contending on one sync.Mutex held during work",
	"slice-growth":       "appendAuditTrail: a global slice appended to without bound",
	"retained-objects":   "retainSnapshot: large objects kept in a global map",
	"slow-endpoint":      "slowSearchQuery: /api/search sleeps 1.5-3 s",
	"errors-5xx":         "failWithInternalError: a share of /api/search, /api/findings, /api/report answer 500",
	"pool-exhausted-log": "acquireDBConnection: logs \"connection pool exhausted\" on every request",
}

const defaultErrorRatio = 0.2

type pathologyState struct {
	Name        string   `json:"name"`
	Enabled     bool     `json:"enabled"`
	Description string   `json:"description"`
	Ratio       *float64 `json:"ratio,omitempty"`
}

type pathologySet struct {
	mu      sync.RWMutex
	enabled map[string]bool
	ratio   float64
}

func newPathologySet() *pathologySet {
	return &pathologySet{enabled: map[string]bool{}, ratio: defaultErrorRatio}
}

func knownPathology(name string) bool {
	for _, n := range pathologyNames {
		if n == name {
			return true
		}
	}
	return false
}

func (p *pathologySet) on(name string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.enabled[name]
}

func (p *pathologySet) errorRatio() float64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.ratio
}

// set switches a pathology. Switching off also releases what it accumulated (leaked goroutines,
// grown slice, retained objects), like a deploy of the fix would.
func (p *pathologySet) set(name string, enabled bool, ratio *float64) error {
	if !knownPathology(name) {
		return fmt.Errorf("unknown pathology %q (known: %s)", name, strings.Join(pathologyNames, ", "))
	}
	if ratio != nil {
		if name != "errors-5xx" {
			return fmt.Errorf("ratio applies to errors-5xx only")
		}
		if *ratio < 0 || *ratio > 1 {
			return fmt.Errorf("ratio must be between 0 and 1")
		}
	}
	p.mu.Lock()
	p.enabled[name] = enabled
	if ratio != nil {
		p.ratio = *ratio
	}
	p.mu.Unlock()

	switch name {
	case "mutex-hotspot":
		if enabled {
			runtime.SetMutexProfileFraction(1)
			runtime.SetBlockProfileRate(10000) // one sample per 10µs spent blocked
		} else {
			runtime.SetMutexProfileFraction(0)
			runtime.SetBlockProfileRate(0)
		}
	case "goroutine-leak":
		if !enabled {
			releaseLeakedWorkers()
		}
	case "slice-growth":
		if !enabled {
			resetAuditTrail()
		}
	case "retained-objects":
		if !enabled {
			releaseSnapshots()
		}
	}
	return nil
}

func (p *pathologySet) list() []pathologyState {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]pathologyState, 0, len(pathologyNames))
	for _, n := range pathologyNames {
		st := pathologyState{Name: n, Enabled: p.enabled[n], Description: pathologyDescriptions[n]}
		if n == "errors-5xx" {
			r := p.ratio
			st.Ratio = &r
		}
		out = append(out, st)
	}
	return out
}

func (p *pathologySet) enabledNames() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []string
	for _, n := range pathologyNames {
		if p.enabled[n] {
			out = append(out, n)
		}
	}
	return out
}

func (p *pathologySet) appendExposition(buf []byte) []byte {
	p.mu.RLock()
	defer p.mu.RUnlock()
	buf = appendHeader(buf, "aegis_testbed_pathology_enabled", "gauge", "1 when the test bed's planted pathology is switched on.")
	for _, n := range pathologyNames {
		buf = append(buf, "aegis_testbed_pathology_enabled{"...)
		buf = appendLabel(buf, "name", n, true)
		buf = append(buf, "} "...)
		if p.enabled[n] {
			buf = append(buf, '1')
		} else {
			buf = append(buf, '0')
		}
		buf = append(buf, '\n')
	}
	return buf
}

// ---- regexp-per-request -------------------------------------------------------------------

var sampleFindingLines = []string{
	"finding-1042 critical prod-eu/aegis-api @ 2024-03-01T10:11:12Z",
	"alert:77 high staging/payments-worker",
	"event_9 low dev/cache-redis @ 2024-02-11T01:02:03Z",
	"finding-x medium prod-us/report.generator",
}

// compileFilterPerRequest compiles the search filter on every request instead of once at start
// (the runbook's "Regex compilation (compile once, reuse)").
//
//go:noinline
func compileFilterPerRequest(query string) int {
	if query == "" {
		query = "any"
	}
	matches := 0
	for i := 0; i < 30; i++ {
		re := regexp.MustCompile(`(?i)^(?:finding|alert|event)[-_:](` + regexp.QuoteMeta(query) + `|\d+|` + strconv.Itoa(i) +
			`)\s+(critical|high|medium|low)\s+([a-z0-9._-]+)/([a-z0-9._-]+)(?:\s+@\s+(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z))?$`)
		for _, s := range sampleFindingLines {
			if re.MatchString(s) {
				matches++
			}
		}
	}
	return matches
}

// ---- json-heavy -----------------------------------------------------------------------------

type reportFinding struct {
	ID          string            `json:"id"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"`
	Resource    string            `json:"resource"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	CreatedAt   time.Time         `json:"created_at"`
	Score       float64           `json:"score"`
	Tags        []string          `json:"tags"`
	Labels      map[string]string `json:"labels"`
}

type report struct {
	Tenant   string          `json:"tenant"`
	Findings []reportFinding `json:"findings"`
}

var severities = []string{"critical", "high", "medium", "low"}

var reportFixture = buildReportFixture(800)

func buildReportFixture(n int) report {
	r := report{Tenant: "acme"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		r.Findings = append(r.Findings, reportFinding{
			ID:          fmt.Sprintf("F-%06d", i),
			Severity:    severities[i%len(severities)],
			Status:      "open",
			Resource:    fmt.Sprintf("arn:aws:s3:::bucket-%d/path/to/object-%d", i%97, i),
			Title:       fmt.Sprintf("Publicly readable object number %d", i),
			Description: strings.Repeat("The object grants read access to everyone. ", 3),
			CreatedAt:   base.Add(time.Duration(i) * time.Minute),
			Score:       float64(i%100) / 10,
			Tags:        []string{"s3", "public", "pci", fmt.Sprintf("team-%d", i%7)},
			Labels:      map[string]string{"account": fmt.Sprintf("%012d", i%13), "region": "eu-west-1", "env": "prod"},
		})
	}
	return r
}

// encodeReportJSON serializes the whole report with encoding/json on every request
// (the runbook's "JSON serialization (use sonic or jsoniter)").
//
//go:noinline
func encodeReportJSON() int {
	b, err := json.Marshal(reportFixture)
	if err != nil {
		panic(err)
	}
	return len(b)
}

// ---- excessive-logging ----------------------------------------------------------------------

// logRequestVerbose writes dozens of debug lines for one request (the runbook's "Excessive logging").
//
//go:noinline
func logRequestVerbose(logger *log.Logger, r *http.Request, id uint64) {
	for step := 0; step < 40; step++ {
		logger.Printf("level=debug req=%d step=%d method=%s path=%s query=%q remote=%s headers=%v msg=%q",
			id, step, r.Method, r.URL.Path, r.URL.RawQuery, r.RemoteAddr, r.Header, "processing request stage")
	}
}

// ---- string-concat --------------------------------------------------------------------------

const csvRows = 400

// buildCSVConcat builds a CSV export with s += in a loop: every row copies the whole string so far
// (the runbook's "String concatenation in loops").
//
//go:noinline
func buildCSVConcat(rows int) string {
	s := "id,severity,resource,title,created_at\n"
	for i := 0; i < rows; i++ {
		s += strconv.Itoa(i) + "," + severities[i%len(severities)] + ",resource-" + strconv.Itoa(i*7) +
			",Finding title number " + strconv.Itoa(i) + ",2024-01-01T00:00:00Z\n"
	}
	return s
}

// ---- goroutine-leak -------------------------------------------------------------------------

const (
	leakPerRequest = 5
	maxLeaked      = 200000 // safety cap so a forgotten instance cannot take the machine down
)

var (
	leakMu    sync.Mutex
	leakCh    = make(chan string)
	leakCount int
)

// startLeakyWorkers starts workers that wait for a result nobody will ever send (the runbook's
// "Goroutine leaks (missing context cancellation)" and "Blocking on channels").
//
//go:noinline
func startLeakyWorkers(n int) {
	leakMu.Lock()
	defer leakMu.Unlock()
	for i := 0; i < n && leakCount < maxLeaked; i++ {
		leakCount++
		go leakyWorker(leakCh)
	}
}

// leakyWorker blocks forever on a channel receive.
//
//go:noinline
func leakyWorker(results <-chan string) {
	r := <-results
	_ = r
}

func releaseLeakedWorkers() {
	leakMu.Lock()
	defer leakMu.Unlock()
	close(leakCh)
	leakCh = make(chan string)
	leakCount = 0
}

// ---- mutex-hotspot --------------------------------------------------------------------------

var (
	hotMu       sync.Mutex
	hotCounters = map[string]uint64{}
)

// runMutexHotspot has many goroutines update one shared counter map.
//
//go:noinline
func runMutexHotspot(key string) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go contendForCounters(&wg, key)
	}
	wg.Wait()
}

//go:noinline
func contendForCounters(wg *sync.WaitGroup, key string) {
	defer wg.Done()
	for i := 0; i < 10; i++ {
		lockedCounterUpdate(key)
	}
}

// lockedCounterUpdate holds the one global mutex while it does its work (the runbook's
// "Mutex contention"). The work under the lock (about 50 us) is long enough that waiters park
// instead of spinning: only parked time is "delay" in Go's mutex profile, and a hold of a few
// microseconds left the profile with hundreds of contentions but next to no delay, on either
// side of the detector's documented 1% boundary depending on scheduling.
//
//go:noinline
func lockedCounterUpdate(key string) {
	hotMu.Lock()
	defer hotMu.Unlock()
	h := uint64(14695981039346656037)
	for i := 0; i < 50000; i++ {
		h ^= uint64(i)
		h *= 1099511628211
	}
	hotCounters[key] += h & 1
}

// ---- slice-growth ---------------------------------------------------------------------------

type auditEntry struct {
	RequestID uint64
	Path      string
	At        time.Time
	Detail    [224]byte
}

const (
	auditEntriesPerRequest = 64 // about 16 KiB per request
	maxAuditEntries        = (256 << 20) / 256
)

var (
	auditMu    sync.Mutex
	auditTrail []auditEntry
)

// appendAuditTrail appends to a global slice that is never trimmed (the runbook's
// "Unbounded slice growth").
//
//go:noinline
func appendAuditTrail(id uint64, path string) {
	auditMu.Lock()
	defer auditMu.Unlock()
	now := time.Now()
	for i := 0; i < auditEntriesPerRequest && len(auditTrail) < maxAuditEntries; i++ {
		e := auditEntry{RequestID: id, Path: path, At: now}
		copy(e.Detail[:], path)
		auditTrail = append(auditTrail, e)
	}
}

func resetAuditTrail() {
	auditMu.Lock()
	defer auditMu.Unlock()
	auditTrail = nil
}

// ---- retained-objects -----------------------------------------------------------------------

const (
	snapshotBytes = 64 << 10
	maxSnapshots  = (256 << 20) / snapshotBytes
)

var (
	snapshotMu sync.Mutex
	snapshots  = map[uint64][]byte{}
)

// retainSnapshot keeps a large per-request snapshot in a global map forever (the runbook's
// "Holding references preventing GC").
//
//go:noinline
func retainSnapshot(id uint64) {
	buf := make([]byte, snapshotBytes)
	for i := 0; i < len(buf); i += 512 {
		buf[i] = byte(id) | 1 // touch every page so the memory is really resident
	}
	snapshotMu.Lock()
	defer snapshotMu.Unlock()
	if len(snapshots) < maxSnapshots {
		snapshots[id] = buf
	}
}

func releaseSnapshots() {
	snapshotMu.Lock()
	defer snapshotMu.Unlock()
	snapshots = map[uint64][]byte{}
}

// ---- slow-endpoint --------------------------------------------------------------------------

// slowSearchQuery stands for a slow database query behind /api/search: 1.5 to 3 seconds.
//
//go:noinline
func slowSearchQuery(ctx context.Context, r float64) {
	d := 1500*time.Millisecond + time.Duration(r*float64(1500*time.Millisecond))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ---- pool-exhausted-log ---------------------------------------------------------------------

// acquireDBConnection fails to get a connection and logs it (the runbook's "Connection Pool
// Exhaustion" symptom).
//
//go:noinline
func acquireDBConnection(logger *log.Logger, path string, id uint64) {
	logger.Printf("level=error msg=%q pool=aegis-db max_connections=20 in_use=20 waiting=%d path=%s req=%d",
		"connection pool exhausted", 20+id%17, path, id)
}
