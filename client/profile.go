// Package client is the typed REST client of the flovyn admin API, shared by
// the CLI and the TUI, and the profiles that tell it where to connect.
package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pelletier/go-toml/v2"
)

// Profile is one server the CLI can talk to.
type Profile struct {
	Server string `toml:"server"`
	Tenant string `toml:"tenant"`
	APIKey string `toml:"api_key"`
}

// Profiles is the CLI's configuration file: named profiles and the one used
// when --profile is not given.
type Profiles struct {
	Current  string             `toml:"current"`
	Profiles map[string]Profile `toml:"profiles"`
}

// ProfilesPath is where profiles are kept: $XDG_CONFIG_HOME/flovyn/profiles.toml
// (~/.config/flovyn/profiles.toml on Linux).
func ProfilesPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "flovyn", "profiles.toml"), nil
}

// LoadProfiles reads the profiles file; a missing file is no profiles.
func LoadProfiles() (Profiles, error) {
	p := Profiles{Profiles: map[string]Profile{}}
	path, err := ProfilesPath()
	if err != nil {
		return p, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	if err := toml.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	if p.Profiles == nil {
		p.Profiles = map[string]Profile{}
	}
	return p, nil
}

// Save writes the profiles file, readable by its owner only (it holds keys).
func (p Profiles) Save() error {
	path, err := ProfilesPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := toml.Marshal(p)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
