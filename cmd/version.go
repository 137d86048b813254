package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at release time with -ldflags "-X github.com/flovyn/flovyn/cmd.version=… -X …cmd.commit=… -X …cmd.date=…".
// Without them, the module version and the VCS stamp of the build are used.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// VersionInfo is what `flovyn version -o json` prints.
type VersionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`             // "" when unknown
	Modified bool   `json:"modified,omitempty"` // built from a work tree with uncommitted changes
	Date     string `json:"date"`               // commit time (RFC 3339), or the release's build date
	Go       string `json:"go"`
	Platform string `json:"platform"` // GOOS/GOARCH
}

func buildVersion() VersionInfo {
	v := VersionInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.time":
			if v.Date == "" {
				v.Date = s.Value
			}
		case "vcs.modified":
			v.Modified = commit == "" && s.Value == "true"
		}
	}
	return v
}

// versionLine is the text of `flovyn version` and `flovyn --version`:
// "flovyn v1.2.3 (commit 0a1b2c3d4e5f, go1.26.8, linux/amd64)".
func versionLine(v VersionInfo) string {
	detail := ""
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if v.Modified {
			c += "-dirty"
		}
		detail = "commit " + c + ", "
	}
	return fmt.Sprintf("flovyn %s (%s%s, %s)", v.Version, detail, v.Go, v.Platform)
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print flovyn's version (-o json: version, commit, date, go)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			v := buildVersion()
			p := newPrinter(cmd.OutOrStdout(), cmd.ErrOrStderr(), g.output)
			if p.isJSON() {
				return p.json(v)
			}
			p.line("%s", versionLine(v))
			return nil
		},
	}
}
