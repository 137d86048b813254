package cmd

import (
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
)

// The accepted values of --log-level and --log-format.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"auto", "text", "json"}
)

// checkLogFlags refuses a --log-level or --log-format that is not one of
// the accepted values (a usage error naming the flag), instead of silently
// logging at another level.
func checkLogFlags(level, format string) error {
	if !slices.Contains(logLevels, strings.ToLower(level)) {
		return usageErrorf("--log-level %q: must be debug, info, warn or error", level)
	}
	if !slices.Contains(logFormats, strings.ToLower(format)) {
		return usageErrorf("--log-format %q: must be auto, text or json", format)
	}
	return nil
}

// newLogger returns a slog logger writing to w: text on a terminal, JSON
// otherwise (format "auto"), or the format asked for. level and format are
// already checked (checkLogFlags).
func newLogger(w *os.File, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: lv}
	format = strings.ToLower(format)
	if format == "auto" || format == "" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	var out io.Writer = w
	if format == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
