package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"
)

// Figures, the report, the check against DESIGN §7 and the table.

type dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func distOf(v []float64) *dist {
	if len(v) == 0 {
		return nil
	}
	slices.Sort(v)
	p := func(q float64) float64 { return round(v[max(0, int(math.Ceil(q*float64(len(v))))-1)]) }
	return &dist{N: len(v), P50: p(0.50), P95: p(0.95), P99: p(0.99), Max: round(v[len(v)-1])}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func round(f float64) float64    { return math.Round(f*100) / 100 }

type result struct {
	Name                   string         `json:"name"`
	Workflow               string         `json:"workflow"`
	Workers                int            `json:"workers"`
	Starters               int            `json:"starters"`
	Replicas               int            `json:"replicas"`
	NATS                   bool           `json:"nats"` // the servers are linked by NATS
	Completed              int            `json:"completed_in_window"`
	Throughput             float64        `json:"workflows_per_sec"`
	Latency                *dist          `json:"latency_ms"`
	TxnPerWf               float64        `json:"pg_xact_commit_per_workflow"`
	RollbackPerWf          float64        `json:"pg_xact_rollback_per_workflow"`
	WriteTxnPerWf          float64        `json:"pg_write_xacts_per_workflow"`
	ServerCPUMsPerWf       float64        `json:"server_cpu_ms_per_workflow"`
	TaskWakeup             *dist          `json:"task_wakeup_ms,omitempty"`
	TaskWakeupCreatedAt    *dist          `json:"task_wakeup_from_created_at_ms,omitempty"`
	TimerLateness          *dist          `json:"timer_lateness_ms,omitempty"`
	TimerLatenessCreatedAt *dist          `json:"timer_lateness_created_at_ms,omitempty"`
	AgentResume            *dist          `json:"agent_resume_ms,omitempty"` // last task completed → agent dispatched again
	CPU                    cpu            `json:"cpu_percent_of_one_core"`
	ServerRSSMB            float64        `json:"server_rss_mb_after"`
	StartErrors            int            `json:"start_errors"`
	StartErrorSample       string         `json:"start_error_sample,omitempty"`
	Failed                 int            `json:"failed"`
	Stuck                  int            `json:"stuck"`
	NotCompleted           map[string]int `json:"not_completed,omitempty"`
}

type report struct {
	Config struct {
		Duration     string `json:"duration"`
		Warmup       string `json:"warmup"`
		Starters     int    `json:"starters"`
		MaxWorkflows int    `json:"max_concurrent_workflows"`
		MaxTasks     int    `json:"max_concurrent_tasks"`
		CPUs         int    `json:"cpus"`
		Postgres     string `json:"postgres_version"`
		Replicas     []int  `json:"replica_counts"`
	} `json:"config"`
	Server struct {
		Mode           string   `json:"mode"`
		PID            int      `json:"pid"`
		RSSIdleStartMB float64  `json:"rss_idle_start_mb"`
		RSSIdleEndMB   float64  `json:"rss_idle_end_mb"`
		PeakRSSMB      float64  `json:"peak_rss_mb"`
		Idle           idle     `json:"idle_no_workers"`
		Warnings       int      `json:"log_warnings"`
		Errors         int      `json:"log_errors"`
		Samples        []string `json:"log_samples,omitempty"`
	} `json:"server"`
	SDK struct {
		Problems int      `json:"worker_warnings_and_errors"`
		Samples  []string `json:"samples,omitempty"`
	} `json:"sdk"`
	Scenarios []result `json:"scenarios"`
	Targets   []target `json:"targets"`
}

type target struct {
	Name string `json:"name"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// targets checks the figures against DESIGN §7 (on the first replica
// count, normally one server), issue 6 (wake-ups across replicas) and
// issue 12 (throughput, writes and latency at 4 workers).
func targets(rep *report) []target {
	var out []target
	base := 0
	if len(rep.Scenarios) > 0 {
		base = rep.Scenarios[0].Replicas
	}
	// find is the scenario of kind on the first replica count with that
	// many workers (0: any) and starters, the fastest of them.
	find := func(kind string, workers, starters int) *result {
		var b *result
		for i := range rep.Scenarios {
			r := &rep.Scenarios[i]
			if r.Name == kind && r.Replicas == base && r.Latency != nil && r.Starters == starters &&
				(workers == 0 || r.Workers == workers) && (b == nil || r.Throughput > b.Throughput) {
				b = r
			}
		}
		return b
	}
	many := rep.Config.Starters
	if one := find("one-task", 0, many); one != nil {
		out = append(out, target{"one-task >= 300 wf/s", fmt.Sprintf("%.0f wf/s (%d workers)", one.Throughput, one.Workers), one.Throughput >= 300})
		if hello := find("hello", 0, many); hello != nil {
			out = append(out, target{"hello > one-task wf/s", fmt.Sprintf("%.0f vs %.0f wf/s", hello.Throughput, one.Throughput), hello.Throughput > one.Throughput})
		}
	}
	// Issue 12's, at 4 workers.
	if one := find("one-task", 4, many); one != nil {
		out = append(out,
			target{"one-task >= 450 wf/s (4 workers)", fmt.Sprintf("%.0f wf/s", one.Throughput), one.Throughput >= 450},
			target{"one-task <= 4 write txn/wf (4 workers)", fmt.Sprintf("%.2f", one.WriteTxnPerWf), one.WriteTxnPerWf <= 4})
	}
	if hello := find("hello", 4, many); hello != nil {
		out = append(out, target{"hello >= 1200 wf/s (4 workers)", fmt.Sprintf("%.0f wf/s", hello.Throughput), hello.Throughput >= 1200})
	}
	if one := find("one-task", 0, 1); one != nil {
		out = append(out, target{"one-task p50 <= 4 ms (1 starter)", fmt.Sprintf("%.1f ms (%.2f write txn/wf)", one.Latency.P50, one.WriteTxnPerWf), one.Latency.P50 <= 4})
	}
	for _, r := range rep.Scenarios {
		switch {
		case r.Name == "wakeup" && r.TaskWakeup != nil && r.Replicas == 1:
			out = append(out, target{"task wake-up p99 < 10 ms (waiting poller)", fmt.Sprintf("%.1f ms", r.TaskWakeup.P99), r.TaskWakeup.P99 < 10})
		case r.Name == "wakeup" && r.TaskWakeup != nil && r.NATS:
			out = append(out, target{fmt.Sprintf("wake-up across %d replicas p99 < 20 ms", r.Replicas), fmt.Sprintf("%.1f ms (NATS)", r.TaskWakeup.P99), r.TaskWakeup.P99 < 20})
		}
		if r.TimerLateness != nil {
			out = append(out, target{"timer lateness p99 < 50 ms", fmt.Sprintf("%.1f ms", r.TimerLateness.P99), r.TimerLateness.P99 < 50})
		}
	}
	out = append(out, target{"server RSS idle < 60 MB", fmt.Sprintf("%.1f MB at start, %.1f MB after the runs", rep.Server.RSSIdleStartMB, rep.Server.RSSIdleEndMB),
		rep.Server.RSSIdleStartMB < 60 && rep.Server.RSSIdleEndMB < 60})
	return out
}

func printTable(w io.Writer, rep *report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tworkers\treplicas\tstarters\twf/s\tp50 ms\tp95 ms\tp99 ms\ttxn/wf\twrite txn/wf\tsrv cpu ms/wf\ttask wake p50/p99 ms\ttimer late p50/p99 ms\tagent resume p50/p99 ms\tcpu% srv/bench/pg/irq/other\tRSS MB\tproblems\t")
	pair := func(d *dist) string {
		if d == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f / %.1f", d.P50, d.P99)
	}
	for _, r := range rep.Scenarios {
		l := r.Latency
		if l == nil {
			l = &dist{}
		}
		probs := "-"
		if n := r.StartErrors + r.Failed + r.Stuck + len(r.NotCompleted); n > 0 {
			probs = fmt.Sprintf("start err %d, failed %d, stuck %d, left %v", r.StartErrors, r.Failed, r.Stuck, r.NotCompleted)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%.0f/%.0f/%.0f/%.0f/%.0f\t%.1f\t%s\t\n",
			r.Name, r.Workers, r.Replicas, r.Starters, r.Throughput, l.P50, l.P95, l.P99, r.TxnPerWf, r.WriteTxnPerWf, r.ServerCPUMsPerWf,
			pair(r.TaskWakeup), pair(r.TimerLateness), pair(r.AgentResume), r.CPU.Server, r.CPU.Bench, r.CPU.Postgres, r.CPU.IRQ, r.CPU.Other, r.ServerRSSMB, probs)
	}
	tw.Flush()
	c, s := rep.Config, rep.Server
	fmt.Fprintf(w, "\n%d CPUs, PostgreSQL %s (embedded, ephemeral), window %s after %s warm-up; latency = start RPC → completion acknowledged to the worker\n",
		c.CPUs, c.Postgres, c.Duration, c.Warmup)
	fmt.Fprintln(w, "txn/wf: pg_stat_database xact_commit delta per workflow (every commit, read-only ones too); write txn/wf: transactions that wrote (xid delta, exact)")
	fmt.Fprintln(w, "task wake: TASK_SCHEDULED commit → task function called; timer late: TIMER_FIRED commit − fireAt; cpu%: of one core (srv: all replicas); irq: kernel interrupts (loopback network); other: foreign processes")
	fmt.Fprintln(w, "replicas: flovyn server processes on the one PostgreSQL, workers and starters spread round-robin over them; RSS MB: all replicas together")
	fmt.Fprintln(w, "wakeup: one starter, a workflow worker and a task worker (on two different replicas when there are several)")
	fmt.Fprintln(w, "agent-3-tasks: agents created over REST, each scheduling 3 tasks at once and completing with their outputs (wf/s: agents/s; txn/wf: per agent); agent resume: the last task's completion committed → the agent's function called again")
	fmt.Fprintf(w, "server: %s, primary pid %d; RSS idle %.1f MB at start, %.1f MB after the runs, peak %.1f MB\n",
		s.Mode, s.PID, s.RSSIdleStartMB, s.RSSIdleEndMB, s.PeakRSSMB)
	fmt.Fprintf(w, "idle server, no workers: CPU %.0f%% server, %.0f%% postgres, %.0f%% irq, %.0f%% other (of one core); %.0f commits/s, %.0f rollbacks/s, %.0f writing xacts/s\n",
		s.Idle.CPU.Server, s.Idle.CPU.Postgres, s.Idle.CPU.IRQ, s.Idle.CPU.Other, s.Idle.CommitsPerSec, s.Idle.RollbackPerSec, s.Idle.WritesPerSec)
	fmt.Fprintf(w, "server log: %d warnings, %d errors; worker (SDK) warnings/errors: %d\n", s.Warnings, s.Errors, rep.SDK.Problems)
	for _, l := range append(slices.Clone(s.Samples), rep.SDK.Samples...) {
		fmt.Fprintln(w, "  ", l)
	}
	for _, r := range rep.Scenarios {
		if r.CPU.Other > 10 {
			fmt.Fprintf(w, "WARNING: other processes used %.0f%% of a core during %s/%d/%d replicas: the machine was not quiet, figures are low\n", r.CPU.Other, r.Name, r.Workers, r.Replicas)
		}
	}
	printReplicas(w, rep)
	fmt.Fprintln(w, "\nDESIGN §7 targets (and issue 6's, across replicas, and issue 12's):")
	for _, t := range rep.Targets {
		mark := "FAIL"
		if t.OK {
			mark = "ok  "
		}
		fmt.Fprintf(w, "  %s %-42s %s\n", mark, t.Name, t.Got)
	}
	fmt.Fprintln(w)
}

// printReplicas sums up throughput and wake-up latency per replica count,
// when the run had more than one.
func printReplicas(w io.Writer, rep *report) {
	if len(rep.Config.Replicas) < 2 {
		return
	}
	fmt.Fprintln(w, "\nper replica count (one PostgreSQL, the servers linked by NATS):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "replicas\tone-task workers\twf/s\tp50 ms\tp99 ms\ttask wake p50/p99 ms (closed loop)\ttask wake p50/p99 ms (wakeup)\t")
	pair := func(d *dist) string {
		if d == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f / %.1f", d.P50, d.P99)
	}
	for _, n := range rep.Config.Replicas {
		var one, wake *result
		for i := range rep.Scenarios {
			r := &rep.Scenarios[i]
			switch {
			case r.Replicas != n:
			case r.Name == "wakeup":
				wake = r
			case r.Name == "one-task" && r.Workers == *replicaWkrs && r.Starters == rep.Config.Starters:
				one = r
			}
		}
		if one == nil || one.Latency == nil {
			one = &result{Latency: &dist{}}
		}
		if wake == nil {
			wake = &result{}
		}
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.1f\t%.1f\t%s\t%s\t\n", n, one.Workers, one.Throughput, one.Latency.P50, one.Latency.P99,
			pair(one.TaskWakeup), pair(wake.TaskWakeup))
	}
	tw.Flush()
}
