// sd-dump: Prometheus's own kubernetes_sd (the discovery/kubernetes package of the Prometheus
// module the collector's prometheus receiver is built with) as a conformance oracle for the
// e2e tests. It reads one kubernetes_sd_configs entry (YAML) and prints, on every update, one
// JSON line: each target group with its source, group labels and per-target label sets.
// Test harness only: test/harness/setup.sh builds it; nothing here ships in the product.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	yaml "go.yaml.in/yaml/v2"
)

type group struct {
	Source  string           `json:"source"`
	Labels  model.LabelSet   `json:"labels"`
	Targets []model.LabelSet `json:"targets"`
}

func main() {
	configFile := flag.String("config", "", "YAML file with one kubernetes_sd_configs entry")
	flag.Parse()
	data, err := os.ReadFile(*configFile)
	if err != nil {
		fail(err)
	}
	cfg := kubernetes.DefaultSDConfig
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		fail(err)
	}
	reg := prometheus.NewRegistry()
	metrics := cfg.NewDiscovererMetrics(reg, discovery.NewRefreshMetrics(reg))
	if err := metrics.Register(); err != nil {
		fail(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d, err := cfg.NewDiscoverer(discovery.DiscovererOptions{Logger: logger, Metrics: metrics})
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	updates := make(chan []*targetgroup.Group)
	go d.Run(ctx, updates)
	// Groups by source: each update replaces the groups it names; print the whole state.
	state := map[string]group{}
	out := json.NewEncoder(os.Stdout)
	for {
		select {
		case <-ctx.Done():
			return
		case tgs := <-updates:
			for _, tg := range tgs {
				if tg == nil {
					continue
				}
				if len(tg.Targets) == 0 && len(tg.Labels) == 0 {
					delete(state, tg.Source)
					continue
				}
				state[tg.Source] = group{Source: tg.Source, Labels: tg.Labels, Targets: tg.Targets}
			}
			all := make([]group, 0, len(state))
			for _, g := range state {
				all = append(all, g)
			}
			if err := out.Encode(all); err != nil {
				fail(err)
			}
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sd-dump:", err)
	os.Exit(1)
}
