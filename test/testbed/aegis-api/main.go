// Command aegis-api is the test bed's stand-in for the runbook's aegis-api service.
//
// It serves /api/search, /api/findings, /api/report and /api/health, exposes the runbook's
// metrics at /metrics in hand-written Prometheus text exposition (plus simulated cAdvisor
// series for a set of simulated pods), serves net/http/pprof on a separate address (like the
// runbook's :6060), drives its own endpoints with an internal load generator so Prometheus always
// sees traffic, and carries planted pathologies that a test can switch on and off at runtime.
//
// On start it prints one JSON line to stdout: {"http":"127.0.0.1:PORT","pprof":"127.0.0.1:PORT"}.
// Everything after that line is log output.
//
// Standard library only: it must build with no network access.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type startupInfo struct {
	HTTP  string `json:"http"`
	Pprof string `json:"pprof"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address for the API, /metrics and /admin")
	pprofAddr := flag.String("pprof-addr", "127.0.0.1:0", "listen address for net/http/pprof (the runbook's :6060)")
	loadRPS := flag.Float64("load-rps", 20, "requests per second the internal load generator sends to the service's own endpoints (0 = none)")
	pods := flag.Int("pods", 3, "number of simulated pods for the cAdvisor-style series")
	podHash := flag.String("pod-hash", "", "replica-set hash used in simulated pod names (default: random)")
	pathologyList := flag.String("pathologies", "", "comma-separated pathologies to enable at start ("+strings.Join(pathologyNames, ",")+")")
	gzipOn := flag.Bool("gzip", false, "compress responses for clients that accept gzip (checklist: response compression)")
	readHeaderTimeout := flag.Duration("read-header-timeout", 10*time.Second, "http.Server ReadHeaderTimeout of the API server (checklist: request timeout limits)")
	writeTimeout := flag.Duration("write-timeout", 0, "http.Server WriteTimeout of the API server (0 = none)")
	keepAlive := flag.Bool("keep-alive", true, "HTTP keep-alive on the API server (checklist: connection keep-alive)")
	rateLimitHeader := flag.String("rate-limit-header", "", "value of a RateLimit-Limit header on /api/* responses (empty = none)")
	exitWithParent := flag.Bool("exit-with-parent", true, "exit when the parent process goes away (keeps test runs from leaking processes)")
	flag.Parse()

	logger := log.New(os.Stdout, "", log.LstdFlags|log.Lmicroseconds)

	a := newApp(logger, *pods, *podHash)
	if *pathologyList != "" {
		for _, name := range strings.Split(*pathologyList, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if err := a.pathologies.set(name, true, nil); err != nil {
				fmt.Fprintf(os.Stderr, "aegis-api: %v\n", err)
				os.Exit(2)
			}
		}
	}

	apiLn, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "aegis-api: listen %s: %v\n", *addr, err)
		os.Exit(1)
	}
	pprofLn, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "aegis-api: listen %s: %v\n", *pprofAddr, err)
		os.Exit(1)
	}

	a.load = newLoadGenerator(logger, "http://"+apiLn.Addr().String(), *loadRPS)

	var handler http.Handler = a.routes()
	if *rateLimitHeader != "" {
		handler = withRateLimitHeader(*rateLimitHeader, handler)
	}
	if *gzipOn {
		handler = withGzip(handler)
	}
	apiServer := &http.Server{Handler: handler, ReadHeaderTimeout: *readHeaderTimeout, WriteTimeout: *writeTimeout}
	apiServer.SetKeepAlivesEnabled(*keepAlive)
	pprofServer := &http.Server{Handler: pprofRoutes(), ReadHeaderTimeout: 10 * time.Second}
	go serve(logger, "api", apiServer, apiLn)
	go serve(logger, "pprof", pprofServer, pprofLn)

	info := startupInfo{HTTP: apiLn.Addr().String(), Pprof: pprofLn.Addr().String()}
	line, _ := json.Marshal(info)
	os.Stdout.Write(append(line, '\n'))

	logger.Printf("level=info msg=\"aegis-api test bed started\" http=%s pprof=%s load_rps=%g pods=%d pathologies=%q",
		info.HTTP, info.Pprof, *loadRPS, *pods, strings.Join(a.pathologies.enabledNames(), ","))

	go a.load.run()

	if *exitWithParent {
		go watchParent(logger)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	logger.Printf("level=info msg=\"shutting down\" signal=%s", s)
	os.Exit(0)
}

func serve(logger *log.Logger, name string, srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		logger.Printf("level=error msg=\"%s server stopped\" err=%q", name, err.Error())
		os.Exit(1)
	}
}

func pprofRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// watchParent exits when the process that started us is gone (we get re-parented), so a test
// worker that dies without stopping its instance does not leave it running.
func watchParent(logger *log.Logger) {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			logger.Printf("level=info msg=\"parent process %d went away, exiting\"", parent)
			os.Exit(0)
		}
	}
}
