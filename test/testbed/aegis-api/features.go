package main

import (
	"compress/gzip"
	"net/http"
	"strings"
)

// Switches for the runbook's Optimization Checklist (API layer), set by command-line flags:
// response compression and a rate-limit header. Timeouts and keep-alive are set on the server.

// gzipResponseWriter compresses what the handler writes.
type gzipResponseWriter struct {
	http.ResponseWriter
	zw *gzip.Writer
}

func (g *gzipResponseWriter) Write(b []byte) (int, error) { return g.zw.Write(b) }

func (g *gzipResponseWriter) WriteHeader(code int) {
	g.ResponseWriter.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(code)
}

// withGzip compresses responses for clients that send Accept-Encoding: gzip.
func withGzip(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") || strings.HasPrefix(r.URL.Path, "/admin/") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		next.ServeHTTP(&gzipResponseWriter{ResponseWriter: w, zw: zw}, r)
	})
}

// withRateLimitHeader announces a rate limit the way common limiters do (RateLimit-Limit).
func withRateLimitHeader(limit string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("RateLimit-Limit", limit)
		}
		next.ServeHTTP(w, r)
	})
}
