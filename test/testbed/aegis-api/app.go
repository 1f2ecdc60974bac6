package main

import (
	"encoding/json"
	"fmt"
	"log"
	"math/rand"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// apiPaths are the instrumented endpoints; every one has histogram series from the start.
var apiPaths = []string{"/api/search", "/api/findings", "/api/report", "/api/health"}

type app struct {
	log         *log.Logger
	metrics     *httpMetrics
	pods        *podSet
	pathologies *pathologySet
	load        *loadGenerator
	requestSeq  uint64

	rndMu sync.Mutex
	rnd   *rand.Rand
}

func newApp(logger *log.Logger, pods int, podHash string) *app {
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	if podHash == "" {
		podHash = randomPodHash(rnd)
	}
	return &app{
		log:         logger,
		metrics:     newHTTPMetrics(apiPaths),
		pods:        newPodSet(podHash, pods),
		pathologies: newPathologySet(),
		rnd:         rnd,
	}
}

func (a *app) random() float64 {
	a.rndMu.Lock()
	defer a.rndMu.Unlock()
	return a.rnd.Float64()
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/search", a.instrument("/api/search", a.handleSearch))
	mux.Handle("/api/findings", a.instrument("/api/findings", a.handleFindings))
	mux.Handle("/api/report", a.instrument("/api/report", a.handleReport))
	mux.Handle("/api/health", a.instrument("/api/health", a.handleHealth))
	mux.HandleFunc("/metrics", a.handleMetrics)
	mux.HandleFunc("/admin/pathology", a.handleAdminPathology)
	mux.HandleFunc("/admin/pods", a.handleAdminPods)
	mux.HandleFunc("/admin/load", a.handleAdminLoad)
	return mux
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (a *app) instrument(path string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		a.metrics.observe(path, strconv.Itoa(rec.status), time.Since(start).Seconds())
	})
}

// applyPathologies runs every enabled pathology that belongs to a business endpoint. It reports
// whether the request must fail with a 500.
func (a *app) applyPathologies(r *http.Request, path string) (fail bool) {
	p := a.pathologies
	id := atomic.AddUint64(&a.requestSeq, 1)
	if p.on("pool-exhausted-log") {
		acquireDBConnection(a.log, path, id)
	}
	if p.on("excessive-logging") {
		logRequestVerbose(a.log, r, id)
	}
	if p.on("regexp-per-request") {
		compileFilterPerRequest(r.URL.Query().Get("q"))
	}
	if p.on("json-heavy") {
		encodeReportJSON()
	}
	if p.on("string-concat") {
		buildCSVConcat(csvRows)
	}
	if p.on("goroutine-leak") {
		startLeakyWorkers(leakPerRequest)
	}
	if p.on("mutex-hotspot") {
		runMutexHotspot(path)
	}
	if p.on("slice-growth") {
		appendAuditTrail(id, path)
	}
	if p.on("retained-objects") {
		retainSnapshot(id)
	}
	if path == "/api/search" && p.on("slow-endpoint") {
		slowSearchQuery(r.Context(), a.random())
	}
	if p.on("errors-5xx") && a.random() < p.errorRatio() {
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// failWithInternalError answers 500 (the errors-5xx pathology).
//
//go:noinline
func failWithInternalError(w http.ResponseWriter, path string) {
	writeJSON(w, http.StatusInternalServerError, map[string]string{
		"error": "internal error while serving " + path,
	})
}

func (a *app) handleSearch(w http.ResponseWriter, r *http.Request) {
	if a.applyPathologies(r, "/api/search") {
		failWithInternalError(w, "/api/search")
		return
	}
	q := r.URL.Query().Get("q")
	results := make([]map[string]string, 0, 5)
	for i := 0; i < 5; i++ {
		results = append(results, map[string]string{"id": fmt.Sprintf("F-%d", 1000+i), "title": "match for " + q})
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"query": q, "results": results})
}

func (a *app) handleFindings(w http.ResponseWriter, r *http.Request) {
	if a.applyPathologies(r, "/api/findings") {
		failWithInternalError(w, "/api/findings")
		return
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"findings": reportFixture.Findings[:10], "total": len(reportFixture.Findings)})
}

func (a *app) handleReport(w http.ResponseWriter, r *http.Request) {
	if a.applyPathologies(r, "/api/report") {
		failWithInternalError(w, "/api/report")
		return
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"report": "summary", "open": 42, "critical": 3})
}

func (a *app) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *app) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	buf := make([]byte, 0, 16<<10)
	buf = a.metrics.appendExposition(buf)
	buf = a.pods.appendExposition(buf, time.Now())
	buf = appendRuntimeExposition(buf)
	buf = a.pathologies.appendExposition(buf)
	_, _ = w.Write(buf)
}

type pathologyRequest struct {
	Name    string   `json:"name"`
	Enabled *bool    `json:"enabled"`
	Ratio   *float64 `json:"ratio,omitempty"`
}

func (a *app) handleAdminPathology(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, a.pathologies.list())
	case http.MethodPost:
		var req pathologyRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
			return
		}
		if req.Enabled == nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `"enabled" (true or false) is required`})
			return
		}
		if err := a.pathologies.set(req.Name, *req.Enabled, req.Ratio); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		a.log.Printf("level=info msg=\"pathology switched\" name=%s enabled=%t", req.Name, *req.Enabled)
		writeJSON(w, http.StatusOK, a.pathologies.list())
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET or POST"})
	}
}

func (a *app) handleAdminPods(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, a.pods.list(time.Now()))
	case http.MethodPost:
		var specs []podSpec
		if err := json.NewDecoder(r.Body).Decode(&specs); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON (want an array of pod specs): " + err.Error()})
			return
		}
		if err := a.pods.set(specs, time.Now()); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, a.pods.list(time.Now()))
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET or POST"})
	}
}

func (a *app) handleAdminLoad(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var req struct {
			RPS *float64 `json:"rps"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.RPS == nil || *req.RPS < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"rps": <number >= 0>}`})
			return
		}
		a.load.setRPS(*req.RPS)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET or POST"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]float64{"rps": a.load.getRPS()})
}
