package client

import (
	"os"
	"testing"
)

func TestProfilesRoundTrip(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	empty, err := LoadProfiles()
	if err != nil || len(empty.Profiles) != 0 || empty.Current != "" {
		t.Fatalf("no file: %+v, %v", empty, err)
	}
	p := Profiles{Current: "dev", Profiles: map[string]Profile{"dev": {Server: "http://127.0.0.1:8000", Tenant: "default", APIKey: "fak_x"}}}
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	path, _ := ProfilesPath()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("profiles file mode: %v %v", info, err)
	}
	got, err := LoadProfiles()
	if err != nil || got.Current != "dev" || got.Profiles["dev"] != p.Profiles["dev"] {
		t.Fatalf("loaded %+v, %v", got, err)
	}
}
